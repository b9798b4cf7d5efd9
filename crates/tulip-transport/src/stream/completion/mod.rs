//! The completion driver of the stream transport (the loop's io_uring):
//! the transport submits operations and acts on their completions, which
//! the loop runs in its ready phase, in the kernel's order.
//!
//! - Reading: one multishot receive ([`Op::RecvMulti`]) into the loop's
//!   provided-buffer ring; each completion's bytes go to the protocol
//!   straight from the ring buffer (`read.rs`).
//! - Writing: from the transport's own buffer, one [`Op::Send`] in flight
//!   at a time, everything written during a pass gathered into it
//!   (`write.rs`).
//! - Half-closing: one [`Op::Shutdown`] once the buffer has drained.
//! - Closing: the operations in flight are cancelled, and the descriptor
//!   closes only after the last final completion (the lifecycle counts
//!   them), so neither a buffer nor the descriptor's number is reused while
//!   the kernel may still act on it. Each operation in flight holds the
//!   transport (it is the operations' handler), so nothing it owns is
//!   freed before then either.

mod read;
mod write;

use std::rc::Rc;

use tulip_reactor::{Completion, Op, OpHandler, OpId};

use crate::error::Error;
use crate::ops::Slot;
use crate::stream::socket::SocketTransport;

pub(crate) use read::ReadState;
pub(crate) use write::WriteState;

/// The completion driver's state: the operations in flight and what waits
/// for them.
#[derive(Default)]
pub(crate) struct CompletionIo {
    read: ReadState,
    write: WriteState,
    /// The `Op::Shutdown` of `write_eof`, while in flight.
    shutdown: Slot,
}

impl CompletionIo {
    /// Starts (or resumes) reading: held data first, then the receive.
    pub(crate) fn start_reading(&self, t: &Rc<SocketTransport>) {
        read::start(self, t);
    }

    /// Stops reading: the multishot receive is cancelled; what completes
    /// before the cancel is held for `resume_reading`.
    pub(crate) fn stop_reading(&self, t: &SocketTransport) {
        self.read.slot.cancel(&t.lp);
    }

    /// Bytes written and not yet confirmed sent (in flight included).
    pub(crate) fn write_buffer_size(&self) -> usize {
        self.write.size()
    }

    /// `write()`: gathers `bufs` into the transport's buffer.
    pub(crate) fn queue_write(&self, t: &Rc<SocketTransport>, bufs: &[&[u8]], total: usize) {
        write::queue(self, t, bufs, total);
    }

    /// Drops the unsent data and cancels the send in flight.
    pub(crate) fn clear_writes(&self, t: &SocketTransport) {
        self.write.clear(t);
    }

    /// `write_eof` once drained: one shutdown operation.
    pub(crate) fn shutdown_write(&self, t: &Rc<SocketTransport>) {
        if self.shutdown.is_busy() {
            return;
        }
        let Some(fd) = t.lc.fd().map(|_| t.lc.raw()) else {
            return;
        };
        let op = Op::Shutdown {
            fd,
            how: std::net::Shutdown::Write,
        };
        match submit(t, op) {
            Ok(id) => self.shutdown.set(id),
            Err(e) => t.fatal_error(e, "Fatal error shutting down the write side"),
        }
    }

    /// The transport is released: every operation in flight is cancelled
    /// (the descriptor closes after their final completions).
    pub(crate) fn cancel_all(&self, t: &SocketTransport) {
        self.read.slot.cancel(&t.lp);
        self.write.slot.cancel(&t.lp);
        self.shutdown.cancel(&t.lp);
    }
}

/// Submits `op` with the transport as its handler.
pub(super) fn submit(t: &Rc<SocketTransport>, op: Op) -> Result<OpId, Error> {
    let handler: Rc<dyn OpHandler> = t.clone();
    t.lc.submit_op(op, handler)
}

/// Which of a transport's operations a completion belongs to.
#[derive(Clone, Copy)]
enum Which {
    Read,
    Write,
    Shutdown,
}

impl OpHandler for SocketTransport {
    fn complete(&self, completion: Completion) {
        let crate::stream::driver::Driver::Completion(io) = &self.io else {
            return;
        };
        let id = completion.id();
        let which = if io.read.slot.is(id) {
            Which::Read
        } else if io.write.slot.is(id) {
            Which::Write
        } else if io.shutdown.is(id) {
            Which::Shutdown
        } else {
            return;
        };
        let last = !completion.more();
        if last {
            // The slot is freed first, so what runs next may submit anew;
            // on a released transport the descriptor closes after the
            // last one.
            match which {
                Which::Read => io.read.slot.clear(),
                Which::Write => io.write.slot.clear(),
                Which::Shutdown => io.shutdown.clear(),
            }
            self.lc.op_finished();
        }
        // The operation holds the transport, so it is alive here.
        let Some(t) = self.this.upgrade() else { return };
        match which {
            Which::Read => read::completed(io, &t, completion, last),
            Which::Write => write::completed(io, &t, completion),
            // Its outcome changes nothing (as `shutdown(2)`'s on
            // readiness).
            Which::Shutdown => {}
        }
    }
}
