//! The direct `epoll` backend (Linux 5.11+): one `epoll_pwait2` per poll,
//! nothing else when nothing was notified. On an older kernel `Epoll::new`
//! fails with `Unsupported` and the reactor falls back to `polling`.
//!
//! The cross-thread notifier is an eventfd registered edge-triggered: it never
//! needs re-arming, and it is read (to reset its counter) only in a poll that
//! reported it. Timeouts go through `epoll_pwait2`'s timespec, so a timer
//! 300 µs away wakes the loop after 300 µs, not after a rounded-up
//! millisecond, and no timerfd is needed.

use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::time::Duration;

use rustix::buffer::spare_capacity;
use rustix::event::epoll::{self, CreateFlags, Event, EventData, EventFlags};
use rustix::event::{EventfdFlags, Timespec, eventfd};
use rustix::io::Errno;

use crate::interest::{Interest, Readiness};
use crate::notify::{Notifier, NotifyKind};

/// The token of the notifier's eventfd; source tokens never reach it.
const NOTIFY_TOKEN: u64 = u64::MAX;

/// How many events one poll collects at most (more wait for the next poll).
const MAX_EVENTS: usize = 1024;

/// An epoll instance plus the eventfd other threads write to wake it.
pub(crate) struct Epoll {
    epfd: OwnedFd,
    notifier: Arc<Notifier>,
    events: Vec<Event>,
}

impl std::fmt::Debug for Epoll {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Epoll")
            .field("epfd", &self.epfd)
            .finish_non_exhaustive()
    }
}

fn flags(interest: Interest, edge: bool) -> EventFlags {
    let mut flags = EventFlags::empty();
    if interest.is_readable() {
        flags |= EventFlags::IN | EventFlags::RDHUP;
    }
    if interest.is_writable() {
        flags |= EventFlags::OUT;
    }
    if edge {
        flags |= EventFlags::ET;
    }
    flags
}

impl Epoll {
    pub(crate) fn new() -> io::Result<Epoll> {
        let epfd = epoll::create(CreateFlags::CLOEXEC)?;
        let efd = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
        epoll::add(
            &epfd,
            &efd,
            EventData::new_u64(NOTIFY_TOKEN),
            EventFlags::IN | EventFlags::ET,
        )?;
        let notifier = Arc::new(Notifier::new(NotifyKind::EventFd(efd)));
        let mut events = Vec::with_capacity(MAX_EVENTS);
        // Probe `epoll_pwait2` (Linux 5.11+) once, so that a kernel without
        // it is found here, where the caller can fall back to `polling`.
        match epoll::wait(
            &epfd,
            spare_capacity(&mut events),
            Some(&Timespec::default()),
        ) {
            Ok(_) | Err(Errno::INTR) => {}
            Err(Errno::NOSYS) => {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "epoll_pwait2 is not available (Linux 5.11 or later is needed)",
                ));
            }
            Err(e) => return Err(e.into()),
        }
        events.clear();
        Ok(Epoll {
            epfd,
            notifier,
            events,
        })
    }

    pub(crate) fn notifier(&self) -> &Arc<Notifier> {
        &self.notifier
    }

    pub(crate) fn add(
        &self,
        fd: BorrowedFd<'_>,
        token: u64,
        interest: Interest,
        edge: bool,
    ) -> io::Result<()> {
        let data = EventData::new_u64(token);
        Ok(epoll::add(&self.epfd, fd, data, flags(interest, edge))?)
    }

    pub(crate) fn modify(
        &self,
        fd: BorrowedFd<'_>,
        token: u64,
        interest: Interest,
        edge: bool,
    ) -> io::Result<()> {
        let data = EventData::new_u64(token);
        Ok(epoll::modify(&self.epfd, fd, data, flags(interest, edge))?)
    }

    pub(crate) fn delete(&self, fd: BorrowedFd<'_>) -> io::Result<()> {
        Ok(epoll::delete(&self.epfd, fd)?)
    }

    /// Waits for readiness, appending `(token, readiness)` pairs to `out`.
    pub(crate) fn wait(
        &mut self,
        timeout: Option<Duration>,
        out: &mut Vec<(u64, Readiness)>,
    ) -> io::Result<()> {
        let ts = timeout.map(|d| Timespec {
            tv_sec: d.as_secs().min(i64::MAX as u64) as i64,
            tv_nsec: d.subsec_nanos().into(),
        });
        self.events.clear();
        match epoll::wait(&self.epfd, spare_capacity(&mut self.events), ts.as_ref()) {
            Ok(_) | Err(Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
        for ev in &self.events {
            let token = ev.data.u64();
            if token == NOTIFY_TOKEN {
                self.drain_notifier();
                continue;
            }
            let f = ev.flags;
            let err_or_hup = f.intersects(EventFlags::ERR | EventFlags::HUP);
            out.push((
                token,
                Readiness {
                    readable: err_or_hup || f.intersects(EventFlags::IN | EventFlags::RDHUP),
                    writable: err_or_hup || f.contains(EventFlags::OUT),
                    read_closed: err_or_hup || f.contains(EventFlags::RDHUP),
                },
            ));
        }
        Ok(())
    }

    fn drain_notifier(&self) {
        if let NotifyKind::EventFd(fd) = self.notifier.kind() {
            let mut buf = [0u8; 8];
            // Non-blocking read: resets the counter; EAGAIN means another
            // poll already drained it.
            let _ = rustix::io::read(fd, &mut buf);
        }
    }
}
