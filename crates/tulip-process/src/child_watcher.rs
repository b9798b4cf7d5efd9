//! Watching children: every child the loop starts is reaped when it
//! exits, whether or not anyone still holds a handle on it (asyncio's
//! child watchers).
//!
//! Two mechanisms, chosen once per process ([`child_watcher_kind`]):
//!
//! - **pidfd** (Linux 5.3 and later, the default there): each child gets a
//!   process file descriptor, watched with the loop's `add_reader`; it
//!   turns readable when the child exits, and the child is reaped then
//!   with `waitpid(pid, WNOHANG)`. Signals go through `pidfd_send_signal`,
//!   so they reach that very process or nobody.
//! - **SIGCHLD** (everywhere else, when `pidfd_open` fails, or with
//!   `TULIP_CHILD_WATCHER=sigchld`): the loop's own SIGCHLD handler
//!   ([`Loop::add_signal_handler`]) runs on the loop, which then tries
//!   `waitpid(pid, WNOHANG)` on each of its live children, and once more
//!   right after the handler is installed (a child may have exited
//!   before). Never `waitpid(-1)`: children started by other code are
//!   left alone.
//!
//! In both, only the loop's thread reaps, so a child is never signalled
//! after its process id was given back to the system: a signal to a child
//! already reaped is [`Error::ProcessLookup`](crate::Error::ProcessLookup)
//! and nothing is sent.
//!
//! A child still running when its loop is closed is handed to a
//! background thread that waits for it, so it never stays a zombie.
//!
//! As asyncio's old `SafeChildWatcher`, the SIGCHLD watcher owns its
//! loop's SIGCHLD handler while it has children: it installs the handler
//! when the loop starts a child and removes it once the last one is
//! reaped (SIGCHLD's disposition from before comes back). A loop's own
//! `add_signal_handler(SIGCHLD, ..)` (or `remove_signal_handler`) while
//! the watcher is in use replaces its handler: the children it watches
//! are then not seen to exit until that loop starts another child, which
//! installs the watcher's handler again (replacing the user's) and looks
//! at every child once. A raw `sigaction` for SIGCHLD likewise leaves it
//! deaf. The pidfd watcher does not depend on signals at all.

use std::cell::{Cell, RefCell};
use std::os::fd::OwnedFd;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::rc::Rc;
use std::sync::mpsc::{self, Sender};
use std::sync::{Mutex, OnceLock};

use rustix::process::{Pid, Signal};
use tulip_executor::Loop;

use crate::error::{Error, Result};
use crate::sys;

/// The environment variable that picks the child watcher: `pidfd` or
/// `sigchld` (anything else, or nothing: pidfd where the kernel has it).
pub const CHILD_WATCHER_ENV: &str = "TULIP_CHILD_WATCHER";

/// The mechanism that sees children exit (see the module documentation).
///
/// ```
/// use tulip::process::{CHILD_WATCHER_ENV, ChildWatcherKind, child_watcher_kind};
/// // Set `TULIP_CHILD_WATCHER=sigchld` in the environment to force SIGCHLD.
/// assert_eq!(CHILD_WATCHER_ENV, "TULIP_CHILD_WATCHER");
/// match child_watcher_kind() {
///     ChildWatcherKind::Pidfd => println!("a pidfd per child"),
///     ChildWatcherKind::Sigchld => println!("a SIGCHLD handler"),
///     _ => println!("another watcher"),
/// }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChildWatcherKind {
    /// A process file descriptor per child (Linux 5.3+).
    Pidfd,
    /// A SIGCHLD handler and `waitpid(pid, WNOHANG)` per live child.
    Sigchld,
}

