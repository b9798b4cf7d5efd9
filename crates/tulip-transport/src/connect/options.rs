//! Options of `create_connection` and `connect_accepted_socket`
//! (asyncio's keyword arguments).

use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::time::Duration;

use crate::address::AddressFamily;
use crate::tls::options::{TlsClientConfig, TlsServerConfig};

/// Options of [`LoopNetExt::create_connection`](crate::LoopNetExt::create_connection).
///
/// ```
/// use std::time::Duration;
/// use tulip::transport::{BaseProtocol, ConnectOptions, LoopNetExt, Protocol};
///
/// struct Quiet;
/// impl BaseProtocol for Quiet {}
/// impl Protocol for Quiet {}
///
/// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
/// let port = listener.local_addr()?.port();
/// let event_loop = tulip::EventLoop::new()?;
/// let lp = event_loop.handle();
/// let options = ConnectOptions::new()
///     .happy_eyeballs_delay(Duration::from_millis(250))
///     .all_errors(true);
/// let (transport, _protocol) = event_loop.run_until_complete(async move {
///     lp.create_connection(|| Quiet, "localhost", port, options).await
/// })??;
/// assert_eq!(transport.peer_addr().and_then(|a| a.as_inet()), Some(listener.local_addr()?));
/// transport.close();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct ConnectOptions {
    /// An already connected stream socket to use instead of connecting
    /// (host must then be empty and port 0).
    pub sock: Option<OwnedFd>,
    /// Bind the socket to this local address before connecting.
    pub local_addr: Option<SocketAddr>,
    /// Happy Eyeballs (RFC 8305): start the next attempt after this delay
    /// while earlier ones are still pending (RFC 8305 recommends 250 ms).
    /// `None`: attempts are sequential.
    pub happy_eyeballs_delay: Option<Duration>,
    /// Reorder the resolved addresses by family, interleaving families
    /// with this "first address family count" (asyncio's `interleave`).
    /// Defaults to 1 when `happy_eyeballs_delay` is set.
    pub interleave: Option<usize>,
    /// On failure, report every attempt's error
    /// ([`Error::AllAttemptsFailed`](crate::Error::AllAttemptsFailed))
    /// instead of a single one.
    pub all_errors: bool,
    /// Only connect to addresses of this family (asyncio's `family`;
    /// `None`: any).
    pub family: Option<AddressFamily>,
    /// The protocol given to `getaddrinfo` (asyncio's `proto`; 0: any).
    pub proto: i32,
    /// `AI_*` flags given to `getaddrinfo` (asyncio's `flags`; see
    /// [`AddrInfoOptions`](crate::AddrInfoOptions)).
    pub flags: i32,
    /// Speak TLS with this configuration (asyncio's `ssl`): the returned
    /// transport is the TLS layer, and the call returns once the
    /// handshake is done. The server's certificate is verified for
    /// [`server_hostname`](ConnectOptions::server_hostname).
    pub tls: Option<TlsClientConfig>,
    /// The name the server's certificate must be valid for, also sent as
    /// SNI (asyncio's `server_hostname`). Default: the host connected to;
    /// required with [`sock`](ConnectOptions::sock). An empty name is
    /// [`Error::InvalidInput`](crate::Error::InvalidInput): it never turns
    /// verification off.
    pub server_hostname: Option<String>,
    /// How long the TLS handshake may take before the connection is
    /// aborted (default 60 s; TLS only).
    pub ssl_handshake_timeout: Option<Duration>,
    /// How long closing waits for the peer's close_notify before the
    /// connection is aborted (default 30 s; TLS only).
    pub ssl_shutdown_timeout: Option<Duration>,
}

impl ConnectOptions {
    /// The default options.
    pub fn new() -> ConnectOptions {
        ConnectOptions::default()
    }

    /// Sets [`sock`](ConnectOptions::sock).
    pub fn sock(mut self, sock: OwnedFd) -> ConnectOptions {
        self.sock = Some(sock);
        self
    }

    /// Sets [`local_addr`](ConnectOptions::local_addr).
    pub fn local_addr(mut self, addr: SocketAddr) -> ConnectOptions {
        self.local_addr = Some(addr);
        self
    }

