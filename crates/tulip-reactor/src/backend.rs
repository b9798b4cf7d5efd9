//! The choice of backend and the one internal interface both backends share.

use std::io;
use std::os::fd::BorrowedFd;
use std::sync::Arc;
use std::time::Duration;

use crate::interest::{Interest, Readiness};
use crate::notify::Notifier;
use crate::portable::Portable;

/// The environment variable that picks a backend: `epoll`, `polling` or
/// `uring`.
pub const BACKEND_ENV: &str = "TULIP_BACKEND";

/// Which readiness mechanism a [`Reactor`](crate::Reactor) uses.
///
/// ```
/// use tulip::reactor::{BACKEND_ENV, BackendKind, Reactor};
/// // Pick one explicitly, or leave it to `TULIP_BACKEND` (`epoll` or `polling`).
/// assert_eq!(BACKEND_ENV, "TULIP_BACKEND");
/// let portable: Reactor<()> = Reactor::new(BackendKind::Polling)?;
/// // `Uring` falls back to `Epoll` (with one warning) where the kernel refuses io_uring.
/// let ring: Reactor<()> = Reactor::new(BackendKind::Uring)?;
/// println!("asked for uring, running {:?}", ring.backend_kind());
/// assert_eq!(portable.backend_kind(), BackendKind::Polling);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BackendKind {
    /// `epoll` through rustix, directly: one `epoll_pwait2` per poll.
    /// Linux 5.11 or later; the default there.
    Epoll,
    /// The `polling` crate: portable (kqueue, event ports, IOCP, epoll, poll);
    /// the default everywhere else.
    Polling,
    /// io_uring (Linux): readiness through poll operations and completion
    /// operations ([`Reactor::submit`](crate::Reactor::submit)), one
    /// `io_uring_enter` per poll that submits and waits. Where the kernel
    /// refuses io_uring (`ENOSYS`, `EPERM` under a seccomp profile, a
    /// memory limit) or lacks a needed operation, the reactor uses `Epoll`
    /// instead and logs one warning saying why.
    Uring,
}

impl BackendKind {
    /// The backend to use when nothing else is asked for: the value of the
    /// `TULIP_BACKEND` environment variable (`epoll`, `polling` or `uring`) if it is
    /// set to one of those, else `Epoll` on Linux and `Polling` elsewhere.
    ///
    /// ```
    /// let kind = tulip::reactor::BackendKind::default_kind();
    /// println!("{kind:?}");
    /// ```
    pub fn default_kind() -> BackendKind {
        match std::env::var(BACKEND_ENV).as_deref() {
            Ok("polling") => BackendKind::Polling,
            Ok("uring") => BackendKind::Uring,
            Ok("epoll") if crate::sys::HAS_EPOLL => BackendKind::Epoll,
            _ if crate::sys::HAS_EPOLL => BackendKind::Epoll,
            _ => BackendKind::Polling,
        }
    }
}

impl Default for BackendKind {
    fn default() -> BackendKind {
        BackendKind::default_kind()
    }
}

/// A poller of either kind, behind the same five operations.
#[derive(Debug)]
pub(crate) enum Backend {
    Epoll(crate::sys::Epoll),
    Polling(Portable),
    Uring(Box<crate::sys::Uring>),
}

macro_rules! dispatch {
    ($self:expr, $b:ident => $e:expr) => {
        match $self {
            Backend::Epoll($b) => $e,
            Backend::Polling($b) => $e,
            Backend::Uring($b) => $e,
        }
    };
}

impl Backend {
    /// Opens a backend of `kind`. `Epoll` on a kernel without `epoll_pwait2`
    /// (or off Linux) falls back to `Polling`, with a debug log line.
    pub(crate) fn new(kind: BackendKind) -> io::Result<Backend> {
        match kind {
            BackendKind::Epoll => match crate::sys::Epoll::new() {
                Ok(epoll) => Ok(Backend::Epoll(epoll)),
                Err(e) if e.kind() == io::ErrorKind::Unsupported => {
                    log::debug!("tulip: epoll backend unavailable ({e}); using polling");
                    Ok(Backend::Polling(Portable::new()?))
                }
                Err(e) => Err(e),
            },
            BackendKind::Polling => Ok(Backend::Polling(Portable::new()?)),
            BackendKind::Uring => match crate::sys::Uring::new() {
                Ok(uring) => Ok(Backend::Uring(Box::new(uring))),
                Err(e) => {
                    log::warn!("tulip: io_uring backend unavailable ({e}); using epoll");
                    Backend::new(BackendKind::Epoll)
                }
            },
        }
    }

    pub(crate) fn kind(&self) -> BackendKind {
        match self {
            Backend::Epoll(_) => BackendKind::Epoll,
            Backend::Polling(_) => BackendKind::Polling,
            Backend::Uring(_) => BackendKind::Uring,
        }
    }

    /// Which bits of a token's generation survive a round trip through the
    /// backend: all 32 with epoll's 64-bit data; `polling` keys are `usize`,
    /// which keeps them only on 64-bit targets.
    pub(crate) fn generation_mask(&self) -> u32 {
        match self {
            Backend::Epoll(_) | Backend::Uring(_) => u32::MAX,
            Backend::Polling(_) if usize::BITS >= 64 => u32::MAX,
            Backend::Polling(_) => 0,
        }
    }

    pub(crate) fn notifier(&self) -> &Arc<Notifier> {
        dispatch!(self, b => b.notifier())
    }

    pub(crate) fn add(
        &mut self,
        fd: BorrowedFd<'_>,
        token: u64,
        interest: Interest,
        edge: bool,
    ) -> io::Result<()> {
        match dispatch!(self, b => b.add(fd, token, interest, edge)) {
            // The number is still in the kernel's set under an earlier
            // registration (a dup of a since-closed descriptor keeps it).
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                dispatch!(self, b => b.modify(fd, token, interest, edge))
            }
            other => other,
        }
    }

    pub(crate) fn modify(
        &mut self,
        fd: BorrowedFd<'_>,
        token: u64,
        interest: Interest,
        edge: bool,
    ) -> io::Result<()> {
        match dispatch!(self, b => b.modify(fd, token, interest, edge)) {
            // The kernel dropped the registration when the descriptor was
            // closed; this is a new descriptor with the same number.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                dispatch!(self, b => b.add(fd, token, interest, edge))
            }
            other => other,
        }
    }

    pub(crate) fn delete(&mut self, fd: BorrowedFd<'_>) -> io::Result<()> {
        dispatch!(self, b => b.delete(fd))
    }

    pub(crate) fn wait(
        &mut self,
        timeout: Option<Duration>,
        out: &mut Vec<(u64, Readiness)>,
        done: &mut crate::sys::Done,
    ) -> io::Result<()> {
        match self {
            Backend::Epoll(b) => b.wait(timeout, out),
            Backend::Polling(b) => b.wait(timeout, out),
            Backend::Uring(b) => b.wait(timeout, out, done),
        }
    }

    /// The io_uring backend, if that is the one in use.
    pub(crate) fn uring(&mut self) -> Option<&mut crate::sys::Uring> {
        match self {
            Backend::Uring(b) => Some(b),
            _ => None,
        }
    }

    /// Completion operations in flight (only the io_uring backend has any).
    pub(crate) fn ops_in_flight(&self) -> usize {
        match self {
            Backend::Uring(b) => b.ops_in_flight(),
            _ => 0,
        }
    }
}
