//! Stream transports for Python protocols: tulip's socket transport
//! (`tulip::transport`) under a Python `asyncio.Protocol`.
//!
//! `_start_stream` hands a connected socket to tulip: tulip owns the
//! descriptor, reads it and calls the Python protocol through the
//! [`adapter`]; `_StreamTransport` is the native half of the Python
//! transport class (`tulipio._net._SocketTransport`), the write, close and
//! flow-control calls straight to tulip's transport.

use std::cell::RefCell;
use std::os::fd::RawFd;
use std::rc::Rc;

use pyo3::buffer::PyBuffer;
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};
use tulip_transport::{AcceptedSocketOptions, Buffered, Error, LoopNetExt, Transport};

use tulip_executor::TaskOptions;

use crate::event_loop::BaseLoop;
use crate::fd::adopt_fd;

mod accept;
mod adapter;
mod datagram;

pub(crate) use accept::{_accept, AcceptedSocket};

pub(crate) use datagram::{_start_datagram, NativeDatagram};

use adapter::PyProtocol;

/// A tulip transport error as the Python exception asyncio would give:
/// an OS error as `OSError(errno, strerror)` (so `ConnectionResetError`
/// and its kin), the rest by kind.
pub(crate) fn error_to_py(py: Python<'_>, err: &Error) -> PyErr {
    if let Some(io) = err.as_io() {
        return match io.raw_os_error() {
            Some(code) => os_error(code),
            None => PyErr::from(std::io::Error::new(io.kind(), io.to_string())),
        };
    }
    match err {
        Error::SendfileNotAvailable(why) => py
            .import("asyncio")
            .and_then(|m| m.getattr("SendfileNotAvailableError"))
            .and_then(|t| t.call1((why.clone(),)))
            .map(PyErr::from_value)
            .unwrap_or_else(|e| e),
        Error::WriteAfterEof => PyRuntimeError::new_err("Cannot call write() after write_eof()"),
        Error::InvalidInput(what) => PyValueError::new_err(what.clone()),
        Error::Loop(tulip_executor::Error::Cancelled) => py
            .import("asyncio")
            .and_then(|m| m.getattr("CancelledError"))
            .and_then(|t| t.call0())
            .map(PyErr::from_value)
            .unwrap_or_else(|e| e),
        other => PyRuntimeError::new_err(other.to_string()),
    }
}

/// Routes the tulip loop's own reports (a transport's fatal read or
/// write error, say) to the Python loop's `call_exception_handler`, as
/// asyncio's transports report them. The handler holds the Python loop
/// weakly (the tulip loop belongs to it). Called once per loop, by the
/// first transport made on it.
#[pyfunction]
pub(crate) fn _forward_reports(event_loop: &Bound<'_, BaseLoop>) -> PyResult<()> {
    let py = event_loop.py();
    let lp = event_loop.get().tulip_loop()?;
    let weak: Py<PyAny> = py
        .import("weakref")?
        .call_method1("ref", (event_loop,))?
        .unbind();
    lp.set_exception_handler(move |_, context| {
        Python::attach(|py| {
            let Ok(target) = weak.bind(py).call0() else {
                return;
            };
            if target.is_none() {
                return;
            }
            let forwarded = (|| -> PyResult<()> {
                let ctx = pyo3::types::PyDict::new(py);
                ctx.set_item("message", &context.message)?;
                if let Some(err) = &context.error {
                    let exc = match err {
                        tulip_executor::Error::Io(io) => match io.raw_os_error() {
                            Some(code) => os_error(code),
                            None => PyOSError::new_err(io.to_string()),
                        },
                        other => PyRuntimeError::new_err(other.to_string()),
                    };
                    ctx.set_item("exception", exc.into_value(py))?;
                }
                for (key, value) in &context.extra {
                    ctx.set_item(*key, value)?;
                }
                target.call_method1("call_exception_handler", (ctx,))?;
                Ok(())
            })();
            if let Err(err) = forwarded {
                if is_loop_exit(py, &err) {
                    crate::gil::raise_from_loop(err);
                } else {
                    err.write_unraisable(py, None);
                }
            }
        })
    });
    Ok(())
}

/// `OSError(code, strerror)`: Python picks the subclass
/// (`ConnectionResetError`, ...) from the code.
fn os_error(code: i32) -> PyErr {
    let message = std::io::Error::from_raw_os_error(code).to_string();
    // "Connection reset by peer (os error 104)" → asyncio's text.
    let message = message
        .split(" (os error")
        .next()
        .unwrap_or(&message)
        .to_owned();
    PyOSError::new_err((code, message))
}

