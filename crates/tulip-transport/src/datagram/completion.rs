//! The completion driver of a datagram endpoint (the loop's io_uring, IP
//! sockets).
//!
//! Receiving: one [`Op::RecvMsg`] in flight into the endpoint's own
//! 64 KiB buffer (a UDP datagram's most), resubmitted after each
//! completion; the datagram and its sender go to `datagram_received`, a
//! receive error to `error_received` (the endpoint stays open, as on
//! readiness). While the protocol is inside one of its callbacks, a
//! datagram is held (copied) and delivered on the next pass, and no new
//! receive is submitted until then.
//!
//! Sending: `sendto` queues the datagram (no system call); the queue goes
//! out one [`Op::SendMsg`] at a time, in order, the first submitted right
//! before the loop's next poll. A send error goes to `error_received` and
//! the next datagram follows. The write-buffer size counts the datagram in
//! flight until its completion.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;

use rustix::net::SocketAddrAny;
use tulip_executor::Loop;
use tulip_reactor::{Completion, Op, OpHandler};

use crate::address::SockAddr;
use crate::datagram::transport::{DATAGRAM_OVERHEAD, Endpoint};
use crate::error::Error;
use crate::lifecycle::TransportLifecycle;
use crate::ops::{Slot, is_cancelled, own_error};

/// The receive buffer: the largest UDP payload fits.
const RECV_SIZE: usize = 64 * 1024;

/// The completion driver's state.
#[derive(Default)]
pub(crate) struct DatagramIo {
    recv: Slot,
    /// The receive buffer while no receive is in flight.
    buf: RefCell<Option<Vec<u8>>>,
    send: Slot,
    /// The size counted for the datagram in flight.
    sending: Cell<usize>,
    /// A send is scheduled before the loop's next poll.
    scheduled: Cell<bool>,
    /// Datagrams received while the protocol was busy.
    held: RefCell<VecDeque<(Vec<u8>, Option<SockAddr>)>>,
    /// A delivery of the held datagrams is scheduled.
    delivering: Cell<bool>,
}

impl DatagramIo {
    /// Whether a datagram is in flight.
    pub(super) fn is_sending(&self) -> bool {
        self.send.is_busy()
    }

    /// Submits the receive (unless one is in flight or datagrams are held).
    pub(super) fn start_receiving(&self, ep: &Rc<Endpoint>) {
        if self.recv.is_busy()
            || !self.held.borrow().is_empty()
            || ep.lc.is_closing()
            || ep.fd().is_none()
        {
            return;
        }
        let mut buf = self
            .buf
            .borrow_mut()
            .take()
            .unwrap_or_else(|| Vec::with_capacity(RECV_SIZE));
        buf.clear();
        let op = Op::RecvMsg {
            fd: ep.lc.raw(),
            buf,
        };
        let handler: Rc<dyn OpHandler> = ep.clone();
        match ep.lc.submit_op(op, handler) {
            Ok(id) => self.recv.set(id),
            Err(e) => ep.fatal_error(e, "Fatal error watching a datagram socket"),
        }
    }

    /// Stops receiving (`close()`): the receive is cancelled.
    pub(super) fn stop_receiving(&self, lp: &Loop) {
        self.recv.cancel(lp);
    }

    /// Cancels every operation in flight (abort, release).
    pub(super) fn cancel_all(&self, lp: &Loop) {
        self.recv.cancel(lp);
        self.send.cancel(lp);
        self.held.borrow_mut().clear();
    }

    /// `sendto`: queues the datagram; the first one waits for the end of
    /// the pass.
    pub(super) fn queue(&self, ep: &Rc<Endpoint>, data: &[u8], dest: Option<SocketAddrAny>) {
        ep.push_queued(data, dest);
        if self.send.is_busy() || self.scheduled.replace(true) {
            return;
        }
        let ep2 = ep.clone();
        ep.lp.call_before_poll(move || send_next(&ep2));
    }
}

/// Submits the queue's first datagram.
fn send_next(ep: &Rc<Endpoint>) {
    let Some(io) = &ep.io else { return };
    io.scheduled.set(false);
    if io.send.is_busy() || ep.lc.is_lost() || ep.fd().is_none() {
        return;
    }
    let Some(q) = ep.buffer.borrow_mut().pop_front() else {
        return;
    };
    let size = q.data.len() + DATAGRAM_OVERHEAD;
    // The socket is an IP one: its destinations are IP addresses.
    let addr = q
        .dest
        .and_then(SockAddr::from_any)
        .and_then(|a| a.as_inet());
    let op = Op::SendMsg {
        fd: ep.lc.raw(),
        buf: q.data,
        addr,
    };
    let handler: Rc<dyn OpHandler> = ep.clone();
    match ep.lc.submit_op(op, handler) {
        Ok(id) => {
            io.send.set(id);
            io.sending.set(size);
        }
        Err(e) => {
            ep.buffer_size
                .set(ep.buffer_size.get().saturating_sub(size));
            ep.fatal_error(e, "Fatal write error on datagram transport");
        }
    }
}

