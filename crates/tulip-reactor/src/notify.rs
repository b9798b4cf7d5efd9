//! Cross-thread wake-up of a reactor blocked in its poll.
//!
//! Any number of threads may call [`Notifier::notify`]; between two polls of
//! the reactor at most one of those calls makes a system call. The flag that
//! coalesces them is cleared by the reactor's thread when it comes back from
//! its poll, before it looks at the work other threads queued for it, so a
//! notification that races with that look is never lost.

use std::io;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Wakes a [`Reactor`](crate::Reactor) from any thread. `Send + Sync`; share it
/// in an [`Arc`].
///
/// ```
/// use tulip::reactor::{BackendKind, Reactor};
/// use std::time::Duration;
///
/// let mut reactor: Reactor<()> = Reactor::new(BackendKind::default_kind())?;
/// let notifier = reactor.notifier();
/// std::thread::spawn(move || notifier.notify()).join().unwrap()?;
/// let mut out = Vec::new();
/// // Returns at once: the notification interrupts the wait.
/// reactor.poll(Some(Duration::from_secs(60)), &mut out)?;
/// assert!(out.is_empty());
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Notifier {
    pending: AtomicBool,
    kind: NotifyKind,
}

#[derive(Debug)]
pub(crate) enum NotifyKind {
    /// An eventfd the epoll backend watches, edge-triggered (only that
    /// backend makes one, so elsewhere the variant is unused).
    #[allow(dead_code)]
    EventFd(OwnedFd),
    /// The `polling` crate's own notification mechanism.
    Polling(Arc<polling::Poller>),
}

impl Notifier {
    pub(crate) fn new(kind: NotifyKind) -> Notifier {
        Notifier {
            pending: AtomicBool::new(false),
            kind,
        }
    }

    /// Wakes the reactor if it is blocked in (or about to enter) its poll.
    ///
    /// Calls made before the reactor next returns from its poll are coalesced:
    /// only the first makes a system call.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tulip::reactor::{BackendKind, Notifier, Reactor};
    /// let reactor: Reactor<()> = Reactor::new(BackendKind::default_kind())?;
    /// let notifier: Arc<Notifier> = reactor.notifier();
    /// let worker = std::thread::spawn(move || {
    ///     // ... work done on another thread, then:
    ///     notifier.notify()?;
    ///     notifier.notify() // coalesced with the first: no second system call
    /// });
    /// worker.join().unwrap()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn notify(&self) -> io::Result<()> {
        if self.pending.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let res = match &self.kind {
            NotifyKind::EventFd(fd) => crate::sys::write_eventfd(fd),
            NotifyKind::Polling(poller) => poller.notify(),
        };
        if res.is_err() {
            // Nothing was sent: let the next caller try again.
            self.pending.store(false, Ordering::Release);
        }
        res
    }

    /// Clears the coalescing flag. Called by the reactor's thread right after
    /// each poll returns, before it drains whatever other threads queued.
    pub(crate) fn clear(&self) {
        self.pending.store(false, Ordering::SeqCst);
    }
}

impl Notifier {
    pub(crate) fn kind(&self) -> &NotifyKind {
        &self.kind
    }
}
