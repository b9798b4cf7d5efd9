//! The ring itself: setup and probe, queueing entries (submitting early
//! when the submission queue is full), the one `io_uring_enter` per poll
//! that submits and waits (its timeout through `IORING_ENTER_EXT_ARG`, so
//! sub-millisecond timers need no timer operation), reaping, and the
//! teardown that waits for every operation before its memory is freed.

use std::io;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use io_uring::types::{SubmitArgs, Timespec};
use io_uring::{IoUring, Probe, opcode, squeue, types};
use rustix::event::{EventfdFlags, eventfd};

use super::bufring::{BGID, BUF_COUNT, BufRing};
use super::{Done, TAG_OP, TAG_POLL, UD_NOTIFY, Uring};
use crate::interest::Readiness;
use crate::notify::{Notifier, NotifyKind};

/// Submission queue entries (the queue is flushed early when full).
const SQ_ENTRIES: u32 = 256;
/// Completion queue entries: room for many multishot completions per
/// poll (the kernel keeps any overflow, `IORING_FEAT_NODROP`).
const CQ_ENTRIES: u32 = 4096;
/// How often a full submission queue is flushed before giving up.
const PUSH_TRIES: usize = 100;
/// How long a teardown waits for cancelled operations to end.
const TEARDOWN_WAIT: Duration = Duration::from_secs(2);

/// A completion entry, copied out of the ring.
#[derive(Clone, Copy, Debug)]
pub(super) struct Cqe {
    ud: u64,
    res: i32,
    flags: u32,
}

/// The opcodes this backend submits.
const NEEDED: [(u8, &str); 9] = [
    (opcode::PollAdd::CODE, "POLL_ADD"),
    (opcode::AsyncCancel::CODE, "ASYNC_CANCEL"),
    (opcode::Read::CODE, "READ"),
    (opcode::Recv::CODE, "RECV"),
    (opcode::Send::CODE, "SEND"),
    (opcode::RecvMsg::CODE, "RECVMSG"),
    (opcode::SendMsg::CODE, "SENDMSG"),
    (opcode::Accept::CODE, "ACCEPT"),
    (opcode::Shutdown::CODE, "SHUTDOWN"),
];

fn unsupported(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::Unsupported, what)
}

fn ignorable(e: &io::Error) -> bool {
    // ETIME: the wait timed out; EINTR: a signal; EBUSY/EAGAIN: the
    // completion queue overflowed or the kernel is short of memory for the
    // moment; reaping makes room, the next enter submits.
    matches!(
        e.raw_os_error(),
        Some(libc::ETIME | libc::EINTR | libc::EBUSY | libc::EAGAIN)
    )
}

