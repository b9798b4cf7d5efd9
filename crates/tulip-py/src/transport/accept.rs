//! The server accept path's native step: `_accept` takes one connection
//! off a listening TCP socket (`accept4`, non-blocking and close-on-exec
//! at once) and hands it to Python as an [`AcceptedSocket`], a bare
//! descriptor that `tulipio._net` gives straight to tulip's transport.
//!
//! asyncio's `sock.accept()` builds a Python socket object per connection,
//! then the transport asks it for its name, duplicates it and wraps it in a
//! `TransportSocket`: four system calls and several objects a server rarely
//! uses. Here the peer's address comes from `accept4` itself, formatted
//! as Python's `socket.accept()` formats it, and the Python socket (for
//! `get_extra_info('socket')` and `'sockname'`) is made only when asked.

use std::cell::Cell;
use std::ffi::CStr;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use super::os_error;

/// An accepted connection's descriptor, owned until `detach` hands it on
/// (to tulip's transport) or `close` (or the object's end) closes it, with
/// the family and protocol number Python's `socket.accept()` would give
/// the connection's socket object.
#[pyclass(module = "tulipio._tulipio", name = "_AcceptedSocket", unsendable)]
pub struct AcceptedSocket {
    fd: Cell<Option<OwnedFd>>,
    /// The address family (`AF_INET` or `AF_INET6`).
    #[pyo3(get)]
    family: i32,
    /// The listening socket's protocol number (`socket.accept()` gives
    /// the new socket its listener's).
    #[pyo3(get)]
    proto: i32,
}

#[pymethods]
impl AcceptedSocket {
    /// The descriptor, or -1 once detached or closed (as `socket.fileno`).
    fn fileno(&self) -> RawFd {
        let fd = self.fd.take();
        let raw = fd.as_ref().map_or(-1, AsRawFd::as_raw_fd);
        self.fd.set(fd);
        raw
    }

    /// Gives the descriptor up to the caller, who must close it.
    fn detach(&self) -> PyResult<RawFd> {
        self.fd
            .take()
            .map(IntoRawFd::into_raw_fd)
            .ok_or_else(|| PyValueError::new_err("the accepted socket was detached or closed"))
    }

    /// Closes the descriptor (if still held).
    fn close(&self) {
        drop(self.fd.take());
    }
}

/// Accepts one connection on the listening socket `fd` (whose protocol
/// number is `proto`): `(socket, peername)`, the socket non-blocking, or
/// `None` when no connection is
/// waiting (`EAGAIN`) or the one waiting was aborted by its peer
/// (`ECONNABORTED`): asyncio's accept loop stops at either. Other
/// failures (`EMFILE`, ...) raise `OSError` with the errno.
#[pyfunction]
pub(crate) fn _accept(
    py: Python<'_>,
    fd: RawFd,
    proto: i32,
) -> PyResult<Option<(AcceptedSocket, Py<PyAny>)>> {
    if fd < 0 {
        // A closed listening socket (fileno -1): what its accept raises.
        return Err(os_error(libc::EBADF));
    }
    // SAFETY: an all-zero `sockaddr_storage` is a valid value (plain
    // integers and byte arrays).
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let (conn, len) = loop {
        let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        // SAFETY: `storage` is writable for `len` bytes and `len` is a
        // valid `socklen_t` the call updates; `fd` is the caller's open
        // listening socket (a closed one is `EBADF`, raised below).
        let conn = unsafe {
            libc::accept4(
                fd,
                (&raw mut storage).cast::<libc::sockaddr>(),
                &mut len,
                libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            )
        };
        if conn >= 0 {
            break (conn, len);
        }
        match std::io::Error::last_os_error().raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EAGAIN | libc::ECONNABORTED) => return Ok(None),
            Some(code) => return Err(os_error(code)),
            None => return Err(os_error(libc::EIO)),
        }
    };
    // SAFETY: `accept4` just returned this new descriptor; nothing else
    // owns it.
    let conn = unsafe { OwnedFd::from_raw_fd(conn) };
    let peer = peername(py, &storage, len)?;
    Ok(Some((
        AcceptedSocket {
            fd: Cell::new(Some(conn)),
            family: libc::c_int::from(storage.ss_family),
            proto,
        },
        peer,
    )))
}

/// The peer address as Python's `socket.accept()` gives it: `(host,
/// port)` for IPv4, `(host, port, flowinfo, scope_id)` for IPv6, the host
/// in `getnameinfo`'s numeric form (as Python makes it).
fn peername(
    py: Python<'_>,
    storage: &libc::sockaddr_storage,
    len: libc::socklen_t,
) -> PyResult<Py<PyAny>> {
    let host = numeric_host(storage, len)?;
    match libc::c_int::from(storage.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a `sockaddr_in`,
            // which `sockaddr_storage` is large and aligned enough for.
            let sin =
                unsafe { &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            let port = u16::from_be(sin.sin_port);
            Ok(PyTuple::new(
                py,
                [
                    host.into_pyobject(py)?.into_any(),
                    port.into_pyobject(py)?.into_any(),
                ],
            )?
            .into_any()
            .unbind())
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for `sockaddr_in6`.
            let sin6 = unsafe {
                &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            let port = u16::from_be(sin6.sin6_port);
            let flowinfo = u32::from_be(sin6.sin6_flowinfo);
            Ok(PyTuple::new(
                py,
                [
                    host.into_pyobject(py)?.into_any(),
                    port.into_pyobject(py)?.into_any(),
                    flowinfo.into_pyobject(py)?.into_any(),
                    sin6.sin6_scope_id.into_pyobject(py)?.into_any(),
                ],
            )?
            .into_any()
            .unbind())
        }
        family => Err(PyValueError::new_err(format!(
            "_accept: a TCP listening socket was expected, got address family {family}"
        ))),
    }
}

/// The host part of an IP socket address, numeric (`getnameinfo` with
/// `NI_NUMERICHOST`: a scoped IPv6 address gets its `%interface`).
fn numeric_host(storage: &libc::sockaddr_storage, len: libc::socklen_t) -> PyResult<String> {
    let mut host = [0 as libc::c_char; libc::NI_MAXHOST as usize];
    // SAFETY: `storage` holds `len` bytes of the address `accept4` wrote;
    // `host` is writable for its length; no service name is asked for.
    let rc = unsafe {
        libc::getnameinfo(
            (storage as *const libc::sockaddr_storage).cast::<libc::sockaddr>(),
            len,
            host.as_mut_ptr(),
            host.len() as libc::socklen_t,
            std::ptr::null_mut(),
            0,
            libc::NI_NUMERICHOST,
        )
    };
    if rc != 0 {
        return Err(PyValueError::new_err(format!(
            "_accept: the peer address could not be formatted (getnameinfo error {rc})"
        )));
    }
    // SAFETY: on success `getnameinfo` wrote a NUL-terminated string into
    // `host`.
    let host = unsafe { CStr::from_ptr(host.as_ptr()) };
    Ok(host.to_string_lossy().into_owned())
}
