//! The I/O driver seam of the stream transport: the one lifecycle in
//! `socket.rs` moves bytes through a driver chosen when the transport is
//! made.
//!
//! - The readiness driver (`readiness.rs`) waits for the descriptor to be
//!   readable or writable (epoll, polling) and makes the non-blocking
//!   system calls itself. Its state is the write buffer.
//! - The completion driver (`completion/`) submits operations to the
//!   loop's io_uring (a multishot receive into the loop's buffer ring, one
//!   send at a time from the transport's own buffer, a shutdown) and acts
//!   on their completions. It runs when the loop has completions
//!   ([`Loop::has_completions`]) and the descriptor is a stream socket;
//!   pipes stay on readiness (the loop's poll operations under io_uring).

use std::cell::RefCell;

use tulip_executor::Loop;

use crate::stream::completion::CompletionIo;
use crate::stream::socket::Kind;
use crate::stream::writebuf::WriteBuffer;

/// How a stream transport moves its bytes.
pub(crate) enum Driver {
    /// Readiness watches and non-blocking calls; what the socket did not
    /// take yet.
    Readiness(RefCell<WriteBuffer>),
    /// Operations submitted to the loop's io_uring.
    Completion(CompletionIo),
}

impl Driver {
    /// The driver for a transport of `kind` on `lp`; `stream`: the
    /// descriptor is a stream socket.
    pub(crate) fn choose(lp: &Loop, kind: Kind, stream: bool) -> Driver {
        if kind == Kind::Socket && stream && lp.has_completions() {
            Driver::Completion(CompletionIo::default())
        } else {
            Driver::Readiness(RefCell::new(WriteBuffer::default()))
        }
    }
}
