//! asyncio's hottest loop methods, `call_soon`, `call_soon_threadsafe`,
//! `call_later` and `call_at`, as vectorcall method descriptors of
//! `_BaseLoop`, with argument parsing written for their one signature
//! (`[first,] callback, *args, context=None`).
//!
//! A `#[pymethods]` entry goes through PyO3's generic argument extraction
//! and its trampoline, which keeps a thread-local GIL count: about 300
//! instructions a call, measured under callgrind, a tenth of what a
//! `call_soon` from Python costs in all. These entries take the
//! interpreter's arguments array as it is, build `*args` only when there
//! are any, and run the same loop code (`BaseLoop::call_soon` & co.).

use std::ffi::CStr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;

use pyo3::exceptions::{PySystemError, PyTypeError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyString, PyTuple, PyType};
use pyo3::{ffi, intern};

use crate::event_loop::{BaseLoop, Call};

/// One method: its name, the parameter before `callback` (`delay`,
/// `when`) if any, its docstring (with a text signature for `inspect`)
/// and its entry.
struct Method {
    name: &'static CStr,
    first: Option<&'static str>,
    doc: &'static CStr,
    entry: Entry,
}

/// A method's calling convention.
#[derive(Clone, Copy)]
enum Entry {
    /// `METH_FASTCALL | METH_KEYWORDS`.
    Fast(ffi::PyCFunctionFastWithKeywords),
    /// `METH_NOARGS`.
    NoArgs(ffi::PyCFunction),
}

const METHODS: [Method; 7] = [
    Method {
        name: c"call_soon",
        first: None,
        doc: c"call_soon($self, callback, *args, context=None)\n--\n\n\
               Schedules callback(*args) for the next pass of the loop.",
        entry: Entry::Fast(call_soon),
    },
    Method {
        name: c"call_soon_threadsafe",
        first: None,
        doc: c"call_soon_threadsafe($self, callback, *args, context=None)\n--\n\n\
               Schedules callback(*args) from any thread, waking the loop.",
        entry: Entry::Fast(call_soon_threadsafe),
    },
    Method {
        name: c"call_later",
        first: Some("delay"),
        doc: c"call_later($self, delay, callback, *args, context=None)\n--\n\n\
               Schedules callback(*args) after delay seconds.",
        entry: Entry::Fast(call_later),
    },
    Method {
        name: c"call_at",
        first: Some("when"),
        doc: c"call_at($self, when, callback, *args, context=None)\n--\n\n\
               Schedules callback(*args) at loop time when.",
        entry: Entry::Fast(call_at),
    },
    Method {
        name: c"create_task",
        first: None,
        doc: c"create_task($self, coro, *, name=None, context=None)\n--\n\n\
               Wraps coro in an asyncio.Task (or the task factory's).",
        entry: Entry::Fast(create_task),
    },
    Method {
        name: c"create_future",
        first: None,
        doc: c"create_future($self, /)\n--\n\nA new asyncio.Future on this loop.",
        entry: Entry::NoArgs(create_future),
    },
    Method {
        name: c"get_debug",
        first: None,
        doc: c"get_debug($self, /)\n--\n\nWhether debug mode is on.",
        entry: Entry::NoArgs(get_debug),
    },
];

/// Puts the methods on `_BaseLoop` (at module initialisation).
pub(crate) fn install(ty: &Bound<'_, PyType>) -> PyResult<()> {
    let py = ty.py();
    for method in &METHODS {
        // The descriptor keeps a pointer to its definition for as long as
        // the type lives: one small allocation per method, kept for the
        // life of the process (as a C extension's static table would be).
        let def: &'static mut ffi::PyMethodDef = Box::leak(Box::new(ffi::PyMethodDef {
            ml_name: method.name.as_ptr(),
            ml_meth: match method.entry {
                Entry::Fast(entry) => ffi::PyMethodDefPointer {
                    PyCFunctionFastWithKeywords: entry,
                },
                Entry::NoArgs(entry) => ffi::PyMethodDefPointer { PyCFunction: entry },
            },
            ml_flags: match method.entry {
                Entry::Fast(_) => ffi::METH_FASTCALL | ffi::METH_KEYWORDS,
                Entry::NoArgs(_) => ffi::METH_NOARGS,
            },
            ml_doc: method.doc.as_ptr(),
        }));
        // SAFETY: the GIL is held (`py`); `ty` is a live type object and
        // `def` a valid method definition that outlives it (leaked); the
        // call returns a new reference or NULL with an exception set.
        let descr = unsafe {
            Bound::from_owned_ptr_or_err(py, ffi::PyDescr_NewMethod(ty.as_type_ptr(), def))
        }?;
        ty.setattr(&*method.name.to_string_lossy(), descr)?;
    }
    Ok(())
}

