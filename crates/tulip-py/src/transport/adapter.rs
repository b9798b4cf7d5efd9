//! The protocol adapter: tulip's `Protocol` and `BufferedProtocol` traits
//! implemented by calling a Python `asyncio.Protocol` (or
//! `asyncio.BufferedProtocol`), the way asyncio's own transports call it.
//!
//! Each callback runs with the GIL (the loop thread holds it while
//! callbacks run). A Python exception from `data_received`,
//! `eof_received`, `get_buffer` or `buffer_updated` is a fatal error of
//! the connection, as in asyncio: the Python transport's `_fatal_error`
//! reports it to the loop's exception handler and aborts the connection,
//! whose `connection_lost` then gets that exception. `SystemExit` and
//! `KeyboardInterrupt` leave `run_forever` instead.

use pyo3::buffer::PyBuffer;
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};
use tulip_transport::{BaseProtocol, BufferedProtocol, Error, Protocol, Transport};

use super::{StreamTransport, error_to_py, is_loop_exit, notify};
use crate::gil;

/// Calls a Python protocol from a tulip stream transport.
pub(crate) struct PyProtocol {
    /// The Python protocol (`None` once the connection is lost: the
    /// transport may keep its adapter longer than Python should keep the
    /// protocol).
    protocol: Option<Py<PyAny>>,
    /// The Python transport object (`tulipio._net._SocketTransport`),
    /// which reports fatal errors and runs `connection_lost`.
    owner: Option<Py<PyAny>>,
    /// The native half of `owner`, which gets the tulip transport.
    native: Py<StreamTransport>,
    /// The buffer `get_buffer` returned, held until `buffer_updated`.
    lent: Option<PyBuffer<u8>>,
    /// Where a read goes when `get_buffer` failed (the connection is
    /// aborted already; the byte is dropped).
    scratch: [u8; 1],
    /// `get_buffer` failed: the next `buffer_updated` is not the protocol's.
    lend_failed: bool,
}

impl PyProtocol {
    /// An adapter calling `protocol` for the transport `owner`.
    pub(crate) fn new(protocol: Py<PyAny>, owner: Py<PyAny>, native: Py<StreamTransport>) -> Self {
        PyProtocol {
            protocol: Some(protocol),
            owner: Some(owner),
            native,
            lent: None,
            scratch: [0],
            lend_failed: false,
        }
    }

    /// Calls `protocol.<name>(*args)`; `None` if the connection is lost.
    fn call<'py>(
        &self,
        py: Python<'py>,
        name: &Bound<'py, PyString>,
        args: impl pyo3::call::PyCallArgs<'py>,
    ) -> Option<PyResult<Bound<'py, PyAny>>> {
        let protocol = self.protocol.as_ref()?.bind(py);
        Some(protocol.call_method1(name, args))
    }

    /// A Python exception from a protocol callback: fatal to the
    /// connection (or the loop's end for `SystemExit`/`KeyboardInterrupt`).
    fn fatal(&self, py: Python<'_>, err: PyErr, message: &str) {
        if is_loop_exit(py, &err) {
            gil::raise_from_loop(err);
            return;
        }
        let Some(owner) = &self.owner else { return };
        if let Err(err) = owner
            .bind(py)
            .call_method1("_fatal_error", (err.into_value(py), message))
        {
            report_unraisable(py, err);
        }
    }

    fn made(&mut self, transport: Transport) {
        Python::attach(|py| {
            self.native.borrow(py).attach(transport);
        });
        notify(self.owner.as_ref(), "_connection_made");
    }

    fn eof(&mut self) -> bool {
        Python::attach(|py| match self.call(py, intern!(py, "eof_received"), ()) {
            None => false,
            Some(Ok(keep_open)) => keep_open.is_truthy().unwrap_or(false),
            Some(Err(err)) => {
                self.fatal(py, err, "Fatal error: protocol.eof_received() call failed.");
                false
            }
        })
    }
}

/// An error from the reporting path itself: `sys.unraisablehook`.
fn report_unraisable(py: Python<'_>, err: PyErr) {
    err.write_unraisable(py, None);
}

