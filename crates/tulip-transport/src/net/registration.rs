//! One socket of `tulip::net`, registered with its loop's reactor for the
//! socket's whole life (an edge-triggered [`IoSource`]), and the one way
//! every `tulip::net` type waits for readiness: try the system call, and
//! on `EWOULDBLOCK` forget the cached readiness and wait for the next edge.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::rc::Rc;
use std::task::{Context, Poll, ready};
use tulip_executor::graph::{WaitDetail, WaitKind};

use rustix::net::{RecvFlags, Shutdown};
use tulip_executor::{IoSource, Loop};
use tulip_reactor::Interest;

use crate::error::Result;
use crate::sock;

/// A non-blocking socket and its registration with the loop that runs it.
///
/// Dropping it removes the registration first, then closes the socket
/// (whatever still waited on it is woken and sees the outcome).
pub(crate) struct Registration {
    lp: Loop,
    source: Rc<IoSource>,
    /// `None` only after [`into_fd`](Registration::into_fd) took it.
    fd: Option<OwnedFd>,
}

impl Registration {
    /// Registers a socket from elsewhere (`from_std`) with the running
    /// loop, putting it in non-blocking mode first: the error of
    /// `get_running_loop` outside a loop.
    pub(crate) fn new(fd: OwnedFd) -> Result<Registration> {
        let lp = tulip_executor::get_running_loop()?;
        sock::set_nonblocking(fd.as_fd())?;
        Registration::with_loop(&lp, fd)
    }

    /// Registers `fd`, a socket tulip made non-blocking (`SOCK_NONBLOCK`),
    /// with `lp`.
    pub(crate) fn with_loop(lp: &Loop, fd: OwnedFd) -> Result<Registration> {
        let source = lp.register_io(&fd)?;
        Ok(Registration {
            lp: lp.clone(),
            source,
            fd: Some(fd),
        })
    }

    /// The loop the socket is registered with.
    pub(crate) fn get_loop(&self) -> &Loop {
        &self.lp
    }

