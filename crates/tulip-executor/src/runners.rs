//! `run` and [`Runner`]: asyncio's `asyncio.run` and `asyncio.Runner`. A new
//! loop runs the main future; on the way out, tasks still pending are
//! cancelled and allowed to finish, the default executor is shut down, and
//! the loop is closed. On the main thread, Ctrl-C cancels the main future
//! and a second Ctrl-C ends the process, as in asyncio.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::Rc;
use std::time::Duration;

use crate::error::Error;
use crate::event_loop::base_events::Loop;
use crate::event_loop::events::{EventLoop, new_event_loop, set_event_loop};
use crate::event_loop::exception_handler::ExceptionContext;
use crate::task::TaskRef;

/// How long closing a runner waits for the default executor's threads
/// (asyncio's `shutdown_default_executor` timeout).
const EXECUTOR_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(300);

/// Runs `main` on a new event loop and returns its output (asyncio's
/// `asyncio.run`). Tasks still pending when `main` finishes are cancelled
/// and run until their futures are dropped; the default executor is shut
/// down; the loop is closed. A panic in `main` is resumed here.
/// [`Error::LoopRunning`] if a loop already runs on this thread (nothing is
/// created or changed then).
///
/// Ctrl-C is handled as asyncio does, see [`Runner::run`]: the first
/// `SIGINT` cancels `main` and the run returns [`Error::Interrupted`]; a
/// second one ends the process.
///
/// ```
/// let out = tulip::run(async {
///     tulip::sleep(std::time::Duration::from_millis(1)).await;
///     "hello"
/// })?;
/// assert_eq!(out, "hello");
/// # Ok::<(), tulip::Error>(())
/// ```
#[track_caller]
#[doc(alias = "block_on")]
pub fn run<F>(main: F) -> Result<F::Output, Error>
where
    F: Future + 'static,
    F::Output: 'static,
{
    if crate::get_running_loop().is_ok() {
        return Err(Error::LoopRunning);
    }
    let runner = Runner::new()?;
    let out = runner.run(main);
    let closed = runner.close();
    let out = out?;
    closed?;
    Ok(out)
}

/// asyncio's `Runner`: one loop for several `run` calls, closed by
/// [`close`](Runner::close) or on drop.
///
/// ```
/// let runner = tulip::Runner::new()?;
/// assert_eq!(runner.run(async { 1 })?, 1);
/// assert_eq!(runner.run(async { 2 })?, 2);
/// runner.close()?;
/// # Ok::<(), tulip::Error>(())
/// ```
pub struct Runner {
    event_loop: Option<EventLoop>,
}

impl Runner {
    /// A runner on a loop from [`new_event_loop`].
    ///
    /// ```
    /// let runner = tulip::Runner::new()?;
    /// assert_eq!(runner.run(async { "one loop" })?, "one loop");
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn new() -> Result<Runner, Error> {
        Runner::with_loop(new_event_loop()?)
    }

    /// A runner on `event_loop` (asyncio's `loop_factory`).
    ///
    /// ```
    /// let event_loop = tulip::EventLoop::builder().paused_clock(true).build()?;
    /// let runner = tulip::Runner::with_loop(event_loop)?;
    /// runner.run(tulip::sleep(std::time::Duration::from_secs(60)))?; // virtual minute
    /// runner.close()?;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn with_loop(event_loop: EventLoop) -> Result<Runner, Error> {
        if event_loop.is_closed() {
            return Err(Error::LoopClosed);
        }
        set_event_loop(Some(&event_loop));
        Ok(Runner {
            event_loop: Some(event_loop),
        })
    }

    /// The runner's loop; [`Error::LoopClosed`] after close.
    ///
    /// ```
    /// let runner = tulip::Runner::new()?;
    /// let lp = runner.get_loop()?;
    /// let task = lp.create_task(async { "from a task" });
    /// assert_eq!(runner.run(task)??, "from a task");
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn get_loop(&self) -> Result<Loop, Error> {
        self.event_loop
            .as_ref()
            .map(EventLoop::handle)
            .ok_or(Error::LoopClosed)
    }

    /// Runs `main` to completion on the runner's loop and returns its output.
    ///
    /// Ctrl-C, as asyncio's `Runner`: on the main thread of the process,
    /// when this loop has no `SIGINT` handler and the signal has its default
    /// disposition (no handler anywhere in the process, not ignored), a
    /// `SIGINT` handler is set while `main` runs. The first Ctrl-C cancels
    /// `main` (its future is dropped, so its destructors run) and the run
    /// returns [`Error::Interrupted`] (asyncio's `KeyboardInterrupt`); if
    /// `main` had completed already, its output is returned. The default
    /// disposition comes back as that first `SIGINT` arrives, so a second
    /// one ends the process, even while the loop is stuck in a callback.
    /// A `SIGINT` handler `main` sets ([`Loop::add_signal_handler`])
    /// replaces the runner's; when `main` removes it
    /// ([`Loop::remove_signal_handler`]), the runner's comes back, so
    /// Ctrl-C still cancels `main` rather than killing the process with
    /// no destructor run (asyncio gives `SIGINT` back to
    /// `KeyboardInterrupt`). The runner's handler is removed when the run
    /// ends; one of `main`'s stays.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tulip::prelude::*;
    ///
    /// let runner = tulip::Runner::new()?;
    /// let n = runner.run(async {
    ///     sleep(Duration::from_millis(1)).await;
    ///     21 * 2
    /// })?;
    /// assert_eq!(n, 42);
    /// # Ok::<(), tulip::Error>(())
    /// ```
    #[track_caller]
    pub fn run<F>(&self, main: F) -> Result<F::Output, Error>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let event_loop = self.event_loop.as_ref().ok_or(Error::LoopClosed)?;
        let main_task = Rc::new(MainTask::default());
        #[cfg(unix)]
        let ctrl_c = CtrlC::install(&event_loop.handle(), &main_task);
        let out = event_loop.run_until_complete(MainTask::track(main_task.clone(), main));
        #[cfg(unix)]
        drop(ctrl_c);
        match out {
            Err(Error::Cancelled) if main_task.interrupted.get() => Err(Error::Interrupted),
            out => out,
        }
    }

    /// Cancels what is still pending, shuts the default executor down and
    /// closes the loop. Idempotent.
    ///
    /// ```
    /// let runner = tulip::Runner::new()?;
    /// let lp = runner.get_loop()?;
    /// let pending = lp.create_task(std::future::pending::<()>());
    /// runner.close()?;
    /// assert!(pending.cancelled());
    /// assert!(lp.is_closed());
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn close(mut self) -> Result<(), Error> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), Error> {
        let Some(event_loop) = self.event_loop.take() else {
            return Ok(());
        };
        let result = cancel_all_tasks(&event_loop).and_then(|()| {
            let lp = event_loop.handle();
            event_loop.run_until_complete(async move {
                lp.shutdown_default_executor(Some(EXECUTOR_SHUTDOWN_TIMEOUT))
                    .await
            })?
        });
        set_event_loop(None);
        let closed = event_loop.close();
        result.and(closed)
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("loop", &self.event_loop)
            .finish()
    }
}