/// Whether `err` must leave `run_forever` rather than be reported.
pub(crate) fn is_loop_exit(py: Python<'_>, err: &PyErr) -> bool {
    err.is_instance_of::<pyo3::exceptions::PySystemExit>(py)
        || err.is_instance_of::<pyo3::exceptions::PyKeyboardInterrupt>(py)
}

/// Calls `owner.<method>()` (the Python transport, which calls its
/// protocol); an error there goes to `sys.unraisablehook`.
pub(crate) fn notify(owner: Option<&Py<PyAny>>, method: &str) {
    let Some(owner) = owner else { return };
    Python::attach(|py| {
        if let Err(err) = owner.bind(py).call_method0(method) {
            if is_loop_exit(py, &err) {
                crate::gil::raise_from_loop(err);
            } else {
                err.write_unraisable(py, None);
            }
        }
    })
}

/// Completes the asyncio future `waiter` with `outcome` (unless it was
/// cancelled meanwhile).
pub(crate) fn resolve(py: Python<'_>, waiter: Py<PyAny>, outcome: Result<Py<PyAny>, Error>) {
    let (value, exc) = match outcome {
        Ok(value) => (value, py.None()),
        Err(err) => (py.None(), error_to_py(py, &err).into_value(py).into_any()),
    };
    let done = py
        .import("tulipio._net")
        .and_then(|m| m.call_method1("_resolve_waiter", (waiter, value, exc)));
    if let Err(err) = done {
        err.write_unraisable(py, None);
    }
}

/// The bytes of a bytes-like object (asyncio's `write` contract).
pub(crate) fn bytes_of<'a>(
    data: &'a Bound<'_, PyAny>,
    owned: &'a mut Vec<u8>,
) -> PyResult<&'a [u8]> {
    if let Ok(bytes) = data.cast::<PyBytes>() {
        return Ok(bytes.as_bytes());
    }
    if data.is_instance_of::<PyString>() {
        return Err(type_error(data));
    }
    let buffer = PyBuffer::<u8>::get(data).map_err(|_| type_error(data))?;
    *owned = buffer.to_vec(data.py())?;
    Ok(owned)
}

fn type_error(data: &Bound<'_, PyAny>) -> PyErr {
    let name = data
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| String::from("?"));
    PyTypeError::new_err(format!(
        "data argument must be a bytes-like object, not '{name}'"
    ))
}

/// The native half of a Python stream transport: tulip's transport once
/// the connection is made.
#[pyclass(module = "tulipio._tulipio", name = "_StreamTransport", unsendable)]
pub struct StreamTransport {
    inner: RefCell<Option<Transport>>,
    /// Writes made before `connection_made` ran (asyncio allows a write
    /// right after the transport is built), sent once it has.
    early: RefCell<Vec<u8>>,
    /// `close` (1) or `abort` (2) called before `connection_made` ran.
    early_close: std::cell::Cell<u8>,
    /// `pause_reading` called (and not resumed) before `connection_made`
    /// ran: the transport starts paused, as asyncio's does.
    early_paused: std::cell::Cell<bool>,
}

impl StreamTransport {
    /// Takes tulip's transport (at `connection_made`), sending early writes.
    fn attach(&self, transport: Transport) {
        let early = std::mem::take(&mut *self.early.borrow_mut());
        if !early.is_empty() {
            let _ = transport.write(&early);
        }
        *self.inner.borrow_mut() = Some(transport.clone());
        if self.early_paused.get() {
            transport.pause_reading();
        }
        match self.early_close.get() {
            1 => transport.close(),
            2 => transport.abort(),
            _ => {}
        }
    }

    fn with<T>(&self, f: impl FnOnce(&Transport) -> T) -> Option<T> {
        let inner = self.inner.borrow().clone();
        inner.as_ref().map(f)
    }
}

fn write_result(py: Python<'_>, result: Result<(), Error>) -> PyResult<()> {
    result.map_err(|err| error_to_py(py, &err))
}

#[pymethods]
impl StreamTransport {
    #[new]
    fn py_new() -> StreamTransport {
        StreamTransport {
            inner: RefCell::new(None),
            early: RefCell::new(Vec::new()),
            early_close: std::cell::Cell::new(0),
            early_paused: std::cell::Cell::new(false),
        }
    }