/// Calls the Python transport's `_connection_lost` with `exc` as Python's
/// exception (or `None`): the one way tulipio's stream and datagram adapters
/// hand a lost connection to Python. An exception that must leave the loop
/// (`KeyboardInterrupt`, `SystemExit`) does; any other is unraisable.
pub(super) fn deliver_connection_lost(owner: Option<Py<PyAny>>, exc: Option<&Error>) {
    let Some(owner) = owner else { return };
    Python::attach(|py| {
        let exc = match exc {
            Some(err) => error_to_py(py, err).into_value(py).into_any(),
            None => py.None(),
        };
        if let Err(err) = owner.bind(py).call_method1("_connection_lost", (exc,)) {
            if is_loop_exit(py, &err) {
                gil::raise_from_loop(err);
            } else {
                report_unraisable(py, err);
            }
        }
    })
}

impl BaseProtocol for PyProtocol {
    fn connection_lost(&mut self, exc: Option<Error>) {
        self.lent = None;
        let owner = self.owner.take();
        self.protocol = None;
        deliver_connection_lost(owner, exc.as_ref());
    }

    fn pause_writing(&mut self) {
        notify(self.owner.as_ref(), "_pause_writing")
    }

    fn resume_writing(&mut self) {
        notify(self.owner.as_ref(), "_resume_writing")
    }
}

impl Protocol for PyProtocol {
    fn connection_made(&mut self, transport: Transport) {
        self.made(transport)
    }

    fn data_received(&mut self, data: &[u8]) {
        Python::attach(|py| {
            let bytes = PyBytes::new(py, data);
            if let Some(Err(err)) = self.call(py, intern!(py, "data_received"), (bytes,)) {
                self.fatal(
                    py,
                    err,
                    "Fatal error: protocol.data_received() call failed.",
                );
            }
        })
    }

    fn eof_received(&mut self) -> bool {
        self.eof()
    }
}

impl BufferedProtocol for PyProtocol {
    fn connection_made(&mut self, transport: Transport) {
        self.made(transport)
    }

    fn get_buffer(&mut self, sizehint: usize) -> &mut [u8] {
        self.lent = None;
        self.lend_failed = false;
        let lent = Python::attach(|py| {
            let buffer = match self.call(py, intern!(py, "get_buffer"), (sizehint,)) {
                None => return None,
                Some(Ok(obj)) => obj,
                Some(Err(err)) => {
                    self.fatal(py, err, "Fatal error: protocol.get_buffer() call failed.");
                    return None;
                }
            };
            let checked = PyBuffer::<u8>::get(&buffer).and_then(|buf| {
                if buf.readonly() || !buf.is_c_contiguous() {
                    Err(PyTypeError::new_err(
                        "get_buffer() must return a writable, contiguous buffer",
                    ))
                } else if buf.len_bytes() == 0 {
                    Err(PyRuntimeError::new_err(
                        "get_buffer() returned an empty buffer",
                    ))
                } else {
                    Ok(buf)
                }
            });
            match checked {
                Ok(buf) => Some(buf),
                Err(err) => {
                    self.fatal(py, err, "Fatal error: protocol.get_buffer() call failed.");
                    None
                }
            }
        });
        match lent {
            Some(buf) => {
                let (ptr, len) = (buf.buf_ptr().cast::<u8>(), buf.len_bytes());
                self.lent = Some(buf);
                // SAFETY: `self.lent` holds the Python buffer (its exporter
                // keeps the memory and may not resize it while exported),
                // which is writable and C-contiguous with `len` bytes at
                // `ptr` (checked above). The slice borrows `self` mutably,
                // so it ends before `buffer_updated` or another
                // `get_buffer` releases the buffer; no Python code runs
                // while the transport reads into it (one `recv`).
                unsafe { std::slice::from_raw_parts_mut(ptr, len) }
            }
            None => {
                self.lend_failed = true;
                &mut self.scratch
            }
        }
    }

    fn buffer_updated(&mut self, nbytes: usize) {
        if std::mem::take(&mut self.lend_failed) {
            return;
        }
        Python::attach(|py| {
            let result = self.call(py, intern!(py, "buffer_updated"), (nbytes,));
            self.lent = None;
            if let Some(Err(err)) = result {
                self.fatal(
                    py,
                    err,
                    "Fatal error: protocol.buffer_updated() call failed.",
                );
            }
        })
    }

    fn eof_received(&mut self) -> bool {
        self.eof()
    }
}
