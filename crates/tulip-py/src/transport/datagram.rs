//! Datagram endpoints for Python protocols: tulip's datagram transport
//! under a Python `asyncio.DatagramProtocol`.
//!
//! `_start_datagram` hands a bound (maybe connected) datagram socket to
//! tulip, which reads it and calls the Python protocol through
//! [`PyDatagramProtocol`]; `_DatagramTransport` is the native half of the
//! Python transport class (`tulipio._net._DatagramTransport`).

use std::cell::RefCell;
use std::net::{IpAddr, SocketAddr, SocketAddrV6};
use std::os::fd::RawFd;
use std::os::unix::ffi::OsStrExt;
use std::rc::Rc;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString, PyTuple};
use tulip_executor::TaskOptions;
use tulip_transport::{
    BaseProtocol, DatagramOptions, DatagramProtocol, DatagramTransport, Error, LoopNetExt,
    SockAddr, UnixAddr,
};

use super::{bytes_of, error_to_py, is_loop_exit, notify, resolve};
use crate::event_loop::BaseLoop;
use crate::fd::adopt_fd;
use crate::gil;

/// A socket address as Python's `socket` module spells it.
pub(crate) fn addr_to_py(py: Python<'_>, addr: &SockAddr) -> PyResult<Py<PyAny>> {
    Ok(match addr {
        SockAddr::Inet(SocketAddr::V4(a)) => (a.ip().to_string(), a.port())
            .into_pyobject(py)?
            .into_any()
            .unbind(),
        SockAddr::Inet(SocketAddr::V6(a)) => {
            (a.ip().to_string(), a.port(), a.flowinfo(), a.scope_id())
                .into_pyobject(py)?
                .into_any()
                .unbind()
        }
        SockAddr::Unix(UnixAddr::Path(path)) => PyString::new(py, &path.to_string_lossy())
            .into_any()
            .unbind(),
        SockAddr::Unix(UnixAddr::Abstract(name)) => {
            let mut spelled = vec![0u8];
            spelled.extend_from_slice(name);
            PyBytes::new(py, &spelled).into_any().unbind()
        }
        SockAddr::Unix(_) => py.None(),
    })
}

/// A Python socket address (`(host, port[, flowinfo, scope_id])` with a
/// numeric host, or a Unix path as str or bytes) as tulip's.
fn addr_from_py(addr: &Bound<'_, PyAny>) -> PyResult<SockAddr> {
    if let Ok(tuple) = addr.cast::<PyTuple>() {
        if !(2..=4).contains(&tuple.len()) {
            return Err(PyTypeError::new_err(format!(
                "a socket address tuple has 2 to 4 items, not {}",
                tuple.len()
            )));
        }
        let host: String = tuple.get_item(0)?.extract()?;
        let port: u16 = tuple.get_item(1)?.extract()?;
        let ip: IpAddr = host
            .parse()
            .map_err(|_| PyValueError::new_err(format!("not a numeric IP address: {host:?}")))?;
        return Ok(SockAddr::Inet(match ip {
            IpAddr::V6(v6) => {
                let flowinfo: u32 = match tuple.len() {
                    3.. => tuple.get_item(2)?.extract()?,
                    _ => 0,
                };
                let scope: u32 = match tuple.len() {
                    4 => tuple.get_item(3)?.extract()?,
                    _ => 0,
                };
                SocketAddr::V6(SocketAddrV6::new(v6, port, flowinfo, scope))
            }
            ip => SocketAddr::new(ip, port),
        }));
    }
    if let Ok(path) = addr.extract::<std::path::PathBuf>() {
        return Ok(SockAddr::Unix(UnixAddr::from_asyncio(path)));
    }
    if let Ok(bytes) = addr.cast::<PyBytes>() {
        let path = std::ffi::OsStr::from_bytes(bytes.as_bytes());
        return Ok(SockAddr::Unix(UnixAddr::from_asyncio(path)));
    }
    Err(PyTypeError::new_err(format!(
        "not a socket address: {}",
        addr.repr()?
    )))
}

/// Calls a Python datagram protocol from a tulip datagram transport.
pub(crate) struct PyDatagramProtocol {
    protocol: Option<Py<PyAny>>,
    owner: Option<Py<PyAny>>,
    native: Py<NativeDatagram>,
}

impl PyDatagramProtocol {
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
            err.write_unraisable(py, None);
        }
    }
}

impl BaseProtocol for PyDatagramProtocol {
    fn connection_lost(&mut self, exc: Option<Error>) {
        let owner = self.owner.take();
        self.protocol = None;
        super::adapter::deliver_connection_lost(owner, exc.as_ref());
    }

    fn pause_writing(&mut self) {
        notify(self.owner.as_ref(), "_pause_writing")
    }

    fn resume_writing(&mut self) {
        notify(self.owner.as_ref(), "_resume_writing")
    }
}

impl DatagramProtocol for PyDatagramProtocol {
    fn connection_made(&mut self, transport: DatagramTransport) {
        Python::attach(|py| {
            *self.native.borrow(py).inner.borrow_mut() = Some(transport);
        });
        notify(self.owner.as_ref(), "_connection_made");
    }

