//! asyncio's `Handle` and `TimerHandle`: what `call_soon`, `call_later`,
//! `call_at`, `call_soon_threadsafe` and the reader/writer registrations
//! return, and what the tulip loop runs.
//!
//! A handle is the one Python object asyncio also allocates per callback:
//! the callback, its arguments tuple and the `contextvars.Context` it runs
//! in. Running it enters the context, calls the callback once and leaves
//! the context (no `Context.run` bound method or argument tuple per call).
//! An `Exception` goes to the loop's exception handler, as asyncio's
//! `Handle._run` does; any other `BaseException` ends `run_forever`.

use std::cell::UnsafeCell;
use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use pyo3::{ffi, intern};

use crate::event_loop::BaseLoop;
use crate::gil;

/// A scheduled callback (asyncio's `events.Handle`).
///
/// `frozen`: PyO3's borrow flag of a mutable class is atomic, and a run
/// took it twice; what changes (the callback and arguments, let go of
/// when run or cancelled, and two flags) is in [`GilSlot`]s and relaxed
/// atomics instead.
#[pyclass(module = "tulipio", subclass, weakref, frozen)]
pub struct Handle {
    callback: GilSlot<PyAny>,
    args: GilSlot<PyTuple>,
    /// Dropped by hand (see `Drop`), as is `event_loop`.
    context: ManuallyDrop<Py<PyAny>>,
    event_loop: ManuallyDrop<Py<PyAny>>,
    cancelled: AtomicBool,
    /// Debug mode: where the handle was made (asyncio's
    /// `_source_traceback`, a `traceback.StackSummary`).
    #[pyo3(get, name = "_source_traceback")]
    source_traceback: Option<Py<PyAny>>,
    /// A reader/writer or signal handle: run many times, never released.
    repeat: AtomicBool,
}

/// An optional reference that only the GIL's holder touches, in accesses
/// that run no Python code (an incref, a move): no other thread can come
/// in between, since the GIL is released only while Python code runs.
/// What is taken out is dropped after the access (a decref may run
/// `__del__`).
struct GilSlot<T>(UnsafeCell<Option<Py<T>>>);

// SAFETY: the slot is read and written only through `get` and `take`,
// which need a `Python` token (the GIL is held) and run no Python code
// while they touch it, so accesses from different threads are serialised
// by the GIL; the module refuses to load where the GIL is disabled
// (`lib.rs`). `Py<T>` itself is `Send`.
unsafe impl<T> Sync for GilSlot<T> {}

impl<T> GilSlot<T> {
    fn new(value: Py<T>) -> GilSlot<T> {
        GilSlot(UnsafeCell::new(Some(value)))
    }

    /// A new reference to the value, if any.
    fn get<'py>(&self, py: Python<'py>) -> Option<Bound<'py, T>> {
        // SAFETY: see the `Sync` argument: the GIL is held and nothing in
        // this access runs Python code (an incref).
        unsafe { &*self.0.get() }
            .as_ref()
            .map(|value| value.bind(py).clone())
    }

    /// Takes the value out (the caller drops it, outside the access).
    fn take<'py>(&self, py: Python<'py>) -> Option<Bound<'py, T>> {
        // SAFETY: as for `get` (a move).
        unsafe { &mut *self.0.get() }
            .take()
            .map(|value| value.into_bound(py))
    }
}

/// The current `contextvars` context, copied (asyncio's default for a
/// handle scheduled without `context=`).
fn copy_context(py: Python<'_>) -> PyResult<Py<PyAny>> {
    // SAFETY: the GIL is held (`py`); the call returns a new reference or
    // NULL with an exception set, which `from_owned_ptr_or_err` takes.
    unsafe { Bound::from_owned_ptr_or_err(py, ffi::PyContext_CopyCurrent()) }.map(Bound::unbind)
}

impl Handle {
    /// A handle for `callback(*args)` in `context` (a copy of the current
    /// context when `None`).
    pub(crate) fn create(
        py: Python<'_>,
        callback: Py<PyAny>,
        args: Py<PyTuple>,
        event_loop: Py<PyAny>,
        context: Option<Py<PyAny>>,
    ) -> PyResult<Handle> {
        let context = match context {
            Some(context) if !context.is_none(py) => context,
            _ => copy_context(py)?,
        };
        let source_traceback = if loop_debug(event_loop.bind(py)).is_some() {
            // The caller's frame: the code that called `call_soon` & co.
            let frame = py.import("sys")?.call_method1("_getframe", (0,))?;
            let helpers = py.import("asyncio.format_helpers")?;
            Some(helpers.call_method1("extract_stack", (frame,))?.unbind())
        } else {
            None
        };
        Ok(Handle {
            callback: GilSlot::new(callback),
            args: GilSlot::new(args),
            context: ManuallyDrop::new(context),
            event_loop: ManuallyDrop::new(event_loop),
            cancelled: AtomicBool::new(false),
            source_traceback,
            repeat: AtomicBool::new(false),
        })
    }

