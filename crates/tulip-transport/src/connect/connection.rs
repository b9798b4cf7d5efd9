//! Opening client connections (asyncio's `create_connection` and
//! `connect_accepted_socket`), and the one place where a connected
//! descriptor becomes a running transport.

use std::os::fd::OwnedFd;
use std::rc::Rc;

use tulip_executor::Loop;

use crate::error::{Error, Result};
use crate::loop_ext::Connection;
use crate::protocols::ProtocolFactory;
use crate::stream::socket::{Kind, SocketTransport};

pub use crate::connect::options::{AcceptedSocketOptions, ConnectOptions};
use crate::tls::transport::{TlsStart, start_connection};

/// Makes the protocol, wraps `fd` in a transport, and waits for
/// `connection_made` to have run. If the factory fails, `fd` is closed;
/// if this future is dropped first, or `connection_made` fails, the
/// transport is aborted (the descriptor is closed): nothing leaks.
pub(crate) async fn start_transport<F: ProtocolFactory>(
    lp: &Loop,
    fd: OwnedFd,
    kind: Kind,
    factory: &mut F,
) -> Result<(Rc<SocketTransport>, Connection<F::Protocol>)> {
    let (protocol, shared) = factory.build()?;
    let transport = SocketTransport::new(lp, fd, kind, shared)?;
    let waiter = transport.start()?;
    let guard = AbortOnDrop(Some(transport.clone()));
    waiter.await.map_err(Error::from)?;
    let transport = guard.disarm();
    let handle = transport.handle();
    Ok((transport, (handle, protocol)))
}

/// Aborts a transport unless disarmed (a cancelled connection setup).
struct AbortOnDrop(Option<Rc<SocketTransport>>);

impl AbortOnDrop {
    fn disarm(mut self) -> Rc<SocketTransport> {
        self.0.take().expect("armed until disarmed")
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(t) = self.0.take() {
            t.force_close(Some(Error::Loop(tulip_executor::Error::Cancelled)));
        }
    }
}

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

/// Checks that `sock` is a stream socket (asyncio's "A Stream Socket was
/// expected" ValueError).
pub(crate) fn check_stream_socket(sock: &OwnedFd) -> Result<()> {
    match rustix::net::sockopt::socket_type(sock) {
        Ok(rustix::net::SocketType::STREAM) => Ok(()),
        Ok(other) => Err(Error::InvalidInput(format!(
            "a stream socket was expected, got {other:?}"
        ))),
        Err(e) => Err(e.into()),
    }
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
