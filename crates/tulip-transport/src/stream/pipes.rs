//! Pipe transports (asyncio's `connect_read_pipe` and
//! `connect_write_pipe`): the stream transport over a pipe end, reading
//! with `read` or writing with `write`.

use std::os::fd::OwnedFd;

use tulip_executor::Loop;

use crate::error::Result;
use crate::protocols::ProtocolFactory;
use crate::stream::socket::Kind;
use crate::stream::start::start_transport;
use crate::transports::Connection;

/// `connect_read_pipe`.
pub(crate) async fn connect_read_pipe<F: ProtocolFactory>(
    lp: &Loop,
    mut factory: F,
    pipe: OwnedFd,
) -> Result<Connection<F::Protocol>> {
    Ok(start_transport(lp, pipe, Kind::ReadPipe, &mut factory)
        .await?
        .1)
}

/// `connect_write_pipe`.
pub(crate) async fn connect_write_pipe<F: ProtocolFactory>(
    lp: &Loop,
    mut factory: F,
    pipe: OwnedFd,
) -> Result<Connection<F::Protocol>> {
    Ok(start_transport(lp, pipe, Kind::WritePipe, &mut factory)
        .await?
        .1)
}
