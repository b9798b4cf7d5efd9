//! Callback rows: `call_soon` and `call_soon_batched` (tulip only: tokio and
//! smol have no callback queue; their nearest primitive, spawning a trivial
//! task, is the `spawn_complete` row), and `call_soon_threadsafe` (2
//! threads scheduling onto one loop, against tokio's and async-executor's
//! cross-thread spawn). The workloads are in `tulip_benches::work`.
//!
//! `call_soon_in_context` is `call_soon` with a context variable set: each
//! callback copies the (non-empty) context when scheduled and enters it
//! when run (asyncio's `contextvars`); the plain row never sets one.
//!
//! Every callback carries a payload (its index) that it adds to a sum, so
//! its closure is not zero-sized (a zero-sized closure would make tulip's
//! boxing free, which real callbacks never are), and the sum is checked.
//!
//! `call_soon_threadsafe` spawns its producer threads inside the timed
//! region (tens of microseconds, against tens of milliseconds of work), the
//! same way for every runtime.

use criterion::{Criterion, criterion_group, criterion_main};
use tulip_benches::work::{CALLBACKS, smol_rt, tokio_rt, tulip_rt};
use tulip_benches::{group, tokio_current_thread, tulip_loop, wall_time};

fn call_soon(c: &mut Criterion) {
    let event_loop = tulip_loop();
    let mut g = group(c, "call_soon", CALLBACKS);
    g.bench_function("tulip", |b| {
        b.iter_custom(|iters| wall_time(iters, || tulip_rt::call_soon(&event_loop)));
    });
    g.finish();

    let mut g = group(c, "call_soon_batched", CALLBACKS);
    g.bench_function("tulip", |b| {
        b.iter_custom(|iters| wall_time(iters, || tulip_rt::call_soon_batched(&event_loop)));
    });
    g.finish();

    let mut g = group(c, "call_soon_in_context", CALLBACKS);
    g.bench_function("tulip", |b| {
        b.iter_custom(|iters| wall_time(iters, || tulip_rt::call_soon_in_context(&event_loop)));
    });
    g.finish();
}

fn call_soon_threadsafe(c: &mut Criterion) {
    let mut g = group(c, "call_soon_threadsafe", CALLBACKS);

    let event_loop = tulip_loop();
    g.bench_function("tulip", |b| {
        b.iter_custom(|iters| wall_time(iters, || tulip_rt::call_soon_threadsafe(&event_loop)));
    });
    drop(event_loop);

    let rt = tokio_current_thread();
    g.bench_function("tokio", |b| {
        b.iter_custom(|iters| wall_time(iters, || tokio_rt::call_soon_threadsafe(&rt)));
    });
    drop(rt);

    let ex = async_executor::Executor::new();
    g.bench_function("smol", |b| {
        b.iter_custom(|iters| wall_time(iters, || smol_rt::call_soon_threadsafe(&ex)));
    });
    g.finish();
}

criterion_group!(benches, call_soon, call_soon_threadsafe);
criterion_main!(benches);