/// The parsed arguments: the first parameter (if the method has one) and
/// the rest.
struct Parsed<'py> {
    first: Option<Bound<'py, PyAny>>,
    call: Call<'py>,
}

/// Parses `[first,] callback, *args, context=None` from a vectorcall:
/// `nargs` positional arguments at `args`, then one value per name in
/// `kwnames` (a tuple of strings, or NULL). Errors read as Python's own.
///
/// # Safety
///
/// `args` points to `nargs + len(kwnames)` valid object pointers, and
/// `kwnames` is NULL or a tuple of strings, as the vectorcall protocol
/// guarantees for the duration of the call.
unsafe fn parse<'py>(
    py: Python<'py>,
    method: &Method,
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> PyResult<Parsed<'py>> {
    let nargs = usize::try_from(nargs).unwrap_or(0);
    let fixed = usize::from(method.first.is_some()) + 1;
    if kwnames.is_null() && nargs == fixed {
        // The common call: `call_soon(callback)`, `call_later(delay, callback)`.
        // SAFETY: the caller's array holds `nargs` live objects.
        let arg = |i: usize| unsafe { Borrowed::from_ptr(py, *args.add(i)).to_owned() };
        return Ok(Parsed {
            first: method.first.map(|_| arg(0)),
            call: Call {
                callback: arg(fixed - 1),
                args: empty_tuple(py),
                context: None,
            },
        });
    }
    // SAFETY: the kwnames tuple, when given, is a borrowed reference the
    // caller keeps alive for the call.
    let kwnames = (!kwnames.is_null())
        .then(|| unsafe { Borrowed::from_ptr(py, kwnames).cast_unchecked::<PyTuple>() });
    let nkw = kwnames.as_ref().map_or(0, |k| k.len());
    let all: &[*mut ffi::PyObject] = if nargs + nkw == 0 {
        &[]
    } else {
        // SAFETY: the caller's array holds `nargs + nkw` pointers.
        unsafe { std::slice::from_raw_parts(args, nargs + nkw) }
    };
    // SAFETY: every pointer in the array is a live object the caller
    // holds for the call.
    let arg = |i: usize| unsafe { Borrowed::from_ptr(py, all[i]) };
    // Slots: first (unused without one), callback; the positional
    // arguments fill the last `fixed` of them.
    let mut slots: [Option<Bound<'py, PyAny>>; 2] = [None, None];
    for i in 0..fixed.min(nargs) {
        slots[2 - fixed + i] = Some(arg(i).to_owned());
    }
    let rest = if nargs > fixed {
        PyTuple::new(py, (fixed..nargs).map(arg))?
    } else {
        empty_tuple(py)
    };
    let mut context = None;
    if let Some(kwnames) = kwnames {
        for (k, key) in kwnames.iter().enumerate() {
            let value = arg(nargs + k).to_owned();
            let slot = if is(&key, intern!(py, "context")) {
                &mut context
            } else if is(&key, intern!(py, "callback")) {
                &mut slots[1]
            } else if method
                .first
                .is_some_and(|first| key.cast::<PyString>().is_ok_and(|k| k == first))
            {
                &mut slots[0]
            } else {
                return Err(PyTypeError::new_err(format!(
                    "{}() got an unexpected keyword argument {}",
                    method.name.to_string_lossy(),
                    key.repr()?
                )));
            };
            if slot.is_some() {
                return Err(PyTypeError::new_err(format!(
                    "{}() got multiple values for argument {}",
                    method.name.to_string_lossy(),
                    key.repr()?
                )));
            }
            *slot = Some(value);
        }
    }
    let [first, callback] = slots;
    let mut missing = Vec::new();
    if let (Some(param), None) = (method.first, &first) {
        missing.push(format!("'{param}'"));
    }
    let Some(callback) = callback else {
        missing.push("'callback'".to_owned());
        return Err(missing_error(&method.name.to_string_lossy(), &missing));
    };
    if !missing.is_empty() {
        return Err(missing_error(&method.name.to_string_lossy(), &missing));
    }
    Ok(Parsed {
        first,
        call: Call {
            callback,
            args: rest,
            context,
        },
    })
}

