//! `ensure_future` and `run_coroutine_threadsafe`: getting a future running
//! as a task, on this loop or on another thread's loop.

use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use crate::error::{Error, PanicError};
use crate::event_loop::remote::RemoteLoop;
use crate::task::{Task, spawn};

/// Schedules `fut` as a task on the running loop (asyncio's
/// `ensure_future`; the same as [`spawn`]). A [`Task`] is already
/// scheduled: pass it on as it is rather than through this function, which
/// would wrap it in a second task.
///
/// ```
/// tulip::run(async {
///     let t = tulip::ensure_future(async { 3 });
///     assert_eq!(t.await.unwrap(), 3);
/// })?;
/// # Ok::<(), tulip::Error>(())
/// ```
///
/// # Panics
///
/// Outside a running loop, as [`spawn`](crate::spawn) does: it spawns
/// at the call.
#[track_caller]
pub fn ensure_future<F>(fut: F) -> Task<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    spawn(fut)
}

struct Slot<T> {
    result: Option<Result<T, Error>>,
    done: bool,
    taken: bool,
    cancel_requested: bool,
    /// The waker of the task running the future on the loop (for cancel).
    task_waker: Option<Waker>,
    /// The waker of whoever awaits the [`ConcurrentFuture`].
    awaiter: Option<Waker>,
}