    /// Writes `data` (bytes-like), buffering what the socket does not take.
    fn write(&self, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let mut owned = Vec::new();
        let bytes = bytes_of(data, &mut owned)?;
        let py = data.py();
        match self.with(|t| t.write(bytes)) {
            Some(result) => write_result(py, result),
            None => {
                self.early.borrow_mut().extend_from_slice(bytes);
                Ok(())
            }
        }
    }

    /// Closes the write side after the buffered data is sent.
    fn write_eof(&self, py: Python<'_>) -> PyResult<()> {
        self.with(|t| t.write_eof())
            .map_or(Ok(()), |r| write_result(py, r))
    }

    /// Whether `write_eof` is supported (a socket: yes).
    fn can_write_eof(&self) -> bool {
        self.with(|t| t.can_write_eof()).unwrap_or(true)
    }

    /// Closes after the buffered data is sent; `connection_lost(None)`.
    fn close(&self) {
        if self.with(|t| t.close()).is_none() && self.early_close.get() == 0 {
            self.early_close.set(1);
        }
    }

    /// Closes at once, dropping buffered data.
    fn abort(&self) {
        if self.with(|t| t.abort()).is_none() {
            self.early_close.set(2);
        }
    }

    /// Whether the transport is closing or closed.
    fn is_closing(&self) -> bool {
        self.with(|t| t.is_closing())
            .unwrap_or(self.early_close.get() != 0)
    }

    /// Stops calling the protocol with incoming data.
    /// (Before `connection_made` ran, the transport starts paused.)
    fn pause_reading(&self) {
        if self.with(|t| t.pause_reading()).is_none() {
            self.early_paused.set(true);
        }
    }

    /// Resumes the calls `pause_reading` stopped.
    fn resume_reading(&self) {
        if self.with(|t| t.resume_reading()).is_none() {
            self.early_paused.set(false);
        }
    }

    /// Whether the transport reads (not paused, not closing).
    fn is_reading(&self) -> bool {
        self.with(|t| t.is_reading())
            .unwrap_or(!self.early_paused.get() && self.early_close.get() == 0)
    }

    /// Bytes waiting in the write buffer.
    fn get_write_buffer_size(&self) -> usize {
        self.with(|t| t.get_write_buffer_size())
            .unwrap_or_else(|| self.early.borrow().len())
    }

    /// `(low, high)` water marks of the write buffer.
    fn get_write_buffer_limits(&self) -> (usize, usize) {
        self.with(|t| t.get_write_buffer_limits())
            .unwrap_or((16 * 1024, 64 * 1024))
    }

    /// Sets the write buffer's water marks (asyncio's defaults for None).
    #[pyo3(signature = (high=None, low=None))]
    fn set_write_buffer_limits(
        &self,
        py: Python<'_>,
        high: Option<i64>,
        low: Option<i64>,
    ) -> PyResult<()> {
        let check = |v: Option<i64>, name: &str| -> PyResult<Option<usize>> {
            match v {
                Some(v) if v < 0 => {
                    Err(PyValueError::new_err(format!("{name} ({v}) must be >= 0")))
                }
                Some(v) => Ok(Some(v as usize)),
                None => Ok(None),
            }
        };
        let (high, low) = (check(high, "high")?, check(low, "low")?);
        if let (Some(h), Some(l)) = (high, low) {
            if h < l {
                return Err(PyValueError::new_err(format!(
                    "high ({h}) must be >= low ({l}) must be >= 0"
                )));
            }
        }
        self.with(|t| t.set_write_buffer_limits(high, low))
            .map_or(Ok(()), |r| write_result(py, r))
    }

    /// Sends `count` bytes (None: to the end) of the file open on `fd`
    /// (a descriptor made for this call, closed after it) from `offset`
    /// with `sendfile(2)`; `waiter` gets the number of bytes sent, or
    /// `SendfileNotAvailableError` when the OS cannot.
    #[pyo3(signature = (event_loop, fd, offset, count, waiter))]
    fn _sendfile(
        &self,
        event_loop: &Bound<'_, BaseLoop>,
        fd: RawFd,
        offset: u64,
        count: Option<u64>,
        waiter: Py<PyAny>,
    ) -> PyResult<()> {
        let lp = event_loop.get().tulip_loop()?;
        // SAFETY: the caller passes a descriptor made for this call alone
        // (`os.dup` of the file's), so this is its only owner.
        let file = std::fs::File::from(unsafe { adopt_fd(fd) }?);
        let Some(transport) = self.inner.borrow().clone() else {
            return Err(PyRuntimeError::new_err(
                "sendfile: the transport is not connected yet",
            ));
        };
        let task_loop = lp.clone();
        let task = lp.create_task_with(
            async move {
                let sent = task_loop
                    .sendfile(&transport, &file, offset, count, false)
                    .await;
                Python::attach(|py| {
                    let sent = sent.and_then(|n| {
                        n.into_pyobject(py)
                            .map(|n| n.into_any().unbind())
                            .map_err(|e| Error::InvalidInput(e.to_string()))
                    });
                    resolve(py, waiter, sent)
                })
            },
            TaskOptions::new().eager(true),
        );
        task.detach();
        Ok(())
    }

