//! [`LoopGroup`] itself: starting its threads, [`LoopGroup::run`] (with
//! Ctrl-C handled as [`Runner`] handles it), stopping and joining;
//! [`GroupStop`] and [`run_per_core`].

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError, TryLockError};
use std::thread::{self, JoinHandle};

use crate::error::Error;
use crate::event_loop::base_events::{Loop, get_running_loop};
use crate::event_loop::events::{EventLoop, get_event_loop, set_event_loop};
use crate::event_loop::remote::RemoteLoop;
use crate::group::builder::LoopGroupBuilder;
use crate::group::thread::{self as loop_thread, AllDone, LoopConfig, RunState, Shared, Slot};
use crate::runners::Runner;

/// A group of event loops, one per thread (by default one per CPU): the
/// thread-per-core shape of a server. Each thread makes and runs its own
/// [`EventLoop`], so everything on a loop stays `Rc` and `!Send`; the group
/// holds only [`RemoteLoop`]s and join handles, and is `Send + Sync`.
///
/// [`run`](Self::run) runs one main future per loop and returns each
/// loop's result, in loop order. The loops stay alive between runs (and
/// serve what their initialisers or earlier runs left spawned) until the
/// group is stopped ([`stop`](Self::stop), Ctrl-C during `run`, a panic
/// under [`PanicPolicy::StopGroup`](crate::PanicPolicy::StopGroup)) or
/// dropped. Dropping the group stops its loops and joins their threads.
///
/// ```
/// use tulip::LoopGroup;
///
/// let group = LoopGroup::builder().loops(2).build()?;
/// let results = group.run(|lp, index| async move {
///     let task = lp.create_task(async move { index * 10 });
///     task.await.unwrap()
/// })?;
/// let values: Vec<usize> = results.into_iter().collect::<Result<_, _>>()?;
/// assert_eq!(values, [0, 10]);
/// # Ok::<(), tulip::Error>(())
/// ```
///
/// The main futures are made on their loops, so they may hold `Rc`s; but
/// the closure that makes them crosses to every loop's thread and must be
/// `Send + Sync`, so it cannot capture one:
///
/// ```compile_fail,E0277
/// use std::rc::Rc;
/// use tulip::LoopGroup;
///
/// let shared = Rc::new(5);
/// let group = LoopGroup::builder().loops(2).build().unwrap();
/// group.run(move |_lp, _index| {
///     let shared = shared.clone();
///     async move { *shared }
/// });
/// ```
///
/// Nor can a result be `!Send`:
///
/// ```compile_fail,E0277
/// use std::rc::Rc;
/// use tulip::LoopGroup;
///
/// let group = LoopGroup::builder().loops(2).build().unwrap();
/// group.run(|_lp, index| async move { Rc::new(index) });
/// ```
pub struct LoopGroup {
    shared: Arc<Shared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    /// Held while a run is in progress: one run at a time.
    running: Mutex<()>,
}

/// A `Send + Sync + Clone` handle that stops a [`LoopGroup`] from
/// anywhere (another thread, a loop of the group, a signal handler's
/// callback): [`LoopGroup::stopper`].
///
/// ```
/// use std::time::Duration;
/// use tulip::LoopGroup;
///
/// let group = LoopGroup::builder().loops(2).build()?;
/// let stopper = group.stopper();
/// std::thread::spawn(move || {
///     std::thread::sleep(Duration::from_millis(20));
///     stopper.stop();
/// });
/// let results = group.run(|_lp, _i| std::future::pending::<()>())?;
/// assert!(results.iter().all(|r| r.as_ref().unwrap_err().is_cancelled()));
/// # Ok::<(), tulip::Error>(())
/// ```
#[derive(Clone)]
pub struct GroupStop {
    shared: Arc<Shared>,
}

impl GroupStop {
    /// Stops the group, as [`LoopGroup::stop`] does.
    ///
    /// ```
    /// let group = tulip::LoopGroup::builder().loops(1).build()?;
    /// let stopper = group.stopper();
    /// let results = group.run(move |_lp, _i| {
    ///     let stopper = stopper.clone();
    ///     async move {
    ///         stopper.stop(); // from inside the group
    ///         std::future::pending::<()>().await
    ///     }
    /// })?;
    /// assert!(results[0].as_ref().unwrap_err().is_cancelled());
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn stop(&self) {
        self.shared.stop();
    }