struct Shared<T> {
    slot: Mutex<Slot<T>>,
    cond: Condvar,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, Slot<T>> {
        self.slot.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sets the outcome once; later calls are ignored. If a cancellation
    /// was requested (checked under the same lock as the outcome is set),
    /// the outcome is [`Error::Cancelled`] whatever the future produced:
    /// a [`cancel`](ConcurrentFuture::cancel) that returned true is kept
    /// even if it arrived while the future was making its last step.
    fn complete(&self, outcome: Result<T, Error>) {
        let mut s = self.lock();
        if s.done {
            drop(s);
            drop(outcome);
            return;
        }
        let discarded = if s.cancel_requested && !matches!(outcome, Err(Error::Cancelled)) {
            s.result = Some(Err(Error::Cancelled));
            Some(outcome)
        } else {
            s.result = Some(outcome);
            None
        };
        s.done = true;
        s.task_waker = None;
        let w = s.awaiter.take();
        drop(s);
        // The value (or panic) nobody will get is dropped outside the lock.
        drop(discarded);
        self.cond.notify_all();
        if let Some(w) = w {
            w.wake();
        }
    }
}

/// A `Send` handle on a future submitted to a loop from another thread
/// (asyncio's `concurrent.futures.Future` returned by
/// `run_coroutine_threadsafe`): block on it with
/// [`result`](ConcurrentFuture::result), [`cancel`](ConcurrentFuture::cancel)
/// it, or await it (from any executor).
///
/// ```
/// let event_loop = tulip::EventLoop::new()?;
/// let remote = event_loop.remote();
/// let fut: tulip::ConcurrentFuture<u8> =
///     tulip::run_coroutine_threadsafe(&remote, || std::future::pending());
/// let canceller = std::thread::spawn(move || {
///     assert!(fut.cancel()); // cancels the task on the loop
///     fut.result(None).unwrap_err().is_cancelled() && remote.stop().is_ok()
/// });
/// event_loop.run_forever()?;
/// assert!(canceller.join().unwrap());
/// # Ok::<(), tulip::Error>(())
/// ```
#[must_use = "a ConcurrentFuture is how the submitted future's outcome is obtained"]
pub struct ConcurrentFuture<T> {
    shared: Arc<Shared<T>>,
}

/// Submits a future to the loop behind `remote` (from any thread), where it
/// runs as a task (asyncio's `run_coroutine_threadsafe`), and returns a
/// `Send` handle on its outcome. A loop already closed makes the handle
/// done with [`Error::LoopClosed`].
///
/// The future is given as a `Send` closure that makes it, called on the
/// loop's thread (asyncio passes a coroutine object, which is only
/// created, not run, on the calling thread): so the future itself need not
/// be `Send` and can use the loop's `!Send` API ([`sleep`](crate::sleep),
/// [`spawn`], ...). A `Send` future `f` is passed as `move || f`.
///
/// ```
/// let event_loop = tulip::EventLoop::new()?;
/// let remote = event_loop.handle().remote();
/// let worker = std::thread::spawn(move || {
///     let fut = tulip::run_coroutine_threadsafe(&remote, || async {
///         tulip::sleep(std::time::Duration::from_millis(1)).await;
///         6 * 7
///     });
///     let r = fut.result(None);
///     remote.stop().unwrap();
///     r
/// });
/// event_loop.run_forever()?;
/// assert_eq!(worker.join().unwrap()?, 42);
/// # Ok::<(), tulip::Error>(())
/// ```
pub fn run_coroutine_threadsafe<C, F>(remote: &RemoteLoop, make: C) -> ConcurrentFuture<F::Output>
where
    C: FnOnce() -> F + Send + 'static,
    F: Future + 'static,
    F::Output: Send + 'static,
{
    let shared = Arc::new(Shared {
        slot: Mutex::new(Slot {
            result: None,
            done: false,
            taken: false,
            cancel_requested: false,
            task_waker: None,
            awaiter: None,
        }),
        cond: Condvar::new(),
    });
    let submit = Submit {
        job: Some((make, shared.clone())),
    };
    let handle = ConcurrentFuture {
        shared: shared.clone(),
    };
    if remote
        .call_soon_threadsafe(move || {
            let mut submit = submit;
            if let Some((make, shared)) = submit.job.take() {
                // The factory runs inside the task, at its first poll, so
                // that a panic in it is an outcome like any other.
                spawn(Runner {
                    fut: Some(Box::pin(async move { make().await })),
                    shared,
                })
                .detach();
            }
        })
        .is_err()
    {
        shared.complete(Err(Error::LoopClosed));
    }
    handle
}

/// The callback's payload: if the callback is dropped without running (the
/// loop closed first), the handle completes with [`Error::LoopClosed`].
struct Submit<C, T> {
    job: Option<(C, Arc<Shared<T>>)>,
}

impl<C, T> Drop for Submit<C, T> {
    fn drop(&mut self) {
        if let Some((_, shared)) = self.job.take() {
            shared.complete(Err(Error::LoopClosed));
        }
    }
}

/// The task's future on the loop: runs the submitted future and stores its
/// outcome, whatever it is (value, panic, cancellation).
struct Runner<F: Future> {
    fut: Option<Pin<Box<F>>>,
    shared: Arc<Shared<F::Output>>,
}

impl<F: Future> Future for Runner<F> {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        {
            let mut s = this.shared.lock();
            if s.cancel_requested {
                drop(s);
                this.fut = None;
                this.shared.complete(Err(Error::Cancelled));
                return Poll::Ready(());
            }
            s.task_waker = Some(cx.waker().clone());
        }
        let Some(fut) = this.fut.as_mut() else {
            return Poll::Ready(());
        };
        let out = match catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(cx))) {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(v)) => Ok(v),
            Err(payload) => Err(Error::Panicked(PanicError::new(payload))),
        };
        this.fut = None;
        this.shared.complete(out);
        Poll::Ready(())
    }
}

impl<F: Future> Drop for Runner<F> {
    fn drop(&mut self) {
        // Cancelled on the loop (or torn down with it) before finishing.
        self.fut = None;
        self.shared.complete(Err(Error::Cancelled));
    }
}