    /// Sets [`happy_eyeballs_delay`](ConnectOptions::happy_eyeballs_delay).
    pub fn happy_eyeballs_delay(mut self, delay: Duration) -> ConnectOptions {
        self.happy_eyeballs_delay = Some(delay);
        self
    }

    /// Sets [`interleave`](ConnectOptions::interleave).
    pub fn interleave(mut self, interleave: usize) -> ConnectOptions {
        self.interleave = Some(interleave);
        self
    }

    /// Sets [`all_errors`](ConnectOptions::all_errors).
    pub fn all_errors(mut self, all_errors: bool) -> ConnectOptions {
        self.all_errors = all_errors;
        self
    }

    /// Sets [`family`](ConnectOptions::family).
    pub fn family(mut self, family: AddressFamily) -> ConnectOptions {
        self.family = Some(family);
        self
    }

    /// Sets [`proto`](ConnectOptions::proto).
    pub fn proto(mut self, proto: i32) -> ConnectOptions {
        self.proto = proto;
        self
    }

    /// Sets [`flags`](ConnectOptions::flags).
    pub fn flags(mut self, flags: i32) -> ConnectOptions {
        self.flags = flags;
        self
    }

    /// Sets [`tls`](ConnectOptions::tls).
    pub fn tls(mut self, config: TlsClientConfig) -> ConnectOptions {
        self.tls = Some(config);
        self
    }

    /// Sets [`server_hostname`](ConnectOptions::server_hostname).
    pub fn server_hostname(mut self, name: impl Into<String>) -> ConnectOptions {
        self.server_hostname = Some(name.into());
        self
    }

    /// Sets [`ssl_handshake_timeout`](ConnectOptions::ssl_handshake_timeout).
    pub fn ssl_handshake_timeout(mut self, timeout: Duration) -> ConnectOptions {
        self.ssl_handshake_timeout = Some(timeout);
        self
    }

    /// Sets [`ssl_shutdown_timeout`](ConnectOptions::ssl_shutdown_timeout).
    pub fn ssl_shutdown_timeout(mut self, timeout: Duration) -> ConnectOptions {
        self.ssl_shutdown_timeout = Some(timeout);
        self
    }
}

/// Options of
/// [`LoopNetExt::connect_accepted_socket`](crate::LoopNetExt::connect_accepted_socket)
/// (asyncio's keyword arguments).
///
/// ```
/// use std::time::Duration;
/// use tulip::transport::AcceptedSocketOptions;
///
/// let options = AcceptedSocketOptions::new().ssl_handshake_timeout(Duration::from_secs(5));
/// assert!(options.tls.is_none());
/// ```
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct AcceptedSocketOptions {
    /// Speak TLS as the server, with this configuration (asyncio's
    /// `ssl`, with which the accepted socket is the server side).
    pub tls: Option<TlsServerConfig>,
    /// How long the TLS handshake may take (default 60 s; TLS only).
    pub ssl_handshake_timeout: Option<Duration>,
    /// How long closing waits for the peer's close_notify (default 30 s;
    /// TLS only).
    pub ssl_shutdown_timeout: Option<Duration>,
}

impl AcceptedSocketOptions {
    /// The default options: no TLS.
    pub fn new() -> AcceptedSocketOptions {
        AcceptedSocketOptions::default()
    }

    /// Sets [`tls`](AcceptedSocketOptions::tls).
    pub fn tls(mut self, config: TlsServerConfig) -> AcceptedSocketOptions {
        self.tls = Some(config);
        self
    }

    /// Sets [`ssl_handshake_timeout`](AcceptedSocketOptions::ssl_handshake_timeout).
    pub fn ssl_handshake_timeout(mut self, timeout: Duration) -> AcceptedSocketOptions {
        self.ssl_handshake_timeout = Some(timeout);
        self
    }

    /// Sets [`ssl_shutdown_timeout`](AcceptedSocketOptions::ssl_shutdown_timeout).
    pub fn ssl_shutdown_timeout(mut self, timeout: Duration) -> AcceptedSocketOptions {
        self.ssl_shutdown_timeout = Some(timeout);
        self
    }
}