    /// Whether the group was stopped.
    ///
    /// ```
    /// let group = tulip::LoopGroup::builder().loops(1).build()?;
    /// let stopper = group.stopper();
    /// assert!(!stopper.is_stopped());
    /// group.stop();
    /// assert!(stopper.is_stopped());
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn is_stopped(&self) -> bool {
        self.shared.stopped.load(Ordering::SeqCst)
    }
}

impl fmt::Debug for GroupStop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupStop")
            .field("stopped", &self.is_stopped())
            .finish()
    }
}

impl LoopGroup {
    /// The most loops a group may have.
    ///
    /// ```
    /// assert!(tulip::LoopGroup::builder().loops(tulip::LoopGroup::MAX_LOOPS + 1).build().is_err());
    /// ```
    pub const MAX_LOOPS: usize = 1024;

    /// A builder with the default options (see [`LoopGroupBuilder::new`]).
    ///
    /// ```
    /// let group = tulip::LoopGroup::builder().loops(2).build()?;
    /// assert_eq!(group.len(), 2);
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn builder() -> LoopGroupBuilder {
        LoopGroupBuilder::new()
    }

    /// Starts `loops` threads as `options` say; see
    /// [`LoopGroupBuilder::build`].
    pub(crate) fn start(options: LoopGroupBuilder, loops: usize) -> Result<LoopGroup, Error> {
        let cpus = if options.pin_cores {
            let cpus = crate::sys::affinity::allowed_cpus().map_err(|e| {
                Error::from(std::io::Error::new(
                    e.kind(),
                    format!("reading the CPUs this thread may run on, to pin loops: {e}"),
                ))
            })?;
            if cpus.is_empty() {
                return Err(Error::from(std::io::Error::other(
                    "no CPU in this thread's affinity mask to pin loops to",
                )));
            }
            Some(cpus)
        } else {
            None
        };
        let mut threads = Vec::with_capacity(loops);
        let mut readies = Vec::with_capacity(loops);
        let mut failure = None;
        for index in 0..loops {
            let config = LoopConfig {
                index,
                cpu: cpus.as_ref().map(|cpus| cpus[index % cpus.len()]),
                backend: options.backend,
                on_loop_start: options.on_loop_start.clone(),
            };
            let (ready, readied) = mpsc::sync_channel(1);
            let spawned = thread::Builder::new()
                .name(format!("{}-{index}", options.thread_name))
                .spawn(move || loop_thread::serve(config, ready));
            match spawned {
                Ok(handle) => {
                    threads.push(handle);
                    readies.push(readied);
                }
                Err(e) => {
                    failure = Some(Error::from(std::io::Error::new(
                        e.kind(),
                        format!("spawning the thread of loop {index}: {e}"),
                    )));
                    break;
                }
            }
        }
        let mut remotes = Vec::with_capacity(loops);
        for (index, readied) in readies.into_iter().enumerate() {
            match readied.recv() {
                Ok(Ok(remote)) => remotes.push(remote),
                Ok(Err(e)) => {
                    failure.get_or_insert(e);
                }
                Err(_) => {
                    failure.get_or_insert_with(|| {
                        Error::from(std::io::Error::other(format!(
                            "the thread of loop {index} ended before its loop was ready"
                        )))
                    });
                }
            }
        }
        let group = LoopGroup {
            shared: Arc::new(Shared {
                remotes,
                panic_policy: options.panic_policy,
                stopped: AtomicBool::new(false),
                interrupted: AtomicBool::new(false),
            }),
            threads: Mutex::new(threads),
            running: Mutex::new(()),
        };
        match failure {
            // Dropping the group stops and joins what did start.
            Some(e) => Err(e),
            None => Ok(group),
        }
    }

