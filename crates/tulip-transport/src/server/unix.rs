//! Unix-domain stream sockets: asyncio's `create_unix_connection` and
//! `create_unix_server`.
//!
//! A path starting with a NUL byte names Linux's abstract namespace (no
//! file), as in asyncio; see [`UnixAddr::from_asyncio`].

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::time::Duration;

use rustix::io::Errno;
use rustix::net::{AddressFamily, SocketType, sockopt};
use tulip_executor::Loop;

use crate::address::{SockAddr, UnixAddr};
use crate::error::{Error, Result, bind_error};
use crate::protocols::ProtocolFactory;
use crate::server::base::{Listener, Server};
use crate::sock;
use crate::sock::{check_stream_socket, remove_stale_socket};
use crate::stream::socket::Kind;
use crate::tls::options::{TlsClientConfig, TlsServerConfig};
use crate::tls::transport::{TlsStart, start_connection};
use crate::transports::Connection;

/// The longest pause between two connection attempts to a Unix server
/// whose backlog is full.
const MAX_CONNECT_BACKOFF: Duration = Duration::from_millis(50);

/// Options of
/// [`LoopNetExt::create_unix_connection`](crate::LoopNetExt::create_unix_connection).
///
/// ```
/// use std::os::unix::net::UnixStream;
/// use tulip::transport::UnixConnectOptions;
///
/// let (a, _b) = UnixStream::pair()?;
/// let options = UnixConnectOptions::new().sock(a.into());
/// assert!(options.sock.is_some());
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct UnixConnectOptions {
    /// An already connected Unix stream socket to use instead of
    /// connecting (the path must then be `None`).
    pub sock: Option<OwnedFd>,
    /// Speak TLS with this configuration (asyncio's `ssl`); needs
    /// [`server_hostname`](UnixConnectOptions::server_hostname).
    pub tls: Option<TlsClientConfig>,
    /// The name the server's certificate must be valid for, also sent as
    /// SNI. Required with `tls` (a path is no host name); an empty name
    /// is an error, never a way to skip verification.
    pub server_hostname: Option<String>,
    /// How long the TLS handshake may take (default 60 s; TLS only).
    pub ssl_handshake_timeout: Option<Duration>,
    /// How long closing waits for the peer's close_notify (default 30 s;
    /// TLS only).
    pub ssl_shutdown_timeout: Option<Duration>,
}

impl UnixConnectOptions {
    /// The default options.
    pub fn new() -> UnixConnectOptions {
        UnixConnectOptions::default()
    }

    /// Sets [`sock`](UnixConnectOptions::sock).
    pub fn sock(mut self, sock: OwnedFd) -> UnixConnectOptions {
        self.sock = Some(sock);
        self
    }

    /// Sets [`tls`](UnixConnectOptions::tls).
    pub fn tls(mut self, config: TlsClientConfig) -> UnixConnectOptions {
        self.tls = Some(config);
        self
    }

    /// Sets [`server_hostname`](UnixConnectOptions::server_hostname).
    pub fn server_hostname(mut self, name: impl Into<String>) -> UnixConnectOptions {
        self.server_hostname = Some(name.into());
        self
    }

    /// Sets [`ssl_handshake_timeout`](UnixConnectOptions::ssl_handshake_timeout).
    pub fn ssl_handshake_timeout(mut self, timeout: Duration) -> UnixConnectOptions {
        self.ssl_handshake_timeout = Some(timeout);
        self
    }

    /// Sets [`ssl_shutdown_timeout`](UnixConnectOptions::ssl_shutdown_timeout).
    pub fn ssl_shutdown_timeout(mut self, timeout: Duration) -> UnixConnectOptions {
        self.ssl_shutdown_timeout = Some(timeout);
        self
    }
}

