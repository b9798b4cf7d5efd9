//! `_BaseLoop`: the native core of the Python loop class, one tulip
//! `EventLoop`, made on first use by the thread that schedules, watches or
//! runs on it, which is the loop's thread from then on.
//!
//! It runs the loop (`_run`, with the GIL released in the reactor wait),
//! schedules handles (`call_soon`, `call_later`, `call_at`,
//! `call_soon_threadsafe`), watches descriptors (`_add_reader`,
//! `_add_writer`, ...) and keeps the loop's clock (`time`). `tulipio`'s
//! Python `Loop` class builds the rest of asyncio's loop on these.

use std::os::fd::{BorrowedFd, RawFd};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use pyo3::exceptions::{PyAttributeError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};
use pyo3::{ffi, intern};

use crate::fd::check_fd;
use crate::gil;
use crate::handle::{self, Handle, TimerHandle};
use crate::ready::ReadyQueue;
use crate::thread_bound::LazyBound;
use crate::timers::{Clock, Timers};

/// What only the loop's own thread touches.
struct Core {
    event_loop: tulip_executor::EventLoop,
    /// The Python handles `call_soon` queued (asyncio's `_ready`).
    ready: Rc<ReadyQueue>,
    /// The Python timers (asyncio's `_scheduled`).
    timers: Rc<Timers>,
}

/// How many tulipio loops are in debug mode: while none is, a handle
/// looks up nothing about its loop's debug mode.
static DEBUG_LOOPS: AtomicUsize = AtomicUsize::new(0);

/// Whether any tulipio loop is in debug mode.
pub(crate) fn any_debug() -> bool {
    DEBUG_LOOPS.load(Ordering::Relaxed) != 0
}

/// The arguments `call_soon` and its kin take after their first:
/// `callback, *args, context=None` (parsed by `fastcall`).
pub(crate) struct Call<'py> {
    pub(crate) callback: Bound<'py, PyAny>,
    pub(crate) args: Bound<'py, PyTuple>,
    pub(crate) context: Option<Bound<'py, PyAny>>,
}

/// The native loop core (Python's `tulipio._tulipio._BaseLoop`).
#[pyclass(module = "tulipio", subclass, weakref, frozen, name = "_BaseLoop")]
pub struct BaseLoop {
    /// Made by the first thread that schedules, watches or runs: the
    /// loop's thread from then on.
    core: LazyBound<Core>,
    clock: Clock,
    /// The tulip loop's thread-safe handle, once `core` is made.
    remote: OnceLock<tulip_executor::RemoteLoop>,
    /// `call_soon_threadsafe` handles (and a `stop`) from before `core`
    /// was made: queued on it as it is made.
    early: Mutex<Early>,
    /// Handles queued through `remote` and not run yet: while there are
    /// any, `call_soon` queues behind them (asyncio keeps one FIFO for
    /// both), so callbacks run in the order they were scheduled.
    remote_pending: Arc<AtomicUsize>,
    closed: AtomicBool,
    running: AtomicBool,
    debug: AtomicBool,
}

/// Thread-safe work that came before the loop had a thread.
#[derive(Default)]
struct Early {
    handles: Vec<Py<Handle>>,
    stop: bool,
}

/// asyncio's message for a loop used after `close`.
fn closed_error() -> PyErr {
    PyRuntimeError::new_err("Event loop is closed")
}

/// A tulip error as the Python exception asyncio raises for it.
fn to_py(err: tulip_executor::Error) -> PyErr {
    match err {
        tulip_executor::Error::LoopClosed => closed_error(),
        tulip_executor::Error::LoopRunning => {
            PyRuntimeError::new_err("This event loop is already running")
        }
        tulip_executor::Error::Io(e) => match e.raw_os_error() {
            Some(code) => PyErr::from(std::io::Error::from_raw_os_error(code)),
            None => PyErr::from(std::io::Error::new(e.kind(), e.to_string())),
        },
        other => PyRuntimeError::new_err(other.to_string()),
    }
}