/// `()`, kept (`PyTuple::empty` asks the interpreter for it each time).
fn empty_tuple(py: Python<'_>) -> Bound<'_, PyTuple> {
    static EMPTY: PyOnceLock<Py<PyTuple>> = PyOnceLock::new();
    EMPTY
        .get_or_init(py, || PyTuple::empty(py).unbind())
        .bind(py)
        .clone()
}

/// Whether keyword `key` is the (interned) parameter name `name`: the
/// same object, or a string with the same text (the interpreter's own
/// identifiers, as C code passes them, are other objects than ours).
fn is(key: &Bound<'_, PyAny>, name: &Bound<'_, PyString>) -> bool {
    if key.is(name) {
        return true;
    }
    match (key.cast::<PyString>(), name.to_str()) {
        (Ok(key), Ok(name)) => key.to_str().is_ok_and(|key| key == name),
        _ => false,
    }
}

/// Python's error for missing required arguments.
fn missing_error(name: &str, missing: &[String]) -> PyErr {
    let count = missing.len();
    let plural = if count == 1 { "argument" } else { "arguments" };
    PyTypeError::new_err(format!(
        "{name}() missing {count} required positional {plural}: {}",
        missing.join(" and ")
    ))
}

/// Runs a method body for the interpreter: its result as a new reference,
/// or NULL with the exception set (a panic becomes `SystemError`, never
/// an unwind into C).
fn entry(body: impl FnOnce(Python<'_>) -> PyResult<Bound<'_, PyAny>>) -> *mut ffi::PyObject {
    // SAFETY: the interpreter calls a method descriptor's function on an
    // attached thread (holding the GIL), and the token does not outlive
    // this call.
    let py = unsafe { Python::assume_attached() };
    let outcome = catch_unwind(AssertUnwindSafe(|| body(py)));
    let err = match outcome {
        Ok(Ok(result)) => return result.into_ptr(),
        Ok(Err(err)) => err,
        Err(_) => PySystemError::new_err("a tulipio loop method panicked"),
    };
    err.restore(py);
    ptr::null_mut()
}

/// The loop object the descriptor was called on.
///
/// # Safety
///
/// `slf` is the `self` a `_BaseLoop` method descriptor was called with:
/// the descriptor checked it is an instance of `_BaseLoop` (or a
/// subclass) before calling, and the caller holds it for the call.
unsafe fn this<'py>(py: Python<'py>, slf: *mut ffi::PyObject) -> Bound<'py, BaseLoop> {
    // SAFETY: as the function's contract says.
    unsafe {
        Borrowed::from_ptr(py, slf)
            .cast_unchecked::<BaseLoop>()
            .to_owned()
    }
}

macro_rules! vectorcall_entry {
    ($name:ident, $index:expr, $parse:ident, |$lp:ident, $parsed:pat_param| $body:expr) => {
        /// The interpreter's entry of the method of the same name.
        ///
        /// # Safety
        ///
        /// Called by the interpreter through the method descriptor, with
        /// the vectorcall protocol's arguments.
        unsafe extern "C" fn $name(
            slf: *mut ffi::PyObject,
            args: *const *mut ffi::PyObject,
            nargs: ffi::Py_ssize_t,
            kwnames: *mut ffi::PyObject,
        ) -> *mut ffi::PyObject {
            entry(|py| {
                // SAFETY: `slf` comes from `_BaseLoop`'s descriptor, and
                // the arguments from the vectorcall protocol (see `this`
                // and `parse`).
                let ($lp, $parsed) = unsafe {
                    (
                        this(py, slf),
                        $parse(py, &METHODS[$index], args, nargs, kwnames)?,
                    )
                };
                $body
            })
        }
    };
}