impl<T> ConcurrentFuture<T> {
    /// Blocks until the outcome is there (at most `timeout`; `None`, or a
    /// timeout too long to be represented such as `Duration::MAX`: no
    /// limit) and takes it: the value, [`Error::Cancelled`],
    /// [`Error::Panicked`], [`Error::LoopClosed`]; [`Error::Timeout`] if it
    /// is not done in time (the future keeps running);
    /// [`Error::InvalidState`] if the outcome was already taken.
    ///
    /// Never call it on the loop's own thread without a timeout: the loop
    /// could not run the future while its thread is blocked.
    ///
    /// ```
    /// let event_loop = tulip::EventLoop::new()?;
    /// let fut = tulip::run_coroutine_threadsafe(&event_loop.handle().remote(), || async { 1 });
    /// // Nothing runs the loop here: the wait times out.
    /// let r = fut.result(Some(std::time::Duration::from_millis(1)));
    /// assert!(r.unwrap_err().is_timeout());
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn result(&self, timeout: Option<Duration>) -> Result<T, Error> {
        // A timeout too long to be an instant (`Duration::MAX`) is no limit.
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let mut s = self.shared.lock();
        while !s.done {
            match deadline {
                None => {
                    s = self
                        .shared
                        .cond
                        .wait(s)
                        .unwrap_or_else(PoisonError::into_inner)
                }
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return Err(Error::Timeout);
                    }
                    s = self
                        .shared
                        .cond
                        .wait_timeout(s, d - now)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
            }
        }
        take(&mut s)
    }

    /// Asks the loop to cancel the future (asyncio's `cancel()`); returns
    /// false if it is already done. The outcome becomes
    /// [`Error::Cancelled`] once the loop has dropped the future; if the
    /// request arrives while the future is making its last step, the value
    /// it produces is dropped and the outcome is still `Cancelled`.
    ///
    /// ```
    /// let event_loop = tulip::EventLoop::new()?;
    /// let fut = tulip::run_coroutine_threadsafe(
    ///     &event_loop.handle().remote(),
    ///     std::future::pending::<()>,
    /// );
    /// assert!(fut.cancel());
    /// event_loop.run_until_complete(async { for _ in 0..3 { tulip::yield_now().await } })?;
    /// assert!(fut.cancelled());
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn cancel(&self) -> bool {
        let mut s = self.shared.lock();
        if s.done {
            return false;
        }
        s.cancel_requested = true;
        let w = s.task_waker.take();
        drop(s);
        if let Some(w) = w {
            w.wake();
        }
        true
    }

    /// Whether the outcome is there.
    ///
    /// ```
    /// let event_loop = tulip::EventLoop::new()?;
    /// let fut = tulip::run_coroutine_threadsafe(&event_loop.handle().remote(), || async {});
    /// assert!(!fut.done());
    /// event_loop.run_until_complete(async { for _ in 0..3 { tulip::yield_now().await } })?;
    /// assert!(fut.done());
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn done(&self) -> bool {
        self.shared.lock().done
    }

    /// Whether the future ended cancelled (and that outcome was not taken).
    ///
    /// ```
    /// let event_loop = tulip::EventLoop::new()?;
    /// let fut = tulip::run_coroutine_threadsafe(&event_loop.handle().remote(), || async {});
    /// assert!(!fut.cancelled());
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn cancelled(&self) -> bool {
        matches!(self.shared.lock().result, Some(Err(Error::Cancelled)))
    }
}

fn take<T>(s: &mut Slot<T>) -> Result<T, Error> {
    match s.result.take() {
        Some(r) => {
            s.taken = true;
            r
        }
        None => Err(Error::InvalidState("the outcome was already taken")),
    }
}

impl<T> Future for ConcurrentFuture<T> {
    type Output = Result<T, Error>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut s = self.shared.lock();
        if s.done {
            return Poll::Ready(take(&mut s));
        }
        s.awaiter = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl<T> fmt::Debug for ConcurrentFuture<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.shared.lock();
        f.debug_struct("ConcurrentFuture")
            .field("done", &s.done)
            .field("taken", &s.taken)
            .finish()
    }
}
