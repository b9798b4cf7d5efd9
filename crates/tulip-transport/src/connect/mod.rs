//! Making connections (asyncio's `create_connection` and its helpers):
//! the connection setup and its options, Happy Eyeballs, and DNS.

pub(crate) mod connection;
pub(crate) mod dns;
pub(crate) mod happy_eyeballs;
pub(crate) mod options;