    /// Whether `cancel` was called.
    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }

    /// Marks a handle run on every event (a reader, writer or signal).
    pub(crate) fn set_repeat(&self) {
        self.repeat.store(true, Ordering::Relaxed);
    }

    /// Puts a one-shot handle back on the loop's queue (its pass is ending
    /// with an exception); a reader, writer or signal handle fires again
    /// on its own.
    fn requeue(slf: &Bound<'_, Handle>) {
        let this = slf.get();
        if this.repeat.load(Ordering::Relaxed) || this.is_cancelled() {
            return;
        }
        let lp = this.event_loop.bind(slf.py()).clone();
        if let Ok(lp) = lp.cast::<BaseLoop>() {
            if let Err(err) = lp.get().schedule(slf.clone().unbind()) {
                err.write_unraisable(slf.py(), Some(slf.as_any()));
            }
        }
    }

    /// Runs the handle once (unless cancelled), reporting what it raises.
    pub(crate) fn run(slf: &Bound<'_, Handle>) {
        let py = slf.py();
        if gil::ending() {
            Handle::requeue(slf);
            return;
        }
        // New references to what the run needs (the callback may cancel
        // or inspect its handle); `Bound`s, so that letting go of them is
        // a plain decref.
        let this = slf.get();
        if this.is_cancelled() {
            return;
        }
        let (Some(callback), Some(args)) = (this.callback.get(py), this.args.get(py)) else {
            return;
        };
        let context = this.context.bind(py).clone();
        let repeat = this.repeat.load(Ordering::Relaxed);
        let debug = loop_debug(this.event_loop.bind(py));
        let started = debug.as_ref().map(|_| Instant::now());
        if let Err(err) = call_in_context(py, &callback, &args, &context) {
            report(slf, err);
        }
        if !repeat {
            // Run once: drop the references (breaks cycles through the
            // callback, as asyncio's handle does when it has run).
            drop(this.callback.take(py));
            drop(this.args.take(py));
        }
        if let (Some(lp), Some(started)) = (debug, started) {
            warn_if_slow(slf, &lp, started);
        }
    }
}

impl Drop for Handle {
    /// Lets go of the handle's references as plain decrefs: a `Py` dropped
    /// on its own first asks a thread-local whether the GIL is held.
    fn drop(&mut self) {
        // SAFETY: a `Handle` lives only inside its Python object or, for
        // the moment between `Handle::create` and `Bound::new`, in a
        // function Python called: it is dropped by the object's
        // deallocation or on that function's error path, both on an
        // attached thread; the token does not outlive this call.
        let py = unsafe { Python::assume_attached() };
        drop(self.callback.0.get_mut().take().map(|c| c.into_bound(py)));
        drop(self.args.0.get_mut().take().map(|a| a.into_bound(py)));
        drop(self.source_traceback.take().map(|t| t.into_bound(py)));
        // SAFETY: both are taken once, here, and never used again.
        let (context, event_loop) = unsafe {
            (
                ManuallyDrop::take(&mut self.context),
                ManuallyDrop::take(&mut self.event_loop),
            )
        };
        drop(context.into_bound(py));
        drop(event_loop.into_bound(py));
    }
}

/// The handle's loop when it is a tulipio loop in debug mode. Nothing is
/// looked up while no tulipio loop is in debug mode.
#[inline]
fn loop_debug<'py>(event_loop: &Bound<'py, PyAny>) -> Option<Bound<'py, BaseLoop>> {
    if !crate::event_loop::any_debug() {
        return None;
    }
    let lp = event_loop.cast::<BaseLoop>().ok()?;
    lp.get().debug().then(|| lp.clone())
}