impl OpHandler for Endpoint {
    fn complete(&self, completion: Completion) {
        let Some(io) = &self.io else { return };
        let Some(ep) = self.rc() else { return };
        let id = completion.id();
        if io.recv.is(id) {
            io.recv.clear();
            self.lc.op_finished();
            received(io, &ep, completion);
        } else if io.send.is(id) {
            io.send.clear();
            self.lc.op_finished();
            sent(io, &ep, &completion);
        }
    }
}

/// The receive completed.
fn received(io: &DatagramIo, ep: &Rc<Endpoint>, mut completion: Completion) {
    if ep.lc.is_closing() || ep.lc.is_lost() {
        return;
    }
    match completion.result() {
        Ok(_) => {
            let from = completion.source_addr().map(SockAddr::Inet);
            deliver(io, ep, completion.data(), from);
        }
        Err(e) if is_cancelled(e) => return,
        Err(e) => ep.push_error(Error::io(own_error(e))),
    }
    *io.buf.borrow_mut() = completion.take_buffer();
    io.start_receiving(ep);
}

/// Hands one datagram to the protocol, or holds it while the protocol is
/// busy.
fn deliver(io: &DatagramIo, ep: &Rc<Endpoint>, data: &[u8], from: Option<SockAddr>) {
    let busy = !io.held.borrow().is_empty() || (ep.has_pending() && ep.deliver_pending());
    let proto = if busy { None } else { ep.protocol() };
    let Some(mut p) = proto.as_ref().and_then(|p| p.try_borrow_mut().ok()) else {
        io.held.borrow_mut().push_back((data.to_vec(), from));
        schedule_held(io, ep);
        return;
    };
    let res = catch_unwind(AssertUnwindSafe(|| p.datagram_received(data, from)));
    drop(p);
    if let Err(payload) = res {
        ep.protocol_panicked("datagram_received", payload);
    }
}

fn schedule_held(io: &DatagramIo, ep: &Rc<Endpoint>) {
    if io.delivering.replace(true) {
        return;
    }
    let ep2 = ep.clone();
    if ep.lp.call_soon(move || deliver_held(&ep2)).is_err() {
        io.delivering.set(false);
    }
}

/// Delivers the held datagrams while the protocol is free, then receives
/// again.
fn deliver_held(ep: &Rc<Endpoint>) {
    let Some(io) = &ep.io else { return };
    io.delivering.set(false);
    loop {
        if ep.lc.is_closing() || ep.lc.is_lost() {
            io.held.borrow_mut().clear();
            return;
        }
        if ep.has_pending() && ep.deliver_pending() {
            schedule_held(io, ep);
            return;
        }
        let Some(proto) = ep.protocol() else { return };
        let Ok(mut p) = proto.try_borrow_mut() else {
            schedule_held(io, ep);
            return;
        };
        let Some((data, from)) = io.held.borrow_mut().pop_front() else {
            break;
        };
        let res = catch_unwind(AssertUnwindSafe(|| p.datagram_received(&data, from)));
        drop(p);
        if let Err(payload) = res {
            ep.protocol_panicked("datagram_received", payload);
            return;
        }
    }
    io.start_receiving(ep);
}

/// A datagram's send completed: the next one follows.
fn sent(io: &DatagramIo, ep: &Rc<Endpoint>, completion: &Completion) {
    let size = io.sending.replace(0);
    if ep.lc.is_lost() {
        return;
    }
    ep.buffer_size
        .set(ep.buffer_size.get().saturating_sub(size));
    match completion.result() {
        Ok(_) => {}
        Err(e) if is_cancelled(e) => return,
        Err(e) => {
            ep.push_error(Error::io(own_error(e)));
            if ep.lc.is_conn_lost() {
                // error_received aborted, or closed with nothing left to
                // send: connection_lost is on its way.
                return;
            }
        }
    }
    ep.maybe_resume_protocol();
    if !ep.buffer.borrow().is_empty() {
        io.scheduled.set(true);
        send_next(ep);
        return;
    }
    if ep.closing_flushes() {
        ep.lc.mark_conn_lost();
        ep.call_connection_lost(None);
    }
}
