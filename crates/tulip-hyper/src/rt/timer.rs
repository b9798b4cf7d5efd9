//! [`TulipTimer`]: hyper's [`Timer`](hyper::rt::Timer) on the loop's timers,
//! and its sleep [`TulipSleep`]: `Send + Sync` with no `unsafe`, through a
//! thread-local table of loop timers. Why this is sound is argued in the
//! documentation of the [`rt`](crate::rt) module.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::hash::{BuildHasherDefault, Hasher};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

#[cfg(doc)]
use tulip_executor::spawn;
use tulip_executor::{Loop, TimerHandle, get_running_loop};

/// How far away a deadline that does not fit in an `Instant` is put: never
/// reached in practice (the loop's own clock saturates the same way).
const FAR_FUTURE: Duration = Duration::from_secs(u32::MAX as u64);

/// hyper's [`Timer`](hyper::rt::Timer) on the running tulip loop: its
/// sleeps are loop timers ([`Loop::call_at`]), and [`now`](hyper::rt::Timer::now) is the
/// loop's clock ([`Loop::time`], virtual on a loop with a paused clock).
///
/// `TulipTimer` holds nothing: it is `Send + Sync + Copy`, as hyper's
/// builders require (`timer(M) where M: Timer + Send + Sync + 'static`). Its
/// sleeps ([`TulipSleep`]) are `Send + Sync` too, without any `unsafe`: see
/// the module documentation of [`rt`](crate::rt) for the argument.
///
/// ```
/// use std::time::Duration;
/// use hyper::rt::Timer;
/// use tulip::hyper::rt::TulipTimer;
///
/// tulip::run(async {
///     let timer = TulipTimer::new();
///     let start = timer.now();
///     timer.sleep(Duration::from_millis(10)).await;
///     assert!(timer.now() - start >= Duration::from_millis(10));
/// })?;
/// # Ok::<(), tulip::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct TulipTimer;

impl TulipTimer {
    /// The timer (it holds nothing; `TulipTimer` itself is the value too).
    ///
    /// ```
    /// use tulip::hyper::rt::TulipTimer;
    ///
    /// let timer = TulipTimer::new();
    /// // hyper's builders take it as is:
    /// let mut http1 = hyper::server::conn::http1::Builder::new();
    /// http1.timer(timer);
    /// ```
    pub fn new() -> TulipTimer {
        TulipTimer
    }

    /// How many loop timers the `TulipSleep`s armed on this thread hold
    /// now: armed, not fired, not dropped. A server whose connections come
    /// and go keeps this flat (a sleep dropped on its thread cancels its
    /// timer at once).
    ///
    /// ```
    /// use std::future::Future;
    /// use std::pin::pin;
    /// use std::task::Poll;
    /// use std::time::Duration;
    /// use hyper::rt::Timer;
    /// use tulip::hyper::rt::TulipTimer;
    ///
    /// tulip::run(async {
    ///     let before = TulipTimer::pending_timers();
    ///     let mut nap = TulipTimer.sleep(Duration::from_secs(3600));
    ///     // Armed at its first poll.
    ///     std::future::poll_fn(|cx| {
    ///         assert!(nap.as_mut().poll(cx).is_pending());
    ///         Poll::Ready(())
    ///     })
    ///     .await;
    ///     assert_eq!(TulipTimer::pending_timers(), before + 1);
    ///     drop(nap); // cancels the loop timer
    ///     assert_eq!(TulipTimer::pending_timers(), before);
    /// })?;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn pending_timers() -> usize {
        TIMERS
            .try_with(|t| t.try_borrow().map_or(0, |t| t.entries.len()))
            .unwrap_or(0)
    }
}

