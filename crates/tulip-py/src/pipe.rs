//! Pipes (asyncio's `connect_read_pipe` and `connect_write_pipe`): a
//! Python `Protocol` driven by tulip's pipe transport.
//!
//! [`PyPipeProtocol`] is the tulip protocol of the pipe: it calls the
//! Python protocol's `data_received` and `eof_received` directly, and
//! hands `connection_made`/`connection_lost` to the Python transport
//! object (`tulipio._subprocess._ReadPipeTransport` or
//! `_WritePipeTransport`), which keeps asyncio's bookkeeping (the pipe
//! object closed before `connection_lost`, the `'pipe'` extra). That
//! object calls back into a [`NativeTransport`], a tulip `Transport` seen
//! from Python.

use std::os::fd::RawFd;

use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use tulip_transport::{BaseProtocol, LoopNetExt, Protocol, Transport};

use crate::fd::dup_fd;
use crate::gil;

/// A tulip transport error as the Python exception asyncio gives for it.
pub(crate) fn transport_error(err: &tulip_transport::Error) -> PyErr {
    match err {
        tulip_transport::Error::Io(io) => os_error(io),
        tulip_transport::Error::InvalidInput(what) => PyValueError::new_err(what.clone()),
        tulip_transport::Error::WriteAfterEof => {
            PyRuntimeError::new_err("Cannot call write() after write_eof()")
        }
        other => PyRuntimeError::new_err(other.to_string()),
    }
}

/// An I/O error as Python's `OSError(errno, strerror)`, which is the
/// subclass for that errno (`BrokenPipeError`, `FileNotFoundError`, ...).
pub(crate) fn os_error(err: &std::io::Error) -> PyErr {
    match err.raw_os_error() {
        Some(code) => {
            let text = std::io::Error::from_raw_os_error(code).to_string();
            // std's text ends with " (os error N)": Python's strerror is without it.
            let text = text
                .split(" (os error")
                .next()
                .unwrap_or_default()
                .to_owned();
            PyOSError::new_err((code, text))
        }
        None => {
            use std::io::ErrorKind;
            let code = match err.kind() {
                ErrorKind::BrokenPipe => libc::EPIPE,
                ErrorKind::ConnectionReset => libc::ECONNRESET,
                ErrorKind::ConnectionAborted => libc::ECONNABORTED,
                ErrorKind::ConnectionRefused => libc::ECONNREFUSED,
                ErrorKind::NotFound => libc::ENOENT,
                ErrorKind::PermissionDenied => libc::EACCES,
                ErrorKind::TimedOut => libc::ETIMEDOUT,
                _ => return PyOSError::new_err(err.to_string()),
            };
            // Python's OSError(errno, strerror) picks the subclass
            // (BrokenPipeError, ConnectionResetError, ...).
            PyOSError::new_err((code, err.to_string()))
        }
    }
}

/// `exc` for a protocol's `connection_lost`: `None` or the exception.
pub(crate) fn lost_exc(py: Python<'_>, exc: Option<&tulip_transport::Error>) -> Py<PyAny> {
    match exc {
        None => py.None(),
        Some(err) => transport_error(err).into_value(py).into_any(),
    }
}

/// A Python callback raised: an `Exception` goes to the loop's exception
/// handler with `message` (and the transport's `abort` is up to the
/// caller); a `BaseException` that is not one (`KeyboardInterrupt`,
/// `SystemExit`) ends the running loop, as asyncio lets it out of
/// `run_forever`.
pub(crate) fn report(py: Python<'_>, err: PyErr, message: &str, owner: &Bound<'_, PyAny>) {
    if !err.is_instance_of::<pyo3::exceptions::PyException>(py) {
        gil::raise_from_loop(err);
        return;
    }
    let handled = (|| -> PyResult<()> {
        let context = PyDict::new(py);
        context.set_item("message", message)?;
        context.set_item("exception", err.value(py))?;
        context.set_item("transport", owner)?;
        if let Ok(protocol) = owner.getattr(intern!(py, "_protocol")) {
            context.set_item("protocol", protocol)?;
        }
        owner
            .getattr(intern!(py, "_loop"))?
            .call_method1(intern!(py, "call_exception_handler"), (context,))?;
        Ok(())
    })();
    if let Err(err) = handled {
        if err.is_instance_of::<pyo3::exceptions::PyException>(py) {
            err.print(py);
        } else {
            gil::raise_from_loop(err);
        }
    }
}

