//! The stream transport over a socket or pipe descriptor (asyncio's
//! `_SelectorSocketTransport` and Unix pipe transports): the transport's
//! lifecycle, its I/O drivers (readiness, completions), the thread's shared
//! read buffer and the buffered read, the pipe entry points, and
//! `sendfile`.

pub(crate) mod completion;
pub(crate) mod driver;
pub(crate) mod pipes;
pub(crate) mod readbuf;
pub(crate) mod readiness;
pub(crate) mod sendfile;
pub(crate) mod socket;
pub(crate) mod start;
pub(crate) mod writebuf;