    fn datagram_received(&mut self, data: &[u8], addr: Option<SockAddr>) {
        Python::attach(|py| {
            let Some(protocol) = &self.protocol else {
                return;
            };
            let addr = match addr.as_ref().map(|a| addr_to_py(py, a)).transpose() {
                Ok(addr) => addr.unwrap_or_else(|| py.None()),
                Err(err) => return self.fatal(py, err, "Fatal read error on datagram transport"),
            };
            let bytes = PyBytes::new(py, data);
            if let Err(err) = protocol
                .bind(py)
                .call_method1(intern!(py, "datagram_received"), (bytes, addr))
            {
                self.fatal(
                    py,
                    err,
                    "Fatal error: protocol.datagram_received() call failed.",
                );
            }
        })
    }

    fn error_received(&mut self, exc: Error) {
        Python::attach(|py| {
            let Some(protocol) = &self.protocol else {
                return;
            };
            let exc = error_to_py(py, &exc).into_value(py);
            if let Err(err) = protocol.bind(py).call_method1("error_received", (exc,)) {
                self.fatal(
                    py,
                    err,
                    "Fatal error: protocol.error_received() call failed.",
                );
            }
        })
    }
}

/// The native half of a Python datagram transport.
#[pyclass(module = "tulipio._tulipio", name = "_DatagramTransport", unsendable)]
pub struct NativeDatagram {
    inner: RefCell<Option<DatagramTransport>>,
}

impl NativeDatagram {
    fn with<T>(&self, f: impl FnOnce(&DatagramTransport) -> T) -> Option<T> {
        let inner = self.inner.borrow().clone();
        inner.as_ref().map(f)
    }
}

#[pymethods]
impl NativeDatagram {
    #[new]
    fn py_new() -> NativeDatagram {
        NativeDatagram {
            inner: RefCell::new(None),
        }
    }

    /// Sends one datagram to `addr` (None: the endpoint's remote address).
    #[pyo3(signature = (data, addr=None))]
    fn sendto(&self, data: &Bound<'_, PyAny>, addr: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let mut owned = Vec::new();
        let bytes = bytes_of(data, &mut owned)?;
        let addr = addr.map(addr_from_py).transpose()?;
        let py = data.py();
        self.with(|t| t.sendto(bytes, addr.as_ref()))
            .map_or(Ok(()), |r| r.map_err(|err| error_to_py(py, &err)))
    }

    /// Closes once the queued datagrams are sent.
    fn close(&self) {
        self.with(|t| t.close());
    }

    /// Closes at once, dropping queued datagrams.
    fn abort(&self) {
        self.with(|t| t.abort());
    }

    /// Whether the endpoint is closing or closed.
    fn is_closing(&self) -> bool {
        self.with(|t| t.is_closing()).unwrap_or(false)
    }

    /// Bytes queued for sending.
    fn get_write_buffer_size(&self) -> usize {
        self.with(|t| t.get_write_buffer_size()).unwrap_or(0)
    }

    /// `(low, high)` water marks of the send queue.
    fn get_write_buffer_limits(&self) -> (usize, usize) {
        self.with(|t| t.get_write_buffer_limits())
            .unwrap_or((16 * 1024, 64 * 1024))
    }

    /// Sets the send queue's water marks (checked by the Python side).
    fn set_write_buffer_limits(&self, py: Python<'_>, high: usize, low: usize) -> PyResult<()> {
        self.with(|t| t.set_write_buffer_limits(Some(high), Some(low)))
            .map_or(Ok(()), |r| r.map_err(|err| error_to_py(py, &err)))
    }

    /// Hands the endpoint to another Python protocol, called for `owner`.
    fn _set_protocol(slf: &Bound<'_, NativeDatagram>, owner: Py<PyAny>, protocol: Py<PyAny>) {
        let adapter = PyDatagramProtocol {
            protocol: Some(protocol),
            owner: Some(owner),
            native: slf.clone().unbind(),
        };
        slf.borrow()
            .with(|t| t.set_protocol(Rc::new(RefCell::new(adapter))));
    }
}

/// Starts a datagram transport on `fd` (a datagram socket made for it,
/// which tulip now owns): `protocol.connection_made(owner)` runs soon,
/// then reading starts; `waiter` (an asyncio future) gets None then, or
/// the error that stopped it.
#[pyfunction]
pub(crate) fn _start_datagram(
    event_loop: &Bound<'_, BaseLoop>,
    fd: RawFd,
    owner: Py<PyAny>,
    native: Py<NativeDatagram>,
    protocol: Py<PyAny>,
    waiter: Py<PyAny>,
) -> PyResult<()> {
    let lp = event_loop.get().tulip_loop()?;
    // SAFETY: the caller passes a descriptor made for this transport
    // alone (`os.dup` of its socket's), so this is its only owner.
    let fd = unsafe { adopt_fd(fd) }?;
    let mut slot = Some(PyDatagramProtocol {
        protocol: Some(protocol),
        owner: Some(owner),
        native,
    });
    let task_loop = lp.clone();
    let task = lp.create_task_with(
        async move {
            let factory = move || slot.take().expect("one endpoint, one protocol");
            let result = task_loop
                .create_datagram_endpoint(factory, DatagramOptions::new().sock(fd))
                .await
                .map(drop);
            Python::attach(|py| resolve(py, waiter, result.map(|()| py.None())));
        },
        TaskOptions::new().eager(true),
    );
    task.detach();
    Ok(())
}