/// `callable(*args[..positional], **dict(zip(kwnames, args[positional..])))`,
/// through the vectorcall protocol (no argument tuple or keyword dict is
/// built).
fn vectorcall<'py>(
    callable: &Bound<'py, PyType>,
    positional: usize,
    args: &[&Bound<'py, PyAny>],
    kwnames: &Bound<'py, PyTuple>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = callable.py();
    if args.len() != positional + kwnames.len() {
        return Err(PyRuntimeError::new_err(
            "tulipio: keyword names and values differ in number",
        ));
    }
    let pointers: [*mut ffi::PyObject; 4] =
        std::array::from_fn(|i| args.get(i).map_or(std::ptr::null_mut(), |arg| arg.as_ptr()));
    if args.len() > pointers.len() {
        return Err(PyRuntimeError::new_err(
            "tulipio: too many arguments for a vectorcall",
        ));
    }
    // SAFETY: the GIL is held; `pointers` starts with `positional`
    // arguments and one value per name in `kwnames` (checked above), each
    // borrowed from a `Bound` that lives across the call; the result is a
    // new reference or NULL with an exception set.
    unsafe {
        Bound::from_owned_ptr_or_err(
            py,
            ffi::PyObject_Vectorcall(
                callable.as_ptr(),
                pointers.as_ptr(),
                positional,
                kwnames.as_ptr(),
            ),
        )
    }
}

/// The error for a loop method called off the loop's thread.
fn wrong_thread() -> PyErr {
    PyRuntimeError::new_err(
        "Non-thread-safe operation invoked on an event loop other than the current one \
         (a tulipio loop runs on the first thread that scheduled, watched or ran on it)",
    )
}

