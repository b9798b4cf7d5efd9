//! The write side of the completion driver: the transport's own buffer
//! and one [`Op::Send`] in flight at a time.
//!
//! `write()` makes no system call: it appends to the buffer, and the first
//! write with no send in flight asks the loop to flush the transport right
//! before its next poll, so everything written during the pass goes into
//! one send, submitted with the pass's other operations in one
//! `io_uring_enter`. The send owns the bytes it carries until its
//! completion hands them back; a short send resubmits the rest, and what
//! was written meanwhile goes in the next send. The buffer's size (what
//! flow control and `get_write_buffer_size` see) counts the bytes in
//! flight until the kernel has taken them.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use tulip_reactor::{Completion, Op};

use crate::error::Error;
use crate::ops::{Slot, is_cancelled, own_error};
use crate::stream::completion::{CompletionIo, submit};
use crate::stream::socket::SocketTransport;

/// A sent buffer is kept for the next writes when it is at most this big
/// (a small idle connection keeps no large buffer).
const KEEP_CAPACITY: usize = 4 * 1024;

/// The write side's state.
#[derive(Default)]
pub(crate) struct WriteState {
    /// The send, while in flight.
    pub(super) slot: Slot,
    /// Written and not yet submitted.
    pending: RefCell<Vec<u8>>,
    /// Bytes of the send in flight the kernel has not taken yet.
    in_flight: Cell<usize>,
    /// Where the send in flight starts in its buffer.
    offset: Cell<usize>,
    /// A flush is scheduled before the loop's next poll.
    scheduled: Cell<bool>,
}

impl WriteState {
    pub(super) fn size(&self) -> usize {
        self.in_flight.get() + self.pending.borrow().len()
    }

    /// Drops what is not sent and cancels the send in flight.
    pub(super) fn clear(&self, t: &SocketTransport) {
        self.pending.borrow_mut().clear();
        self.in_flight.set(0);
        self.slot.cancel(&t.lp);
    }
}

/// `write()`: appends, and schedules the flush unless a send is in
/// flight (its completion sends the rest).
pub(super) fn queue(io: &CompletionIo, t: &Rc<SocketTransport>, bufs: &[&[u8]], total: usize) {
    {
        let mut pending = io.write.pending.borrow_mut();
        pending.reserve(total);
        for b in bufs {
            pending.extend_from_slice(b);
        }
    }
    if !io.write.slot.is_busy() {
        schedule_flush(io, t);
    }
}

fn schedule_flush(io: &CompletionIo, t: &Rc<SocketTransport>) {
    if io.write.scheduled.replace(true) {
        return;
    }
    let t2 = t.clone();
    t.lp.call_before_poll(move || flush(&t2));
}

/// Submits one send with everything written so far.
fn flush(t: &Rc<SocketTransport>) {
    let crate::stream::driver::Driver::Completion(io) = &t.io else {
        return;
    };
    io.write.scheduled.set(false);
    if io.write.slot.is_busy() || t.lc.is_lost() || io.write.pending.borrow().is_empty() {
        return;
    }
    let buf = std::mem::take(&mut *io.write.pending.borrow_mut());
    send(io, t, buf, 0);
}

fn send(io: &CompletionIo, t: &Rc<SocketTransport>, buf: Vec<u8>, offset: usize) {
    if t.lc.fd().is_none() {
        return;
    }
    let len = buf.len() - offset;
    let op = Op::Send {
        fd: t.lc.raw(),
        buf,
        offset,
    };
    match submit(t, op) {
        Ok(id) => {
            io.write.slot.set(id);
            io.write.in_flight.set(len);
            io.write.offset.set(offset);
        }
        Err(e) => {
            io.write.in_flight.set(0);
            io.write.pending.borrow_mut().clear();
            t.fatal_error(e, "Fatal write error on transport");
        }
    }
}

/// The send's completion.
pub(super) fn completed(io: &CompletionIo, t: &Rc<SocketTransport>, mut completion: Completion) {
    if t.lc.is_lost() || t.lc.is_conn_lost() {
        // Aborted (or released): the bytes are dropped.
        io.write.in_flight.set(0);
        return;
    }
    let buf = completion.take_buffer();
    match completion.result() {
        Ok(n) => {
            let n = (*n).min(io.write.in_flight.get());
            let left = io.write.in_flight.get() - n;
            match buf {
                Some(buf) if left > 0 => {
                    // A short send: the rest goes first.
                    let offset = io.write.offset.get() + n;
                    io.write.in_flight.set(0);
                    send(io, t, buf, offset);
                    t.maybe_resume_protocol();
                    return;
                }
                Some(mut buf) => {
                    io.write.in_flight.set(0);
                    recycle(io, &mut buf);
                }
                None => io.write.in_flight.set(0),
            }
        }
        Err(e) if is_cancelled(e) => {
            io.write.in_flight.set(0);
            return;
        }
        Err(e) => {
            let e = own_error(e);
            io.write.in_flight.set(0);
            io.write.pending.borrow_mut().clear();
            t.fatal_error(Error::io(e), "Fatal write error on transport");
            return;
        }
    }
    t.maybe_resume_protocol();
    if !io.write.pending.borrow().is_empty() {
        schedule_flush(io, t);
    } else if io.write.size() == 0 {
        t.drained();
    }
}

/// Keeps a sent buffer (emptied) for the next writes when nothing is
/// pending and it is small.
fn recycle(io: &CompletionIo, buf: &mut Vec<u8>) {
    let mut pending = io.write.pending.borrow_mut();
    if pending.is_empty() && buf.capacity() <= KEEP_CAPACITY && pending.capacity() == 0 {
        buf.clear();
        std::mem::swap(&mut *pending, buf);
    }
}
