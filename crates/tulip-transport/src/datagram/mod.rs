//! Datagram endpoints (asyncio's `_SelectorDatagramTransport` and
//! `create_datagram_endpoint`): the options and opening of the socket, the
//! endpoint's lifecycle and its two I/O drivers (readiness, completions).

pub(crate) mod completion;
pub(crate) mod options;
pub(crate) mod protocol;
pub(crate) mod readiness;
pub(crate) mod transport;
