//! The workloads on smol's pieces: `async-executor`'s executors, run under
//! `futures_lite::future::block_on` when no I/O or timer is involved and
//! under `async_io::block_on` (smol's `block_on`, which drives the reactor)
//! when timers are. Each function is one iteration of a row and checks its
//! result.

use async_executor::{Executor, LocalExecutor};

use super::{CALLBACKS, Delays, PASSES, SLEEPER_DELAY, TASKS, THREADS, TIMERS, YIELDS};
use crate::{countdown, sum_below};

/// `call_soon_threadsafe`: [`THREADS`] threads `Executor::spawn` trivial
/// futures ([`CALLBACKS`] in all, detached) onto the `Send` executor,
/// which this thread runs until the last one has run. smol's path for
/// running work on a thread from other threads (its global queue plus a
/// notify); it allocates a task per operation.
pub fn call_soon_threadsafe(ex: &Executor<'_>) {
    let per_thread = CALLBACKS / THREADS;
    countdown::arm(CALLBACKS);
    let sum = std::thread::scope(|s| {
        for t in 0..THREADS {
            s.spawn(move || {
                for i in t * per_thread..(t + 1) * per_thread {
                    ex.spawn(async move { countdown::tick(i) }).detach();
                }
            });
        }
        futures_lite::future::block_on(ex.run(countdown::wait()))
    });
    assert_eq!(sum, sum_below(CALLBACKS));
}

/// `spawn_complete`: inside `LocalExecutor::run`, [`TASKS`] tasks
/// `LocalExecutor::spawn(async move { i })`, then every `Task` awaited in
/// spawn order.
pub fn spawn_complete(ex: &LocalExecutor<'_>) {
    let sum = futures_lite::future::block_on(ex.run(async {
        let mut tasks = Vec::with_capacity(TASKS as usize);
        for i in 0..TASKS {
            tasks.push(ex.spawn(async move { i }));
        }
        let mut sum = 0;
        for t in tasks {
            sum += t.await;
        }
        sum
    }));
    assert_eq!(sum, sum_below(TASKS));
}

/// `yield_now`: a task spawned on the `LocalExecutor` awaits
/// `futures_lite::future::yield_now()` [`YIELDS`] times.
pub fn yield_now(ex: &LocalExecutor<'_>) {
    futures_lite::future::block_on(ex.run(ex.spawn(async {
        for _ in 0..YIELDS {
            futures_lite::future::yield_now().await;
        }
    })));
}

/// `timers_half_cancelled` (the `async-io` column):
/// [`super::sleeps_half_cancelled`] with `async_io::Timer::after`, in
/// `async_io::block_on`.
pub fn timers(delays: &Delays) {
    async_io::block_on(super::sleeps_half_cancelled(
        delays.clone(),
        async_io::Timer::after,
    ));
}

/// `timers_half_cancelled_tasks`: as [`super::tulip_rt::timer_tasks`], with
/// tasks on a `LocalExecutor` (under `async_io::block_on`) awaiting
/// `async_io::Timer::after`, and dropping the `Task` as the cancellation.
pub fn timer_tasks(ex: &LocalExecutor<'_>, delays: &Delays) {
    async_io::block_on(ex.run(async {
        countdown::arm(TIMERS as u64);
        let tasks: Vec<_> = delays
            .iter()
            .map(|&d| ex.spawn(super::sleeper(async_io::Timer::after(d))))
            .collect();
        countdown::wait().await;
        countdown::arm(TIMERS as u64);
        let mut live = Vec::with_capacity(TIMERS / 2 + 1);
        for (i, t) in tasks.into_iter().enumerate() {
            if i % 2 == 0 {
                live.push(t);
            }
        }
        for t in live {
            t.await;
        }
        countdown::wait().await;
    }));
}

/// The set-up of a `pass_with_sleepers` row: `n` tasks spawned (detached)
/// on the `LocalExecutor`, each awaiting an `async_io::Timer` of
/// [`SLEEPER_DELAY`]; returns once every one has armed its timer.
pub fn arm_sleepers(ex: &LocalExecutor<'_>, n: u64) {
    let armed = std::rc::Rc::new(std::cell::Cell::new(0u64));
    for _ in 0..n {
        let armed = armed.clone();
        ex.spawn(async move {
            armed.set(armed.get() + 1);
            async_io::Timer::after(SLEEPER_DELAY).await;
        })
        .detach();
    }
    async_io::block_on(ex.run(async {
        while armed.get() < n {
            futures_lite::future::yield_now().await;
        }
    }));
}

/// `pass_with_sleepers`: the future of `LocalExecutor::run` awaits
/// `futures_lite::future::yield_now()` [`PASSES`] times under
/// `async_io::block_on` (which drives the reactor holding the timers),
/// beside the sleepers of [`arm_sleepers`].
pub fn busy_passes(ex: &LocalExecutor<'_>) {
    async_io::block_on(ex.run(async {
        for _ in 0..PASSES {
            futures_lite::future::yield_now().await;
        }
    }));
}

/// As [`super::tulip_rt::idle_socket`]: one end of a Unix socket pair
/// registered with async-io's reactor (`async_io::Async`), and the other end.
pub fn idle_socket() -> (
    async_io::Async<std::os::unix::net::UnixStream>,
    std::os::unix::net::UnixStream,
) {
    let (a, b) = std::os::unix::net::UnixStream::pair().expect("socketpair");
    (async_io::Async::new(a).expect("async-io registration"), b)
}
