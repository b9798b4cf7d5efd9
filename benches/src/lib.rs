//! Shared helpers of tulip's benchmarks against tokio (current-thread) and
//! smol.
//!
//! The benches live in `benches/benches/*.rs` and follow the convention
//! `cargo xtask bench` reads: a criterion *group* is one table row, the
//! *function ids* inside it are the runtimes (`tulip`, `tokio`, `smol`,
//! `async-io`), and every group declares `Throughput::Elements(n)` with `n`
//! the operations one iteration performs, so the table shows ns per
//! operation.
//!
//! Every iteration does a large batch of operations (100,000 to 1,000,000),
//! so criterion measures whole batches ([`group`] sets flat sampling and
//! small sample counts), and each runtime is built once per benchmark,
//! outside the timed routine.
//!
//! What lives here:
//! - [`group`]: the criterion settings every row uses;
//! - [`wall_time`] and [`cpu_time`]: timed loops for `iter_custom`;
//!   [`cpu_time`] counts the CPU time of the whole process, for the timer
//!   rows whose iterations mostly wait for deadlines;
//! - [`countdown`]: a per-thread completion counter, so that callbacks and
//!   tasks of every runtime signal "all N ran" the same way;
//! - [`timer_delays`] and [`PinnedSlots`]: the timer workload (many
//!   futures polled in place, some dropped early);
//! - [`work`]: the workload of every row on every runtime, shared by the
//!   bench targets and the `profile` binary (which runs one workload alone,
//!   for callgrind or perf);
//! - [`axum_app`]: the axum Router of the `axum` bench family, served the
//!   same on tulip (`axum_hello`) and on tokio (`axum_hello_tokio`).

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

pub mod axum_app;
pub mod echo_protocol;
pub mod netbench;
pub mod tls;
pub mod work;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, SamplingMode, Throughput};

/// Opens the criterion group of one table row: `elements` operations per
/// iteration, flat sampling (each sample runs the same number of whole
/// iterations), ten samples, short warm-up and measurement, so that the
/// whole suite runs in a few minutes.
pub fn group<'a>(c: &'a mut Criterion, name: &str, elements: u64) -> BenchmarkGroup<'a, WallTime> {
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Elements(elements))
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    g
}

/// Runs `routine` `iters` times and returns the wall-clock time taken.
pub fn wall_time(iters: u64, mut routine: impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        routine();
    }
    start.elapsed()
}

/// Runs `routine` `iters` times and returns the CPU time the whole process
/// spent meanwhile (user and system, every thread): time blocked waiting for
/// a deadline is not counted, the system calls that wait are.
pub fn cpu_time(iters: u64, mut routine: impl FnMut()) -> Duration {
    let start = process_cpu_time();
    for _ in 0..iters {
        routine();
    }
    process_cpu_time().saturating_sub(start)
}

/// The CPU time this process has used so far (`CLOCK_PROCESS_CPUTIME_ID`).
pub fn process_cpu_time() -> Duration {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_PROCESS_CPUTIME_ID) failed");
    Duration::new(
        u64::try_from(t.tv_sec).unwrap_or(0),
        u32::try_from(t.tv_nsec).unwrap_or(0),
    )
}

/// A completion counter of the current thread: [`arm`](countdown::arm) it
/// with the number of events to expect, have each event call
/// [`tick`](countdown::tick) on this thread (from a callback or a task),
/// and await [`wait`](countdown::wait), which completes once all have
/// happened. The state is thread-local, so the callbacks capture nothing
/// but their payload and need no atomics; every runtime signals completion
/// through the same code.
pub mod countdown {
    use std::cell::{Cell, RefCell};
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll, Waker};

    struct State {
        remaining: Cell<u64>,
        sum: Cell<u64>,
        waker: RefCell<Option<Waker>>,
    }

    thread_local! {
        static STATE: State = const {
            State {
                remaining: Cell::new(0),
                sum: Cell::new(0),
                waker: RefCell::new(None),
            }
        };
    }

    /// Expects `n` ticks on this thread (and resets the sum).
    pub fn arm(n: u64) {
        STATE.with(|s| {
            s.remaining.set(n);
            s.sum.set(0);
            *s.waker.borrow_mut() = None;
        });
    }

    /// Counts one event carrying `value`; the last one wakes the waiter.
    #[inline]
    pub fn tick(value: u64) {
        STATE.with(|s| {
            s.sum.set(s.sum.get().wrapping_add(value));
            let left = s.remaining.get() - 1;
            s.remaining.set(left);
            if left == 0 {
                if let Some(w) = s.waker.borrow_mut().take() {
                    w.wake();
                }
            }
        });
    }

    /// How many ticks are still expected.
    pub fn remaining() -> u64 {
        STATE.with(|s| s.remaining.get())
    }

    /// Completes, with the sum of the ticks' values, once every expected
    /// tick has happened.
    pub fn wait() -> Wait {
        Wait
    }

    /// The future of [`wait`].
    #[derive(Debug)]
    #[must_use = "futures do nothing unless awaited"]
    pub struct Wait;

    impl Future for Wait {
        type Output = u64;
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u64> {
            STATE.with(|s| {
                if s.remaining.get() == 0 {
                    Poll::Ready(s.sum.get())
                } else {
                    *s.waker.borrow_mut() = Some(cx.waker().clone());
                    Poll::Pending
                }
            })
        }
    }
}

