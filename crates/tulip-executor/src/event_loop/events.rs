//! [`EventLoop`], the owner of a loop (run, stop, close), its builder, and
//! the per-thread current loop of asyncio's `get_event_loop`,
//! `set_event_loop` and `new_event_loop`.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::sync::RwLock;

use tulip_reactor::BackendKind;

use crate::error::Error;
use crate::event_loop::base_events::{Loop, LoopInner, RunningGuard};

/// An event loop: owns the loop's state and runs it. Dropping it closes the
/// loop. It dereferences to its [`Loop`] handle, so every loop method
/// (`call_soon`, `create_task`, ...) can be called on it directly.
///
/// ```
/// let event_loop = tulip::EventLoop::new()?;
/// let out = event_loop.run_until_complete(async { "done" })?;
/// assert_eq!(out, "done");
/// event_loop.close()?;
/// assert!(event_loop.is_closed());
/// # Ok::<(), tulip::Error>(())
/// ```
///
/// An `EventLoop` stays on the thread that made it (use
/// [`Loop::remote`] to reach it from others):
///
/// ```compile_fail
/// let event_loop = tulip::EventLoop::new().unwrap();
/// std::thread::spawn(move || event_loop.run_forever());
/// ```
pub struct EventLoop {
    lp: Loop,
}

/// Builds an [`EventLoop`] with non-default settings.
///
/// ```
/// use tulip::{BackendKind, EventLoop};
/// let event_loop = EventLoop::builder()
///     .backend(BackendKind::Polling)
///     .paused_clock(true)
///     .debug(true)
///     .build()?;
/// assert_eq!(event_loop.backend_kind(), BackendKind::Polling);
/// # Ok::<(), tulip::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct EventLoopBuilder {
    backend: BackendKind,
    paused_clock: bool,
    debug: bool,
    /// The `tulip-ps` view: `None` follows `TULIP_PS`.
    #[cfg_attr(not(unix), allow(dead_code))]
    ps: Option<bool>,
    pub(crate) around_wait: Option<crate::event_loop::wait_hook::AroundWait>,
}

impl Default for EventLoopBuilder {
    fn default() -> EventLoopBuilder {
        EventLoopBuilder {
            backend: BackendKind::default_kind(),
            paused_clock: false,
            debug: crate::event_loop::debug::env_debug(),
            ps: None,
            around_wait: None,
        }
    }
}

impl EventLoopBuilder {
    /// The reactor backend (default: `TULIP_BACKEND`, else `epoll` on
    /// Linux, `polling` elsewhere).
    ///
    /// ```
    /// use tulip::reactor::BackendKind;
    ///
    /// let event_loop = tulip::EventLoop::builder().backend(BackendKind::Polling).build()?;
    /// assert_eq!(event_loop.backend_kind(), BackendKind::Polling);
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn backend(mut self, kind: BackendKind) -> EventLoopBuilder {
        self.backend = kind;
        self
    }

    /// Builds the loop with a paused (virtual) clock: time stands still
    /// until [`Loop::advance`] moves it, or until the loop has nothing to do
    /// but wait for a timer, when it jumps straight to that timer. Timer-heavy
    /// tests then run instantly and deterministically.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use tulip::prelude::*;
    ///
    /// let event_loop = tulip::EventLoop::builder().paused_clock(true).build()?;
    /// let started = Instant::now();
    /// event_loop.run_until_complete(sleep(Duration::from_secs(3600)))?; // an hour, virtually
    /// assert!(started.elapsed() < Duration::from_secs(60));
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn paused_clock(mut self, paused: bool) -> EventLoopBuilder {
        self.paused_clock = paused;
        self
    }

    /// Debug mode from the start (default: `TULIP_DEBUG=1`).
    ///
    /// ```
    /// let event_loop = tulip::EventLoop::builder().debug(true).build()?;
    /// assert!(event_loop.get_debug());
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn debug(mut self, debug: bool) -> EventLoopBuilder {
        self.debug = debug;
        self
    }

    /// Answers `tulip-ps` (asyncio's `python -m asyncio ps PID`): the loop
    /// listens on a Unix socket private to its user and sends a snapshot
    /// of its tasks and their await graph to each connection (see
    /// [`tulip::graph`](crate::graph) and [`Loop::ps_socket_path`]).
    /// Default: the `TULIP_PS` environment variable (`1`); off otherwise,
    /// with no socket and no cost. Enabled here, [`build`](Self::build)
    /// fails if the socket cannot be made; enabled by the variable, the
    /// loop runs without it and says why on standard error.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # // SAFETY: a doc test runs alone in its process, on one thread.
    /// # unsafe { std::env::set_var("TULIP_PS_DIR", dir.path().join("ps")) };
    /// let event_loop = tulip::EventLoop::builder().ps(true).build()?;
    /// assert!(event_loop.ps_socket_path().is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(unix)]
    pub fn ps(mut self, enabled: bool) -> EventLoopBuilder {
        self.ps = Some(enabled);
        self
    }