/// The tulip protocol of a pipe whose protocol is Python's.
pub(crate) struct PyPipeProtocol {
    /// The Python transport object (`_ReadPipeTransport`/`_WritePipeTransport`),
    /// whose `_protocol` (`set_protocol` changes it) gets the calls.
    owner: Py<PyAny>,
}

impl PyPipeProtocol {
    /// The Python protocol (the owner's `_protocol`).
    fn protocol<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.owner.bind(py).getattr(intern!(py, "_protocol"))
    }

    fn fatal(&self, py: Python<'_>, err: PyErr, message: &str) {
        let owner = self.owner.bind(py);
        report(py, err, message, owner);
        if let Err(err) = owner.call_method0(intern!(py, "abort")) {
            report(
                py,
                err,
                "Fatal error: transport.abort() call failed.",
                owner,
            );
        }
    }
}

impl BaseProtocol for PyPipeProtocol {
    fn connection_lost(&mut self, exc: Option<tulip_transport::Error>) {
        Python::attach(|py| {
            let exc = lost_exc(py, exc.as_ref());
            let owner = self.owner.bind(py);
            if let Err(err) = owner.call_method1(intern!(py, "_connection_lost"), (exc,)) {
                report(py, err, "Exception in protocol.connection_lost()", owner);
            }
        });
    }

    fn pause_writing(&mut self) {
        Python::attach(|py| {
            if let Err(err) = self
                .protocol(py)
                .and_then(|p| p.call_method0(intern!(py, "pause_writing")))
            {
                report(
                    py,
                    err,
                    "protocol.pause_writing() failed",
                    self.owner.bind(py),
                );
            }
        });
    }

    fn resume_writing(&mut self) {
        Python::attach(|py| {
            if let Err(err) = self
                .protocol(py)
                .and_then(|p| p.call_method0(intern!(py, "resume_writing")))
            {
                report(
                    py,
                    err,
                    "protocol.resume_writing() failed",
                    self.owner.bind(py),
                );
            }
        });
    }
}

impl Protocol for PyPipeProtocol {
    fn connection_made(&mut self, transport: Transport) {
        Python::attach(|py| {
            let made = Py::new(py, NativeTransport { transport }).and_then(|native| {
                self.owner
                    .call_method1(py, intern!(py, "_connection_made"), (native,))
            });
            if let Err(err) = made {
                self.fatal(
                    py,
                    err,
                    "Fatal error: protocol.connection_made() call failed.",
                );
            }
        });
    }

    fn data_received(&mut self, data: &[u8]) {
        Python::attach(|py| {
            let data = PyBytes::new(py, data);
            let called = self
                .protocol(py)
                .and_then(|p| p.call_method1(intern!(py, "data_received"), (data,)));
            if let Err(err) = called {
                self.fatal(
                    py,
                    err,
                    "Fatal error: protocol.data_received() call failed.",
                );
            }
        });
    }

    fn eof_received(&mut self) -> bool {
        Python::attach(|py| {
            match self
                .protocol(py)
                .and_then(|p| p.call_method0(intern!(py, "eof_received")))
            {
                Ok(keep) => keep.is_truthy().unwrap_or(false),
                Err(err) => {
                    self.fatal(py, err, "Fatal error: protocol.eof_received() call failed.");
                    false
                }
            }
        })
    }
}

/// A tulip transport seen from Python (the native half of tulipio's
/// pipe transports and of a subprocess's pipe transports).
#[pyclass(unsendable, module = "tulipio._tulipio", name = "_NativeTransport")]
pub struct NativeTransport {
    transport: Transport,
}

impl NativeTransport {
    /// Wraps a tulip transport.
    pub(crate) fn new(transport: Transport) -> NativeTransport {
        NativeTransport { transport }
    }
}