/// Options of
/// [`LoopNetExt::create_unix_server`](crate::LoopNetExt::create_unix_server).
/// `None` fields take asyncio's defaults.
///
/// ```
/// use tulip::transport::UnixServerOptions;
///
/// let options = UnixServerOptions::new().backlog(16).cleanup_socket(false);
/// assert_eq!(options.cleanup_socket, Some(false));
/// ```
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct UnixServerOptions {
    /// An already bound Unix stream socket to serve on instead of binding
    /// one (the path must then be `None`).
    pub sock: Option<OwnedFd>,
    /// The `listen()` backlog, and the most connections accepted per
    /// readiness. Default 100.
    pub backlog: Option<u32>,
    /// Start accepting connections at once. Default true.
    pub start_serving: Option<bool>,
    /// Remove the socket file when the server closes, if it is still the
    /// file the server bound (same device and inode). Default true
    /// (asyncio 3.13's `cleanup_socket`).
    pub cleanup_socket: Option<bool>,
    /// Speak TLS on every connection with this configuration (asyncio's
    /// `ssl`): each connection's protocol gets `connection_made` once its
    /// handshake is done; a failed handshake only closes that connection.
    pub tls: Option<TlsServerConfig>,
    /// How long a connection's TLS handshake may take before it is
    /// aborted (default 60 s; TLS only).
    pub ssl_handshake_timeout: Option<Duration>,
    /// How long closing waits for the peer's close_notify (default 30 s;
    /// TLS only).
    pub ssl_shutdown_timeout: Option<Duration>,
}

impl UnixServerOptions {
    /// The default options.
    pub fn new() -> UnixServerOptions {
        UnixServerOptions::default()
    }

    /// Sets [`sock`](UnixServerOptions::sock).
    pub fn sock(mut self, sock: OwnedFd) -> UnixServerOptions {
        self.sock = Some(sock);
        self
    }

    /// Sets [`backlog`](UnixServerOptions::backlog).
    pub fn backlog(mut self, backlog: u32) -> UnixServerOptions {
        self.backlog = Some(backlog);
        self
    }

    /// Sets [`start_serving`](UnixServerOptions::start_serving).
    pub fn start_serving(mut self, start: bool) -> UnixServerOptions {
        self.start_serving = Some(start);
        self
    }

    /// Sets [`cleanup_socket`](UnixServerOptions::cleanup_socket).
    pub fn cleanup_socket(mut self, cleanup: bool) -> UnixServerOptions {
        self.cleanup_socket = Some(cleanup);
        self
    }

    /// Sets [`tls`](UnixServerOptions::tls).
    pub fn tls(mut self, config: TlsServerConfig) -> UnixServerOptions {
        self.tls = Some(config);
        self
    }

    /// Sets [`ssl_handshake_timeout`](UnixServerOptions::ssl_handshake_timeout).
    pub fn ssl_handshake_timeout(mut self, timeout: Duration) -> UnixServerOptions {
        self.ssl_handshake_timeout = Some(timeout);
        self
    }

    /// Sets [`ssl_shutdown_timeout`](UnixServerOptions::ssl_shutdown_timeout).
    pub fn ssl_shutdown_timeout(mut self, timeout: Duration) -> UnixServerOptions {
        self.ssl_shutdown_timeout = Some(timeout);
        self
    }
}

/// `create_unix_connection`.
pub(crate) async fn create_unix_connection<F: ProtocolFactory>(
    lp: &Loop,
    mut factory: F,
    path: Option<&Path>,
    mut options: UnixConnectOptions,
) -> Result<Connection<F::Protocol>> {
    let tls = TlsStart::client(
        options.tls.take(),
        options.server_hostname.take(),
        "",
        options.ssl_handshake_timeout,
        options.ssl_shutdown_timeout,
    )?;
    let sock = match (options.sock.take(), path) {
        (Some(_), Some(_)) => return Err(both_path_and_sock()),
        (None, None) => {
            return Err(Error::InvalidInput(String::from(
                "no path and sock were specified",
            )));
        }
        (Some(sock), None) => {
            check_unix_stream(&sock)?;
            sock
        }
        (None, Some(path)) => connect(lp, &UnixAddr::from_asyncio(path)).await?,
    };
    start_connection(lp, sock, Kind::Socket, &mut factory, tls).await
}