    /// Opens the loop (its poller and notifier).
    ///
    /// ```
    /// let event_loop = tulip::EventLoop::builder().debug(false).build()?;
    /// assert_eq!(event_loop.run_until_complete(async { 1 + 1 })?, 2);
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn build(self) -> Result<EventLoop, Error> {
        let inner = LoopInner::new(self.backend, self.paused_clock, self.debug)?;
        if let Some(hook) = self.around_wait {
            let _ = inner.around_wait.set(hook);
        }
        let lp = Loop::from_inner(inner);
        #[cfg(unix)]
        if self.ps.unwrap_or_else(crate::graph::ps::env_enabled) {
            match crate::graph::ps::PsServer::start(&lp) {
                Ok(server) => *lp.inner.ps.borrow_mut() = Some(server),
                Err(e) if self.ps == Some(true) => return Err(e),
                Err(e) => crate::event_loop::debug::warn(&format!(
                    "{}=1 but this loop does not answer tulip-ps: {e}",
                    crate::graph::PS_ENV
                )),
            }
        }
        Ok(EventLoop { lp })
    }
}

impl EventLoop {
    /// A new loop with the default settings (asyncio's `new_event_loop`,
    /// without the thread's loop factory).
    ///
    /// ```
    /// let event_loop = tulip::EventLoop::new()?;
    /// assert_eq!(event_loop.run_until_complete(async { "done" })?, "done");
    /// event_loop.close()?;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn new() -> Result<EventLoop, Error> {
        EventLoopBuilder::default().build()
    }

    /// A builder for non-default settings.
    ///
    /// ```
    /// let event_loop = tulip::EventLoop::builder().paused_clock(true).debug(true).build()?;
    /// assert!(event_loop.is_clock_paused() && event_loop.get_debug());
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn builder() -> EventLoopBuilder {
        EventLoopBuilder::default()
    }

    /// The loop's handle.
    ///
    /// ```
    /// let event_loop = tulip::EventLoop::new()?;
    /// let lp = event_loop.handle(); // a cheap, clonable handle for tasks and callbacks
    /// let task = lp.create_task(async { 7 });
    /// assert_eq!(event_loop.run_until_complete(task)??, 7);
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn handle(&self) -> Loop {
        self.lp.clone()
    }

    /// Runs the loop until [`Loop::stop`] is called (asyncio's
    /// `run_forever`). [`Error::LoopRunning`] if this or another loop is
    /// already running on this thread, [`Error::LoopClosed`] after close.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let event_loop = tulip::EventLoop::new()?;
    /// let lp = event_loop.handle();
    /// event_loop.call_later(Duration::from_millis(1), move || lp.stop())?;
    /// event_loop.run_forever()?;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn run_forever(&self) -> Result<(), Error> {
        let _guard = RunningGuard::enter(&self.lp)?;
        loop {
            self.lp.run_once()?;
            if self.lp.inner.stopping.get() {
                break;
            }
        }
        Ok(())
    }

    /// Runs `future` as a task until it completes and returns its output
    /// (asyncio's `run_until_complete`). A panic inside the future is
    /// resumed here. If the task is cancelled the result is
    /// [`Error::Cancelled`]; if the loop is stopped first,
    /// [`Error::StoppedBeforeComplete`] (the task stays scheduled).
    ///
    /// ```
    /// use std::time::Duration;
    /// use tulip::prelude::*;
    ///
    /// let event_loop = tulip::EventLoop::new()?;
    /// let out = event_loop.run_until_complete(async {
    ///     sleep(Duration::from_millis(1)).await;
    ///     "finished"
    /// })?;
    /// assert_eq!(out, "finished");
    /// # Ok::<(), tulip::Error>(())
    /// ```
    #[track_caller]
    #[doc(alias = "block_on")]
    pub fn run_until_complete<F>(&self, future: F) -> Result<F::Output, Error>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        if self.lp.is_closed() {
            return Err(Error::LoopClosed);
        }
        if self.lp.is_running() || crate::get_running_loop().is_ok() {
            return Err(Error::LoopRunning);
        }
        let mut task = self.lp.create_task(future);
        let lp = self.lp.clone();
        let id = task.add_done_callback(move |_| lp.stop());
        let res = self.run_forever();
        if !task.done() {
            task.remove_done_callback(id);
            res?;
            return Err(Error::StoppedBeforeComplete);
        }
        res?;
        match task.result() {
            Err(Error::Panicked(p)) => Err(Error::Panicked(p).resume_panic()),
            other => other,
        }
    }

    /// Closes the loop (asyncio's `close`): tasks still pending are
    /// cancelled and their futures dropped; queued callbacks, timers and
    /// watched descriptors are dropped; the default executor is released
    /// without waiting. Idempotent; [`Error::LoopRunning`] while running.
    ///
    /// ```
    /// let event_loop = tulip::EventLoop::new()?;
    /// let task = event_loop.create_task(std::future::pending::<()>());
    /// event_loop.close()?;
    /// assert!(task.cancelled()); // pending tasks are cancelled by close
    /// event_loop.close()?; // idempotent
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn close(&self) -> Result<(), Error> {
        self.lp.close_inner()
    }
}

