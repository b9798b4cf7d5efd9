//! The read side of the completion driver: one multishot receive into the
//! loop's provided-buffer ring, and what reaches the protocol.
//!
//! A completion's bytes are the ring buffer the kernel filled: a
//! `Protocol` gets them as `data_received(completion.data())`, and the
//! buffer goes back to the ring when the completion is dropped, right
//! after the call. A `BufferedProtocol` is asked for its buffer
//! (`get_buffer`) at completion time and the bytes are copied in, as many
//! rounds as its buffers are short.
//!
//! Pausing cancels the receive; bytes that complete before the cancel are
//! held (copied out, so the ring buffer goes back at once) and delivered,
//! in order, after `resume_reading`, before anything newer, at most one
//! read's worth per `data_received` (as on readiness), so a protocol that
//! pauses again stops the delivery between pieces. The end of the stream
//! (EOF or an error) waits behind held bytes the same way, and for the
//! next resume if the held bytes paused reading again.

use std::cell::{Cell, RefCell};
use std::convert::Infallible;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;

use tulip_reactor::{Completion, Op};

use crate::error::Error;
use crate::ops::{Slot, is_cancelled, own_error};
use crate::protocols::ProtocolRef;
use crate::stream::completion::{CompletionIo, submit};
use crate::stream::readbuf::{BufferedRead, READ_SIZE, read_buffered};
use crate::stream::socket::{Kind, SocketTransport};
use crate::transports::{NoticeOwner, TransportImpl};

/// The end of the received stream, when it waits behind held bytes.
enum End {
    Eof,
    Failed(io::Error),
}

/// The read side's state.
#[derive(Default)]
pub(crate) struct ReadState {
    /// The multishot receive, while in flight.
    pub(super) slot: Slot,
    /// Bytes received while the protocol could not take them (paused,
    /// or inside one of its callbacks), oldest first.
    held: RefCell<Vec<u8>>,
    /// The end of the stream, seen after the held bytes.
    end: RefCell<Option<End>>,
    /// A delivery of the held bytes is scheduled.
    scheduled: Cell<bool>,
}

impl ReadState {
    fn has_held(&self) -> bool {
        !self.held.borrow().is_empty() || self.end.borrow().is_some()
    }
}

/// Whether the transport wants bytes now.
fn wants(t: &SocketTransport) -> bool {
    !t.paused.get() && !t.lc.is_closing() && !t.read_eof.get() && t.lc.is_connected()
}

/// Reading starts or resumes: held bytes are delivered (on the next pass,
/// as a readiness would) and the receive is armed once they are all out
/// (by `deliver_held`); with nothing held it is armed now, unless a
/// cancelled one has not finished yet (its final completion re-arms it).
pub(super) fn start(io: &CompletionIo, t: &Rc<SocketTransport>) {
    if io.read.has_held() {
        schedule_held(io, t);
        return;
    }
    arm(io, t);
}

/// Arms the receive if reading is wanted and nothing is held: while bytes
/// are held the receive stays off, so a protocol that pauses again while
/// they are delivered adds nothing to them (what is held stays bounded by
/// what had completed when reading was paused).
fn arm(io: &CompletionIo, t: &Rc<SocketTransport>) {
    if io.read.slot.is_busy() || !wants(t) || io.read.has_held() {
        return;
    }
    if t.lc.fd().is_none() {
        return;
    }
    match submit(t, Op::RecvMulti { fd: t.lc.raw() }) {
        Ok(id) => io.read.slot.set(id),
        Err(e) => t.fatal_error(e, "Fatal error adding a reader"),
    }
}

/// A completion of the receive (`last`: its final one).
pub(super) fn completed(
    io: &CompletionIo,
    t: &Rc<SocketTransport>,
    completion: Completion,
    last: bool,
) {
    if t.lc.is_closing() {
        // Closed or aborted: nothing more is read (the ring buffer goes
        // back when `completion` drops).
        return;
    }
    match completion.result() {
        Ok(0) if last => end(io, t, End::Eof),
        Ok(_) => {
            received(io, t, completion.data());
            drop(completion);
            if last {
                // The kernel ended the receive without an error: go on.
                arm(io, t);
            }
        }
        // Paused (or resumed before the cancel landed), or the buffer ring
        // ran dry as the cancel landed: re-arm if reading is wanted again.
        Err(e) if is_cancelled(e) || is_out_of_buffers(e) => arm(io, t),
        Err(e) => {
            let e = own_error(e);
            end(io, t, End::Failed(e));
        }
    }
}