/// A new socket connected to `addr`, without blocking the loop.
pub(crate) async fn connect(lp: &Loop, addr: &UnixAddr) -> Result<OwnedFd> {
    let addr = addr.to_rustix()?;
    let fd = sock::new_socket(AddressFamily::UNIX, SocketType::STREAM)?;
    let mut backoff = Duration::from_millis(1);
    loop {
        match rustix::net::connect(&fd, &addr) {
            Ok(()) => return Ok(fd),
            Err(Errno::INTR) => {}
            Err(Errno::INPROGRESS) => {
                sock::wait_fd(lp, fd.as_fd(), false).await?;
                sockopt::socket_error(&fd)?.map_err(Error::from)?;
                return Ok(fd);
            }
            // The server's backlog is full. Readiness says nothing about
            // that on a Unix socket, so try again after a pause, as a
            // blocking connect would wait.
            Err(Errno::AGAIN) => {
                tulip_executor::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_CONNECT_BACKOFF);
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// `create_unix_server`.
pub(crate) async fn create_unix_server<F: ProtocolFactory>(
    lp: &Loop,
    factory: F,
    path: Option<&Path>,
    mut options: UnixServerOptions,
) -> Result<Server> {
    let tls = TlsStart::server(
        options.tls.take(),
        options.ssl_handshake_timeout,
        options.ssl_shutdown_timeout,
    )?;
    let cleanup = options.cleanup_socket.unwrap_or(true);
    let listener = match (options.sock.take(), path) {
        (Some(_), Some(_)) => return Err(both_path_and_sock()),
        (None, None) => {
            return Err(Error::InvalidInput(String::from(
                "path was not specified, and no sock specified",
            )));
        }
        (Some(sock), None) => {
            check_unix_stream(&sock)?;
            sock::set_nonblocking(sock.as_fd())?;
            let bound = match sock::local_addr(sock.as_fd()) {
                Some(SockAddr::Unix(UnixAddr::Path(p))) => Some(p),
                _ => None,
            };
            let listener = Listener::new(sock);
            match bound {
                Some(p) if cleanup => listener.remove_file_on_close(p),
                _ => listener,
            }
        }
        (None, Some(path)) => {
            let addr = UnixAddr::from_asyncio(path);
            let raw = addr.to_rustix()?;
            if let UnixAddr::Path(p) = &addr {
                remove_stale_socket(p);
            }
            let fd = sock::new_socket(AddressFamily::UNIX, SocketType::STREAM)?;
            rustix::net::bind(&fd, &raw).map_err(|e| bind_error(&addr, e.into()))?;
            let listener = Listener::new(fd);
            match addr {
                UnixAddr::Path(p) if cleanup => listener.remove_file_on_close(p),
                _ => listener,
            }
        }
    };
    match tls {
        None => {
            Server::launch(
                lp,
                vec![listener],
                factory,
                options.backlog,
                options.start_serving,
                None,
            )
            .await
        }
        Some(tls) => {
            Server::launch(
                lp,
                vec![listener],
                tls.server_factory(lp, factory),
                options.backlog,
                options.start_serving,
                None,
            )
            .await
        }
    }
}

fn both_path_and_sock() -> Error {
    Error::InvalidInput(String::from(
        "path and sock can not be specified at the same time",
    ))
}

/// Checks that `sock` is a Unix-domain stream socket.
fn check_unix_stream(sock: &OwnedFd) -> Result<()> {
    check_stream_socket(sock)?;
    match sockopt::socket_domain(sock)? {
        AddressFamily::UNIX => Ok(()),
        other => Err(Error::InvalidInput(format!(
            "a Unix-domain socket was expected, got {other:?}"
        ))),
    }
}