/// The child watcher new children get: [`CHILD_WATCHER_ENV`] if it names
/// one (`pidfd` only where the kernel supports it), else pidfd where the
/// kernel supports it, else SIGCHLD. Decided once per process. A child
/// whose pidfd cannot be opened (the descriptor limit, say) falls back to
/// SIGCHLD on its own.
///
/// ```
/// use tulip::process::child_watcher_kind;
/// // Decided once per process: every call agrees.
/// assert_eq!(child_watcher_kind(), child_watcher_kind());
/// ```
pub fn child_watcher_kind() -> ChildWatcherKind {
    static KIND: OnceLock<ChildWatcherKind> = OnceLock::new();
    *KIND.get_or_init(|| {
        let wanted = std::env::var(CHILD_WATCHER_ENV).ok();
        match wanted.as_deref() {
            Some("sigchld") => ChildWatcherKind::Sigchld,
            Some("pidfd") | None | Some("") if sys::pidfd_supported() => ChildWatcherKind::Pidfd,
            Some("pidfd") | None | Some("") => ChildWatcherKind::Sigchld,
            Some(other) => {
                log::warn!(
                    "{CHILD_WATCHER_ENV}={other:?} is not pidfd or sigchld; using the default"
                );
                if sys::pidfd_supported() {
                    ChildWatcherKind::Pidfd
                } else {
                    ChildWatcherKind::Sigchld
                }
            }
        }
    })
}

/// asyncio's return code: the exit status, or minus the signal that
/// killed the child.
pub(crate) fn returncode_of(status: ExitStatus) -> i32 {
    match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(sig)) => -sig,
        // Stopped or continued: try_wait never reports those.
        (None, None) => 255,
    }
}

/// What runs once the child has exited and was reaped, with its return
/// code.
pub(crate) type OnExit = Box<dyn FnOnce(i32)>;

/// One child of the loop: its process id, its exit status once reaped,
/// and how to signal it.
pub(crate) struct Child {
    pid: u32,
    /// std's handle, until the child is reaped (its pipes were taken).
    std: RefCell<Option<std::process::Child>>,
    returncode: Cell<Option<i32>>,
    /// The process file descriptor, while the pidfd watcher watches.
    pidfd: RefCell<Option<OwnedFd>>,
    on_exit: RefCell<Option<OnExit>>,
    kind: Cell<ChildWatcherKind>,
}

impl Child {
    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    /// The return code, once the child was reaped.
    pub(crate) fn returncode(&self) -> Option<i32> {
        self.returncode.get()
    }

    /// The watcher that watches this child.
    pub(crate) fn kind(&self) -> ChildWatcherKind {
        self.kind.get()
    }

    /// Sends signal `sig` to the child, unless it was reaped already
    /// ([`Error::ProcessLookup`]: its pid may be another process's now).
    pub(crate) fn send_signal(&self, sig: i32) -> Result<()> {
        let signal = Signal::from_named_raw(sig)
            .ok_or_else(|| Error::InvalidInput(format!("unknown signal number {sig}")))?;
        if self.returncode.get().is_some() {
            return Err(Error::ProcessLookup);
        }
        let sent = match self.pidfd.borrow().as_ref() {
            Some(pidfd) => sys::pidfd_send_signal(pidfd, signal),
            None => {
                // Not reaped (checked above, and only this thread reaps):
                // the pid is still this child's, a zombie at worst.
                let pid = i32::try_from(self.pid)
                    .ok()
                    .and_then(Pid::from_raw)
                    .ok_or(Error::ProcessLookup)?;
                rustix::process::kill_process(pid, signal)
            }
        };
        match sent {
            Ok(()) => Ok(()),
            Err(rustix::io::Errno::SRCH) => Err(Error::ProcessLookup),
            Err(e) => Err(e.into()),
        }
    }

    /// Reaps the child if it has exited (`waitpid(pid, WNOHANG)`);
    /// whether it has. The exit callback is not called yet: see
    /// [`notify_exit`](Child::notify_exit).
    pub(crate) fn poll_exit(&self) -> bool {
        if self.returncode.get().is_some() {
            return true;
        }
        let mut std = self.std.borrow_mut();
        let Some(child) = std.as_mut() else {
            return false;
        };
        let code = match child.try_wait() {
            Ok(Some(status)) => returncode_of(status),
            Ok(None) => return false,
            Err(e) => {
                // Someone else reaped it (a `waitpid(-1)` elsewhere, or
                // SIGCHLD set to SIG_IGN): as asyncio, report 255.
                log::warn!(
                    "unknown child process pid {}, will report returncode 255 ({e})",
                    self.pid
                );
                255
            }
        };
        self.returncode.set(Some(code));
        *std = None;
        true
    }

