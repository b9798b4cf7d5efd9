//! Timer rows: 100,000 timers scheduled, half of them cancelled before they
//! fire, and the other half waited for. The workloads are in
//! `tulip_benches::work`.
//!
//! Each timer's delay is 150 ms plus a distinct offset in [0, 10 ms), in a
//! scrambled order (`tulip_benches::timer_delays`): the 150 ms keep every
//! deadline in the future until all timers are scheduled and half
//! cancelled (async-io needs about 60 ms for that here; no runtime may take
//! an "already due" shortcut), the offsets make the loop fire timers over
//! 10 ms of deadlines. An iteration therefore spends most of its
//! wall-clock time idle, waiting for deadlines, which says nothing about a
//! runtime; these rows measure the CPU time of the process instead
//! (`tulip_benches::cpu_time`: user plus system time of all threads, which
//! includes every system call the waiting costs but not the time blocked
//! in it). Since an iteration takes about 160 ms of wall-clock time
//! whatever its CPU time, the rows run one iteration per sample, 20 samples
//! (the CPU time of one iteration varies by up to 2x from run to run here:
//! the timers' memory is touched in deadline order, which is scattered).
//!
//! (With the base at 50 ms, async-io's registration sometimes overran it
//! and `async_io::block_on` then hung for good, the wake-up of a timer
//! lost: compare smol-rs/async-io#250. A base beyond the slowest
//! registration avoids that.)
//!
//! - `timers_half_cancelled`: the timers alone, in one task: 100,000 sleep
//!   futures pinned in place, each polled once (which registers its timer),
//!   every other one dropped (cancelled), the rest awaited. tulip
//!   `tulip::sleep` in `run_until_complete`; tokio `tokio::time::sleep` in
//!   `block_on` of a current-thread runtime; async-io `Timer::after` in
//!   `async_io::block_on` (the reactor that drives smol's timers).
//! - `timers_half_cancelled_tasks`: 100,000 tasks each awaiting one sleep;
//!   once all have started, every other task is cancelled (tulip
//!   `Task::cancel`, tokio `JoinHandle::abort`, smol dropping the `Task`),
//!   the others are awaited, and the iteration ends when every task's
//!   future has been dropped. tokio: `spawn_local` in a `LocalSet`; smol:
//!   `LocalExecutor` under `async_io::block_on` with `async_io::Timer`.
//! - `call_later_half_cancelled` (tulip only: asyncio's callback timers):
//!   100,000 `call_later` callbacks, every other `TimerHandle` cancelled.
//! - `pass_with_sleepers/N`: the cost of one pass of a busy loop while N
//!   tasks (0, 10,000, 100,000, 1,000,000) sleep far in the future: one task
//!   yields 100,000 times (`yield_now` of each runtime, a pass each) beside
//!   them, with one idle socket registered (`idle_socket` of each runtime),
//!   as a server has, so that every runtime's pass includes its zero-timeout
//!   I/O poll. Wall-clock time per pass; it should not grow with N. The
//!   sleepers are armed before the row is timed (`arm_sleepers` of each
//!   runtime) and live for the whole row.

use std::time::Duration;

use criterion::BenchmarkId;
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, criterion_group, criterion_main};
use tulip_benches::work::{PASSES, SLEEPERS, TIMERS, delays, smol_rt, tokio_rt, tulip_rt};
use tulip_benches::{cpu_time, tokio_current_thread, tulip_loop, wall_time};

/// The group of a timer row: as `tulip_benches::group`, but with a
/// measurement time so short that criterion runs one iteration per sample,
/// and 20 samples.
fn group<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut g = tulip_benches::group(c, name, TIMERS as u64);
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(20))
        .measurement_time(Duration::from_millis(50));
    g
}

fn timers_half_cancelled(c: &mut Criterion) {
    let mut g = group(c, "timers_half_cancelled");
    let delays = delays();

    let event_loop = tulip_loop();
    g.bench_function("tulip", |b| {
        b.iter_custom(|iters| cpu_time(iters, || tulip_rt::timers(&event_loop, &delays)));
    });
    drop(event_loop);

    let rt = tokio_current_thread();
    g.bench_function("tokio", |b| {
        b.iter_custom(|iters| cpu_time(iters, || tokio_rt::timers(&rt, &delays)));
    });
    drop(rt);

    g.bench_function("async-io", |b| {
        b.iter_custom(|iters| cpu_time(iters, || smol_rt::timers(&delays)));
    });
    g.finish();
}

fn timers_half_cancelled_tasks(c: &mut Criterion) {
    let mut g = group(c, "timers_half_cancelled_tasks");
    let delays = delays();

    let event_loop = tulip_loop();
    g.bench_function("tulip", |b| {
        b.iter_custom(|iters| cpu_time(iters, || tulip_rt::timer_tasks(&event_loop, &delays)));
    });
    drop(event_loop);

    let rt = tokio_current_thread();
    let local = tokio::task::LocalSet::new();
    g.bench_function("tokio", |b| {
        b.iter_custom(|iters| cpu_time(iters, || tokio_rt::timer_tasks(&rt, &local, &delays)));
    });
    drop((local, rt));

    let ex = async_executor::LocalExecutor::new();
    g.bench_function("smol", |b| {
        b.iter_custom(|iters| cpu_time(iters, || smol_rt::timer_tasks(&ex, &delays)));
    });
    g.finish();
}

fn call_later_half_cancelled(c: &mut Criterion) {
    let mut g = group(c, "call_later_half_cancelled");
    let delays = delays();
    let event_loop = tulip_loop();
    g.bench_function("tulip", |b| {
        b.iter_custom(|iters| cpu_time(iters, || tulip_rt::call_later(&event_loop, &delays)));
    });
    g.finish();
}

fn pass_with_sleepers(c: &mut Criterion) {
    let mut g = tulip_benches::group(c, "pass_with_sleepers", PASSES);
    for n in SLEEPERS {
        let event_loop = tulip_loop();
        let socket = tulip_rt::idle_socket(&event_loop);
        tulip_rt::arm_sleepers(&event_loop, n);
        g.bench_function(BenchmarkId::new("tulip", n), |b| {
            b.iter_custom(|iters| wall_time(iters, || tulip_rt::busy_passes(&event_loop)));
        });
        drop((socket, event_loop));

        let rt = tokio_current_thread();
        let socket = tokio_rt::idle_socket(&rt);
        tokio_rt::arm_sleepers(&rt, n);
        g.bench_function(BenchmarkId::new("tokio", n), |b| {
            b.iter_custom(|iters| wall_time(iters, || tokio_rt::busy_passes(&rt)));
        });
        drop((socket, rt));

        let ex = async_executor::LocalExecutor::new();
        let socket = smol_rt::idle_socket();
        smol_rt::arm_sleepers(&ex, n);
        g.bench_function(BenchmarkId::new("smol", n), |b| {
            b.iter_custom(|iters| wall_time(iters, || smol_rt::busy_passes(&ex)));
        });
        drop((socket, ex));
    }
    g.finish();
}

criterion_group!(
    benches,
    timers_half_cancelled,
    timers_half_cancelled_tasks,
    call_later_half_cancelled,
    pass_with_sleepers
);
criterion_main!(benches);