impl Uring {
    /// Sets a ring up, or says why this kernel cannot run the backend
    /// (`io_uring_setup` refused, a needed opcode or feature missing, the
    /// buffer ring not registrable); the caller then falls back to epoll.
    pub(crate) fn new() -> io::Result<Uring> {
        // Cooperative task running (5.19): completion work runs when the
        // reactor's thread enters the kernel, without interrupting it.
        // (IORING_SETUP_DEFER_TASKRUN was tried: its work waits for an enter
        // that asks for completions, so a zero-timeout poll would need a
        // system call and a cancel submitted alone would not take effect.)
        let ring = IoUring::builder()
            .setup_cqsize(CQ_ENTRIES)
            .setup_coop_taskrun()
            .setup_taskrun_flag()
            .build(SQ_ENTRIES)
            .or_else(|_| {
                IoUring::builder()
                    .setup_cqsize(CQ_ENTRIES)
                    .build(SQ_ENTRIES)
            })
            .map_err(|e| io::Error::new(e.kind(), format!("io_uring_setup failed: {e}")))?;
        let params = ring.params();
        if !params.is_feature_ext_arg() {
            return Err(unsupported(
                "io_uring lacks IORING_FEAT_EXT_ARG (Linux 5.11 or later is needed)".into(),
            ));
        }
        if !params.is_feature_nodrop() {
            return Err(unsupported("io_uring lacks IORING_FEAT_NODROP".into()));
        }
        let mut probe = Probe::new();
        ring.submitter()
            .register_probe(&mut probe)
            .map_err(|e| io::Error::new(e.kind(), format!("io_uring probe failed: {e}")))?;
        if let Some((_, name)) = NEEDED.iter().find(|(code, _)| !probe.is_supported(*code)) {
            return Err(unsupported(format!("io_uring lacks the {name} operation")));
        }
        let bufs = Rc::new(BufRing::new()?);
        // SAFETY: the ring memory is page-aligned, holds BUF_COUNT entries,
        // and lives in `bufs`, which the reactor keeps until it is dropped;
        // the drop unregisters the group (or leaks the memory) before
        // anything frees it.
        unsafe {
            ring.submitter()
                .register_buf_ring_with_flags(bufs.ring_addr(), BUF_COUNT, BGID, 0)
        }
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "io_uring buffer ring registration failed: {e} (Linux 5.19 or later is needed)"
                ),
            )
        })?;
        // Blocking, unlike epoll's: the ring reads it with a read operation,
        // which must wait for a count rather than fail with EAGAIN.
        let efd = eventfd(0, EventfdFlags::CLOEXEC)?;
        let eventfd = efd.try_clone()?;
        let notifier = Arc::new(Notifier::new(NotifyKind::EventFd(efd)));
        let mut uring = Uring {
            ring,
            notifier,
            eventfd,
            notify_buf: Box::new([0; 8]),
            notify_armed: false,
            polls: Default::default(),
            ops: Default::default(),
            bufs,
            synthetic: Vec::new(),
            backlog: Vec::new(),
        };
        uring.arm_notify()?;
        Ok(uring)
    }

    pub(crate) fn notifier(&self) -> &Arc<Notifier> {
        &self.notifier
    }

    /// Operations in flight.
    pub(crate) fn ops_in_flight(&self) -> usize {
        self.ops.live()
    }

    /// Queues the read of the notifier's eventfd.
    fn arm_notify(&mut self) -> io::Result<()> {
        let buf = self.notify_buf.as_mut_ptr();
        let entry = opcode::Read::new(
            types::Fd(rustix::fd::AsRawFd::as_raw_fd(&self.eventfd)),
            buf,
            8,
        )
        .build()
        .user_data(UD_NOTIFY);
        // SAFETY: the read writes 8 bytes into `notify_buf`, a box owned by
        // this ring and freed only after the read is seen ending (or leaked
        // on teardown if it is not).
        unsafe { self.push(&entry)? };
        self.notify_armed = true;
        Ok(())
    }

    /// Queues `entry` for the next enter, submitting what is queued first
    /// if the submission queue is full.
    ///
    /// # Safety
    /// Whatever memory the entry points to must stay valid, and not be
    /// used in a conflicting way, until its final completion is reaped.
    pub(super) unsafe fn push(&mut self, entry: &squeue::Entry) -> io::Result<()> {
        for _ in 0..PUSH_TRIES {
            // SAFETY: passed on to the caller.
            if unsafe { self.ring.submission().push(entry) }.is_ok() {
                return Ok(());
            }
            match self.ring.submit() {
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => self.reap_to_backlog(),
                Err(e) if ignorable(&e) => {}
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::new(
            io::ErrorKind::WouldBlock,
            "the io_uring submission queue stays full: the kernel takes no more entries",
        ))
    }

    /// Submits what is queued without waiting (one `io_uring_enter`).
    pub(super) fn submit_now(&mut self) -> io::Result<()> {
        match self.ring.submit() {
            Ok(_) => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                self.reap_to_backlog();
                Ok(())
            }
            Err(e) if ignorable(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Moves completion entries out of the ring to the backlog (to make
    /// room while submitting; they are handled by the next poll).
    fn reap_to_backlog(&mut self) {
        let backlog = &mut self.backlog;
        backlog.extend(self.ring.completion().map(|e| Cqe {
            ud: e.user_data(),
            res: e.result(),
            flags: e.flags(),
        }));
    }

    /// Submits what is queued and waits up to `timeout` for completions
    /// (one `io_uring_enter`; none at all for a zero timeout with nothing
    /// to submit), then turns the completions into readiness events
    /// (`out`) and operation completions (`done`).
    pub(crate) fn wait(
        &mut self,
        timeout: Option<Duration>,
        out: &mut Vec<(u64, Readiness)>,
        done: &mut Done,
    ) -> io::Result<()> {
        self.rearm_starved()?;
        let timeout = if self.synthetic.is_empty() && self.backlog.is_empty() {
            timeout
        } else {
            Some(Duration::ZERO)
        };
        let res = match timeout {
            Some(d) if d.is_zero() => {
                let needed = {
                    let sq = self.ring.submission();
                    !sq.is_empty() || sq.taskrun() || sq.cq_overflow()
                };
                if needed { self.ring.submit() } else { Ok(0) }
            }
            Some(d) => {
                let ts = Timespec::from(d);
                let args = SubmitArgs::new().timespec(&ts);
                self.ring.submitter().submit_with_args(1, &args)
            }
            None => self.ring.submit_and_wait(1),
        };
        match res {
            Ok(_) => {}
            Err(e) if ignorable(&e) => {}
            Err(e) => return Err(e),
        }
        self.reap(out, done);
        Ok(())
    }

    /// Handles every completion available now.
    fn reap(&mut self, out: &mut Vec<(u64, Readiness)>, done: &mut Done) {
        for (handler, c) in self.synthetic.drain(..) {
            done.push((out.len(), handler, c));
        }
        self.reap_to_backlog();
        let mut batch = std::mem::take(&mut self.backlog);
        for cqe in batch.drain(..) {
            match cqe.ud >> 62 {
                TAG_POLL => self.poll_completed(cqe.ud, cqe.res, cqe.flags, out),
                TAG_OP => self.op_completed(cqe.ud, cqe.res, cqe.flags, out.len(), done),
                _ if cqe.ud == UD_NOTIFY => {
                    self.notify_armed = false;
                    if let Err(e) = self.arm_notify() {
                        log::warn!("tulip: could not re-arm the io_uring notifier: {e}");
                    }
                }
                _ => {}
            }
        }
        if self.backlog.is_empty() {
            // Keep the allocation for the next poll.
            self.backlog = batch;
        }
    }

    /// Cancels every operation in flight and waits (a bounded time) for
    /// their final completions, which are appended to `done` for the
    /// caller to drop outside any borrow of the reactor.
    pub(crate) fn cancel_all(&mut self, done: &mut Done) {
        for id in self.ops.ids() {
            if let Err(e) = self.cancel(id) {
                log::warn!("tulip: could not cancel io_uring operation {id:?}: {e}");
            }
        }
        let deadline = Instant::now() + TEARDOWN_WAIT;
        let mut events = Vec::new();
        self.reap(&mut events, done);
        while self.ops.live() > 0 && Instant::now() < deadline {
            let ts = Timespec::from(Duration::from_millis(50));
            let args = SubmitArgs::new().timespec(&ts);
            if let Err(e) = self.ring.submitter().submit_with_args(1, &args) {
                if !ignorable(&e) {
                    break;
                }
            }
            events.clear();
            self.reap(&mut events, done);
        }
    }
}

impl Drop for Uring {
    fn drop(&mut self) {
        let mut done = Done::new();
        self.cancel_all(&mut done);
        drop(done);
        // The notifier's read and the polls: cancel everything left.
        if self.notify_armed {
            let entry = opcode::AsyncCancel::new(UD_NOTIFY)
                .build()
                .user_data(super::UD_IGNORE);
            // SAFETY: a cancel request carries no buffer.
            let _ = unsafe { self.push(&entry) };
            let deadline = Instant::now() + TEARDOWN_WAIT;
            while self.notify_armed && Instant::now() < deadline {
                let ts = Timespec::from(Duration::from_millis(50));
                let args = SubmitArgs::new().timespec(&ts);
                let _ = self.ring.submitter().submit_with_args(1, &args);
                for e in self.ring.completion() {
                    if e.user_data() == UD_NOTIFY {
                        self.notify_armed = false;
                    }
                }
            }
        }
        if self.notify_armed {
            // Still in flight: the kernel may yet write the box. Leak it.
            std::mem::forget(std::mem::replace(&mut self.notify_buf, Box::new([0; 8])));
        }
        if self.ops.live() > 0 {
            log::warn!(
                "tulip: {} io_uring operations did not end on close; their buffers are leaked",
                self.ops.live()
            );
            self.ops.leak_all();
            self.bufs.leak();
        } else if self.ring.submitter().unregister_buf_ring(BGID).is_err() {
            self.bufs.leak();
        }
    }
}
