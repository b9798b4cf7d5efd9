//! The lifecycle every descriptor transport shares (asyncio's
//! `_SelectorTransport`, uvloop's `UVBaseTransport`): the descriptor and
//! its reader/writer watches, the closing and lost states, the count of
//! writes after the loss, scheduling `connection_lost` (and retrying it
//! while the protocol is inside a callback), and releasing the descriptor.
//!
//! Under completions (io_uring) the kernel may still hold operations on
//! the descriptor when the transport is done with it: the lifecycle counts
//! them ([`submit_op`](Lifecycle::submit_op),
//! [`op_finished`](Lifecycle::op_finished)) and closes the descriptor only
//! after the last one's final completion, so its number cannot be reused
//! (by a new connection) while an operation queued under it may still
//! reach the kernel.
//!
//! A transport holds one [`Lifecycle`] and implements [`TransportLifecycle`]
//! with what is its own (how its protocol is called, what it releases
//! besides the descriptor); `close`, `force_close` and `connection_lost`
//! then run the same steps for the stream, datagram and any later kind.

use std::cell::{Cell, Ref, RefCell};
use std::os::fd::{OwnedFd, RawFd};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;

use tulip_executor::{Error as LoopError, Loop, PanicError};
use tulip_reactor::{Op, OpHandler, OpId};

use crate::error::Error;
use crate::transports::{NoticeOwner, Notices};

/// After this many writes to a lost connection, one warning is logged
/// (asyncio's `LOG_THRESHOLD_FOR_CONNLOST_WRITES`).
pub(crate) const LOG_THRESHOLD_FOR_CONNLOST_WRITES: u32 = 5;

/// The state a descriptor transport shares with every other kind.
pub(crate) struct Lifecycle {
    lp: Loop,
    fd: RefCell<Option<OwnedFd>>,
    raw: RawFd,
    reader_on: Cell<bool>,
    writer_on: Cell<bool>,
    /// `close()` or `force_close()` ran: no more reading.
    closing: Cell<bool>,
    /// Nonzero once `connection_lost` is scheduled; then counts the writes
    /// made after it (asyncio's `_conn_lost`).
    conn_lost: Cell<u32>,
    /// `connection_made` ran (so `connection_lost` is owed).
    connected: Cell<bool>,
    /// `connection_lost` ran or the transport was released.
    lost: Cell<bool>,
    /// Flow-control notices waiting for a busy protocol.
    notices: Notices,
    /// Completion operations submitted on the descriptor whose final
    /// completion has not arrived.
    ops: Cell<u32>,
}

impl Lifecycle {
    /// The lifecycle of a transport over `fd` (non-blocking already).
    pub(crate) fn new(lp: &Loop, fd: OwnedFd) -> Lifecycle {
        use std::os::fd::AsRawFd;
        Lifecycle {
            lp: lp.clone(),
            raw: fd.as_raw_fd(),
            fd: RefCell::new(Some(fd)),
            reader_on: Cell::new(false),
            writer_on: Cell::new(false),
            closing: Cell::new(false),
            conn_lost: Cell::new(0),
            connected: Cell::new(false),
            lost: Cell::new(false),
            notices: Notices::default(),
            ops: Cell::new(0),
        }
    }

    /// The loop the transport runs on.
    pub(crate) fn lp(&self) -> &Loop {
        &self.lp
    }

    /// The descriptor's number (valid while it is open).
    pub(crate) fn raw(&self) -> RawFd {
        self.raw
    }

