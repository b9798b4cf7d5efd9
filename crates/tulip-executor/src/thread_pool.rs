//! The thread pool behind `run_in_executor` and `to_thread`: the
//! [`Executor`] trait (asyncio's `concurrent.futures.Executor`, the name
//! `run_in_executor` and `set_default_executor` speak of) and
//! [`ThreadPool`], the default, sized as CPython's `ThreadPoolExecutor`
//! (`min(32, cpus + 4)` threads, started on demand). Nothing here knows the
//! loop: the loop's side is `event_loop::run_in_executor`.

use std::collections::VecDeque;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use crate::error::Error;

/// A unit of work for an executor.
pub type Job = Box<dyn FnOnce() + Send + 'static>;

/// Runs jobs somewhere other than the loop thread (asyncio's
/// `concurrent.futures.Executor`).
///
/// ```
/// use std::sync::Arc;
/// use tulip::{Error, Executor, Job};
///
/// /// Runs every job on a fresh thread.
/// struct ThreadPerJob;
///
/// impl Executor for ThreadPerJob {
///     fn submit(&self, job: Job) -> Result<(), Error> {
///         std::thread::spawn(job);
///         Ok(())
///     }
///     fn shutdown(&self, _wait: bool) {}
/// }
///
/// tulip::run(async {
///     let lp = tulip::get_running_loop()?;
///     let pool: Arc<dyn Executor> = Arc::new(ThreadPerJob);
///     assert_eq!(lp.run_in_executor(Some(pool), || 6 * 7).await?, 42);
///     Ok::<(), Error>(())
/// })??;
/// # Ok::<(), Error>(())
/// ```
pub trait Executor: Send + Sync + 'static {
    /// Queues `job`; an error if the executor is shut down.
    fn submit(&self, job: Job) -> Result<(), Error>;
    /// Stops accepting jobs; with `wait`, returns once queued jobs are done
    /// and the workers have exited.
    fn shutdown(&self, wait: bool);
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
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
/// use tulip::{Executor, ThreadPool};
/// let pool = ThreadPool::new(2);
/// let (tx, rx) = std::sync::mpsc::channel();
/// pool.submit(Box::new(move || tx.send(21 * 2).unwrap()))?;
/// assert_eq!(rx.recv().unwrap(), 42);
/// pool.shutdown(true);
/// # Ok::<(), tulip::Error>(())
/// ```
#[derive(Clone)]
pub struct ThreadPool {
    shared: Arc<PoolShared>,
}

impl ThreadPool {
    /// A pool of at most `max_workers` threads (at least one).
    ///
    /// ```
    /// assert_eq!(tulip::ThreadPool::new(4).max_workers(), 4);
    /// assert_eq!(tulip::ThreadPool::new(0).max_workers(), 1); // at least one
    /// ```
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
    ///
    /// ```
    /// let n = tulip::ThreadPool::default_workers();
    /// assert!((5..=32).contains(&n));
    /// ```
    pub fn default_workers() -> usize {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        (cpus + 4).min(32)
    }

    /// The maximum number of threads.
    ///
    /// ```
    /// let pool = tulip::ThreadPool::new(tulip::ThreadPool::default_workers());
    /// assert_eq!(pool.max_workers(), tulip::ThreadPool::default_workers());
    /// ```
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