/// A new handle object, not tracked by the cyclic garbage collector.
///
/// PyO3 makes every class a GC type, but a handle's traversal reports
/// none of its references (it defines no `__traverse__`), so a collection
/// learns nothing from visiting it: tracked, the loop's thousands of
/// pending handles and timers only made every collection slower.
pub(crate) fn new_untracked<T: pyo3::PyClass>(
    py: Python<'_>,
    value: impl Into<PyClassInitializer<T>>,
) -> PyResult<Bound<'_, T>> {
    let object = Bound::new(py, value)?;
    // SAFETY: the GIL is held (`py`); the object is a live instance of a
    // GC type (PyO3 sets `Py_TPFLAGS_HAVE_GC` on every class, checked
    // here), and untracking such an object is allowed at any time (its
    // deallocation untracks only if still tracked).
    unsafe {
        if ffi::PyType_IS_GC(ffi::Py_TYPE(object.as_ptr())) != 0 {
            ffi::PyObject_GC_UnTrack(object.as_ptr().cast());
        }
    }
    Ok(object)
}

/// `context.run(callback, *args)` without the bound method and tuple.
fn call_in_context(
    py: Python<'_>,
    callback: &Bound<'_, PyAny>,
    args: &Bound<'_, PyTuple>,
    context: &Bound<'_, PyAny>,
) -> PyResult<()> {
    // SAFETY: the GIL is held; `context` is a `contextvars.Context` (the
    // handle was built with one or a copy of the current one); entering
    // fails cleanly (RuntimeError) when it is already entered.
    if unsafe { ffi::PyContext_Enter(context.as_ptr()) } != 0 {
        return Err(PyErr::fetch(py));
    }
    let result = callback.call1(args.clone()).map(drop);
    // SAFETY: the context was entered above, on this thread, and is left
    // once; an exception from the call is already held in `result`.
    let exited = unsafe { ffi::PyContext_Exit(context.as_ptr()) };
    if exited != 0 {
        return Err(PyErr::fetch(py));
    }
    result
}

/// An error out of a callback: an `Exception` goes to the exception
/// handler; anything else ends `run_forever` with it.
fn report(slf: &Bound<'_, Handle>, err: PyErr) {
    let py = slf.py();
    if !err.is_instance_of::<PyException>(py) {
        gil::raise_from_loop(err);
        return;
    }
    let reported = (|| -> PyResult<()> {
        let message = format!("Exception in callback {}", slf.repr()?);
        let context = PyDict::new(py);
        context.set_item(intern!(py, "message"), message)?;
        context.set_item(intern!(py, "exception"), err.value(py))?;
        context.set_item(intern!(py, "handle"), slf)?;
        if let Some(tb) = &slf.get().source_traceback {
            context.set_item(intern!(py, "source_traceback"), tb.clone_ref(py))?;
        }
        let lp = slf.get().event_loop.clone_ref(py);
        lp.bind(py)
            .call_method1(intern!(py, "call_exception_handler"), (context,))?;
        Ok(())
    })();
    if let Err(err) = reported {
        if err.is_instance_of::<PyException>(py) {
            err.write_unraisable(py, Some(slf.as_any()));
        } else {
            gil::raise_from_loop(err);
        }
    }
}

/// Debug mode: asyncio's "Executing <Handle ...> took N seconds" warning.
fn warn_if_slow(slf: &Bound<'_, Handle>, lp: &Bound<'_, BaseLoop>, started: Instant) {
    let took = started.elapsed().as_secs_f64();
    let py = slf.py();
    let slow = lp
        .getattr(intern!(py, "slow_callback_duration"))
        .and_then(|v| v.extract::<f64>())
        .unwrap_or(0.1);
    if took < slow {
        return;
    }
    let logged = (|| -> PyResult<()> {
        let logger = py.import("asyncio.log")?.getattr("logger")?;
        let message = format!("Executing {} took {took:.3} seconds", slf.repr()?);
        logger.call_method1("warning", (message,))?;
        Ok(())
    })();
    if let Err(err) = logged {
        err.write_unraisable(py, Some(slf.as_any()));
    }
}

/// asyncio's handle description: the callback and where it is defined.
fn describe(slf: &Bound<'_, Handle>, kind: &str, when: Option<f64>) -> PyResult<String> {
    let py = slf.py();
    let this = slf.get();
    let mut parts = vec![kind.to_owned()];
    if this.is_cancelled() {
        parts.push("cancelled".to_owned());
    }
    if let Some(when) = when {
        parts.push(format!("when={when}"));
    }
    if let (Some(callback), Some(args)) = (this.callback.get(py), this.args.get(py)) {
        let helpers = py.import("asyncio.format_helpers")?;
        let source = helpers.call_method1("_format_callback_source", (callback, args))?;
        parts.push(source.extract::<String>()?);
    }
    if let Some(tb) = &this.source_traceback {
        // asyncio: "created at FILE:LINE" of the last frame.
        let tb = tb.bind(py);
        if let Ok(last) = tb.get_item(-1) {
            let file: String = last.getattr("filename")?.extract()?;
            let line: usize = last.getattr("lineno")?.extract()?;
            parts.push(format!("created at {file}:{line}"));
        }
    }
    Ok(format!("<{}>", parts.join(" ")))
}