#[pymethods]
impl NativeTransport {
    /// Queues `data` for writing.
    fn write(&self, data: &[u8]) -> PyResult<()> {
        match self.transport.write(data) {
            // asyncio drops writes on a closing transport.
            Err(tulip_transport::Error::Closed) => Ok(()),
            other => other.map_err(|e| transport_error(&e)),
        }
    }

    /// Closes the write side after the buffered data.
    fn write_eof(&self) -> PyResult<()> {
        match self.transport.write_eof() {
            Err(tulip_transport::Error::Closed) => Ok(()),
            other => other.map_err(|e| transport_error(&e)),
        }
    }

    /// Whether `write_eof` is possible.
    fn can_write_eof(&self) -> bool {
        self.transport.can_write_eof()
    }

    /// Closes after the buffered data is written.
    fn close(&self) {
        self.transport.close();
    }

    /// Closes at once, dropping buffered data.
    fn abort(&self) {
        self.transport.abort();
    }

    /// Whether the transport is closing or closed.
    fn is_closing(&self) -> bool {
        self.transport.is_closing()
    }

    /// Whether the transport is reading.
    fn is_reading(&self) -> bool {
        self.transport.is_reading()
    }

    /// Stops reading until `resume_reading`.
    fn pause_reading(&self) {
        self.transport.pause_reading();
    }

    /// Reads again.
    fn resume_reading(&self) {
        self.transport.resume_reading();
    }

    /// Bytes waiting to be written.
    fn get_write_buffer_size(&self) -> usize {
        self.transport.get_write_buffer_size()
    }

    /// `(low, high)` write buffer limits.
    fn get_write_buffer_limits(&self) -> (usize, usize) {
        self.transport.get_write_buffer_limits()
    }

    /// Sets the write buffer limits (asyncio's rules for `None`).
    #[pyo3(signature = (high=None, low=None))]
    fn set_write_buffer_limits(&self, high: Option<usize>, low: Option<usize>) -> PyResult<()> {
        self.transport
            .set_write_buffer_limits(high, low)
            .map_err(|e| transport_error(&e))
    }

    /// The descriptor (or -1 once closed).
    fn fileno(&self) -> RawFd {
        self.transport.fd().unwrap_or(-1)
    }
}

/// Hands `outcome` to the asyncio future `waiter` (`None` or the
/// exception); false if it could not take it (it was cancelled).
pub(crate) fn settle(waiter: &Py<PyAny>, outcome: PyResult<()>) -> bool {
    Python::attach(|py| {
        let waiter = waiter.bind(py);
        match outcome {
            Ok(()) => waiter.call_method1(intern!(py, "set_result"), (py.None(),)),
            Err(err) => waiter.call_method1(intern!(py, "set_exception"), (err.into_value(py),)),
        }
        .is_ok()
    })
}

/// Connects pipe descriptor `fd` (duplicated: the caller's pipe object
/// keeps its own) as a read pipe (`write=False`) or a write pipe, its
/// protocol the Python transport object `owner`'s `_protocol`; `waiter` (an asyncio future) gets `None` once
/// `connection_made` ran, or the error.
#[pyfunction]
pub fn _connect_pipe(fd: RawFd, write: bool, owner: Py<PyAny>, waiter: Py<PyAny>) -> PyResult<()> {
    let pipe = dup_fd(fd)?;
    let lp = tulip_executor::get_running_loop()
        .map_err(|_| PyRuntimeError::new_err("connect_*_pipe needs the running tulipio loop"))?;
    let adapter = PyPipeProtocol { owner };
    let mut adapter = Some(adapter);
    let task_lp = lp.clone();
    drop(lp.create_task(async move {
        let factory = move || adapter.take().ok_or("the pipe protocol was made already");
        let factory = tulip_transport::Fallible(factory);
        let connected = if write {
            task_lp.connect_write_pipe(factory, pipe).await
        } else {
            task_lp.connect_read_pipe(factory, pipe).await
        };
        let outcome = connected.as_ref().map(drop).map_err(transport_error);
        if !settle(&waiter, outcome) {
            // The waiter was cancelled: nobody gets the transport.
            if let Ok((transport, _)) = &connected {
                transport.close();
            }
        }
    }));
    Ok(())
}