impl BaseLoop {
    fn early(&self) -> std::sync::MutexGuard<'_, Early> {
        self.early
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The tulip loop, made on first use (this thread becomes the loop's).
    fn core(&self) -> PyResult<&Core> {
        let made = self.core.get_or_try_init(|| {
            tulip_executor::EventLoop::builder()
                .debug(false)
                .around_wait(gil::around_wait)
                .build()
                .map(|event_loop| Core {
                    ready: ReadyQueue::new(event_loop.handle()),
                    timers: Timers::new(event_loop.handle(), self.clock),
                    event_loop,
                })
        });
        let (core, new) = match made {
            None => return Err(wrong_thread()),
            Some(made) => made.map_err(to_py)?,
        };
        if new {
            // Under the lock: a `call_soon_threadsafe` either queued its
            // handle in `early` before, or sees `remote` after.
            let mut early = self.early();
            let _ = self.remote.set(core.event_loop.remote());
            for handle in early.handles.drain(..) {
                core.ready.push(handle).map_err(to_py)?;
            }
            if std::mem::take(&mut early.stop) {
                core.event_loop.stop();
            }
        }
        Ok(core)
    }

    fn open_core(&self) -> PyResult<&Core> {
        if self.closed.load(Ordering::Relaxed) {
            return Err(closed_error());
        }
        self.core()
    }

    /// The tulip loop if it was made (on this thread); `None` if never made.
    fn made_core(&self) -> PyResult<Option<&Core>> {
        match self.core.get() {
            Some(core) => Ok(Some(core)),
            None if self.core.is_bound() => Err(wrong_thread()),
            None => Ok(None),
        }
    }

    /// Whether debug mode is on (read by handles as they run).
    pub(crate) fn debug(&self) -> bool {
        self.debug.load(Ordering::Relaxed)
    }

    fn now(&self) -> f64 {
        self.clock.now()
    }

    /// A handle for `call` (checked first in debug mode, as asyncio's
    /// `_check_callback` does, naming `method`).
    fn new_handle(slf: &Bound<'_, BaseLoop>, call: Call<'_>, method: &str) -> PyResult<Handle> {
        if slf.get().debug() {
            slf.call_method1("_check_callback", (&call.callback, method))?;
        }
        Handle::create(
            slf.py(),
            call.callback.unbind(),
            call.args.unbind(),
            slf.clone().into_any().unbind(),
            call.context.map(Bound::unbind),
        )
    }

    /// Puts `handle` on the loop's timers, due at loop time `when`.
    fn schedule_timer<'py>(
        slf: &Bound<'py, BaseLoop>,
        core: &Core,
        when: f64,
        handle: Handle,
    ) -> PyResult<Bound<'py, TimerHandle>> {
        if when.is_nan() {
            return Err(PyValueError::new_err("call_at: when is NaN"));
        }
        let py = slf.py();
        let timer = handle::new_untracked(py, TimerHandle::create(handle, when))?;
        core.timers
            .push(py, when, timer.clone().unbind())
            .map_err(to_py)?;
        Ok(timer)
    }

    /// asyncio's `create_task(coro, *, name=None, context=None)`: an
    /// `asyncio.Task` (the interpreter's own type, so `current_task`,
    /// `all_tasks` and the introspection tools see it), or what the task
    /// factory makes.
    pub(crate) fn create_task<'py>(
        slf: &Bound<'py, BaseLoop>,
        coro: Bound<'py, PyAny>,
        name: Option<Bound<'py, PyAny>>,
        context: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        static TASK: PyOnceLock<Py<PyType>> = PyOnceLock::new();
        static KWNAMES: PyOnceLock<Py<PyTuple>> = PyOnceLock::new();
        let py = slf.py();
        if slf.get().closed.load(Ordering::Relaxed) {
            return Err(closed_error());
        }
        let factory = slf.getattr(intern!(py, "_task_factory"))?;
        if !factory.is_none() {
            let task = match context {
                None => factory.call1((slf, coro))?,
                Some(context) => {
                    let kwargs = PyDict::new(py);
                    kwargs.set_item(intern!(py, "context"), context)?;
                    factory.call((slf, coro), Some(&kwargs))?
                }
            };
            if let Some(name) = name.filter(|name| !name.is_none()) {
                match task.call_method1(intern!(py, "set_name"), (name,)) {
                    Err(err) if !err.is_instance_of::<PyAttributeError>(py) => return Err(err),
                    _ => {}
                }
            }
            return Ok(task);
        }
        let task_type = TASK.import(py, "asyncio.tasks", "Task")?;
        let kwnames = KWNAMES.get_or_try_init(py, || {
            PyTuple::new(py, ["loop", "name", "context"]).map(Bound::unbind)
        })?;
        let none = py.None().into_bound(py);
        let name = name.unwrap_or_else(|| none.clone());
        let context = context.unwrap_or(none);
        let task = vectorcall(
            task_type,
            1,
            &[&coro, slf.as_any(), &name, &context],
            kwnames.bind(py),
        )?;
        if slf.get().debug() {
            // asyncio drops the traceback's last frame: this method's.
            let traceback = task.getattr(intern!(py, "_source_traceback"))?;
            if traceback.is_truthy()? {
                traceback.del_item(-1)?;
            }
        }
        Ok(task)
    }

    /// asyncio's `create_future()`: an `asyncio.Future` on this loop.
    pub(crate) fn create_future<'py>(slf: &Bound<'py, BaseLoop>) -> PyResult<Bound<'py, PyAny>> {
        static FUTURE: PyOnceLock<Py<PyType>> = PyOnceLock::new();
        static KWNAMES: PyOnceLock<Py<PyTuple>> = PyOnceLock::new();
        let py = slf.py();
        let future_type = FUTURE.import(py, "asyncio.futures", "Future")?;
        let kwnames =
            KWNAMES.get_or_try_init(py, || PyTuple::new(py, ["loop"]).map(Bound::unbind))?;
        vectorcall(future_type, 0, &[slf.as_any()], kwnames.bind(py))
    }

    /// asyncio's `call_soon(callback, *args, context=None)`: schedules
    /// `callback(*args)` for the next pass.
    pub(crate) fn call_soon<'py>(
        slf: &Bound<'py, BaseLoop>,
        call: Call<'py>,
    ) -> PyResult<Bound<'py, Handle>> {
        let this = slf.get();
        let core = this.open_core()?;
        let handle =
            handle::new_untracked(slf.py(), BaseLoop::new_handle(slf, call, "call_soon")?)?;
        this.schedule_on(core, handle.clone().unbind())?;
        Ok(handle)
    }

    /// asyncio's `call_soon_threadsafe(callback, *args, context=None)`:
    /// schedules `callback(*args)` from any thread, waking the loop.
    pub(crate) fn call_soon_threadsafe<'py>(
        slf: &Bound<'py, BaseLoop>,
        call: Call<'py>,
    ) -> PyResult<Bound<'py, Handle>> {
        let this = slf.get();
        if this.closed.load(Ordering::Relaxed) {
            return Err(closed_error());
        }
        let handle = BaseLoop::new_handle(slf, call, "call_soon_threadsafe")?;
        let handle = handle::new_untracked(slf.py(), handle)?;
        this.schedule(handle.clone().unbind())?;
        Ok(handle)
    }

    /// asyncio's `call_later(delay, callback, *args, context=None)`:
    /// schedules `callback(*args)` after `delay` seconds.
    pub(crate) fn call_later<'py>(
        slf: &Bound<'py, BaseLoop>,
        delay: &Bound<'py, PyAny>,
        call: Call<'py>,
    ) -> PyResult<Bound<'py, TimerHandle>> {
        if delay.is_none() {
            return Err(PyTypeError::new_err("delay must not be None"));
        }
        let delay: f64 = delay.extract()?;
        let this = slf.get();
        let core = this.open_core()?;
        let when = this.now() + delay;
        let handle = BaseLoop::new_handle(slf, call, "call_later")?;
        BaseLoop::schedule_timer(slf, core, when, handle)
    }

    /// asyncio's `call_at(when, callback, *args, context=None)`:
    /// schedules `callback(*args)` at loop time `when`.
    pub(crate) fn call_at<'py>(
        slf: &Bound<'py, BaseLoop>,
        when: &Bound<'py, PyAny>,
        call: Call<'py>,
    ) -> PyResult<Bound<'py, TimerHandle>> {
        if when.is_none() {
            return Err(PyTypeError::new_err("when cannot be None"));
        }
        let when: f64 = when.extract()?;
        let core = slf.get().open_core()?;
        let handle = BaseLoop::new_handle(slf, call, "call_at")?;
        BaseLoop::schedule_timer(slf, core, when, handle)
    }

    /// Queues `handle` for the next pass: directly on the loop's thread,
    /// else (or while earlier handles wait there) through the remote queue.
    pub(crate) fn schedule(&self, handle: Py<Handle>) -> PyResult<()> {
        match self.core.get() {
            Some(core) => self.schedule_on(core, handle),
            None => self.schedule_remote(handle),
        }
    }

    /// [`BaseLoop::schedule`] on the loop's thread, its core in hand.
    fn schedule_on(&self, core: &Core, handle: Py<Handle>) -> PyResult<()> {
        if self.remote_pending.load(Ordering::Acquire) == 0 {
            return core.ready.push(handle).map_err(to_py);
        }
        self.schedule_remote(handle)
    }

    /// Queues `handle` through the thread-safe queue (or keeps it until
    /// the loop has a thread).
    fn schedule_remote(&self, handle: Py<Handle>) -> PyResult<()> {
        let remote = match self.remote.get() {
            Some(remote) => remote,
            None => {
                let mut early = self.early();
                match self.remote.get() {
                    Some(remote) => remote,
                    None => {
                        early.handles.push(handle);
                        return Ok(());
                    }
                }
            }
        };
        let pending = self.remote_pending.clone();
        pending.fetch_add(1, Ordering::AcqRel);
        let queued = remote.call_soon_threadsafe(move || {
            pending.fetch_sub(1, Ordering::AcqRel);
            Python::attach(|py| Handle::run(handle.bind(py)));
        });
        if let Err(err) = queued {
            self.remote_pending.fetch_sub(1, Ordering::AcqRel);
            return Err(to_py(err));
        }
        Ok(())
    }

    /// The tulip loop's handle, for tulip's transports (made on first
    /// use, as every scheduling call).
    pub(crate) fn tulip_loop(&self) -> PyResult<tulip_executor::Loop> {
        Ok(self.open_core()?.event_loop.handle())
    }

    fn watch(
        slf: &Bound<'_, BaseLoop>,
        fd: RawFd,
        handle: Py<Handle>,
        reader: bool,
    ) -> PyResult<()> {
        let core = slf.get().open_core()?;
        let fd = check_fd(fd)?;
        handle.get().set_repeat();
        // SAFETY: the caller (asyncio's add_reader contract) keeps `fd` open
        // while it is registered; the borrow lasts only for this call,
        // which registers the number with the reactor (a closed descriptor
        // is an `EBADF` error there, not undefined behaviour).
        let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
        let callback = move || gil::in_loop(|py| Handle::run(handle.bind(py)));
        let registered = if reader {
            core.event_loop.add_reader(borrowed, callback)
        } else {
            core.event_loop.add_writer(borrowed, callback)
        };
        registered.map(drop).map_err(to_py)
    }
}