    /// The socket.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        match &self.fd {
            Some(fd) => fd.as_fd(),
            None => unreachable!("the descriptor is only taken by into_fd, which consumes self"),
        }
    }

    /// Removes the registration and hands the socket back (still in
    /// non-blocking mode).
    pub(crate) fn into_fd(mut self) -> io::Result<OwnedFd> {
        self.deregister()?;
        Ok(self.fd.take().expect("into_fd runs once"))
    }

    fn deregister(&self) -> io::Result<()> {
        self.lp
            .deregister_io(&self.source)
            .map_err(|e| io::Error::from(crate::error::Error::from(e)))
    }

    /// Forgets the cached readiness for `interest` (a system call said
    /// `EWOULDBLOCK`).
    pub(crate) fn clear_ready(&self, interest: Interest) {
        self.source.clear_ready(interest);
    }

    /// Runs `op` once the socket is ready for `interest`, again after each
    /// `EWOULDBLOCK` (which clears the readiness and waits for the next
    /// edge) or `EINTR`; its first other outcome. Once the socket's loop
    /// is closed no edge will ever come: the loop's `LoopClosed` error at
    /// once, not a wait without end.
    pub(crate) fn poll_io<T>(
        &self,
        interest: Interest,
        cx: &mut Context<'_>,
        mut op: impl FnMut(BorrowedFd<'_>) -> io::Result<T>,
    ) -> Poll<io::Result<T>> {
        if self.lp.is_closed() {
            let closed = crate::error::Error::from(tulip_executor::Error::LoopClosed);
            return Poll::Ready(Err(io::Error::from(closed)));
        }
        loop {
            if self.source.poll_ready(interest, cx).is_pending() {
                static READ: WaitKind = WaitKind::new("socket read");
                static WRITE: WaitKind = WaitKind::new("socket write");
                let what = if interest.is_readable() {
                    &READ
                } else {
                    &WRITE
                };
                let fd = std::os::fd::AsRawFd::as_raw_fd(&self.fd());
                tulip_executor::graph::waiting_on(what, WaitDetail::Fd(fd));
                return Poll::Pending;
            }
            match op(self.fd()) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.clear_ready(interest),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                res => return Poll::Ready(res),
            }
        }
    }

    /// Receives into `buf` (a byte stream): the count, 0 at the peer's EOF.
    pub(crate) fn poll_recv(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let len = buf.len();
        let n = ready!(self.poll_io(Interest::READ, cx, |fd| {
            Ok(rustix::net::recv(fd, &mut *buf, RecvFlags::empty())?.0)
        }))?;
        self.after_read(n, len);
        Poll::Ready(Ok(n))
    }

    /// [`poll_recv`](Registration::poll_recv) into a buffer that may be
    /// uninitialised: the count of bytes now initialised at its start.
    #[cfg(any(feature = "tokio-io", feature = "hyper"))]
    pub(crate) fn poll_recv_uninit(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [std::mem::MaybeUninit<u8>],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let len = buf.len();
        let n = ready!(self.poll_io(Interest::READ, cx, |fd| {
            let (filled, _) = rustix::net::recv(fd, &mut *buf, RecvFlags::empty())?.0;
            Ok(filled.len())
        }))?;
        self.after_read(n, len);
        Poll::Ready(Ok(n))
    }

    /// A stream read shorter than its buffer drained the socket: the next
    /// read would only say `EWOULDBLOCK`, so wait for the next edge now,
    /// unless the peer's close was reported with the data (see
    /// `IoSource::clear_drained`). 0 is the peer's EOF: readable for good.
    fn after_read(&self, n: usize, len: usize) {
        if n > 0 && n < len {
            self.source.clear_drained(Interest::READ);
        }
    }

    /// Sends from `buf` without ever raising `SIGPIPE`: the count sent.
    pub(crate) fn poll_send(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let n = ready!(self.poll_io(Interest::WRITE, cx, |fd| sock::send(fd, buf)))?;
        self.after_write(n, buf.len());
        Poll::Ready(Ok(n))
    }

    /// Sends from `bufs` in one system call, without `SIGPIPE`.
    pub(crate) fn poll_send_vectored(
        &self,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let len: usize = bufs.iter().map(|b| b.len()).sum();
        if len == 0 {
            return Poll::Ready(Ok(0));
        }
        let n = ready!(self.poll_io(Interest::WRITE, cx, |fd| sock::sendv(fd, bufs)))?;
        self.after_write(n, len);
        Poll::Ready(Ok(n))
    }

    /// A short send filled the socket's buffer: wait for the next edge.
    fn after_write(&self, n: usize, len: usize) {
        if n < len {
            self.source.clear_drained(Interest::WRITE);
        }
    }

    /// Shuts down the reading side, the writing side, or both.
    pub(crate) fn shutdown(&self, how: std::net::Shutdown) -> io::Result<()> {
        let how = match how {
            std::net::Shutdown::Read => Shutdown::Read,
            std::net::Shutdown::Write => Shutdown::Write,
            std::net::Shutdown::Both => Shutdown::Both,
        };
        Ok(rustix::net::shutdown(self.fd(), how)?)
    }

    /// Shuts down the writing side for `poll_close`: a peer that is gone
    /// already (`ENOTCONN` after a reset) has nothing left to shut down.
    pub(crate) fn close_write(&self) -> io::Result<()> {
        match rustix::net::shutdown(self.fd(), Shutdown::Write) {
            Err(rustix::io::Errno::NOTCONN) => Ok(()),
            res => Ok(res?),
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        if self.fd.is_some() {
            if let Err(e) = self.deregister() {
                log::warn!(
                    "deregistering socket {} from the loop failed: {e}",
                    self.fd().as_raw_fd()
                );
            }
        }
    }
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("fd", &self.fd.as_ref().map(AsRawFd::as_raw_fd))
            .field("readiness", &self.source.readiness())
            .finish()
    }
}