impl hyper::rt::Timer for TulipTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(TulipSleep::until(deadline_after(self.now(), duration)))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(TulipSleep::until(deadline))
    }

    /// The running loop's time; `Instant::now()` outside a running loop.
    fn now(&self) -> Instant {
        get_running_loop().map_or_else(|_| Instant::now(), |lp| lp.time())
    }

    /// A `TulipSleep` is rescheduled in place (its loop timer cancelled and
    /// a new one scheduled under the same key, the waker kept); another
    /// kind of sleep is replaced by a new `TulipSleep`.
    ///
    /// # Panics
    ///
    /// If the sleep was armed on another thread (see [`TulipSleep`]).
    fn reset(&self, sleep: &mut Pin<Box<dyn hyper::rt::Sleep>>, new_deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<TulipSleep>() {
            Some(mut ours) => ours.as_mut().reset(new_deadline),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}

/// `now + d`, or a far-away instant when that does not fit in an `Instant`.
fn deadline_after(now: Instant, d: Duration) -> Instant {
    now.checked_add(d)
        .or_else(|| now.checked_add(FAR_FUTURE))
        .unwrap_or(now)
}

/// The sleep of [`TulipTimer`]: done once its deadline has passed on the
/// clock of the loop that polls it.
///
/// It is armed (its loop timer scheduled) at its first poll, on the running
/// loop of the polling thread; a sleep that hyper creates and drops without
/// polling (a header-read timeout when the request was already buffered)
/// costs no loop timer at all.
///
/// `Send + Sync` with no `unsafe`: it holds its deadline, the thread it was
/// armed on and a key into that thread's table of loop timers (the module
/// documentation of [`rt`](crate::rt) gives the argument).
///
/// ```
/// use std::time::Duration;
/// use tulip::hyper::rt::TulipSleep;
///
/// fn is_send_sync<T: Send + Sync>(_: &T) {}
///
/// tulip::run(async {
///     let lp = tulip::get_running_loop()?;
///     let deadline = lp.time() + Duration::from_millis(5);
///     let nap = TulipSleep::until(deadline);
///     is_send_sync(&nap);
///     nap.await;
///     assert!(lp.time() >= deadline);
///     Ok::<(), tulip::Error>(())
/// })??;
/// # Ok::<(), tulip::Error>(())
/// ```
///
/// # Panics
///
/// Polling or [resetting](TulipSleep::reset) an armed sleep on another
/// thread than the one it was armed on panics ("TulipSleep polled on a
/// thread other than its loop's ..."): its loop timer lives on that
/// thread. Its first poll panics outside a running tulip loop, as
/// [`spawn`] does: there is no loop to time it.
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct TulipSleep {
    deadline: Instant,
    state: State,
}

#[derive(Debug, Clone, Copy)]
enum State {
    /// Not polled yet (or reset after it fired): no loop timer.
    Unarmed,
    /// A loop timer on `thread`'s table, under `key`.
    Armed { thread: ThreadId, key: u64 },
    /// The deadline passed and a poll saw it.
    Done,
}

impl TulipSleep {
    /// A sleep until `deadline`, on the clock of the loop that will poll it
    /// ([`Loop::time`]).
    ///
    /// ```
    /// use std::time::Duration;
    /// use tulip::hyper::rt::TulipSleep;
    ///
    /// tulip::run(async {
    ///     let lp = tulip::get_running_loop()?;
    ///     TulipSleep::until(lp.time() + Duration::from_millis(1)).await;
    ///     Ok::<(), tulip::Error>(())
    /// })??;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn until(deadline: Instant) -> TulipSleep {
        TulipSleep {
            deadline,
            state: State::Unarmed,
        }
    }

    /// The deadline.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use tulip::hyper::rt::TulipSleep;
    ///
    /// let at = Instant::now() + Duration::from_secs(1);
    /// assert_eq!(TulipSleep::until(at).deadline(), at);
    /// ```
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Moves the deadline to `deadline`, earlier or later. An armed sleep is
    /// rescheduled in place: its loop timer is cancelled and a new one is
    /// scheduled, and the task waiting on it stays registered. A sleep that
    /// had fired waits again.
    ///
    /// ```
    /// use std::pin::pin;
    /// use std::time::Duration;
    /// use tulip::hyper::rt::TulipSleep;
    ///
    /// tulip::run(async {
    ///     let lp = tulip::get_running_loop()?;
    ///     let start = lp.time();
    ///     let mut nap = pin!(TulipSleep::until(start + Duration::from_secs(3600)));
    ///     nap.as_mut().reset(start + Duration::from_millis(5));
    ///     nap.await;
    ///     assert!(lp.time() - start < Duration::from_secs(3600));
    ///     Ok::<(), tulip::Error>(())
    /// })??;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    ///
    /// # Panics
    ///
    /// If the sleep is armed on another thread than the current one.
    pub fn reset(self: Pin<&mut Self>, deadline: Instant) {
        let this = self.get_mut();
        this.deadline = deadline;
        match this.state {
            State::Unarmed => {}
            State::Done => this.state = State::Unarmed,
            State::Armed { thread, key } => {
                check_thread(thread, "reset");
                match get_running_loop() {
                    Ok(lp) => {
                        if !reschedule(&lp, key, deadline) {
                            // It fired meanwhile: arm again at the next poll.
                            this.state = State::Unarmed;
                        }
                    }
                    Err(_) => {
                        // No loop to schedule on now: the next poll arms it
                        // on the loop that runs then.
                        cancel(key);
                        this.state = State::Unarmed;
                    }
                }
            }
        }
    }
}

