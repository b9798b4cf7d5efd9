//! The workloads on tulip. Each function is one iteration of a row and
//! checks its result.

use std::cell::Cell;
use std::os::unix::net::UnixStream;
use std::rc::Rc;

use tulip::contextvars::{Context, ContextVar};
use tulip::{EventLoop, Loop};

use super::{
    BATCH, CALLBACKS, Delays, EVEN_TIMER_SUM, PASSES, SLEEPER_DELAY, TASKS, THREADS, TIMERS, YIELDS,
};
use crate::{countdown, sum_below};

/// `call_soon`: [`CALLBACKS`] callbacks scheduled with `Loop::call_soon`
/// from outside the loop, in one go, then one `run_forever` pass (the loop
/// is stopped first, so it makes exactly one pass) runs them all. Each
/// callback adds its index (captured) to a shared sum (a captured `Rc`).
pub fn call_soon(event_loop: &EventLoop) {
    let lp = event_loop.handle();
    let sum = Rc::new(Cell::new(0u64));
    for i in 0..CALLBACKS {
        let sum = sum.clone();
        lp.call_soon(move || sum.set(sum.get() + i))
            .expect("call_soon");
    }
    lp.stop();
    event_loop.run_forever().expect("run_forever");
    assert_eq!(sum.get(), sum_below(CALLBACKS));
}

/// `call_soon_batched`: the callbacks of [`call_soon`], scheduled from
/// inside the running loop by a driver callback, [`BATCH`] at a time (it
/// reschedules itself after each batch): a busy loop whose ready queue
/// stays short.
pub fn call_soon_batched(event_loop: &EventLoop) {
    let lp = event_loop.handle();
    let sum = Rc::new(Cell::new(0u64));
    let (lp2, sum2) = (lp.clone(), sum.clone());
    lp.call_soon(move || schedule_batch(lp2, sum2, 0))
        .expect("call_soon");
    event_loop.run_forever().expect("run_forever");
    assert_eq!(sum.get(), sum_below(CALLBACKS));
}

/// Schedules callbacks `start..start + BATCH`, then itself for the next
/// batch, or a `stop` after the last one.
fn schedule_batch(lp: Loop, sum: Rc<Cell<u64>>, start: u64) {
    let end = (start + BATCH).min(CALLBACKS);
    for i in start..end {
        let sum = sum.clone();
        lp.call_soon(move || sum.set(sum.get() + i))
            .expect("call_soon");
    }
    let next = lp.clone();
    if end < CALLBACKS {
        lp.call_soon(move || schedule_batch(next, sum, end))
    } else {
        lp.call_soon(move || next.stop())
    }
    .expect("call_soon");
}

/// `call_soon_threadsafe`: [`THREADS`] threads schedule [`CALLBACKS`]
/// callbacks in all with `RemoteLoop::call_soon_threadsafe` while this
/// thread runs the loop until the last one has run.
pub fn call_soon_threadsafe(event_loop: &EventLoop) {
    let remote = event_loop.handle().remote();
    let per_thread = CALLBACKS / THREADS;
    countdown::arm(CALLBACKS);
    let sum = std::thread::scope(|s| {
        for t in 0..THREADS {
            let remote = &remote;
            s.spawn(move || {
                for i in t * per_thread..(t + 1) * per_thread {
                    remote
                        .call_soon_threadsafe(move || countdown::tick(i))
                        .expect("call_soon_threadsafe");
                }
            });
        }
        event_loop
            .run_until_complete(countdown::wait())
            .expect("run_until_complete")
    });
    assert_eq!(sum, sum_below(CALLBACKS));
}

/// `spawn_complete`: inside `run_until_complete`, [`TASKS`] tasks
/// `tulip::spawn(async move { i })` into a pre-sized `Vec`, then every
/// `Task` awaited in spawn order.
pub fn spawn_complete(event_loop: &EventLoop) {
    let sum = event_loop
        .run_until_complete(async {
            let mut tasks = Vec::with_capacity(TASKS as usize);
            for i in 0..TASKS {
                tasks.push(tulip::spawn(async move { i }));
            }
            let mut sum = 0;
            for t in tasks {
                sum += t.await.expect("task");
            }
            sum
        })
        .expect("run_until_complete");
    assert_eq!(sum, sum_below(TASKS));
}

/// `yield_now`: the task of `run_until_complete` awaits
/// `tulip::yield_now()` [`YIELDS`] times.
pub fn yield_now(event_loop: &EventLoop) {
    yield_times(event_loop, YIELDS);
}

/// The task of `run_until_complete` awaits `tulip::yield_now()` `n` times.
fn yield_times(event_loop: &EventLoop, n: u64) {
    event_loop
        .run_until_complete(async move {
            for _ in 0..n {
                tulip::yield_now().await;
            }
        })
        .expect("run_until_complete");
}

