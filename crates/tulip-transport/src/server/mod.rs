//! Servers (asyncio's `Server` and `create_server`): the listening
//! sockets and their options, the accept loop, and the Unix-socket
//! server and connection.

pub(crate) mod accept;
pub(crate) mod base;
pub(crate) mod options;
pub(crate) mod unix;