    /// The number of loops.
    ///
    /// ```
    /// let group = tulip::LoopGroup::builder().loops(3).build()?;
    /// assert_eq!(group.len(), 3);
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        self.shared.remotes.len()
    }

    /// Always `false`: a group has at least one loop.
    ///
    /// ```
    /// assert!(!tulip::LoopGroup::builder().loops(1).build()?.is_empty());
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.shared.remotes.is_empty()
    }

    /// A [`RemoteLoop`] per loop, index = loop index: schedule callbacks
    /// on a given loop from any thread.
    ///
    /// ```
    /// use std::sync::mpsc;
    ///
    /// let group = tulip::LoopGroup::builder().loops(2).thread_name("io").build()?;
    /// let (tx, rx) = mpsc::channel();
    /// group.remotes()[1].call_soon_threadsafe(move || {
    ///     tx.send(std::thread::current().name().map(String::from)).unwrap();
    /// })?;
    /// assert_eq!(rx.recv().unwrap().as_deref(), Some("io-1"));
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn remotes(&self) -> &[RemoteLoop] {
        &self.shared.remotes
    }

    /// Stops the group, from any thread (or any of its loops), without
    /// waiting: every loop's main task is cancelled (a run in progress
    /// then returns, with [`Error::Cancelled`] for each main task that had
    /// not finished), then each loop cancels its remaining tasks, shuts its
    /// default executor down, closes and ends its thread. Stopping is for
    /// good: a later [`run`](Self::run) is [`Error::LoopClosed`].
    /// Idempotent.
    ///
    /// ```
    /// let group = tulip::LoopGroup::builder().loops(2).build()?;
    /// group.stop();
    /// assert!(matches!(group.run(|_lp, _i| async {}), Err(tulip::Error::LoopClosed)));
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn stop(&self) {
        self.shared.stop();
    }

    /// A `Send + Sync + Clone` handle that stops the group.
    ///
    /// ```
    /// let group = tulip::LoopGroup::builder().loops(1).build()?;
    /// let stopper = group.stopper();
    /// std::thread::spawn(move || stopper.stop()).join().unwrap();
    /// assert!(group.stopper().is_stopped());
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn stopper(&self) -> GroupStop {
        GroupStop {
            shared: self.shared.clone(),
        }
    }

    /// Runs `main(lp, i)` as the main task of every loop `i` and blocks
    /// until every one ended; returns each loop's result in loop order.
    /// A main task that panicked is that loop's [`Error::Panicked`] (see
    /// [`PanicPolicy`](crate::PanicPolicy)); one cancelled (by
    /// [`stop`](Self::stop)) is [`Error::Cancelled`]; one cancelled by
    /// Ctrl-C is [`Error::Interrupted`].
    ///
    /// `main` is called on each loop's thread, so the future it returns
    /// may hold `Rc`s and never moves; `main` itself and the outputs cross
    /// threads (`Send + Sync`, `Send`).
    ///
    /// The group stays usable after a run that ended on its own: `run`
    /// takes `&self` so that the loops, their initialisers' state and
    /// their [`remotes`](Self::remotes) live on between runs (a server set
    /// up once, then jobs run on it), as [`Runner`] keeps its loop between
    /// runs. One run at a time: a `run` while another is in progress is
    /// [`Error::LoopRunning`], as is a `run` on a thread where a loop runs
    /// (it would block that loop).
    ///
    /// Ctrl-C, as [`Runner::run`]: on the main thread of the process, when
    /// `SIGINT` has its default disposition, the first Ctrl-C cancels
    /// every loop's main task (their destructors run: servers close,
    /// owned tasks are cancelled) and stops the group (each loop then
    /// cancels its remaining tasks and closes); `run` returns once every
    /// loop has its result. The default disposition comes back with that
    /// first Ctrl-C, so a second one ends the process, even while a loop
    /// is stuck.
    ///
    /// ```
    /// use std::rc::Rc;
    /// use std::time::Duration;
    /// use tulip::LoopGroup;
    ///
    /// let group = LoopGroup::builder().loops(2).build()?;
    /// let results = group.run(|_lp, index| async move {
    ///     let local = Rc::new(index); // stays on its loop
    ///     tulip::sleep(Duration::from_millis(1)).await;
    ///     *local + 1
    /// })?;
    /// assert_eq!(results.iter().map(|r| *r.as_ref().unwrap()).collect::<Vec<_>>(), [1, 2]);
    /// // The loops stay alive for another run.
    /// let again = group.run(|_lp, index| async move { index })?;
    /// assert_eq!(*again[1].as_ref().unwrap(), 1);
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn run<F, Fut, T>(&self, main: F) -> Result<Vec<Result<T, Error>>, Error>
    where
        F: Fn(Loop, usize) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = T> + 'static,
        T: Send + 'static,
    {
        if get_running_loop().is_ok() {
            return Err(Error::LoopRunning);
        }
        let _running = match self.running.try_lock() {
            Ok(guard) => guard,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => return Err(Error::LoopRunning),
        };
        if self.shared.stopped.load(Ordering::SeqCst) {
            return Err(Error::LoopClosed);
        }
        let state = Arc::new(RunState::new(self.len()));
        let main = Arc::new(main);
        for (index, remote) in self.shared.remotes.iter().enumerate() {
            let slot = Slot::new(state.clone(), self.shared.clone(), index);
            let main = main.clone();
            // If the loop is closed, the callback (and its slot) is
            // dropped: that loop's result is `LoopClosed`.
            let _ = remote.call_soon_threadsafe(move || loop_thread::start_main(main, index, slot));
        }
        self.wait(&state);
        Ok(state.take_results())
    }

    /// Waits for every loop of the run `state`, on a loop of its own so
    /// that the [`Runner`]'s Ctrl-C handling applies.
    fn wait<T: 'static>(&self, state: &Arc<RunState<T>>) {
        let previous = get_event_loop().ok();
        let waited = EventLoop::new()
            .and_then(Runner::with_loop)
            .and_then(|runner| {
                let out = runner.run(AllDone(state.clone()));
                let closed = runner.close();
                out.and(closed)
            });
        set_event_loop(previous.as_ref());
        let interrupted = matches!(waited, Err(Error::Interrupted));
        if interrupted {
            self.shared.interrupted.store(true, Ordering::SeqCst);
            self.shared.stop();
        }
        // After Ctrl-C (SIGINT has its default disposition again), or if no
        // loop could be made to wait on: wait plainly.
        state.wait_blocking();
        if interrupted {
            // The group is stopped for good: every loop finishes its cleanup
            // (the tasks left on it are dropped as it closes) before `run`
            // returns, not after.
            self.join();
        }
    }

    /// Stops the group and joins its threads (but the calling thread's,
    /// when a group is dropped on one of its own loops).
    fn join(&self) {
        self.shared.stop();
        let threads =
            std::mem::take(&mut *self.threads.lock().unwrap_or_else(PoisonError::into_inner));
        let me = thread::current().id();
        for handle in threads {
            if handle.thread().id() != me {
                let _ = handle.join();
            }
        }
    }
}

impl Drop for LoopGroup {
    fn drop(&mut self) {
        self.join();
    }
}

impl fmt::Debug for LoopGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoopGroup")
            .field("loops", &self.len())
            .field("stopped", &self.shared.stopped.load(Ordering::SeqCst))
            .finish()
    }
}

/// Runs `main(lp, i)` on every loop of a group with the default options
/// (one loop per CPU) and returns each loop's result:
/// `LoopGroup::builder().build()?.run(main)`. The group is stopped and its
/// threads joined before this returns.
///
/// ```
/// let results = tulip::run_per_core(|lp, index| async move {
///     let task = lp.create_task(async move { index });
///     task.await.unwrap()
/// })?;
/// for (index, result) in results.into_iter().enumerate() {
///     assert_eq!(result?, index);
/// }
/// # Ok::<(), tulip::Error>(())
/// ```
pub fn run_per_core<F, Fut, T>(main: F) -> Result<Vec<Result<T, Error>>, Error>
where
    F: Fn(Loop, usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = T> + 'static,
    T: Send + 'static,
{
    LoopGroup::builder().build()?.run(main)
}