/// `timers_half_cancelled`: [`super::sleeps_half_cancelled`] with
/// `tulip::sleep`, in the task of `run_until_complete`.
pub fn timers(event_loop: &EventLoop, delays: &Delays) {
    event_loop
        .run_until_complete(super::sleeps_half_cancelled(delays.clone(), tulip::sleep))
        .expect("run_until_complete");
}

/// `timers_half_cancelled_tasks`: [`TIMERS`] tasks `tulip::spawn`ed, each
/// awaiting one `tulip::sleep` ([`super::sleeper`]); once all have started,
/// every other one is cancelled (`Task::cancel`, then its handle dropped),
/// the others are awaited, and the iteration ends when every task's future
/// has been dropped.
pub fn timer_tasks(event_loop: &EventLoop, delays: &Delays) {
    let delays = delays.clone();
    event_loop
        .run_until_complete(async move {
            countdown::arm(TIMERS as u64);
            let tasks: Vec<_> = delays
                .iter()
                .map(|&d| tulip::spawn(super::sleeper(tulip::sleep(d))))
                .collect();
            countdown::wait().await;
            countdown::arm(TIMERS as u64);
            let mut live = Vec::with_capacity(TIMERS / 2 + 1);
            for (i, t) in tasks.into_iter().enumerate() {
                if i % 2 == 1 {
                    t.cancel();
                } else {
                    live.push(t);
                }
            }
            for t in live {
                t.await.expect("task");
            }
            countdown::wait().await;
        })
        .expect("run_until_complete");
}

/// `call_later_half_cancelled`: [`TIMERS`] `Loop::call_later` callbacks
/// (scheduled from outside the loop), every other `TimerHandle`
/// cancelled, then the loop runs until the others have run.
pub fn call_later(event_loop: &EventLoop, delays: &Delays) {
    let lp = event_loop.handle();
    countdown::arm((TIMERS / 2) as u64);
    let handles: Vec<_> = delays
        .iter()
        .enumerate()
        .map(|(i, &d)| {
            lp.call_later(d, move || countdown::tick(i as u64))
                .expect("call_later")
        })
        .collect();
    for h in handles.iter().skip(1).step_by(2) {
        h.cancel();
    }
    drop(handles);
    let sum = event_loop
        .run_until_complete(countdown::wait())
        .expect("run_until_complete");
    assert_eq!(sum, EVEN_TIMER_SUM);
}

/// The set-up of a `pass_with_sleepers` row: `n` tasks `tulip::spawn`ed
/// (detached), each in a `tulip::sleep` of [`SLEEPER_DELAY`]; returns
/// once every one has armed its timer.
pub fn arm_sleepers(event_loop: &EventLoop, n: u64) {
    event_loop
        .run_until_complete(async move {
            let armed = Rc::new(Cell::new(0u64));
            for _ in 0..n {
                let armed = armed.clone();
                tulip::spawn(async move {
                    armed.set(armed.get() + 1);
                    tulip::sleep(SLEEPER_DELAY).await;
                })
                .detach();
            }
            while armed.get() < n {
                tulip::yield_now().await;
            }
        })
        .expect("run_until_complete");
}

/// `pass_with_sleepers`: the task of `run_until_complete` awaits
/// `tulip::yield_now()` [`PASSES`] times, one loop pass each, beside the
/// sleepers of [`arm_sleepers`].
pub fn busy_passes(event_loop: &EventLoop) {
    yield_times(event_loop, PASSES);
}

/// One end of a Unix socket pair watched with `add_reader` (nothing is ever
/// written to it), and the other end: a registered descriptor, so that
/// the loop's passes poll for I/O as a server's do. Keep both alive for the
/// row.
pub fn idle_socket(event_loop: &EventLoop) -> (UnixStream, UnixStream) {
    let (a, b) = UnixStream::pair().expect("socketpair");
    event_loop.add_reader(&a, || {}).expect("add_reader");
    (a, b)
}

/// The context variable the `*_in_context` rows set.
static REQUEST: ContextVar<u64> = ContextVar::new("request");

/// Runs `work` in a context where [`REQUEST`] is set, so that every task
/// and callback it makes copies (and enters) a context that is not empty:
/// the `*_in_context` rows, against the plain ones where no variable was
/// ever set.
fn in_context(work: impl FnOnce()) {
    let mut ctx = Context::new();
    ctx.run(|| {
        REQUEST.set(1);
        work();
    });
}

/// `call_soon_in_context`: [`call_soon`] with a context variable set.
pub fn call_soon_in_context(event_loop: &EventLoop) {
    in_context(|| call_soon(event_loop));
}

/// `spawn_complete_in_context`: [`spawn_complete`] with a context variable
/// set (each task copies it when spawned and enters it when polled).
pub fn spawn_complete_in_context(event_loop: &EventLoop) {
    in_context(|| spawn_complete(event_loop));
}

/// `yield_now_in_context`: [`yield_now`] with a context variable set (the
/// task's context is entered and left at each of its polls).
pub fn yield_now_in_context(event_loop: &EventLoop) {
    in_context(|| yield_now(event_loop));
}
