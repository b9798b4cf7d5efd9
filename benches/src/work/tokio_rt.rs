//! The workloads on tokio's current-thread runtime (built with
//! [`crate::tokio_current_thread`]: I/O and timers enabled). Each function
//! is one iteration of a row and checks its result.

use tokio::runtime::Runtime;
use tokio::task::LocalSet;

use super::{CALLBACKS, Delays, PASSES, SLEEPER_DELAY, TASKS, THREADS, TIMERS, YIELDS};
use crate::{countdown, sum_below};

/// `call_soon_threadsafe`: [`THREADS`] threads `runtime::Handle::spawn`
/// trivial futures ([`CALLBACKS`] in all) onto the runtime, whose thread
/// sits in `block_on` until the last one has run. This is tokio's path for
/// running work on the runtime's thread from other threads (its inject
/// queue plus a driver unpark); it allocates a task per operation.
pub fn call_soon_threadsafe(rt: &Runtime) {
    let handle = rt.handle().clone();
    let per_thread = CALLBACKS / THREADS;
    countdown::arm(CALLBACKS);
    let sum = std::thread::scope(|s| {
        for t in 0..THREADS {
            let handle = &handle;
            s.spawn(move || {
                for i in t * per_thread..(t + 1) * per_thread {
                    drop(handle.spawn(async move { countdown::tick(i) }));
                }
            });
        }
        rt.block_on(countdown::wait())
    });
    assert_eq!(sum, sum_below(CALLBACKS));
}

/// `spawn_complete`: inside `LocalSet::block_on`, [`TASKS`] tasks
/// `tokio::task::spawn_local(async move { i })`, then every `JoinHandle`
/// awaited in spawn order. (`spawn_local` in a `LocalSet` measured faster
/// here than `tokio::spawn` on the same runtime, so it is the peer.)
pub fn spawn_complete(rt: &Runtime, local: &LocalSet) {
    let sum = local.block_on(rt, async {
        let mut tasks = Vec::with_capacity(TASKS as usize);
        for i in 0..TASKS {
            tasks.push(tokio::task::spawn_local(async move { i }));
        }
        let mut sum = 0;
        for t in tasks {
            sum += t.await.expect("task");
        }
        sum
    });
    assert_eq!(sum, sum_below(TASKS));
}

/// `yield_now`: the `block_on` future awaits `tokio::task::yield_now()`
/// [`YIELDS`] times. (A `block_on` future measured a little faster here
/// than a spawned task or a `LocalSet` task, so it is the peer. Each
/// yield costs tokio an `epoll_wait` with a zero timeout: with nothing
/// else to run, its scheduler polls the driver before it wakes the
/// yielded task.)
pub fn yield_now(rt: &Runtime) {
    yield_times(rt, YIELDS);
}

/// The `block_on` future awaits `tokio::task::yield_now()` `n` times.
fn yield_times(rt: &Runtime, n: u64) {
    rt.block_on(async {
        for _ in 0..n {
            tokio::task::yield_now().await;
        }
    });
}

/// `timers_half_cancelled`: [`super::sleeps_half_cancelled`] with
/// `tokio::time::sleep`, in a task spawned on the runtime (`Runtime::spawn`,
/// awaited by `block_on`), the usual shape of tokio code, where a timer's
/// wake-up is a run-queue push. (Inserting a timer whose deadline may be
/// the earliest also unparks the driver, an `eventfd` write, whenever the
/// driver has no recorded next wake-up: that is tokio's own cost, seen in
/// its profile of this row.)
pub fn timers(rt: &Runtime, delays: &Delays) {
    let task = rt.spawn(super::sleeps_half_cancelled(
        delays.clone(),
        tokio::time::sleep,
    ));
    rt.block_on(task).expect("task");
}

/// `timers_half_cancelled_tasks`: as [`super::tulip_rt::timer_tasks`], with
/// `spawn_local` tasks in a `LocalSet` awaiting `tokio::time::sleep`, and
/// `JoinHandle::abort` as the cancellation.
pub fn timer_tasks(rt: &Runtime, local: &LocalSet, delays: &Delays) {
    local.block_on(rt, async {
        countdown::arm(TIMERS as u64);
        let tasks: Vec<_> = delays
            .iter()
            .map(|&d| tokio::task::spawn_local(super::sleeper(tokio::time::sleep(d))))
            .collect();
        countdown::wait().await;
        countdown::arm(TIMERS as u64);
        let mut live = Vec::with_capacity(TIMERS / 2 + 1);
        for (i, t) in tasks.into_iter().enumerate() {
            if i % 2 == 1 {
                t.abort();
            } else {
                live.push(t);
            }
        }
        for t in live {
            t.await.expect("task");
        }
        countdown::wait().await;
    });
}

/// The set-up of a `pass_with_sleepers` row: `n` tasks `tokio::spawn`ed on
/// the runtime, each in a `tokio::time::sleep` of [`SLEEPER_DELAY`];
/// returns once every one has armed its timer.
pub fn arm_sleepers(rt: &Runtime, n: u64) {
    let armed = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    rt.block_on(async {
        for _ in 0..n {
            let armed = armed.clone();
            tokio::spawn(async move {
                armed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(SLEEPER_DELAY).await;
            });
        }
        while armed.load(std::sync::atomic::Ordering::Relaxed) < n {
            tokio::task::yield_now().await;
        }
    });
}

/// `pass_with_sleepers`: the `block_on` future awaits
/// `tokio::task::yield_now()` [`PASSES`] times (each a scheduler tick with
/// a driver poll, as in `yield_now`), beside the sleepers of
/// [`arm_sleepers`].
pub fn busy_passes(rt: &Runtime) {
    yield_times(rt, PASSES);
}

/// As [`super::tulip_rt::idle_socket`]: one end of a Unix socket pair
/// registered with the runtime's driver (`tokio::net::UnixStream`), and the
/// other end.
pub fn idle_socket(rt: &Runtime) -> (tokio::net::UnixStream, std::os::unix::net::UnixStream) {
    let (a, b) = std::os::unix::net::UnixStream::pair().expect("socketpair");
    a.set_nonblocking(true).expect("set_nonblocking");
    let _in_runtime = rt.enter();
    (
        tokio::net::UnixStream::from_std(a).expect("tokio registration"),
        b,
    )
}