impl Future for TulipSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        match this.state {
            State::Done => Poll::Ready(()),
            State::Unarmed => {
                let Ok(lp) = get_running_loop() else {
                    panic!(
                        "TulipSleep polled outside a running tulip loop: hyper's timer needs \
                         the loop of the thread that polls it (serve the connection from a \
                         task on a tulip loop)"
                    );
                };
                if this.deadline <= lp.time() {
                    this.state = State::Done;
                    return Poll::Ready(());
                }
                let key = arm(&lp, this.deadline, cx.waker().clone());
                this.state = State::Armed {
                    thread: thread::current().id(),
                    key,
                };
                Poll::Pending
            }
            State::Armed { thread, key } => {
                check_thread(thread, "polled");
                if register(key, cx.waker()) {
                    Poll::Pending
                } else {
                    this.state = State::Done;
                    Poll::Ready(())
                }
            }
        }
    }
}

impl hyper::rt::Sleep for TulipSleep {}

impl Drop for TulipSleep {
    fn drop(&mut self) {
        if let State::Armed { thread, key } = self.state {
            // On another thread the table is out of reach: the loop timer
            // fires (or dies with its loop) and frees the entry then.
            if thread == thread::current().id() {
                cancel(key);
            }
        }
    }
}

/// Panics if the current thread is not `armed_on`.
fn check_thread(armed_on: ThreadId, what: &str) {
    let here = thread::current().id();
    if here != armed_on {
        panic!(
            "TulipSleep {what} on a thread other than its loop's ({here:?}, armed on \
             {armed_on:?}): its loop timer lives on the loop's thread, so poll and reset \
             it there"
        );
    }
}

/// One armed sleep on this thread: its loop timer and the waker to wake.
///
/// A reset to a later deadline only records it (`deadline`): the loop
/// timer, due at `armed_at`, re-arms itself for the rest when it fires.
/// hyper moves a keep-alive connection's header-read deadline later with
/// every request, so that costs a store instead of a cancel and a new
/// loop timer per request.
struct Entry {
    timer: Option<TimerHandle>,
    /// When the loop timer is due.
    armed_at: Instant,
    /// When the sleep is due (never before `armed_at`).
    deadline: Instant,
    waker: Option<Waker>,
}

/// This thread's armed sleeps, by key.
#[derive(Default)]
struct Table {
    next_key: u64,
    entries: HashMap<u64, Entry, BuildHasherDefault<KeyHasher>>,
}

impl Table {
    /// Gives the capacity back after a burst (a rebuild is paid for by the
    /// removals since the table was four times fuller).
    fn shrink(&mut self) {
        let cap = self.entries.capacity();
        if cap > 64 && self.entries.len() * 4 < cap {
            self.entries.shrink_to(self.entries.len() * 2);
        }
    }
}

thread_local! {
    static TIMERS: RefCell<Table> = RefCell::new(Table::default());
}

/// Runs `f` on this thread's table. Wakers and timer handles that `f`
/// takes out are returned and dropped by the caller after the borrow ends,
/// so no destructor ever runs while the table is borrowed.
fn with_table<R>(f: impl FnOnce(&mut Table) -> R) -> Option<R> {
    TIMERS
        .try_with(|t| t.try_borrow_mut().ok().map(|mut t| f(&mut t)))
        .ok()
        .flatten()
}

