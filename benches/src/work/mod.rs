//! The workloads of the benchmark rows, one module per runtime, each
//! function one iteration of one row: the bench targets time them, and the
//! `profile` binary runs them alone under a profiler.
//!
//! Every runtime does the same work in a row; the differences that remain
//! (which API is the nearest equivalent, and why) are documented on the
//! functions of [`tulip_rt`] and on the bench targets.

pub mod smol_rt;
pub mod tokio_rt;
pub mod tulip_rt;

use std::future::Future;
use std::time::Duration;

use crate::{PinnedSlots, countdown};

/// Callbacks or spawns per iteration of `call_soon`, `call_soon_batched`
/// and `call_soon_threadsafe`.
pub const CALLBACKS: u64 = 1_000_000;

/// Callbacks a driver callback schedules at a time in `call_soon_batched`.
pub const BATCH: u64 = 1_000;

/// Producer threads of `call_soon_threadsafe`.
pub const THREADS: u64 = 2;

/// Tasks spawned per iteration of `spawn_complete`.
pub const TASKS: u64 = 1_000_000;

/// Yields per iteration of `yield_now`.
pub const YIELDS: u64 = 1_000_000;

/// Passes (yields of one task) per iteration of `pass_with_sleepers`.
pub const PASSES: u64 = 100_000;

/// The numbers of sleeping tasks of the `pass_with_sleepers` rows.
pub const SLEEPERS: [u64; 4] = [0, 10_000, 100_000, 1_000_000];

/// How long the sleepers of `pass_with_sleepers` sleep: far enough that
/// none fires while its row runs.
pub const SLEEPER_DELAY: Duration = Duration::from_secs(3600);

/// Timers per iteration of the timer rows.
pub const TIMERS: usize = 100_000;

/// The shortest timer delay: long enough that every runtime has scheduled
/// all timers and cancelled half of them before the first one is due
/// (async-io needs about 60 ms for that here).
pub const TIMER_BASE: Duration = Duration::from_millis(150);

/// The timer delays spread over `[TIMER_BASE, TIMER_BASE + TIMER_SPREAD)`.
pub const TIMER_SPREAD: Duration = Duration::from_millis(10);

/// The timer delays of one iteration, shared (and `Send`, so that a peer
/// can run the timer work in a spawned task).
pub type Delays = std::sync::Arc<[Duration]>;

/// The delays of one iteration of a timer row ([`crate::timer_delays`]).
pub fn delays() -> Delays {
    crate::timer_delays(TIMERS, TIMER_BASE, TIMER_SPREAD).into()
}

/// The sum of the even indices below [`TIMERS`]: what the timers that are
/// not cancelled add up to.
pub const EVEN_TIMER_SUM: u64 = {
    let half = (TIMERS / 2) as u64;
    half * (half - 1)
};

/// The timer work of `timers_half_cancelled` on any runtime, in one task:
/// `make` builds the sleep future of a delay; every sleep is polled once
/// where it lies (registering its timer), every other one is dropped
/// (cancelling it), the rest are awaited. Panics if a sleep was already
/// complete at its first poll (the base delay was too short for this
/// machine).
pub async fn sleeps_half_cancelled<F: Future>(delays: Delays, make: impl FnMut(Duration) -> F) {
    let mut sleeps = PinnedSlots::new(delays.iter().copied(), make);
    let early = sleeps.poll_each_once().await;
    assert!(
        early == 0,
        "{early} timers fired before all were scheduled: raise TIMER_BASE"
    );
    for i in (1..sleeps.len()).step_by(2) {
        sleeps.cancel(i);
    }
    sleeps.join_all().await;
}

/// Ticks the countdown when dropped: when a task's future completes or is
/// dropped by a cancellation.
struct TickOnDrop;

impl Drop for TickOnDrop {
    fn drop(&mut self) {
        countdown::tick(0);
    }
}

/// The future of one task of `timers_half_cancelled_tasks`: ticks the
/// countdown when it starts, awaits its sleep, and ticks again when it ends
/// or is dropped.
pub async fn sleeper<S: Future>(sleep: S) {
    let _end = TickOnDrop;
    countdown::tick(0);
    sleep.await;
}