    /// A shared borrow of the descriptor, while it is open. Never held
    /// across a protocol callback, so [`release_fd`](Lifecycle::release_fd)
    /// can always take it (and tolerates the case where it cannot).
    pub(crate) fn fd(&self) -> Option<Ref<'_, OwnedFd>> {
        Ref::filter_map(self.fd.borrow(), Option::as_ref).ok()
    }

    /// Whether the descriptor is still held (for the unclosed-drop log).
    pub(crate) fn holds_fd(&mut self) -> bool {
        self.fd.get_mut().is_some()
    }

    /// The notices waiting for the protocol.
    pub(crate) fn notices(&self) -> &Notices {
        &self.notices
    }

    pub(crate) fn is_closing(&self) -> bool {
        self.closing.get()
    }

    pub(crate) fn is_lost(&self) -> bool {
        self.lost.get()
    }

    pub(crate) fn is_connected(&self) -> bool {
        self.connected.get()
    }

    /// `connection_made` ran.
    pub(crate) fn set_connected(&self) {
        self.connected.set(true);
    }

    /// Whether `connection_lost` is scheduled (or ran).
    pub(crate) fn is_conn_lost(&self) -> bool {
        self.conn_lost.get() > 0
    }

    /// Records that `connection_lost` is on its way.
    pub(crate) fn mark_conn_lost(&self) {
        self.conn_lost.set(self.conn_lost.get() + 1);
    }

    /// A write on a transport whose connection is lost: counts it and, at
    /// the threshold, logs `message` once. Returns whether the write must
    /// be dropped (asyncio drops them silently but for that warning).
    pub(crate) fn drop_lost_write(&self, message: &str) -> bool {
        let n = self.conn_lost.get();
        if n == 0 {
            return false;
        }
        self.conn_lost.set(n + 1);
        if n + 1 == LOG_THRESHOLD_FOR_CONNLOST_WRITES {
            log::warn!("{message}");
        }
        true
    }

    /// Adds the reader watch calling `callback`, unless it is on or the
    /// descriptor is released.
    #[track_caller]
    pub(crate) fn add_reader(
        &self,
        callback: impl FnMut() + 'static,
    ) -> Result<(), tulip_executor::Error> {
        self.watch(&self.reader_on, true, callback)
    }

    /// Adds the writer watch calling `callback`, unless it is on or the
    /// descriptor is released.
    #[track_caller]
    pub(crate) fn add_writer(
        &self,
        callback: impl FnMut() + 'static,
    ) -> Result<(), tulip_executor::Error> {
        self.watch(&self.writer_on, false, callback)
    }

    #[track_caller]
    fn watch(
        &self,
        on: &Cell<bool>,
        reader: bool,
        callback: impl FnMut() + 'static,
    ) -> Result<(), tulip_executor::Error> {
        if on.get() {
            return Ok(());
        }
        let Some(fd) = self.fd() else { return Ok(()) };
        if reader {
            self.lp.add_reader(&*fd, callback)?;
        } else {
            self.lp.add_writer(&*fd, callback)?;
        }
        on.set(true);
        Ok(())
    }

    pub(crate) fn is_reader_on(&self) -> bool {
        self.reader_on.get()
    }

    pub(crate) fn is_writer_on(&self) -> bool {
        self.writer_on.get()
    }

    pub(crate) fn remove_reader(&self) {
        if self.reader_on.replace(false) {
            self.lp.remove_reader(self.raw);
        }
    }

    pub(crate) fn remove_writer(&self) {
        if self.writer_on.replace(false) {
            self.lp.remove_writer(self.raw);
        }
    }

    /// The first step of `close()`: stops reading. False if the transport
    /// was closing already (nothing to do).
    pub(crate) fn begin_close(&self) -> bool {
        if self.closing.replace(true) {
            return false;
        }
        self.remove_reader();
        true
    }

    /// The first step of `force_close()`: stops both watches and marks
    /// `connection_lost` as on its way. False if it already was (the
    /// caller then does nothing); else the caller drops its buffers and
    /// calls [`TransportLifecycle::schedule_connection_lost`].
    pub(crate) fn begin_force_close(&self) -> bool {
        if self.conn_lost.get() > 0 {
            return false;
        }
        self.remove_writer();
        self.closing.set(true);
        self.remove_reader();
        self.mark_conn_lost();
        true
    }

    /// Marks the transport lost, stops both watches and closes the
    /// descriptor (unless a borrow of it is out: a `sendfile` running
    /// closes it when it ends, see [`close_fd`](Lifecycle::close_fd)).
    pub(crate) fn release_fd(&self) {
        self.lost.set(true);
        self.remove_reader();
        self.remove_writer();
        self.close_fd();
    }

    /// Closes the descriptor if nothing borrows it and no operation is in
    /// flight on it (the last final completion closes it then).
    pub(crate) fn close_fd(&self) {
        if self.ops.get() > 0 {
            return;
        }
        let fd = self.fd.try_borrow_mut().ok().and_then(|mut fd| fd.take());
        drop(fd);
    }

    /// Submits `op` on the descriptor, counting it until its final
    /// completion ([`op_finished`](Lifecycle::op_finished)).
    pub(crate) fn submit_op(&self, op: Op, handler: Rc<dyn OpHandler>) -> Result<OpId, Error> {
        let id = self.lp.submit_op(op, handler)?;
        self.ops.set(self.ops.get() + 1);
        Ok(id)
    }

    /// An operation's final completion arrived: once none is left on a
    /// released transport, the descriptor closes.
    pub(crate) fn op_finished(&self) {
        let left = self.ops.get().saturating_sub(1);
        self.ops.set(left);
        if left == 0 && self.lost.get() {
            self.close_fd();
        }
    }
}

