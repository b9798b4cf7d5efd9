//! The io_uring backend (Linux): readiness through poll operations and
//! completion operations through one ring, with one `io_uring_enter` per
//! poll that both submits what the pass queued and waits.
//!
//! - [`ring`]: setting the ring up (with the probe that decides whether the
//!   kernel can run this backend), queueing entries, the enter and the reap;
//! - [`poll`]: `add`/`modify`/`delete` of readiness watches as poll
//!   operations;
//! - [`ops`]: the table of completion operations and their buffers;
//! - [`bufring`]: the provided-buffer ring of multishot receives.
//!
//! Every entry's `user_data` says what it is in its top two bits: an
//! internal request (the notifier's read, cancels, whose
//! completions are ignored), a poll (sequence number and descriptor) or a
//! completion operation (its [`OpId`](crate::OpId)).

mod bufring;
mod ops;
mod poll;
mod ring;

use std::os::fd::OwnedFd;
use std::rc::Rc;
use std::sync::Arc;

use io_uring::IoUring;

pub(crate) use bufring::RingLease;

use crate::completion::{Completion, OpHandler};
use crate::notify::Notifier;

/// `user_data` tag of internal requests.
const TAG_INTERNAL: u64 = 0;
/// `user_data` tag of poll operations.
const TAG_POLL: u64 = 1;
/// `user_data` tag of completion operations.
const TAG_OP: u64 = 2;

/// The notifier's eventfd read.
const UD_NOTIFY: u64 = (TAG_INTERNAL << 62) | 1;
/// Requests whose completion means nothing (cancels of polls and operations).
const UD_IGNORE: u64 = (TAG_INTERNAL << 62) | 2;

/// Completions collected by a poll: each with the number of readiness
/// events collected before it (for kernel order) and its handler.
pub(crate) type Done = Vec<(usize, Rc<dyn OpHandler>, Completion)>;

/// A ring plus the tables of what is in flight on it.
pub(crate) struct Uring {
    ring: IoUring,
    notifier: Arc<Notifier>,
    /// The eventfd behind the notifier (a clone of its descriptor).
    eventfd: OwnedFd,
    /// Where the notifier's read lands; boxed so it stays put while the
    /// read is in flight.
    notify_buf: Box<[u8; 8]>,
    notify_armed: bool,
    polls: poll::Polls,
    ops: ops::Ops,
    bufs: Rc<bufring::BufRing>,
    /// Completions made here, not by the kernel (a cancelled starved
    /// receive), delivered by the next poll.
    synthetic: Vec<(Rc<dyn OpHandler>, Completion)>,
    /// Completion entries reaped early (while making room to submit).
    backlog: Vec<ring::Cqe>,
}

impl std::fmt::Debug for Uring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Uring")
            .field("ops", &self.ops)
            .field("bufs", &self.bufs)
            .finish_non_exhaustive()
    }
}
