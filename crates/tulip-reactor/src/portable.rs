//! The portable backend on the `polling` crate (kqueue, event ports, IOCP,
//! epoll, poll). The default off Linux; selectable on Linux so that the test
//! suite exercises it there too.
//!
//! `polling` costs more system calls per wait than the direct `epoll`
//! backend (on Linux it re-arms a timerfd and its notifier on each wait), but
//! it runs everywhere.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::Arc;
use std::time::Duration;

use polling::{Event, Events, PollMode, Poller};

use crate::interest::{Interest, Readiness};
use crate::notify::{Notifier, NotifyKind};

/// A `polling::Poller` plus its event buffer.
#[derive(Debug)]
pub(crate) struct Portable {
    poller: Arc<Poller>,
    notifier: Arc<Notifier>,
    events: Events,
}

fn event(token: u64, interest: Interest) -> Event {
    let key = token as usize;
    match (interest.is_readable(), interest.is_writable()) {
        (true, true) => Event::all(key),
        (true, false) => Event::readable(key),
        (false, true) => Event::writable(key),
        (false, false) => Event::none(key),
    }
}

fn mode(edge: bool) -> PollMode {
    if edge {
        PollMode::Edge
    } else {
        PollMode::Level
    }
}

impl Portable {
    pub(crate) fn new() -> io::Result<Portable> {
        let poller = Arc::new(Poller::new()?);
        let notifier = Arc::new(Notifier::new(NotifyKind::Polling(poller.clone())));
        Ok(Portable {
            poller,
            notifier,
            events: Events::new(),
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
        // SAFETY: `polling` asks that a source be deleted before it is
        // closed. The registry deletes every source it added when the source
        // is removed (or the reactor is dropped); a caller that closes a
        // descriptor while it is still registered breaks asyncio's contract
        // too, and on the backends `polling` uses on Unix (epoll, kqueue,
        // event ports, poll) the kernel then simply stops reporting the
        // closed descriptor: no memory is touched through it.
        unsafe {
            self.poller
                .add_with_mode(fd.as_raw_fd(), event(token, interest), mode(edge))
        }
    }

    pub(crate) fn modify(
        &self,
        fd: BorrowedFd<'_>,
        token: u64,
        interest: Interest,
        edge: bool,
    ) -> io::Result<()> {
        self.poller
            .modify_with_mode(fd, event(token, interest), mode(edge))
    }

    pub(crate) fn delete(&self, fd: BorrowedFd<'_>) -> io::Result<()> {
        self.poller.delete(fd)
    }

    pub(crate) fn wait(
        &mut self,
        timeout: Option<Duration>,
        out: &mut Vec<(u64, Readiness)>,
    ) -> io::Result<()> {
        self.events.clear();
        match self.poller.wait(&mut self.events, timeout) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(()),
            Err(e) => return Err(e),
        }
        for ev in self.events.iter() {
            let err = ev.is_err().unwrap_or(false) || ev.is_interrupt();
            out.push((
                ev.key as u64,
                Readiness {
                    readable: ev.readable || err,
                    writable: ev.writable || err,
                    // polling does not report a peer's close apart from
                    // data: any readable event may carry one.
                    read_closed: ev.readable || err,
                },
            ));
        }
        Ok(())
    }
}