    /// A new descriptor for the connection's socket (close-on-exec; the
    /// caller owns it), or None before `connection_made` ran or once the
    /// socket is closed: for a Python socket object made only when asked
    /// (`get_extra_info('socket')`) for a connection accepted natively.
    fn _dup(&self) -> PyResult<Option<RawFd>> {
        let Some(fd) = self.with(|t| t.fd()).flatten() else {
            return Ok(None);
        };
        // SAFETY: `fd` is the transport's open socket (it is closed only
        // when the connection is lost, on this thread, not during this
        // call); F_DUPFD_CLOEXEC makes a new descriptor and touches no
        // memory.
        let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
        if dup < 0 {
            let code = std::io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO);
            return Err(os_error(code));
        }
        Ok(Some(dup))
    }

    /// Hands the connection to `protocol` (a Python protocol; `buffered`
    /// if it is an `asyncio.BufferedProtocol`), called for `owner`.
    fn _set_protocol(
        slf: &Bound<'_, StreamTransport>,
        owner: Py<PyAny>,
        protocol: Py<PyAny>,
        buffered: bool,
    ) {
        let adapter = PyProtocol::new(protocol, owner, slf.clone().unbind());
        let protocol = if buffered {
            tulip_transport::ProtocolRef::buffered(Rc::new(RefCell::new(adapter)))
        } else {
            tulip_transport::ProtocolRef::plain(Rc::new(RefCell::new(adapter)))
        };
        slf.borrow().with(|t| t.set_protocol(protocol));
    }
}

/// Starts a stream transport on `fd` (a connected stream socket, which
/// tulip now owns and closes): `protocol.connection_made(owner)` runs
/// soon, then reading starts. `waiter` (an asyncio future, or None) gets
/// None once `connection_made` ran, or the error that stopped it.
#[pyfunction]
#[pyo3(signature = (event_loop, fd, owner, native, protocol, buffered, waiter=None))]
pub(crate) fn _start_stream(
    event_loop: &Bound<'_, BaseLoop>,
    fd: RawFd,
    owner: Py<PyAny>,
    native: Py<StreamTransport>,
    protocol: Py<PyAny>,
    buffered: bool,
    waiter: Option<Py<PyAny>>,
) -> PyResult<()> {
    let lp = event_loop.get().tulip_loop()?;
    // SAFETY: the caller (the Python transport) passes a descriptor it
    // made for this transport alone (`os.dup` of its socket's, or an
    // accepted connection it gives up), so this is its only owner.
    let fd = unsafe { adopt_fd(fd) }?;
    let adapter = PyProtocol::new(protocol, owner, native);
    let mut slot = Some(adapter);
    let options = AcceptedSocketOptions::new();
    let task_loop = lp.clone();
    // Eager: the transport is built and `connection_made` scheduled now,
    // as asyncio's transport constructors do.
    let task = lp.create_task_with(
        async move {
            let result = if buffered {
                let factory = Buffered(move || slot.take().expect("one connection, one protocol"));
                task_loop
                    .connect_accepted_socket(factory, fd, options)
                    .await
                    .map(drop)
            } else {
                let factory = move || slot.take().expect("one connection, one protocol");
                task_loop
                    .connect_accepted_socket(factory, fd, options)
                    .await
                    .map(drop)
            };
            Python::attach(|py| {
                let Some(waiter) = waiter else {
                    if let Err(err) = result {
                        error_to_py(py, &err).write_unraisable(py, None);
                    }
                    return;
                };
                resolve(py, waiter, result.map(|()| py.None()));
            })
        },
        TaskOptions::new().eager(true),
    );
    task.detach();
    Ok(())
}