/// A runner's main task, as its Ctrl-C handler sees it.
#[derive(Default)]
struct MainTask {
    task: RefCell<Option<TaskRef>>,
    /// Whether Ctrl-C cancelled it.
    interrupted: Cell<bool>,
}

impl MainTask {
    /// `main`, telling `this` which task runs it.
    async fn track<F: Future>(this: Rc<MainTask>, main: F) -> F::Output {
        let task = crate::task::current_task();
        if let (true, Some(task)) = (this.interrupted.get(), &task) {
            task.cancel();
        }
        *this.task.borrow_mut() = task;
        main.await
    }

    /// Ctrl-C: cancel the main task (it is known once it ran; if it did
    /// not run yet, it cancels itself when it does).
    fn interrupt(&self) {
        self.interrupted.set(true);
        if let Some(task) = &*self.task.borrow() {
            task.cancel();
        }
    }
}

/// The `SIGINT` handler a runner sets while its main future runs: the
/// loop's fallback `SIGINT` handler, so that it comes back when main
/// removes a handler of its own. Removed on drop, unless main's handler
/// replaced it then.
#[cfg(unix)]
struct CtrlC {
    lp: Loop,
}

#[cfg(unix)]
impl CtrlC {
    fn install(lp: &Loop, main: &Rc<MainTask>) -> Option<CtrlC> {
        use crate::event_loop::signals::{Delivery, is_default};
        const SIGINT: i32 = crate::signal::SIGINT;
        if std::thread::current().name() != Some("main")
            || lp.has_signal_handler(SIGINT)
            || !is_default(SIGINT)
        {
            return None;
        }
        let main = main.clone();
        // `Delivery::First`: the default comes back as the signal arrives.
        // Removing itself, the handler stops coming back: the second
        // Ctrl-C ends the process.
        lp.set_fallback_signal_handler(SIGINT, Delivery::First, move || {
            main.interrupt();
            if let Ok(lp) = crate::get_running_loop() {
                lp.remove_fallback_signal_handler(SIGINT);
            }
        })
        .ok()?;
        Some(CtrlC { lp: lp.clone() })
    }
}

#[cfg(unix)]
impl Drop for CtrlC {
    fn drop(&mut self) {
        self.lp
            .remove_fallback_signal_handler(crate::signal::SIGINT);
    }
}

/// asyncio's `_cancel_all_tasks`: cancel, wait until every one is done, and
/// report those that ended in a panic.
fn cancel_all_tasks(event_loop: &EventLoop) -> Result<(), Error> {
    let tasks = event_loop.all_tasks();
    if tasks.is_empty() {
        return Ok(());
    }
    let all_done = event_loop.create_future::<()>();
    let remaining = Rc::new(Cell::new(tasks.len()));
    for t in &tasks {
        t.cancel();
        let remaining = remaining.clone();
        let all_done = all_done.clone();
        t.add_done_callback(move |_| {
            remaining.set(remaining.get() - 1);
            if remaining.get() == 0 {
                let _ = all_done.set_result(());
            }
        });
    }
    event_loop.run_until_complete(all_done)??;
    for t in tasks.iter().filter(|t| !t.cancelled()) {
        if t.panicked() {
            event_loop.call_exception_handler(
                &ExceptionContext::new("unhandled panic during tulip::run() shutdown")
                    .with_task(t.clone()),
            );
        }
    }
    Ok(())
}