/// The sum `0 + 1 + ... + (n - 1)`, what a countdown of values `0..n` adds
/// up to.
pub fn sum_below(n: u64) -> u64 {
    n * n.saturating_sub(1) / 2
}

/// `n` distinct timer delays: `base` plus an offset in `[0, spread)`, in a
/// scrambled order (a fixed permutation), so that timers are not inserted
/// in deadline order.
pub fn timer_delays(n: usize, base: Duration, spread: Duration) -> Vec<Duration> {
    let n64 = n as u64;
    let step = u64::try_from(spread.as_nanos()).unwrap_or(u64::MAX) / n64.max(1);
    // 7919 is prime and does not divide any n used here, so i -> i * 7919 % n
    // is a permutation of 0..n.
    (0..n64)
        .map(|i| base + Duration::from_nanos((i * 7919 % n64) * step))
        .collect()
}

/// A fixed set of futures pinned in place in one heap slice, each of which
/// can be polled where it lies and dropped early ([`cancel`](Self::cancel)).
/// This is how the timer rows hold 100,000 sleeps without an allocation
/// per sleep beyond the runtime's own.
pub struct PinnedSlots<F> {
    slots: Pin<Box<[Option<F>]>>,
}

impl<F: Future> PinnedSlots<F> {
    /// Pins the futures `make` returns for each item.
    pub fn new<T>(items: impl IntoIterator<Item = T>, make: impl FnMut(T) -> F) -> Self {
        let slots: Box<[Option<F>]> = items.into_iter().map(make).map(Some).collect();
        PinnedSlots {
            slots: Box::into_pin(slots),
        }
    }

    /// The number of slots (live or cancelled).
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether there are no slots.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The pinned slot `i`.
    fn slot(&mut self, i: usize) -> Pin<&mut Option<F>> {
        // SAFETY: the slice is pinned in its box and never moved or
        // reallocated; its elements are projected structurally (an element
        // is only ever dropped in place, through `Pin::set`), so an element
        // pinned once stays at its address until it is dropped.
        unsafe { self.slots.as_mut().map_unchecked_mut(|s| &mut s[i]) }
    }

    /// Polls every live future once with the caller's context (registering
    /// its timer, for a sleep); returns how many were already complete.
    pub async fn poll_each_once(&mut self) -> usize {
        std::future::poll_fn(|cx| {
            let mut ready = 0;
            for i in 0..self.len() {
                if let Some(f) = self.slot(i).as_pin_mut() {
                    if f.poll(cx).is_ready() {
                        ready += 1;
                    }
                }
            }
            std::task::Poll::Ready(ready)
        })
        .await
    }

    /// Drops the future of slot `i` in place (for a sleep: cancels its timer).
    pub fn cancel(&mut self, i: usize) {
        self.slot(i).set(None);
    }

    /// Awaits every live future, in slot order.
    pub async fn join_all(&mut self) {
        for i in 0..self.len() {
            if let Some(f) = self.slot(i).as_pin_mut() {
                f.await;
            }
        }
    }
}

/// A current-thread tokio runtime with I/O and timers enabled (what
/// `#[tokio::main(flavor = "current_thread")]` builds): the peer of a tulip
/// loop, which always has its reactor and timers.
pub fn tokio_current_thread() -> tokio::runtime::Runtime {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => panic!("cannot build a tokio runtime: {e}"),
    }
}

/// A new tulip event loop (panics if the OS refuses its poller).
pub fn tulip_loop() -> tulip::EventLoop {
    match tulip::EventLoop::new() {
        Ok(lp) => lp,
        Err(e) => panic!("cannot build a tulip loop: {e}"),
    }
}
