//! Waker-based readiness for async I/O: an [`IoSource`] caches the readiness
//! the OS reported (edge-triggered) until the I/O object that owns it hits
//! `EWOULDBLOCK` and clears it.

use std::cell::Cell;
use std::os::fd::RawFd;
use std::task::{Context, Poll, Waker};

use crate::interest::{Interest, Readiness};

/// One file descriptor registered for async I/O (edge-triggered, both
/// directions, registered once: no `epoll_ctl` while it is in use).
///
/// The usual pattern: try the system call; on `EWOULDBLOCK`, call
/// [`clear_ready`](IoSource::clear_ready) and then
/// [`poll_ready`](IoSource::poll_ready), which returns `Pending` until the
/// reactor sees the next edge and wakes the stored waker.
///
/// ```
/// use std::io::{ErrorKind, Read, Write};
/// use std::os::fd::AsFd;
/// use std::os::unix::net::UnixStream;
/// use std::task::{Context, Poll, Waker};
/// use tulip::reactor::{BackendKind, Dispatch, Interest, Reactor};
///
/// let (mut a, mut b) = UnixStream::pair()?;
/// a.set_nonblocking(true)?;
/// let mut reactor: Reactor<()> = Reactor::new(BackendKind::default_kind())?;
/// let source = reactor.register(a.as_fd())?;
/// let mut cx = Context::from_waker(Waker::noop());
/// let mut buf = [0; 16];
/// // Nothing to read: clear the readiness, then wait for the next edge.
/// assert_eq!(a.read(&mut buf).unwrap_err().kind(), ErrorKind::WouldBlock);
/// source.clear_ready(Interest::READ);
/// assert!(source.poll_ready(Interest::READ, &mut cx).is_pending());
/// b.write_all(b"hi")?;
/// let mut out = Vec::new();
/// reactor.poll(None, &mut out)?;
/// assert!(matches!(out.as_slice(), [Dispatch::Waker(_)])); // the stored waker
/// assert_eq!(source.poll_ready(Interest::READ, &mut cx), Poll::Ready(()));
/// assert_eq!(a.read(&mut buf)?, 2);
/// reactor.deregister(&source)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct IoSource {
    fd: RawFd,
    token: u64,
    readable: Cell<bool>,
    writable: Cell<bool>,
    /// Sticky: the peer's close (or an error) was reported, so a short
    /// read does not prove the socket drained.
    read_closed: Cell<bool>,
    read_waker: Cell<Option<Waker>>,
    write_waker: Cell<Option<Waker>>,
}

impl std::fmt::Debug for IoSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IoSource")
            .field("fd", &self.fd)
            .field("readiness", &self.readiness())
            .finish()
    }
}

impl IoSource {
    pub(crate) fn new(fd: RawFd, token: u64) -> IoSource {
        // A fresh registration reports the current state as its first edge,
        // but assuming readiness costs at most one EWOULDBLOCK and saves a
        // poll pass for the common case of a descriptor that is ready.
        IoSource {
            fd,
            token,
            readable: Cell::new(true),
            writable: Cell::new(true),
            read_closed: Cell::new(false),
            read_waker: Cell::new(None),
            write_waker: Cell::new(None),
        }
    }

