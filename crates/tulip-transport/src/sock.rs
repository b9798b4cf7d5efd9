//! Small socket helpers on rustix shared by the transports and the loop
//! operations: non-blocking setup, addresses, sends that never raise
//! SIGPIPE, and waiting for a descriptor's readiness from async code.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io::{self, IoSlice};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::FileTypeExt;
use std::path::Path;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use rustix::net::{AddressFamily, SendFlags, SocketFlags, SocketType};
use tulip_executor::Loop;

use crate::address::SockAddr;
use crate::error::{Error, Result};

/// Puts `fd` in non-blocking mode.
pub(crate) fn set_nonblocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    rustix::io::ioctl_fionbio(fd, true)?;
    Ok(())
}

/// A new non-blocking, close-on-exec socket.
pub(crate) fn new_socket(family: AddressFamily, kind: SocketType) -> io::Result<OwnedFd> {
    Ok(rustix::net::socket_with(
        family,
        kind,
        SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
        None,
    )?)
}

/// The family of an address, for [`new_socket`].
pub(crate) fn family_of(addr: &SockAddr) -> AddressFamily {
    match addr {
        SockAddr::Inet(a) if a.is_ipv4() => AddressFamily::INET,
        SockAddr::Inet(_) => AddressFamily::INET6,
        SockAddr::Unix(_) => AddressFamily::UNIX,
    }
}

/// The peer's address, if the socket is connected.
pub(crate) fn peer_addr(fd: BorrowedFd<'_>) -> Option<SockAddr> {
    rustix::net::getpeername(fd)
        .ok()
        .flatten()
        .and_then(SockAddr::from_any)
}

/// The socket's own address.
pub(crate) fn local_addr(fd: BorrowedFd<'_>) -> Option<SockAddr> {
    rustix::net::getsockname(fd)
        .ok()
        .and_then(SockAddr::from_any)
}

/// Sends on a socket without ever raising SIGPIPE.
pub(crate) fn send(fd: BorrowedFd<'_>, data: &[u8]) -> io::Result<usize> {
    Ok(rustix::net::send(fd, data, SendFlags::NOSIGNAL)?)
}

/// Vectored send on a socket without ever raising SIGPIPE.
pub(crate) fn sendv(fd: BorrowedFd<'_>, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    let mut control = rustix::net::SendAncillaryBuffer::default();
    Ok(rustix::net::sendmsg(
        fd,
        bufs,
        &mut control,
        SendFlags::NOSIGNAL,
    )?)
}

/// Whether an I/O error only means "not now".
pub(crate) fn would_block(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

/// Waits until `fd` is readable (`reader`) or writable, with a one-shot
/// level-triggered watch removed when the future is dropped.
pub(crate) fn wait_fd<'a>(lp: &Loop, fd: BorrowedFd<'a>, reader: bool) -> WaitFd<'a> {
    WaitFd {
        lp: lp.clone(),
        fd,
        reader,
        state: Rc::new(WaitState::default()),
        registered: false,
    }
}

#[derive(Default)]
struct WaitState {
    ready: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

/// The future of [`wait_fd`].
#[must_use = "futures do nothing unless awaited"]
pub(crate) struct WaitFd<'a> {
    lp: Loop,
    fd: BorrowedFd<'a>,
    reader: bool,
    state: Rc<WaitState>,
    registered: bool,
}

impl Future for WaitFd<'_> {
    type Output = Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let this = &mut *self;
        if this.state.ready.get() {
            return Poll::Ready(Ok(()));
        }
        *this.state.waker.borrow_mut() = Some(cx.waker().clone());
        if !this.registered {
            let state = this.state.clone();
            let cb = move || {
                state.ready.set(true);
                if let Some(w) = state.waker.borrow_mut().take() {
                    w.wake();
                }
            };
            let added = if this.reader {
                this.lp.add_reader(this.fd.as_fd(), cb)
            } else {
                this.lp.add_writer(this.fd.as_fd(), cb)
            };
            added?;
            this.registered = true;
        }
        Poll::Pending
    }
}

impl Drop for WaitFd<'_> {
    fn drop(&mut self) {
        if self.registered {
            let fd = self.fd.as_raw_fd();
            if self.reader {
                self.lp.remove_reader(fd);
            } else {
                self.lp.remove_writer(fd);
            }
        }
    }
}

/// Connects the non-blocking socket `fd` to `addr` without blocking the
/// loop: `connect`, then (on `EINPROGRESS`, `EINTR` or `EAGAIN`, as asyncio's
/// `sock_connect`) wait until it is writable and read `SO_ERROR`. Dropping
/// the future stops watching `fd`; closing it is the owner's business.
pub(crate) async fn connect(
    lp: &Loop,
    fd: BorrowedFd<'_>,
    addr: &impl rustix::net::addr::SocketAddrArg,
) -> Result<()> {
    use rustix::io::Errno;
    match rustix::net::connect(fd, addr) {
        Ok(()) => return Ok(()),
        Err(Errno::INPROGRESS | Errno::INTR | Errno::AGAIN) => {}
        Err(e) => return Err(e.into()),
    }
    loop {
        wait_fd(lp, fd, false).await?;
        match rustix::net::sockopt::socket_error(fd)? {
            Ok(()) => return Ok(()),
            Err(Errno::INPROGRESS | Errno::INTR | Errno::AGAIN) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// Checks that `sock` is a stream socket (asyncio's "A Stream Socket was
/// expected" ValueError).
pub(crate) fn check_stream_socket(sock: &OwnedFd) -> Result<()> {
    match rustix::net::sockopt::socket_type(sock) {
        Ok(rustix::net::SocketType::STREAM) => Ok(()),
        Ok(other) => Err(Error::InvalidInput(format!(
            "a stream socket was expected, got {other:?}"
        ))),
        Err(e) => Err(e.into()),
    }
}

/// Removes a socket file left at `path` (by a server that did not clean
/// up), as asyncio does before binding; anything else is left for `bind`
/// to refuse.
pub(crate) fn remove_stale_socket(path: &Path) {
    match std::fs::metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {
            if let Err(e) = std::fs::remove_file(path) {
                log::error!(
                    "unable to check or remove stale UNIX socket {}: {e}",
                    path.display()
                );
            }
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => log::error!(
            "unable to check or remove stale UNIX socket {}: {e}",
            path.display()
        ),
    }
}