    /// Calls the exit callback (once), after [`poll_exit`](Child::poll_exit)
    /// said the child has exited.
    pub(crate) fn notify_exit(&self) {
        let Some(code) = self.returncode.get() else {
            return;
        };
        let callback = self.on_exit.borrow_mut().take();
        if let Some(callback) = callback {
            callback(code);
        }
    }

    /// The loop went away while the child runs: a background thread waits
    /// for it, and the exit callback is dropped (nothing can run it).
    pub(crate) fn abandon(&self) {
        drop(self.pidfd.borrow_mut().take());
        if let Some(child) = self.std.borrow_mut().take() {
            reap_in_background(child);
        }
        let callback = self.on_exit.borrow_mut().take();
        drop(callback);
    }

    /// Keeps the pidfd (the pidfd watcher).
    pub(crate) fn set_pidfd(&self, fd: OwnedFd) {
        *self.pidfd.borrow_mut() = Some(fd);
    }

    /// Whether the pidfd watcher watches this child.
    pub(crate) fn has_pidfd(&self) -> bool {
        self.pidfd.borrow().is_some()
    }

    /// Closes the pidfd (once the child is reaped and the loop no longer
    /// watches it).
    pub(crate) fn close_pidfd(&self) {
        drop(self.pidfd.borrow_mut().take());
    }
}

/// Starts watching `child`: `on_exit` runs on the loop once it has exited
/// and was reaped. On error (no watcher could be set up) the child is
/// killed and reaped in the background, and nothing leaks.
pub(crate) fn watch(lp: &Loop, child: std::process::Child, on_exit: OnExit) -> Result<Rc<Child>> {
    let entry = Rc::new(Child {
        pid: child.id(),
        std: RefCell::new(Some(child)),
        returncode: Cell::new(None),
        pidfd: RefCell::new(None),
        on_exit: RefCell::new(Some(on_exit)),
        kind: Cell::new(child_watcher_kind()),
    });
    if entry.kind.get() == ChildWatcherKind::Pidfd {
        match sys::watch_pidfd(lp, &entry) {
            Ok(()) => return Ok(entry),
            Err(e) => {
                log::debug!(
                    "pidfd_open({}) failed ({e}): watching it with SIGCHLD",
                    entry.pid
                );
                entry.kind.set(ChildWatcherKind::Sigchld);
            }
        }
    }
    match sys::sigchld::watch(lp, &entry) {
        Ok(()) => Ok(entry),
        Err(e) => {
            let _ = entry.send_signal(Signal::KILL.as_raw());
            entry.abandon();
            Err(e)
        }
    }
}

/// Waits for `child` on a background thread (one thread for the whole
/// process, started the first time it is needed): for children whose loop
/// went away before they exited.
pub(crate) fn reap_in_background(mut child: std::process::Child) {
    static REAPER: OnceLock<Mutex<Sender<std::process::Child>>> = OnceLock::new();
    let sender = REAPER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<std::process::Child>();
        let spawned = std::thread::Builder::new()
            .name(String::from("tulip-reaper"))
            .spawn(move || {
                for mut child in rx {
                    let _ = child.wait();
                }
            });
        if let Err(e) = spawned {
            log::error!("cannot start the tulip-reaper thread: {e}");
        }
        Mutex::new(tx)
    });
    let sent = match sender.lock() {
        Ok(tx) => tx.send(child),
        Err(poisoned) => poisoned.into_inner().send(child),
    };
    if let Err(mpsc::SendError(c)) = sent {
        // No reaper thread: wait here rather than leave a zombie.
        child = c;
        let _ = child.wait();
    }
}
