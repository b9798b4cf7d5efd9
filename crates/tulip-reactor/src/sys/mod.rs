//! Operating-system specific pieces of the reactor. Every `target_os` test of
//! the crate lives under this module.

use std::io;
use std::os::fd::OwnedFd;

#[cfg(any(target_os = "linux", target_os = "android"))]
mod epoll;
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) use epoll::Epoll;

#[cfg(not(any(target_os = "linux", target_os = "android")))]
mod no_epoll;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) use no_epoll::Epoll;

#[cfg(any(target_os = "linux", target_os = "android"))]
mod uring;
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) use uring::{Done, RingLease, Uring};

#[cfg(not(any(target_os = "linux", target_os = "android")))]
mod no_uring;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) use no_uring::{Done, RingLease, Uring};

#[cfg(unix)]
mod sigpipe;
#[cfg(unix)]
pub(crate) use sigpipe::without_sigpipe;

/// No `SIGPIPE` off Unix: the call as it is.
#[cfg(not(unix))]
pub(crate) fn without_sigpipe<T>(
    call: impl FnOnce() -> rustix::io::Result<T>,
) -> rustix::io::Result<T> {
    call()
}

/// Whether this system has the direct `epoll` backend.
pub(crate) const HAS_EPOLL: bool = cfg!(any(target_os = "linux", target_os = "android"));

/// Adds one to an eventfd's counter (the cross-thread wake-up).
pub(crate) fn write_eventfd(fd: &OwnedFd) -> io::Result<()> {
    loop {
        match rustix::io::write(fd, &1u64.to_ne_bytes()) {
            Ok(_) => return Ok(()),
            Err(rustix::io::Errno::INTR) => continue,
            // The counter is saturated: a wake-up is already pending.
            Err(rustix::io::Errno::AGAIN) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
    }
}