/// `ENOBUFS`: the loop's buffer ring was empty. The loop re-arms a
/// receive that runs dry itself, but one whose cancel was asked for may
/// end with it; the stream is fine.
fn is_out_of_buffers(e: &io::Error) -> bool {
    e.raw_os_error() == Some(rustix::io::Errno::NOBUFS.raw_os_error())
}

/// Bytes arrived: to the protocol now, or held behind what waits.
fn received(io: &CompletionIo, t: &Rc<SocketTransport>, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    if io.read.has_held() || t.paused.get() {
        hold(io, t, data);
        return;
    }
    let rest = deliver(t, data);
    if !rest.is_empty() {
        hold(io, t, rest);
    }
}

/// Copies `data` behind the held bytes; delivers them on the next pass
/// unless reading is paused.
fn hold(io: &CompletionIo, t: &Rc<SocketTransport>, data: &[u8]) {
    io.read.held.borrow_mut().extend_from_slice(data);
    if !t.paused.get() {
        schedule_held(io, t);
    }
}

fn schedule_held(io: &CompletionIo, t: &Rc<SocketTransport>) {
    if io.read.scheduled.replace(true) {
        return;
    }
    let t2 = t.clone();
    if t.lp.call_soon(move || deliver_held(&t2)).is_err() {
        io.read.scheduled.set(false);
    }
}

/// Delivers the held bytes, at most one read's worth ([`READ_SIZE`]) per
/// call as on readiness, so a protocol that pauses when its buffer fills
/// stops the delivery between pieces; then the held end of the stream,
/// unless the protocol paused reading meanwhile (it then waits for the
/// resume, as the bytes do).
fn deliver_held(t: &Rc<SocketTransport>) {
    let crate::stream::driver::Driver::Completion(io) = &t.io else {
        return;
    };
    io.read.scheduled.set(false);
    if t.lc.is_closing() {
        io.read.held.borrow_mut().clear();
        return;
    }
    if t.paused.get() {
        return;
    }
    let mut held = std::mem::take(&mut *io.read.held.borrow_mut());
    let mut at = 0;
    while at < held.len() && !t.paused.get() && !t.lc.is_closing() {
        let upto = (at + READ_SIZE).min(held.len());
        let rest = deliver(t, &held[at..upto]);
        at = upto - rest.len();
        if !rest.is_empty() {
            // Paused midway through a `BufferedProtocol`'s rounds, or the
            // protocol is inside one of its callbacks.
            break;
        }
    }
    if t.lc.is_closing() {
        io.read.held.borrow_mut().clear();
        return;
    }
    if at < held.len() {
        // The rest stays first in line, before anything held meanwhile.
        held.drain(..at);
        let mut now = io.read.held.borrow_mut();
        held.extend_from_slice(&now);
        *now = held;
        drop(now);
        if !t.paused.get() {
            schedule_held(io, t);
        }
        return;
    }
    if t.paused.get() {
        // Everything held went out and the protocol paused on the last
        // piece: the end of the stream waits for `resume_reading`.
        return;
    }
    if !io.read.held.borrow().is_empty() {
        // More came in while delivering (held behind these).
        schedule_held(io, t);
        return;
    }
    let end_now = io.read.end.borrow_mut().take();
    match end_now {
        Some(e) => finish(io, t, e),
        // All out: the receive goes on.
        None => arm(io, t),
    }
}

/// The stream ended: now, or after the held bytes.
fn end(io: &CompletionIo, t: &Rc<SocketTransport>, e: End) {
    if io.read.has_held() || t.paused.get() {
        *io.read.end.borrow_mut() = Some(e);
        if !t.paused.get() {
            schedule_held(io, t);
        }
        return;
    }
    finish(io, t, e);
}

