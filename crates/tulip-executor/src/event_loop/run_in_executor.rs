//! Running blocking work off the loop (asyncio's `run_in_executor`,
//! `to_thread`, `set_default_executor`, `shutdown_default_executor`), on an
//! [`Executor`], by default the loop's [`ThreadPool`] (see `thread_pool`).
//!
//! A job's result comes back through a one-shot slot whose waker wakes the
//! awaiting task from the worker thread (a lock-free push onto the loop's
//! remote queue plus at most one notify).

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::rc::Weak;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use crate::error::{Error, PanicError};
use crate::event_loop::base_events::{Loop, LoopInner};
use crate::thread_pool::{Executor, Job, ThreadPool, lock};

struct Slot<T> {
    value: Option<std::thread::Result<T>>,
    waker: Option<Waker>,
}

/// The future of [`Loop::run_in_executor`] and [`to_thread`]: the job's
/// return value, [`Error::Panicked`] if it panicked, or the executor's error
/// if it refused the job.
///
/// ```
/// use tulip::prelude::*;
///
/// tulip::run(async {
///     let fut: tulip::ExecutorFuture<u32> = to_thread(|| panic!("in the pool"));
///     assert!(fut.await.unwrap_err().is_panic()); // caught, the pool thread lives on
/// })?;
/// # Ok::<(), tulip::Error>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct ExecutorFuture<T> {
    slot: Option<Arc<Mutex<Slot<T>>>>,
    error: Option<Error>,
    lp: Weak<LoopInner>,
}

impl<T> ExecutorFuture<T> {
    fn release(&mut self) {
        if self.slot.take().is_some() {
            if let Some(inner) = self.lp.upgrade() {
                inner
                    .pending_executor_jobs
                    .set(inner.pending_executor_jobs.get().saturating_sub(1));
            }
        }
    }
}

impl<T> Future for ExecutorFuture<T> {
    type Output = Result<T, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T, Error>> {
        if let Some(e) = self.error.take() {
            return Poll::Ready(Err(e));
        }
        let Some(slot) = &self.slot else {
            return Poll::Ready(Err(Error::InvalidState("polled after completion")));
        };
        let value = {
            let mut s = lock(slot);
            match s.value.take() {
                Some(v) => v,
                None => {
                    match &s.waker {
                        Some(w) if w.will_wake(cx.waker()) => {}
                        _ => s.waker = Some(cx.waker().clone()),
                    }
                    return Poll::Pending;
                }
            }
        };
        self.release();
        Poll::Ready(value.map_err(|p| Error::Panicked(PanicError::new(p))))
    }
}

impl<T> Drop for ExecutorFuture<T> {
    fn drop(&mut self) {
        self.release();
    }
}

