//! Running blocking work off the loop (asyncio's `run_in_executor`,
//! `to_thread`, `set_default_executor`, `shutdown_default_executor`): the
//! [`Executor`] trait and [`ThreadPool`], the default, sized as CPython's
//! `ThreadPoolExecutor` (`min(32, cpus + 4)` threads, started on demand).
//!
//! A job's result comes back through a one-shot slot whose waker wakes the
//! awaiting task from the worker thread (a lock-free push onto the loop's
//! remote queue plus at most one notify).

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::rc::Weak;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::error::{Error, PanicError};
use crate::event_loop::base_events::{Loop, LoopInner};

/// A unit of work for an executor.
pub type Job = Box<dyn FnOnce() + Send + 'static>;

/// Runs jobs somewhere other than the loop thread (asyncio's
/// `concurrent.futures.Executor`).
pub trait Executor: Send + Sync + 'static {
    /// Queues `job`; an error if the executor is shut down.
    fn submit(&self, job: Job) -> Result<(), Error>;
    /// Stops accepting jobs; with `wait`, returns once queued jobs are done
    /// and the workers have exited.
    fn shutdown(&self, wait: bool);
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

struct PoolState {
    queue: VecDeque<Job>,
    idle: usize,
    threads: usize,
    shutdown: bool,
}

struct PoolShared {
    state: Mutex<PoolState>,
    work: Condvar,
    max_workers: usize,
    handles: Mutex<Vec<JoinHandle<()>>>,
}

/// A pool of worker threads started on demand, up to a maximum.
///
/// ```
/// use tulip_executor::{Executor, ThreadPool};
/// let pool = ThreadPool::new(2);
/// let (tx, rx) = std::sync::mpsc::channel();
/// pool.submit(Box::new(move || tx.send(21 * 2).unwrap()))?;
/// assert_eq!(rx.recv().unwrap(), 42);
/// pool.shutdown(true);
/// # Ok::<(), tulip_executor::Error>(())
/// ```
#[derive(Clone)]
pub struct ThreadPool {
    shared: Arc<PoolShared>,
}

impl ThreadPool {
    /// A pool of at most `max_workers` threads (at least one).
    pub fn new(max_workers: usize) -> ThreadPool {
        ThreadPool {
            shared: Arc::new(PoolShared {
                state: Mutex::new(PoolState {
                    queue: VecDeque::new(),
                    idle: 0,
                    threads: 0,
                    shutdown: false,
                }),
                work: Condvar::new(),
                max_workers: max_workers.max(1),
                handles: Mutex::new(Vec::new()),
            }),
        }
    }

    /// CPython's default size: `min(32, available cores + 4)`.
    pub fn default_workers() -> usize {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        (cpus + 4).min(32)
    }

    /// The maximum number of threads.
    pub fn max_workers(&self) -> usize {
        self.shared.max_workers
    }

    fn worker(shared: Arc<PoolShared>) {
        loop {
            let job = {
                let mut st = lock(&shared.state);
                loop {
                    if let Some(job) = st.queue.pop_front() {
                        break Some(job);
                    }
                    if st.shutdown {
                        break None;
                    }
                    st.idle += 1;
                    st = shared.work.wait(st).unwrap_or_else(|p| p.into_inner());
                    st.idle -= 1;
                }
            };
            match job {
                // A job reports its own panics; one escaping here must not
                // take the worker down.
                Some(job) => drop(catch_unwind(AssertUnwindSafe(job))),
                None => break,
            }
        }
        lock(&shared.state).threads -= 1;
    }
}

impl Executor for ThreadPool {
    fn submit(&self, job: Job) -> Result<(), Error> {
        let mut st = lock(&self.shared.state);
        if st.shutdown {
            return Err(Error::InvalidState(
                "cannot schedule new jobs after shutdown",
            ));
        }
        st.queue.push_back(job);
        if st.idle > st.queue.len() - 1 {
            self.shared.work.notify_one();
        } else if st.threads < self.shared.max_workers {
            st.threads += 1;
            drop(st);
            let shared = self.shared.clone();
            let spawned = std::thread::Builder::new()
                .name("tulip-executor".into())
                .spawn(move || ThreadPool::worker(shared));
            match spawned {
                Ok(h) => lock(&self.shared.handles).push(h),
                Err(e) => {
                    let mut st = lock(&self.shared.state);
                    st.threads -= 1;
                    if st.threads == 0 {
                        st.queue.pop_back();
                        return Err(e.into());
                    }
                }
            }
        }
        Ok(())
    }

    fn shutdown(&self, wait: bool) {
        lock(&self.shared.state).shutdown = true;
        self.shared.work.notify_all();
        if wait {
            let handles = std::mem::take(&mut *lock(&self.shared.handles));
            for h in handles {
                let _ = h.join();
            }
        }
    }
}

impl fmt::Debug for ThreadPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = lock(&self.shared.state);
        f.debug_struct("ThreadPool")
            .field("max_workers", &self.shared.max_workers)
            .field("threads", &st.threads)
            .field("queued", &st.queue.len())
            .finish()
    }
}

struct Slot<T> {
    value: Option<std::thread::Result<T>>,
    waker: Option<Waker>,
}

/// The future of [`Loop::run_in_executor`] and [`to_thread`]: the job's
/// return value, [`Error::Panicked`] if it panicked, or the executor's error
/// if it refused the job.
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
    ///
    /// ```
    /// let event_loop = tulip_executor::EventLoop::new()?;
    /// let lp = event_loop.handle();
    /// let n = event_loop.run_until_complete(async move {
    ///     lp.run_in_executor(None, || (1..=10u64).product::<u64>()).await
    /// })??;
    /// assert_eq!(n, 3_628_800);
    /// # Ok::<(), tulip_executor::Error>(())
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
        let job: Job = Box::new(move || {
            let result = catch_unwind(AssertUnwindSafe(f));
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
    pub fn set_default_executor(&self, executor: Arc<dyn Executor>) {
        *self.inner.default_executor.borrow_mut() = Some(executor);
    }

    /// Shuts the default executor down and waits (without blocking the
    /// loop) for its threads to finish, at most `timeout` (asyncio 3.12's
    /// `shutdown_default_executor(timeout=300)`); past it, a warning is
    /// written and the wait abandoned. Later `run_in_executor(None, ..)`
    /// calls start a new default pool.
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

/// Runs `f` on the running loop's default executor (asyncio's `to_thread`).
/// Outside a running loop the future yields [`Error::NoRunningLoop`].
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
