//! Readiness on io_uring: poll operations standing in for `epoll_ctl`.
//!
//! Each watched descriptor has at most one poll operation armed, named by
//! its own `user_data` (a per-ring sequence number and the descriptor), so a
//! completion of a poll that was since removed or replaced is recognised and
//! dropped. Level-triggered watches (asyncio's `add_reader`/`add_writer`) are
//! one-shot polls re-armed after each report: a descriptor that stays ready
//! completes its re-armed poll in the very next `io_uring_enter`, so it is
//! reported on every poll, as with level-triggered epoll. Edge-triggered
//! watches ([`IoSource`](crate::IoSource)) are multishot polls, re-armed only
//! if the kernel ends them. Changing or removing a watch removes the armed
//! poll (an async cancel by its `user_data`) and arms a new one.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};

use io_uring::{cqueue, opcode, types};

use super::{TAG_POLL, UD_IGNORE, Uring};
use crate::interest::{Interest, Readiness};

/// One watched descriptor.
#[derive(Debug)]
pub(super) struct PollSlot {
    /// The reactor's token, reported with the readiness.
    token: u64,
    interest: Interest,
    edge: bool,
    /// The `user_data` of the armed poll, 0 if none.
    armed: u64,
}

/// The watched descriptors, indexed by number.
#[derive(Debug, Default)]
pub(super) struct Polls {
    slots: Vec<Option<PollSlot>>,
    seq: u32,
}

const SEQ_MASK: u32 = (1 << 30) - 1;

fn poll_mask(interest: Interest) -> u32 {
    let mut mask = 0;
    if interest.is_readable() {
        mask |= (libc::POLLIN | libc::POLLRDHUP) as u32;
    }
    if interest.is_writable() {
        mask |= libc::POLLOUT as u32;
    }
    mask
}

fn readiness(revents: u32) -> Readiness {
    let has = |bit: libc::c_short| revents & bit as u32 != 0;
    let err_or_hup = has(libc::POLLERR) || has(libc::POLLHUP);
    Readiness {
        readable: err_or_hup || has(libc::POLLIN) || has(libc::POLLRDHUP),
        writable: err_or_hup || has(libc::POLLOUT),
        read_closed: err_or_hup || has(libc::POLLRDHUP),
    }
}

impl Uring {
    /// Watches `fd` (or changes its watch): removes the armed poll if any
    /// and arms one for `interest`.
    pub(crate) fn add(
        &mut self,
        fd: BorrowedFd<'_>,
        token: u64,
        interest: Interest,
        edge: bool,
    ) -> io::Result<()> {
        let raw = fd.as_raw_fd();
        let idx = usize::try_from(raw).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
        let fresh = self.polls.slots.get(idx).is_none_or(Option::is_none);
        if fresh {
            // epoll_ctl refuses a closed descriptor at once; a poll operation
            // would report it only later, so check here (once per watch).
            rustix::io::fcntl_getfd(fd)?;
        }
        if idx >= self.polls.slots.len() {
            self.polls.slots.resize_with(idx + 1, || None);
        }
        self.disarm(raw)?;
        self.polls.slots[idx] = Some(PollSlot {
            token,
            interest,
            edge,
            armed: 0,
        });
        self.arm(raw)
    }

    /// As [`add`](Uring::add): a poll is replaced the same way.
    pub(crate) fn modify(
        &mut self,
        fd: BorrowedFd<'_>,
        token: u64,
        interest: Interest,
        edge: bool,
    ) -> io::Result<()> {
        self.add(fd, token, interest, edge)
    }

    /// Stops watching `fd`: its armed poll is removed (a completion of it
    /// still in flight is dropped as stale). The removal is submitted at
    /// once, as `epoll_ctl` would be: an armed poll holds a reference to the
    /// file, so until it is gone, closing the descriptor would not close the
    /// socket (its peer would see no end of file).
    pub(crate) fn delete(&mut self, fd: BorrowedFd<'_>) -> io::Result<()> {
        let raw = fd.as_raw_fd();
        self.disarm(raw)?;
        self.submit_now()?;
        match self.polls.slots.get_mut(raw as usize) {
            Some(slot @ Some(_)) => {
                *slot = None;
                Ok(())
            }
            _ => Err(io::Error::from_raw_os_error(libc::ENOENT)),
        }
    }

    /// Removes `fd`'s armed poll, if any.
    fn disarm(&mut self, fd: RawFd) -> io::Result<()> {
        let Some(Some(slot)) = self.polls.slots.get_mut(fd as usize) else {
            return Ok(());
        };
        let armed = std::mem::replace(&mut slot.armed, 0);
        if armed != 0 {
            // An async cancel, not a poll removal: a removal fails with
            // EALREADY (and the poll stays) while the poll's own completion
            // work is pending, as it is for a multishot poll that found the
            // descriptor ready when it was armed in the same enter.
            let entry = opcode::AsyncCancel::new(armed).build().user_data(UD_IGNORE);
            // SAFETY: a cancel request carries no buffer: the kernel reads
            // only the entry itself.
            unsafe { self.push(&entry)? };
        }
        Ok(())
    }

    /// Arms a poll for `fd`'s current watch.
    fn arm(&mut self, fd: RawFd) -> io::Result<()> {
        self.polls.seq = self.polls.seq.wrapping_add(1) & SEQ_MASK;
        let ud = (TAG_POLL << 62) | (u64::from(self.polls.seq) << 32) | u64::from(fd as u32);
        let Some(Some(slot)) = self.polls.slots.get_mut(fd as usize) else {
            return Ok(());
        };
        slot.armed = ud;
        let entry = opcode::PollAdd::new(types::Fd(fd), poll_mask(slot.interest))
            .multi(slot.edge)
            .build()
            .user_data(ud);
        // SAFETY: a poll operation carries no buffer; the descriptor is
        // only used by number, and the kernel holds its own reference to
        // the file while the poll is armed.
        unsafe { self.push(&entry) }
    }

    /// A poll completed: report the readiness if the poll is still the
    /// descriptor's armed one, and re-arm it where needed.
    pub(super) fn poll_completed(
        &mut self,
        ud: u64,
        res: i32,
        flags: u32,
        out: &mut Vec<(u64, Readiness)>,
    ) {
        let fd = (ud & 0xffff_ffff) as u32 as RawFd;
        let Some(Some(slot)) = self.polls.slots.get_mut(fd as usize) else {
            return;
        };
        if slot.armed != ud {
            return; // removed or replaced since: stale
        }
        let more = cqueue::more(flags);
        if !more {
            slot.armed = 0;
        }
        let token = slot.token;
        let edge = slot.edge;
        if res >= 0 {
            out.push((token, readiness(res as u32)));
        } else if res != -libc::ECANCELED {
            // The descriptor was closed under the watch (EBADF) or cannot
            // be polled: report it once as failed, as epoll reports ERR,
            // and do not re-arm (which would fail again at once).
            out.push((token, readiness(libc::POLLERR as u32)));
            return;
        }
        // A one-shot poll is re-armed for the next enter (level-triggered);
        // a multishot one only if the kernel ended it.
        if !more && (res >= 0 || edge || res == -libc::ECANCELED) {
            if let Err(e) = self.arm(fd) {
                log::warn!("tulip: could not re-arm the poll of fd {fd}: {e}");
            }
        }
    }
}