impl Loop {
    /// Runs `f` on `executor` (the loop's default [`ThreadPool`] if `None`)
    /// and returns a future of its result (asyncio's `run_in_executor`).
    /// Dropping the future does not stop `f`; its result is discarded.
    /// `f` runs in a copy of the caller's context (as asyncio's `to_thread`
    /// does): the [`ContextVar`](crate::contextvars::ContextVar)s set here
    /// are seen on the worker thread, and what `f` sets stays there.
    ///
    /// ```
    /// let event_loop = tulip::EventLoop::new()?;
    /// let lp = event_loop.handle();
    /// let n = event_loop.run_until_complete(async move {
    ///     lp.run_in_executor(None, || (1..=10u64).product::<u64>()).await
    /// })??;
    /// assert_eq!(n, 3_628_800);
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn run_in_executor<T, F>(
        &self,
        executor: Option<Arc<dyn Executor>>,
        f: F,
    ) -> ExecutorFuture<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let lp = self.downgrade();
        if self.is_closed() {
            return ExecutorFuture {
                slot: None,
                error: Some(Error::LoopClosed),
                lp,
            };
        }
        let executor = executor.unwrap_or_else(|| self.default_executor());
        let slot = Arc::new(Mutex::new(Slot {
            value: None,
            waker: None,
        }));
        let theirs = slot.clone();
        // contextvars: `f` runs in a copy of the caller's context.
        let mut context = crate::context::Context::current();
        let job: Job = Box::new(move || {
            let result = catch_unwind(AssertUnwindSafe(|| context.run(f)));
            let waker = {
                let mut s = lock(&theirs);
                s.value = Some(result);
                s.waker.take()
            };
            if let Some(w) = waker {
                w.wake();
            }
        });
        match executor.submit(job) {
            Ok(()) => {
                let inner = &self.inner;
                inner
                    .pending_executor_jobs
                    .set(inner.pending_executor_jobs.get() + 1);
                ExecutorFuture {
                    slot: Some(slot),
                    error: None,
                    lp,
                }
            }
            Err(e) => ExecutorFuture {
                slot: None,
                error: Some(e),
                lp,
            },
        }
    }

    /// The default executor, created on first use.
    fn default_executor(&self) -> Arc<dyn Executor> {
        let mut slot = self.inner.default_executor.borrow_mut();
        slot.get_or_insert_with(|| Arc::new(ThreadPool::new(ThreadPool::default_workers())))
            .clone()
    }

    /// Replaces the default executor (asyncio's `set_default_executor`).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tulip::prelude::*;
    /// use tulip::ThreadPool;
    ///
    /// tulip::run(async {
    ///     let lp = get_running_loop()?;
    ///     lp.set_default_executor(Arc::new(ThreadPool::new(1)));
    ///     let name = to_thread(|| std::thread::current().name().map(String::from)).await?;
    ///     assert_ne!(name, std::thread::current().name().map(String::from));
    ///     Ok::<(), tulip::Error>(())
    /// })??;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn set_default_executor(&self, executor: Arc<dyn Executor>) {
        *self.inner.default_executor.borrow_mut() = Some(executor);
    }

    /// Shuts the default executor down and waits (without blocking the
    /// loop) for its threads to finish, at most `timeout` (asyncio 3.12's
    /// `shutdown_default_executor(timeout=300)`); past it, a warning is
    /// written and the wait abandoned. Later `run_in_executor(None, ..)`
    /// calls start a new default pool.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tulip::prelude::*;
    ///
    /// tulip::run(async {
    ///     let lp = get_running_loop()?;
    ///     assert_eq!(to_thread(|| 1 + 1).await?, 2);
    ///     lp.shutdown_default_executor(Some(Duration::from_secs(5))).await?;
    ///     assert_eq!(to_thread(|| 2 + 2).await?, 4); // a new default pool
    ///     Ok::<(), tulip::Error>(())
    /// })??;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub async fn shutdown_default_executor(&self, timeout: Option<Duration>) -> Result<(), Error> {
        let Some(executor) = self.inner.default_executor.borrow_mut().take() else {
            return Ok(());
        };
        let slot = Arc::new(Mutex::new(Slot {
            value: None,
            waker: None,
        }));
        let theirs = slot.clone();
        let joiner = std::thread::Builder::new()
            .name("tulip-executor-shutdown".into())
            .spawn(move || {
                executor.shutdown(true);
                let waker = {
                    let mut s = lock(&theirs);
                    s.value = Some(Ok(()));
                    s.waker.take()
                };
                if let Some(w) = waker {
                    w.wake();
                }
            })?;
        drop(joiner);
        let inner = &self.inner;
        inner
            .pending_executor_jobs
            .set(inner.pending_executor_jobs.get() + 1);
        let fut = ExecutorFuture {
            slot: Some(slot),
            error: None,
            lp: self.downgrade(),
        };
        match timeout {
            None => fut.await.map(|_| ()),
            Some(t) => match crate::futures_util::race(fut, crate::sleep(t)).await {
                crate::futures_util::Either::Left(r) => r.map(|_| ()),
                crate::futures_util::Either::Right(()) => {
                    crate::event_loop::debug::warn(&format!(
                        "the default executor did not finish joining its threads within {} seconds",
                        t.as_secs_f64()
                    ));
                    Ok(())
                }
            },
        }
    }
}

/// Runs `f` on the running loop's default executor (asyncio's `to_thread`),
/// in a copy of the caller's context (contextvars), as asyncio does.
/// Outside a running loop the future yields [`Error::NoRunningLoop`].
///
/// ```
/// use std::time::Duration;
/// use tulip::prelude::*;
///
/// tulip::run(async {
///     // Blocking work off the loop thread; the loop keeps serving others.
///     let n = to_thread(|| {
///         std::thread::sleep(Duration::from_millis(5));
///         (1..=5u32).product::<u32>()
///     })
///     .await?;
///     assert_eq!(n, 120);
///     Ok::<(), tulip::Error>(())
/// })??;
/// # Ok::<(), tulip::Error>(())
/// ```
pub fn to_thread<T, F>(f: F) -> ExecutorFuture<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    match crate::get_running_loop() {
        Ok(lp) => lp.run_in_executor(None, f),
        Err(e) => ExecutorFuture {
            slot: None,
            error: Some(e),
            lp: Weak::new(),
        },
    }
}
