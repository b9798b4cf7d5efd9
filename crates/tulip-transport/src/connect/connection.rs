//! Opening client connections (asyncio's `create_connection` and
//! `connect_accepted_socket`).

use std::os::fd::OwnedFd;

use tulip_executor::Loop;

use crate::error::{Error, Result};
use crate::protocols::ProtocolFactory;
use crate::sock::check_stream_socket;
use crate::stream::socket::Kind;
use crate::transports::Connection;

use crate::connect::options::{AcceptedSocketOptions, ConnectOptions};
use crate::tls::transport::{TlsStart, start_connection};

/// `connect_accepted_socket`: the socket must be a connected stream socket.
pub(crate) async fn connect_accepted_socket<F: ProtocolFactory>(
    lp: &Loop,
    mut factory: F,
    sock: OwnedFd,
    options: AcceptedSocketOptions,
) -> Result<Connection<F::Protocol>> {
    let tls = TlsStart::server(
        options.tls,
        options.ssl_handshake_timeout,
        options.ssl_shutdown_timeout,
    )?;
    check_stream_socket(&sock)?;
    start_connection(lp, sock, Kind::Socket, &mut factory, tls).await
}

/// `create_connection`.
pub(crate) async fn create_connection<F: ProtocolFactory>(
    lp: &Loop,
    mut factory: F,
    host: &str,
    port: u16,
    mut options: ConnectOptions,
) -> Result<Connection<F::Protocol>> {
    let tls = TlsStart::client(
        options.tls.take(),
        options.server_hostname.take(),
        host,
        options.ssl_handshake_timeout,
        options.ssl_shutdown_timeout,
    )?;
    if let Some(sock) = options.sock.take() {
        if !host.is_empty() || port != 0 {
            return Err(Error::InvalidInput(String::from(
                "host/port and sock can not be specified at the same time",
            )));
        }
        check_stream_socket(&sock)?;
        return start_connection(lp, sock, Kind::Socket, &mut factory, tls).await;
    }
    let sock = crate::connect::happy_eyeballs::connect(lp, host, port, &options).await?;
    start_connection(lp, sock, Kind::Socket, &mut factory, tls).await
}