#[pymethods]
impl Handle {
    /// `Handle(callback, args, loop, context=None)`, as asyncio's.
    #[new]
    #[pyo3(signature = (callback, args, r#loop, context=None))]
    fn py_new(
        py: Python<'_>,
        callback: Py<PyAny>,
        args: Py<PyTuple>,
        r#loop: Py<PyAny>,
        context: Option<Py<PyAny>>,
    ) -> PyResult<Handle> {
        Handle::create(py, callback, args, r#loop, context)
    }

    /// Cancels the callback: it will not run (again). Idempotent.
    fn cancel(&self, py: Python<'_>) {
        if !self.cancelled.swap(true, Ordering::Relaxed) {
            let (callback, args) = (self.callback.take(py), self.args.take(py));
            drop((callback, args));
        }
    }

    /// Whether `cancel` was called.
    fn cancelled(&self) -> bool {
        self.is_cancelled()
    }

    /// asyncio's private `_cancelled`.
    #[getter(_cancelled)]
    fn cancelled_attr(&self) -> bool {
        self.is_cancelled()
    }

    /// Whether the handle runs on every event (a reader, writer or signal).
    #[getter(_repeat)]
    fn repeat_attr(&self) -> bool {
        self.repeat.load(Ordering::Relaxed)
    }

    #[setter(_repeat)]
    fn set_repeat_attr(&self, repeat: bool) {
        self.repeat.store(repeat, Ordering::Relaxed);
    }

    /// The loop the handle belongs to (asyncio's private `_loop`).
    #[getter]
    fn _loop(&self, py: Python<'_>) -> Py<PyAny> {
        self.event_loop.clone_ref(py)
    }

    /// The `contextvars.Context` the callback runs in.
    fn get_context(&self, py: Python<'_>) -> Py<PyAny> {
        self.context.clone_ref(py)
    }

    /// Runs the callback now (asyncio's private `Handle._run`).
    fn _run(slf: &Bound<'_, Handle>) {
        Handle::run(slf);
    }

    /// The callback (`None` once cancelled or run).
    #[getter]
    fn _callback<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyAny>> {
        self.callback.get(py)
    }

    /// The arguments (`None` once cancelled or run).
    #[getter]
    fn _args<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyTuple>> {
        self.args.get(py)
    }

    fn __repr__(slf: &Bound<'_, Handle>) -> PyResult<String> {
        let name = slf.get_type().name()?.to_string();
        describe(slf, &name, None)
    }
}

/// A callback scheduled for a time (asyncio's `events.TimerHandle`).
#[pyclass(module = "tulipio", extends = Handle, frozen)]
pub struct TimerHandle {
    when: f64,
}

impl TimerHandle {
    /// A timer handle due at `when` (loop time); its tulip timer is set
    /// once scheduled.
    pub(crate) fn create(handle: Handle, when: f64) -> PyClassInitializer<TimerHandle> {
        PyClassInitializer::from(handle).add_subclass(TimerHandle { when })
    }
}

#[pymethods]
impl TimerHandle {
    /// `TimerHandle(when, callback, args, loop, context=None)`, as
    /// asyncio's (not scheduled: `call_at` makes scheduled ones).
    #[new]
    #[pyo3(signature = (when, callback, args, r#loop, context=None))]
    fn py_new(
        py: Python<'_>,
        when: f64,
        callback: Py<PyAny>,
        args: Py<PyTuple>,
        r#loop: Py<PyAny>,
        context: Option<Py<PyAny>>,
    ) -> PyResult<PyClassInitializer<TimerHandle>> {
        let handle = Handle::create(py, callback, args, r#loop, context)?;
        Ok(TimerHandle::create(handle, when))
    }

    /// The loop time the callback is due at.
    fn when(&self) -> f64 {
        self.when
    }

    fn __repr__(slf: &Bound<'_, TimerHandle>) -> PyResult<String> {
        let when = slf.get().when;
        let name = slf.get_type().name()?.to_string();
        describe(slf.as_super(), &name, Some(when))
    }

    fn __lt__(&self, other: PyRef<'_, TimerHandle>) -> bool {
        self.when < other.when
    }

    fn __le__(&self, other: PyRef<'_, TimerHandle>) -> bool {
        self.when <= other.when
    }

    fn __hash__(slf: &Bound<'_, TimerHandle>) -> isize {
        slf.as_ptr() as isize
    }
}
