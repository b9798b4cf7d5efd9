//! Datagram endpoints (asyncio's `_SelectorDatagramTransport` and
//! `create_datagram_endpoint`): the options and opening of the socket, and
//! the transport.

pub(crate) mod options;
pub(crate) mod protocol;
pub(crate) mod transport;