impl Deref for EventLoop {
    type Target = Loop;
    fn deref(&self) -> &Loop {
        &self.lp
    }
}

impl Drop for EventLoop {
    fn drop(&mut self) {
        if !self.lp.is_closed() && self.lp.get_debug() {
            // asyncio's ResourceWarning("unclosed event loop").
            crate::event_loop::debug::warn(
                "unclosed event loop dropped: it is closed now; call close() explicitly",
            );
        }
        if !self.lp.is_running() {
            let _ = self.lp.close_inner();
        }
    }
}

impl fmt::Debug for EventLoop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("EventLoop").field(&self.lp).finish()
    }
}

thread_local! {
    static CURRENT: RefCell<Option<Loop>> = const { RefCell::new(None) };
}

/// The function [`new_event_loop`] uses to make loops: the policy hook.
pub type LoopFactory = fn() -> Result<EventLoop, Error>;

static LOOP_FACTORY: RwLock<Option<LoopFactory>> = RwLock::new(None);

/// Sets (or with `None` resets) the factory [`new_event_loop`] and
/// `tulip::run` use, for every thread: what asyncio's event loop policy's
/// `new_event_loop` does.
///
/// ```standalone_crate
/// use tulip::{EventLoop, new_event_loop, set_event_loop_factory};
///
/// fn debug_loop() -> Result<EventLoop, tulip::Error> {
///     EventLoop::builder().debug(true).build()
/// }
///
/// set_event_loop_factory(Some(debug_loop));
/// assert!(new_event_loop()?.get_debug());
/// tulip::run(async { assert!(tulip::get_running_loop().unwrap().get_debug()) })?;
/// set_event_loop_factory(None); // back to EventLoop::new
/// # Ok::<(), tulip::Error>(())
/// ```
pub fn set_event_loop_factory(factory: Option<LoopFactory>) {
    match LOOP_FACTORY.write() {
        Ok(mut g) => *g = factory,
        Err(p) => *p.into_inner() = factory,
    }
}

/// A new event loop from the factory set with [`set_event_loop_factory`]
/// (default: [`EventLoop::new`]). asyncio's `new_event_loop`.
///
/// ```
/// let event_loop = tulip::new_event_loop()?;
/// assert_eq!(event_loop.run_until_complete(async { 5 })?, 5);
/// # Ok::<(), tulip::Error>(())
/// ```
pub fn new_event_loop() -> Result<EventLoop, Error> {
    let factory = match LOOP_FACTORY.read() {
        Ok(g) => *g,
        Err(p) => *p.into_inner(),
    };
    match factory {
        Some(f) => f(),
        None => EventLoop::new(),
    }
}

/// Sets the current loop of this thread (asyncio's `set_event_loop`);
/// `None` clears it.
///
/// ```
/// use tulip::{EventLoop, get_event_loop, set_event_loop};
///
/// let event_loop = EventLoop::new()?;
/// set_event_loop(Some(&event_loop));
/// assert!(get_event_loop()?.same_loop(&event_loop));
/// set_event_loop(None);
/// assert!(get_event_loop().is_err());
/// # Ok::<(), tulip::Error>(())
/// ```
pub fn set_event_loop(lp: Option<&Loop>) {
    CURRENT.with(|c| *c.borrow_mut() = lp.cloned());
}

/// The running loop, else this thread's current loop (asyncio's
/// `get_event_loop`, 3.14 behaviour: no loop is created implicitly).
/// [`Error::NoCurrentLoop`] when there is neither.
///
/// ```
/// use tulip::{EventLoop, get_event_loop, set_event_loop};
/// let event_loop = EventLoop::new()?;
/// assert!(get_event_loop().is_err());
/// set_event_loop(Some(&event_loop));
/// assert!(get_event_loop()?.same_loop(&event_loop));
/// set_event_loop(None);
/// # Ok::<(), tulip::Error>(())
/// ```
pub fn get_event_loop() -> Result<Loop, Error> {
    if let Ok(lp) = crate::get_running_loop() {
        return Ok(lp);
    }
    CURRENT
        .with(|c| c.borrow().clone())
        .ok_or(Error::NoCurrentLoop)
}
