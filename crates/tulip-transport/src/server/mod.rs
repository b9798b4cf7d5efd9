//! Servers (asyncio's `Server` and `create_server`): the listening
//! sockets and their options, the accept loop, and the Unix-socket
//! server and connection, and the balanced acceptor that shares one
//! listening socket between the servers of several loops.

pub(crate) mod accept;
pub(crate) mod accept_ops;
pub(crate) mod balance;
pub(crate) mod base;
pub(crate) mod listener;
pub(crate) mod options;
pub(crate) mod unix;