/// What a transport kind adds to the shared [`Lifecycle`]; the provided
/// methods are the steps every kind takes the same way.
pub(crate) trait TransportLifecycle: NoticeOwner {
    /// The shared state.
    fn lifecycle(&self) -> &Lifecycle;

    /// Whether the protocol is inside one of its callbacks now.
    fn protocol_busy(&self) -> bool;

    /// Calls the protocol's `connection_lost(exc)` (the caller guards it
    /// against panics).
    fn deliver_connection_lost(&self, exc: Option<Error>);

    /// Drops what waits for the protocol besides the notices (a datagram
    /// endpoint's errors), once the connection is lost.
    fn drop_pending(&self) {}

    /// Releases the descriptor ([`Lifecycle::release_fd`]), the buffers and
    /// the protocol (which usually holds the transport: the cycle ends
    /// here).
    fn release(&self);

    /// Runs after `connection_lost` and the release (waking waiters).
    fn after_connection_lost(&self, _exc: Option<Error>) {}

    /// Schedules `connection_lost(exc)` for the next loop pass, as asyncio
    /// does; on a closed loop (nothing runs again) releases now.
    fn schedule_connection_lost(self: &Rc<Self>, exc: Option<Error>) {
        let t = self.clone();
        if self
            .lifecycle()
            .lp()
            .call_soon(move || t.call_connection_lost(exc))
            .is_err()
        {
            self.release();
        }
    }

    /// Calls `connection_lost(exc)` once (again on the next pass while the
    /// protocol is busy), then releases everything.
    fn call_connection_lost(self: &Rc<Self>, exc: Option<Error>) {
        let lc = self.lifecycle();
        if lc.is_lost() {
            return;
        }
        if lc.is_connected() && self.protocol_busy() {
            self.schedule_connection_lost(exc);
            return;
        }
        lc.lost.set(true);
        lc.notices.clear();
        self.drop_pending();
        if lc.is_connected() {
            guard_connection_lost(lc.lp(), || {
                self.deliver_connection_lost(exc.clone());
            });
        }
        self.release();
        self.after_connection_lost(exc);
    }
}

/// Runs `call`, a protocol's `connection_lost`, and reports a panic in it
/// through the loop's exception handler: the connection is gone either
/// way, so nothing else follows from the panic. Every transport and layer
/// (the TLS layer too) calls `connection_lost` through here.
pub(crate) fn guard_connection_lost(lp: &Loop, call: impl FnOnce()) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(call)) {
        crate::transports::report(
            lp,
            "Exception in connection_lost",
            LoopError::Panicked(PanicError::new(payload)),
        );
    }
}
