//! Task rows: `spawn_complete` (spawn 1,000,000 trivial tasks, then await
//! them all) and `yield_now` (one task yielding 1,000,000 times), on tulip,
//! tokio's current-thread runtime and smol's `LocalExecutor`. The workloads,
//! and the choice of each peer's API, are in `tulip_benches::work`.
//!
//! `spawn_complete_in_context` and `yield_now_in_context` (tulip only) are
//! the tulip rows run with a context variable set: the cost of carrying a
//! context (asyncio's `contextvars`) into every task and every poll, which
//! the plain rows, where no variable is ever set, do not pay.
//!
//! `yield_now_beside_socket` is `yield_now` with one idle Unix socket
//! registered with each runtime's reactor (tulip `add_reader`, tokio
//! `tokio::net::UnixStream`, smol `async_io::Async`): a loop with nothing
//! registered has no I/O to let in and skips the poll after a yield, so this
//! row gives the cost of a yield that polls, the usual case of a server.

use criterion::{Criterion, criterion_group, criterion_main};
use tulip_benches::work::{TASKS, YIELDS, smol_rt, tokio_rt, tulip_rt};
use tulip_benches::{group, tokio_current_thread, tulip_loop, wall_time};

fn spawn_complete(c: &mut Criterion) {
    let mut g = group(c, "spawn_complete", TASKS);

    let event_loop = tulip_loop();
    g.bench_function("tulip", |b| {
        b.iter_custom(|iters| wall_time(iters, || tulip_rt::spawn_complete(&event_loop)));
    });
    drop(event_loop);

    let rt = tokio_current_thread();
    let local = tokio::task::LocalSet::new();
    g.bench_function("tokio", |b| {
        b.iter_custom(|iters| wall_time(iters, || tokio_rt::spawn_complete(&rt, &local)));
    });
    drop((local, rt));

    let ex = async_executor::LocalExecutor::new();
    g.bench_function("smol", |b| {
        b.iter_custom(|iters| wall_time(iters, || smol_rt::spawn_complete(&ex)));
    });
    g.finish();
}

fn yield_now(c: &mut Criterion) {
    let mut g = group(c, "yield_now", YIELDS);

    let event_loop = tulip_loop();
    g.bench_function("tulip", |b| {
        b.iter_custom(|iters| wall_time(iters, || tulip_rt::yield_now(&event_loop)));
    });
    drop(event_loop);

    let rt = tokio_current_thread();
    g.bench_function("tokio", |b| {
        b.iter_custom(|iters| wall_time(iters, || tokio_rt::yield_now(&rt)));
    });
    drop(rt);

    let ex = async_executor::LocalExecutor::new();
    g.bench_function("smol", |b| {
        b.iter_custom(|iters| wall_time(iters, || smol_rt::yield_now(&ex)));
    });
    g.finish();
}

fn in_context(c: &mut Criterion) {
    let event_loop = tulip_loop();
    let mut g = group(c, "spawn_complete_in_context", TASKS);
    g.bench_function("tulip", |b| {
        b.iter_custom(|iters| {
            wall_time(iters, || tulip_rt::spawn_complete_in_context(&event_loop))
        });
    });
    g.finish();

    let mut g = group(c, "yield_now_in_context", YIELDS);
    g.bench_function("tulip", |b| {
        b.iter_custom(|iters| wall_time(iters, || tulip_rt::yield_now_in_context(&event_loop)));
    });
    g.finish();
}

fn yield_now_beside_socket(c: &mut Criterion) {
    let mut g = group(c, "yield_now_beside_socket", YIELDS);

    let event_loop = tulip_loop();
    let socket = tulip_rt::idle_socket(&event_loop);
    g.bench_function("tulip", |b| {
        b.iter_custom(|iters| wall_time(iters, || tulip_rt::yield_now(&event_loop)));
    });
    drop((socket, event_loop));

    let rt = tokio_current_thread();
    let socket = tokio_rt::idle_socket(&rt);
    g.bench_function("tokio", |b| {
        b.iter_custom(|iters| wall_time(iters, || tokio_rt::yield_now(&rt)));
    });
    drop((socket, rt));

    let ex = async_executor::LocalExecutor::new();
    let socket = smol_rt::idle_socket();
    g.bench_function("smol", |b| {
        b.iter_custom(|iters| wall_time(iters, || smol_rt::yield_now(&ex)));
    });
    drop(socket);
    g.finish();
}

criterion_group!(
    benches,
    spawn_complete,
    yield_now,
    in_context,
    yield_now_beside_socket
);
criterion_main!(benches);