    /// The registered descriptor.
    ///
    /// ```
    /// use std::os::fd::{AsFd, AsRawFd};
    /// use std::os::unix::net::UnixStream;
    /// use tulip::reactor::{BackendKind, Reactor};
    /// let (a, _b) = UnixStream::pair()?;
    /// let mut reactor: Reactor<()> = Reactor::new(BackendKind::default_kind())?;
    /// let source = reactor.register(a.as_fd())?;
    /// assert_eq!(source.fd(), a.as_raw_fd());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn fd(&self) -> RawFd {
        self.fd
    }

    pub(crate) fn token(&self) -> u64 {
        self.token
    }

    /// The readiness cached since the last [`clear_ready`](IoSource::clear_ready).
    ///
    /// ```
    /// use std::os::fd::AsFd;
    /// use std::os::unix::net::UnixStream;
    /// use tulip::reactor::{BackendKind, Interest, Reactor};
    /// let (a, _b) = UnixStream::pair()?;
    /// let mut reactor: Reactor<()> = Reactor::new(BackendKind::default_kind())?;
    /// let source = reactor.register(a.as_fd())?;
    /// // A new source assumes readiness: the first system call finds out.
    /// assert!(source.readiness().readable && source.readiness().writable);
    /// source.clear_ready(Interest::WRITE);
    /// assert!(!source.readiness().writable);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn readiness(&self) -> Readiness {
        Readiness {
            readable: self.readable.get(),
            writable: self.writable.get(),
            read_closed: self.read_closed.get(),
        }
    }

    /// `Ready` if every direction of `interest` is ready; otherwise stores the
    /// context's waker for the missing directions and returns `Pending`.
    ///
    /// ```
    /// use std::os::fd::AsFd;
    /// use std::os::unix::net::UnixStream;
    /// use std::task::{Context, Poll, Waker};
    /// use tulip::reactor::{BackendKind, Interest, Reactor};
    ///
    /// let (a, _b) = UnixStream::pair()?;
    /// let mut reactor: Reactor<()> = Reactor::new(BackendKind::default_kind())?;
    /// let source = reactor.register(a.as_fd())?;
    /// let mut cx = Context::from_waker(Waker::noop());
    /// assert_eq!(source.poll_ready(Interest::WRITE, &mut cx), Poll::Ready(()));
    /// source.clear_ready(Interest::READ);
    /// // Both directions asked, one missing: pending, the waker kept for reads.
    /// assert!(source.poll_ready(Interest::BOTH, &mut cx).is_pending());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn poll_ready(&self, interest: Interest, cx: &mut Context<'_>) -> Poll<()> {
        let mut ready = true;
        if interest.is_readable() && !self.readable.get() {
            store(&self.read_waker, cx.waker());
            ready = false;
        }
        if interest.is_writable() && !self.writable.get() {
            store(&self.write_waker, cx.waker());
            ready = false;
        }
        if ready {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    /// Forgets the cached readiness in the directions of `interest` (after a
    /// system call reported `EWOULDBLOCK`).
    ///
    /// ```
    /// use std::os::fd::AsFd;
    /// use std::os::unix::net::UnixStream;
    /// use tulip::reactor::{BackendKind, Interest, Reactor};
    /// let (a, _b) = UnixStream::pair()?;
    /// let mut reactor: Reactor<()> = Reactor::new(BackendKind::default_kind())?;
    /// let source = reactor.register(a.as_fd())?;
    /// source.clear_ready(Interest::BOTH); // after EWOULDBLOCK both ways
    /// assert!(source.readiness().is_empty());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn clear_ready(&self, interest: Interest) {
        if interest.is_readable() {
            self.readable.set(false);
            // `EWOULDBLOCK` on a read: whatever close was reported was not
            // the peer's end of this stream.
            self.read_closed.set(false);
        }
        if interest.is_writable() {
            self.writable.set(false);
        }
    }

    /// Forgets readiness that a short read (or write) showed used up: the
    /// read returned less than its buffer, so the socket is drained, and a
    /// write sent less than asked, so the socket's buffer is full. With
    /// edge-triggered readiness the next change brings a new edge, so
    /// asking the OS again would only cost an `EWOULDBLOCK`. Read readiness
    /// stays when the peer's close was reported
    /// ([`Readiness::read_closed`]): data and the close can come in one
    /// edge, and no later edge would bring the end of the stream.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use std::os::fd::AsFd;
    /// use std::os::unix::net::UnixStream;
    /// use tulip::reactor::{BackendKind, Interest, Reactor};
    ///
    /// let (mut a, mut b) = UnixStream::pair()?;
    /// a.set_nonblocking(true)?;
    /// let mut reactor: Reactor<()> = Reactor::new(BackendKind::Epoll)?;
    /// let source = reactor.register(a.as_fd())?;
    /// b.write_all(b"last words")?;
    /// drop(b); // the data and the close arrive together
    /// reactor.poll(None, &mut Vec::new())?;
    /// let mut buf = [0; 64];
    /// assert_eq!(a.read(&mut buf)?, 10); // a short read...
    /// source.clear_drained(Interest::READ);
    /// // ...but the close was seen: reading goes on, to the EOF.
    /// assert!(source.readiness().readable);
    /// assert_eq!(a.read(&mut buf)?, 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn clear_drained(&self, interest: Interest) {
        if interest.is_readable() && !self.read_closed.get() {
            self.readable.set(false);
        }
        if interest.is_writable() {
            self.writable.set(false);
        }
    }

    /// Records an edge and collects the wakers to wake.
    pub(crate) fn set_ready(&self, readiness: Readiness, wake: &mut impl FnMut(Waker)) {
        if readiness.read_closed {
            self.read_closed.set(true);
        }
        if readiness.readable {
            self.readable.set(true);
            if let Some(w) = self.read_waker.take() {
                wake(w);
            }
        }
        if readiness.writable {
            self.writable.set(true);
            if let Some(w) = self.write_waker.take() {
                wake(w);
            }
        }
    }

    /// Wakes every waiter (the source was deregistered or the reactor closed):
    /// they retry their system call and see the outcome.
    pub(crate) fn wake_all(&self, wake: &mut impl FnMut(Waker)) {
        self.set_ready(
            Readiness {
                readable: true,
                writable: true,
                read_closed: true,
            },
            wake,
        );
    }
}

fn store(slot: &Cell<Option<Waker>>, waker: &Waker) {
    match slot.take() {
        Some(old) if old.will_wake(waker) => slot.set(Some(old)),
        _ => slot.set(Some(waker.clone())),
    }
}