vectorcall_entry!(call_soon, 0, parse, |lp, parsed| {
    BaseLoop::call_soon(&lp, parsed.call).map(Bound::into_any)
});
vectorcall_entry!(call_soon_threadsafe, 1, parse, |lp, parsed| {
    BaseLoop::call_soon_threadsafe(&lp, parsed.call).map(Bound::into_any)
});
vectorcall_entry!(call_later, 2, parse, |lp, parsed| {
    let delay = parsed
        .first
        .unwrap_or_else(|| lp.py().None().into_bound(lp.py()));
    BaseLoop::call_later(&lp, &delay, parsed.call).map(Bound::into_any)
});
vectorcall_entry!(call_at, 3, parse, |lp, parsed| {
    let when = parsed
        .first
        .unwrap_or_else(|| lp.py().None().into_bound(lp.py()));
    BaseLoop::call_at(&lp, &when, parsed.call).map(Bound::into_any)
});

vectorcall_entry!(create_task, 4, task_args, |lp, (coro, name, context)| {
    BaseLoop::create_task(&lp, coro, name, context)
});

/// `create_task`'s arguments: `coro`, `name`, `context`.
type TaskArgs<'py> = (
    Bound<'py, PyAny>,
    Option<Bound<'py, PyAny>>,
    Option<Bound<'py, PyAny>>,
);

/// Parses `coro, *, name=None, context=None`.
///
/// # Safety
///
/// As for [`parse`].
unsafe fn task_args<'py>(
    py: Python<'py>,
    _method: &Method,
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> PyResult<TaskArgs<'py>> {
    let nargs = usize::try_from(nargs).unwrap_or(0);
    if nargs != 1 {
        return Err(PyTypeError::new_err(if nargs == 0 {
            "create_task() missing 1 required positional argument: 'coro'".to_owned()
        } else {
            format!("create_task() takes 1 positional argument but {nargs} were given")
        }));
    }
    // SAFETY: the caller's array holds `nargs` live objects, then one per
    // keyword name.
    let arg = |i: usize| unsafe { Borrowed::from_ptr(py, *args.add(i)).to_owned() };
    let (mut name, mut context) = (None, None);
    if !kwnames.is_null() {
        // SAFETY: `kwnames` is the call's tuple of keyword names.
        let kwnames = unsafe { Borrowed::from_ptr(py, kwnames).cast_unchecked::<PyTuple>() };
        for (k, key) in kwnames.iter().enumerate() {
            let slot = if is(&key, intern!(py, "name")) {
                &mut name
            } else if is(&key, intern!(py, "context")) {
                &mut context
            } else {
                return Err(PyTypeError::new_err(format!(
                    "create_task() got an unexpected keyword argument {}",
                    key.repr()?
                )));
            };
            *slot = Some(arg(nargs + k));
        }
    }
    Ok((arg(0), name, context))
}

/// The interpreter's entry of `create_future()`.
///
/// # Safety
///
/// Called by the interpreter through the method descriptor (`METH_NOARGS`).
unsafe extern "C" fn create_future(
    slf: *mut ffi::PyObject,
    _unused: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: `slf` comes from `_BaseLoop`'s descriptor.
    entry(|py| BaseLoop::create_future(&unsafe { this(py, slf) }))
}

/// The interpreter's entry of `get_debug()`.
///
/// # Safety
///
/// Called by the interpreter through the method descriptor (`METH_NOARGS`).
unsafe extern "C" fn get_debug(
    slf: *mut ffi::PyObject,
    _unused: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    entry(|py| {
        // SAFETY: `slf` comes from `_BaseLoop`'s descriptor.
        let lp = unsafe { this(py, slf) };
        Ok(PyBool::new(py, lp.get().debug()).to_owned().into_any())
    })
}