/// EOF or a read error reaches the protocol, as on readiness.
fn finish(io: &CompletionIo, t: &Rc<SocketTransport>, e: End) {
    match e {
        End::Failed(e) => t.fatal_error(Error::io(e), "Fatal read error on transport"),
        End::Eof => {
            let Some(proto) = t.protocol.borrow().clone() else {
                return;
            };
            let got = match &proto {
                ProtocolRef::Plain(p) => p
                    .try_borrow_mut()
                    .ok()
                    .map(|mut p| catch_unwind(AssertUnwindSafe(|| p.eof_received()))),
                ProtocolRef::Buffered(p) => p
                    .try_borrow_mut()
                    .ok()
                    .map(|mut p| catch_unwind(AssertUnwindSafe(|| p.eof_received()))),
            };
            match got {
                None => {
                    // Inside one of its callbacks: again on the next pass.
                    *io.read.end.borrow_mut() = Some(End::Eof);
                    schedule_held(io, t);
                }
                Some(Ok(keep_open)) => {
                    t.read_eof.set(true);
                    if !(keep_open && t.kind == Kind::Socket) {
                        t.close();
                    }
                }
                Some(Err(payload)) => t.protocol_panicked("eof_received", payload),
            }
        }
    }
    if !t.lc.notices().is_empty() {
        t.flush_notices();
    }
}

/// Hands `data` to the protocol; returns what it did not take (reading
/// was paused midway through a `BufferedProtocol`'s rounds, or the
/// protocol is inside one of its callbacks).
fn deliver<'d>(t: &Rc<SocketTransport>, data: &'d [u8]) -> &'d [u8] {
    let Some(proto) = t.protocol.borrow().clone() else {
        return &[];
    };
    let notices = t.lc.notices();
    if !notices.is_empty() && notices.flush(&proto) {
        return data;
    }
    let mut rest = data;
    let outcome = match &proto {
        ProtocolRef::Plain(p) => {
            let Ok(mut p) = p.try_borrow_mut() else {
                return data;
            };
            rest = &[];
            match catch_unwind(AssertUnwindSafe(|| p.data_received(data))) {
                Ok(()) => Delivered::Done,
                Err(payload) => Delivered::Panicked(payload),
            }
        }
        ProtocolRef::Buffered(p) => {
            let Ok(mut p) = p.try_borrow_mut() else {
                return data;
            };
            let mut outcome = Delivered::Done;
            while !rest.is_empty() && !t.paused.get() && !t.lc.is_closing() {
                let copied = read_buffered(&mut *p, rest.len(), |buf| {
                    let n = buf.len().min(rest.len());
                    buf[..n].copy_from_slice(&rest[..n]);
                    Ok::<usize, Infallible>(n)
                });
                match copied {
                    BufferedRead::Data(n) => rest = &rest[n..],
                    BufferedRead::Panicked(payload) => {
                        outcome = Delivered::Panicked(payload);
                        break;
                    }
                    BufferedRead::EmptyBuffer => {
                        outcome = Delivered::EmptyBuffer;
                        break;
                    }
                    // Neither happens: both buffers hold bytes.
                    BufferedRead::Eof | BufferedRead::Failed(_) => break,
                }
            }
            outcome
        }
    };
    match outcome {
        Delivered::Done => {}
        Delivered::Panicked(payload) => {
            t.protocol_panicked("data_received", payload);
            return &[];
        }
        Delivered::EmptyBuffer => {
            t.fatal_error(
                Error::InvalidInput(String::from("get_buffer() returned an empty buffer")),
                "Fatal error: protocol.get_buffer() call failed",
            );
            return &[];
        }
    }
    if !t.lc.notices().is_empty() {
        t.flush_notices();
    }
    if t.lc.is_closing() { &[] } else { rest }
}

/// How a delivery went.
enum Delivered {
    Done,
    Panicked(Box<dyn std::any::Any + Send>),
    EmptyBuffer,
}
