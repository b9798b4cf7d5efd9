//! TLS over any stream transport (asyncio's `sslproto`): the rustls state
//! machine layered as the socket's protocol, the application's transport
//! over it, its configuration and errors, and what a session reports.

pub(crate) mod error;
pub(crate) mod info;
pub(crate) mod options;
pub(crate) mod sslproto;
pub(crate) mod transport;
