//! The pidfd child watcher (Linux 5.3+): a process file descriptor per
//! child, readable once the child has exited, watched with the loop's
//! `add_reader`.

use std::os::fd::{AsFd, AsRawFd};
use std::rc::Rc;
use std::sync::OnceLock;

use rustix::process::{Pid, PidfdFlags, pidfd_open};
use tulip_executor::Loop;

use crate::child_watcher::Child;
use crate::error::{Error, Result};

/// Whether `pidfd_open` works here (probed once, on this very process).
pub(super) fn supported() -> bool {
    static SUPPORTED: OnceLock<bool> = OnceLock::new();
    *SUPPORTED.get_or_init(|| pidfd_open(rustix::process::getpid(), PidfdFlags::empty()).is_ok())
}

/// Hands the child to the background reaper if the loop drops the reader
/// callback while the child is still watched (the loop was closed): see
/// [`Child::abandon`]. (A callback dropped because it could not be
/// registered leaves the child alone: it has no pidfd then, and the
/// SIGCHLD watcher takes it.)
struct WatchGuard(Rc<Child>);

impl Drop for WatchGuard {
    fn drop(&mut self) {
        if self.0.returncode().is_none() && self.0.has_pidfd() {
            self.0.abandon();
        }
    }
}

/// Opens the child's pidfd and watches it.
pub(super) fn watch(lp: &Loop, child: &Rc<Child>) -> Result<()> {
    let pid = i32::try_from(child.pid())
        .ok()
        .and_then(Pid::from_raw)
        .ok_or(Error::ProcessLookup)?;
    let pidfd = pidfd_open(pid, PidfdFlags::empty())?;
    let raw = pidfd.as_raw_fd();
    let guard = WatchGuard(child.clone());
    let watcher = lp.clone();
    lp.add_reader(pidfd.as_fd(), move || {
        let child = &guard.0;
        if child.poll_exit() {
            // Stop watching before the descriptor is closed (the closure
            // itself is dropped once this call returns).
            watcher.remove_reader(raw);
            child.close_pidfd();
            child.notify_exit();
        }
    })?;
    child.set_pidfd(pidfd);
    Ok(())
}