/// Schedules a loop timer at `deadline` that wakes `waker`; returns its key.
fn arm(lp: &Loop, deadline: Instant, waker: Waker) -> u64 {
    let key = with_table(|t| {
        t.next_key += 1;
        let key = t.next_key;
        t.entries.insert(
            key,
            Entry {
                timer: None,
                armed_at: deadline,
                deadline,
                waker: Some(waker),
            },
        );
        key
    })
    .unwrap_or_else(|| table_unavailable());
    store_timer(key, schedule(lp, key, deadline));
    key
}

/// The loop timer of `key`: it fires the entry.
fn schedule(lp: &Loop, key: u64, deadline: Instant) -> TimerHandle {
    lp.call_at(deadline, move || fire(key))
        .expect("a running loop is not closed")
}

/// Reschedules `key`'s timer at `deadline`; false if it has fired already.
/// A later deadline is only recorded (the loop timer re-arms when it
/// fires); an earlier one replaces the loop timer.
fn reschedule(lp: &Loop, key: u64, deadline: Instant) -> bool {
    let found = with_table(|t| {
        t.entries.get_mut(&key).map(|e| {
            e.deadline = deadline;
            if deadline >= e.armed_at && e.timer.is_some() {
                None
            } else {
                e.armed_at = deadline;
                Some(e.timer.take())
            }
        })
    })
    .flatten();
    let old = match found {
        None => return false,
        Some(None) => return true,
        Some(Some(old)) => old,
    };
    if let Some(old) = old {
        old.cancel();
    }
    store_timer(key, schedule(lp, key, deadline));
    true
}

/// Gives `key`'s entry its new loop timer (dropped if the entry is gone).
fn store_timer(key: u64, timer: TimerHandle) {
    let unused = with_table(|t| match t.entries.get_mut(&key) {
        Some(entry) => entry.timer.replace(timer),
        None => Some(timer),
    });
    drop(unused);
}

/// Stores `waker` for `key`; false if the entry is gone (the timer fired).
fn register(key: u64, waker: &Waker) -> bool {
    let outcome = with_table(|t| match t.entries.get_mut(&key) {
        None => (false, None),
        Some(entry) => match &entry.waker {
            Some(w) if w.will_wake(waker) => (true, None),
            _ => (true, entry.waker.replace(waker.clone())),
        },
    });
    match outcome {
        Some((pending, replaced)) => {
            drop(replaced);
            pending
        }
        None => table_unavailable(),
    }
}

/// Takes `key`'s entry out of the table (none if it is gone).
fn take(key: u64) -> Option<Entry> {
    with_table(|t| {
        let e = t.entries.remove(&key);
        t.shrink();
        e
    })
    .flatten()
}

/// Removes `key`'s entry and cancels its loop timer (a sleep dropped or
/// disarmed on its thread).
fn cancel(key: u64) {
    if let Some(Entry { timer, waker, .. }) = take(key) {
        if let Some(timer) = timer {
            timer.cancel();
        }
        drop(waker);
    }
}

/// The loop timer of `key` is due: free the entry and wake the sleep's
/// task, or, if the deadline moved later meanwhile, arm a loop timer for
/// the rest.
fn fire(key: u64) {
    let later = with_table(|t| {
        t.entries.get_mut(&key).and_then(|e| {
            (e.deadline > e.armed_at).then(|| {
                e.armed_at = e.deadline;
                (e.deadline, e.timer.take())
            })
        })
    })
    .flatten();
    if let Some((deadline, spent)) = later {
        drop(spent);
        if let Ok(lp) = get_running_loop() {
            store_timer(key, schedule(&lp, key, deadline));
            return;
        }
    }
    if let Some(Entry { timer, waker, .. }) = take(key) {
        drop(timer);
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// The table is borrowed (a re-entrant call) or already destroyed (the
/// thread is exiting): neither happens while a loop polls a sleep.
#[cold]
fn table_unavailable() -> ! {
    panic!("TulipSleep used while its thread's timer table is unavailable (thread exiting)")
}

/// Keys are consecutive integers: a multiplicative hash spreads them over
/// the table's buckets (SipHash would cost more for no benefit, as keys
/// never come from a peer).
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}
