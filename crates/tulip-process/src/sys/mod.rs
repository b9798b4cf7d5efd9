//! The operating-system specifics of child watching: the pidfd watcher
//! (Linux) and the SIGCHLD watcher (every Unix).

use std::os::fd::OwnedFd;
use std::rc::Rc;

use rustix::process::Signal;
use tulip_executor::Loop;

use crate::child_watcher::Child;
use crate::error::Result;

#[cfg(target_os = "linux")]
mod pidfd;
pub(crate) mod sigchld;

/// Whether this kernel has `pidfd_open` (probed once).
pub(crate) fn pidfd_supported() -> bool {
    #[cfg(target_os = "linux")]
    {
        pidfd::supported()
    }
    #[cfg(not(target_os = "linux"))]
    {
        false
    }
}

/// Watches `child` through a pidfd on `lp`.
pub(crate) fn watch_pidfd(lp: &Loop, child: &Rc<Child>) -> Result<()> {
    #[cfg(target_os = "linux")]
    {
        pidfd::watch(lp, child)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (lp, child);
        Err(crate::error::Error::io(
            std::io::ErrorKind::Unsupported.into(),
        ))
    }
}

/// `pidfd_send_signal`.
pub(crate) fn pidfd_send_signal(pidfd: &OwnedFd, sig: Signal) -> rustix::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        rustix::process::pidfd_send_signal(pidfd, sig)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (pidfd, sig);
        Err(rustix::io::Errno::NOSYS)
    }
}