impl Drop for BaseLoop {
    fn drop(&mut self) {
        if *self.debug.get_mut() {
            DEBUG_LOOPS.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

#[pymethods]
impl BaseLoop {
    #[new]
    #[pyo3(signature = (*_args, **_kwargs))]
    fn py_new(
        py: Python<'_>,
        _args: &Bound<'_, PyTuple>,
        _kwargs: Option<&Bound<'_, pyo3::types::PyDict>>,
    ) -> PyResult<BaseLoop> {
        let base_time: f64 = py.import("time")?.call_method0("monotonic")?.extract()?;
        Ok(BaseLoop {
            core: LazyBound::new(),
            clock: Clock::new(base_time),
            remote: OnceLock::new(),
            early: Mutex::new(Early::default()),
            remote_pending: Arc::new(AtomicUsize::new(0)),
            closed: AtomicBool::new(false),
            running: AtomicBool::new(false),
            debug: AtomicBool::new(false),
        })
    }

    /// Runs the loop until `stop` (the native half of `run_forever`).
    fn _run(&self) -> PyResult<()> {
        let core = self.open_core()?;
        self.running.store(true, Ordering::Relaxed);
        let result = core.event_loop.run_forever();
        self.running.store(false, Ordering::Relaxed);
        if let Some(err) = gil::take_pending() {
            return Err(err);
        }
        result.map_err(to_py)
    }

    /// Closes the tulip loop: queued callbacks, timers and watched
    /// descriptors are dropped (the native half of `close`).
    fn _close(&self) -> PyResult<()> {
        if self.running.load(Ordering::Relaxed) {
            return Err(PyRuntimeError::new_err("Cannot close a running event loop"));
        }
        self.closed.store(true, Ordering::Relaxed);
        self.early().handles.clear();
        match self.core.get() {
            Some(core) => {
                core.ready.clear();
                core.timers.clear();
                core.event_loop.close().map_err(to_py)
            }
            // Never made: nothing to close. Closed from another thread
            // than the loop's: the tulip loop (its poller, notifier and
            // queues) is left to that thread and leaks with it.
            None => Ok(()),
        }
    }

    /// Stops the loop after the current pass (any thread).
    fn stop(&self) -> PyResult<()> {
        if let Some(core) = self.core.get() {
            core.event_loop.stop();
            return Ok(());
        }
        let mut early = self.early();
        match self.remote.get() {
            Some(remote) => remote.stop().map_err(to_py),
            None => {
                early.stop = true;
                Ok(())
            }
        }
    }

    /// Whether the loop is running.
    fn is_running(&self) -> bool {
        self.running.load(Ordering::Relaxed)
    }

    /// Whether the loop was closed.
    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }

    /// The native half of `set_debug`.
    fn _set_debug(&self, enabled: bool) {
        let was = self.debug.swap(enabled, Ordering::Relaxed);
        if was != enabled {
            if enabled {
                DEBUG_LOOPS.fetch_add(1, Ordering::Relaxed);
            } else {
                DEBUG_LOOPS.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    /// The loop's clock, in seconds (as `time.monotonic()`).
    fn time(&self) -> f64 {
        self.now()
    }

    /// Schedules an existing handle for the next pass (signal handlers).
    fn _call_handle_soon(&self, handle: Py<Handle>) -> PyResult<()> {
        self.open_core()?;
        self.schedule(handle)
    }

    /// Runs `handle` whenever `fd` is readable (replacing a reader).
    fn _add_reader(slf: &Bound<'_, BaseLoop>, fd: RawFd, handle: Py<Handle>) -> PyResult<()> {
        BaseLoop::watch(slf, fd, handle, true)
    }

    /// Runs `handle` whenever `fd` is writable (replacing a writer).
    fn _add_writer(slf: &Bound<'_, BaseLoop>, fd: RawFd, handle: Py<Handle>) -> PyResult<()> {
        BaseLoop::watch(slf, fd, handle, false)
    }

    /// Stops watching `fd` for reading; whether a reader was registered.
    fn _remove_reader(&self, fd: RawFd) -> PyResult<bool> {
        if self.closed.load(Ordering::Relaxed) {
            return Ok(false);
        }
        Ok(self
            .made_core()?
            .is_some_and(|core| core.event_loop.remove_reader(fd)))
    }

    /// Stops watching `fd` for writing; whether a writer was registered.
    fn _remove_writer(&self, fd: RawFd) -> PyResult<bool> {
        if self.closed.load(Ordering::Relaxed) {
            return Ok(false);
        }
        Ok(self
            .made_core()?
            .is_some_and(|core| core.event_loop.remove_writer(fd)))
    }
}
