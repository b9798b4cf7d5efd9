//! The application's side of TLS: the TLS layer as a [`TransportImpl`]
//! (with [`TlsInfo`] and asyncio's SSL extra info), and the ways a TLS
//! connection starts: a client or server connection
//! (`create_connection`, `create_server`, their Unix twins,
//! `connect_accepted_socket`) and `start_tls` over an existing one.
//!
//! ## Extra info
//!
//! | `get_extra_info` key | value |
//! |---|---|
//! | `"peercert"` | the peer's certificate, DER ([`ExtraInfo::Bytes`]); asyncio gives `getpeercert()`'s dict |
//! | `"peercert_chain"` | the peer's chain, DER, its own certificate first ([`ExtraInfo::List`]) |
//! | `"cipher"` | the cipher suite's IANA name, e.g. `TLS13_AES_256_GCM_SHA384` ([`ExtraInfo::Text`]) |
//! | `"tls_version"` | `"TLSv1.2"` or `"TLSv1.3"`, as Python's `SSLObject.version()` |
//! | `"alpn_protocol"` | the negotiated ALPN protocol ([`ExtraInfo::Bytes`]) |
//! | `"server_hostname"` | the SNI name: sent (client) or received (server) |
//! | `"compression"` | always `None`: TLS compression is never used |
//! | `"sslcontext"`, `"ssl_object"` | `None`: [`Transport::tls_info`] and the configuration types stand for them |
//! | `"peername"`, `"sockname"`, `"socket"` | the transport underneath's |

use std::any::Any;
use std::cell::RefCell;
use std::os::fd::OwnedFd;
use std::rc::Rc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use tulip_executor::Loop;

use crate::error::{Error, Result};
use crate::protocols::{BaseProtocol, Protocol, ProtocolFactory, ProtocolRef};
use crate::stream::socket::Kind;
use crate::stream::start::start_transport;
use crate::tls::info::TlsInfo;
use crate::tls::options::{
    SSL_HANDSHAKE_TIMEOUT, SSL_SHUTDOWN_TIMEOUT, StartTlsOptions, TlsClientConfig, TlsConfig,
    TlsServerConfig, check_timeout, server_name, tls_error,
};
use crate::tls::sslproto::{SslProtocol, State, TlsSetup};
use crate::transports::Connection;
use crate::transports::{DEFAULT_HIGH_WATER, ExtraInfo, FlowControl, Transport, TransportImpl};

impl SslProtocol {
    /// What the session negotiated so far.
    pub(crate) fn info(&self) -> Option<TlsInfo> {
        let conn = self.conn.try_borrow().ok()?;
        let (server_side, server_name) = match &*conn {
            rustls::Connection::Client(_) => (false, self.server_hostname.clone()),
            rustls::Connection::Server(s) => (true, s.server_name().map(str::to_owned)),
        };
        let protocol_version = conn.protocol_version().map(|v| {
            match v {
                rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3",
                rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2",
                _ => "unknown",
            }
            .to_owned()
        });
        Some(TlsInfo {
            server_side,
            handshake_complete: !conn.is_handshaking(),
            protocol_version,
            cipher: conn.negotiated_cipher_suite().map(|s| {
                s.suite()
                    .as_str()
                    .map_or_else(|| format!("{:?}", s.suite()), str::to_owned)
            }),
            alpn_protocol: conn.alpn_protocol().map(<[u8]>::to_vec),
            server_name,
            peer_certificates: conn
                .peer_certificates()
                .map(|certs| certs.iter().map(|c| c.to_vec()).collect())
                .unwrap_or_default(),
        })
    }
}

impl TransportImpl for SslProtocol {
    fn close(&self) {
        if let Some(t) = self.this.upgrade() {
            t.app_close();
        }
    }

    fn is_closing(&self) -> bool {
        self.closing.get() || self.state.get() == State::Closed
    }

    fn get_extra_info(&self, name: &str) -> Option<ExtraInfo> {
        let tls = |f: fn(TlsInfo) -> Option<ExtraInfo>| self.info().and_then(f);
        match name {
            "peercert" => tls(|i| i.peer_certificates.into_iter().next().map(ExtraInfo::Bytes)),
            "peercert_chain" => tls(|i| {
                (!i.peer_certificates.is_empty()).then_some(ExtraInfo::List(i.peer_certificates))
            }),
            "cipher" => tls(|i| i.cipher.map(ExtraInfo::Text)),
            "tls_version" => tls(|i| i.protocol_version.map(ExtraInfo::Text)),
            "alpn_protocol" => tls(|i| i.alpn_protocol.map(ExtraInfo::Bytes)),
            "server_hostname" => tls(|i| i.server_name.map(ExtraInfo::Text)),
            "compression" | "sslcontext" | "ssl_object" => None,
            _ => self.socket.borrow().as_ref()?.get_extra_info(name),
        }
    }

    fn set_protocol(&self, protocol: ProtocolRef) {
        if !self.lost.get() {
            *self.app.borrow_mut() = Some(protocol);
        }
    }

    fn get_protocol(&self) -> Option<ProtocolRef> {
        self.app.borrow().clone()
    }

    fn is_reading(&self) -> bool {
        self.app_is_reading()
    }

    fn pause_reading(&self) {
        if !self.is_closing() {
            self.app_paused.set(true);
        }
    }

    fn resume_reading(&self) {
        if self.app_paused.replace(false) {
            if let Some(t) = self.this.upgrade() {
                t.schedule_resume();
            }
        }
    }

    fn write(&self, data: &[u8]) -> Result<()> {
        match self.this.upgrade() {
            Some(t) => t.app_write(&[data]),
            None => Ok(()),
        }
    }

    fn writelines(&self, bufs: &[&[u8]]) -> Result<()> {
        match self.this.upgrade() {
            Some(t) => t.app_write(bufs),
            None => Ok(()),
        }
    }

    fn write_eof(&self) -> Result<()> {
        Err(Error::Unsupported(
            "write_eof over TLS: TLS has no half-close (close() sends close_notify)",
        ))
    }

    fn can_write_eof(&self) -> bool {
        false
    }

    fn abort(&self) {
        if let Some(t) = self.this.upgrade() {
            t.app_abort();
        }
    }

    fn get_write_buffer_size(&self) -> usize {
        self.write_buffer_size()
    }

    fn get_write_buffer_limits(&self) -> (usize, usize) {
        match &*self.socket.borrow() {
            Some(s) => s.get_write_buffer_limits(),
            None => (DEFAULT_HIGH_WATER / 4, DEFAULT_HIGH_WATER),
        }
    }

    fn set_write_buffer_limits(&self, high: Option<usize>, low: Option<usize>) -> Result<()> {
        let socket = self.socket.borrow().clone();
        match socket {
            Some(s) => s.set_write_buffer_limits(high, low),
            // Validate all the same.
            None => FlowControl::default().set_limits(high, low),
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn tls_info(&self) -> Option<TlsInfo> {
        self.info()
    }
}

/// A checked TLS start: which side, its configuration, the timeouts.
pub(crate) struct TlsStart {
    side: Side,
    handshake_timeout: Duration,
    shutdown_timeout: Duration,
}

enum Side {
    Client {
        config: TlsClientConfig,
        name: ServerName<'static>,
        hostname: String,
    },
    Server(TlsServerConfig),
}

impl TlsStart {
    /// The client side of a connection call: `tls` with `server_hostname`
    /// (by default `host`, the host connected to; `""` when there is
    /// none) and the timeouts; `None` when `tls` is, after checking that
    /// no TLS-only option is set.
    ///
    /// Errors: [`Error::InvalidInput`] for a TLS-only option without
    /// `tls`, a missing or empty server name, a zero timeout.
    pub(crate) fn client(
        tls: Option<TlsClientConfig>,
        server_hostname: Option<String>,
        host: &str,
        handshake_timeout: Option<Duration>,
        shutdown_timeout: Option<Duration>,
    ) -> Result<Option<TlsStart>> {
        let Some(config) = tls else {
            if server_hostname.is_some() {
                return Err(Error::InvalidInput(String::from(
                    "server_hostname is only meaningful with tls",
                )));
            }
            not_without_tls(handshake_timeout, shutdown_timeout)?;
            return Ok(None);
        };
        let hostname = match server_hostname {
            Some(name) => name,
            None if !host.is_empty() => host.to_owned(),
            None => {
                return Err(Error::InvalidInput(String::from(
                    "you have to pass server_hostname when using tls without a host",
                )));
            }
        };
        let name = server_name(&hostname)?;
        let side = Side::Client {
            config,
            name,
            hostname,
        };
        TlsStart::with_timeouts(side, handshake_timeout, shutdown_timeout).map(Some)
    }

    /// The server side: `tls` and the timeouts; `None` when `tls` is,
    /// after checking that no timeout is set.
    ///
    /// Errors: [`Error::InvalidInput`] for a timeout without `tls` or a
    /// zero one; [`Error::Tls`] when rustls refuses the configuration.
    pub(crate) fn server(
        tls: Option<TlsServerConfig>,
        handshake_timeout: Option<Duration>,
        shutdown_timeout: Option<Duration>,
    ) -> Result<Option<TlsStart>> {
        let Some(config) = tls else {
            not_without_tls(handshake_timeout, shutdown_timeout)?;
            return Ok(None);
        };
        // A configuration rustls refuses fails here, not per connection.
        rustls::ServerConnection::new(config.rustls_config().clone()).map_err(tls_error)?;
        TlsStart::with_timeouts(Side::Server(config), handshake_timeout, shutdown_timeout).map(Some)
    }

    /// `side` with the given timeouts, asyncio's defaults where `None`.
    ///
    /// Errors: [`Error::InvalidInput`] for a zero timeout, naming it.
    fn with_timeouts(
        side: Side,
        handshake_timeout: Option<Duration>,
        shutdown_timeout: Option<Duration>,
    ) -> Result<TlsStart> {
        Ok(TlsStart {
            side,
            handshake_timeout: timeout_or(
                handshake_timeout,
                SSL_HANDSHAKE_TIMEOUT,
                "ssl_handshake_timeout",
            )?,
            shutdown_timeout: timeout_or(
                shutdown_timeout,
                SSL_SHUTDOWN_TIMEOUT,
                "ssl_shutdown_timeout",
            )?,
        })
    }

    /// A new rustls session.
    fn setup(&self) -> Result<TlsSetup> {
        let (conn, server_hostname) = match &self.side {
            Side::Client {
                config,
                name,
                hostname,
            } => (
                rustls::Connection::Client(
                    rustls::ClientConnection::new(config.rustls_config().clone(), name.clone())
                        .map_err(tls_error)?,
                ),
                Some(hostname.clone()),
            ),
            Side::Server(config) => (
                rustls::Connection::Server(
                    rustls::ServerConnection::new(config.rustls_config().clone())
                        .map_err(tls_error)?,
                ),
                None,
            ),
        };
        Ok(TlsSetup {
            conn,
            handshake_timeout: self.handshake_timeout,
            shutdown_timeout: self.shutdown_timeout,
            server_hostname,
        })
    }

    /// Wraps a server's protocol factory: each connection gets a TLS
    /// layer.
    pub(crate) fn server_factory<F: ProtocolFactory>(
        self,
        lp: &Loop,
        factory: F,
    ) -> TlsServerFactory<F> {
        TlsServerFactory {
            inner: factory,
            tls: self,
            lp: lp.clone(),
        }
    }
}

fn not_without_tls(handshake: Option<Duration>, shutdown: Option<Duration>) -> Result<()> {
    if handshake.is_some() {
        return Err(Error::InvalidInput(String::from(
            "ssl_handshake_timeout is only meaningful with tls",
        )));
    }
    if shutdown.is_some() {
        return Err(Error::InvalidInput(String::from(
            "ssl_shutdown_timeout is only meaningful with tls",
        )));
    }
    Ok(())
}

fn timeout_or(timeout: Option<Duration>, default: Duration, what: &str) -> Result<Duration> {
    check_timeout(what, timeout)?;
    Ok(timeout.unwrap_or(default))
}

/// A server's factory with TLS on every connection.
pub(crate) struct TlsServerFactory<F> {
    inner: F,
    tls: TlsStart,
    lp: Loop,
}

impl<F: ProtocolFactory> ProtocolFactory for TlsServerFactory<F> {
    type Protocol = F::Protocol;

    fn build(&mut self) -> Result<(Rc<RefCell<F::Protocol>>, ProtocolRef)> {
        let (app, app_ref) = self.inner.build()?;
        match self.tls.setup() {
            Ok(setup) => {
                let ssl = SslProtocol::new(&self.lp, setup, app_ref, true);
                Ok((app, ssl.socket_protocol()))
            }
            Err(e) => {
                log::warn!("TLS server: refusing a connection: {e}");
                Ok((app, ProtocolRef::plain(Rc::new(RefCell::new(Refuse)))))
            }
        }
    }
}

/// Closes the connection it is given (a TLS session could not be made).
struct Refuse;

impl BaseProtocol for Refuse {}

impl Protocol for Refuse {
    fn connection_made(&mut self, transport: Transport) {
        transport.abort();
    }
}

/// Hands out one protocol made beforehand.
struct Prebuilt<P>(Option<(Rc<RefCell<P>>, ProtocolRef)>);

impl<P: 'static> ProtocolFactory for Prebuilt<P> {
    type Protocol = P;

    fn build(&mut self) -> Result<(Rc<RefCell<P>>, ProtocolRef)> {
        Ok(self
            .0
            .take()
            .expect("start_transport builds one protocol per connection"))
    }
}

/// Aborts the transport underneath unless disarmed (a cancelled
/// handshake).
struct AbortOnDrop(Option<Transport>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(t) = self.0.take() {
            t.abort();
        }
    }
}

/// Starts a transport over `fd`: plain, or TLS when `tls` is given (then
/// returns once the handshake is done and the protocol's
/// `connection_made` ran). Dropped before, the connection is aborted.
pub(crate) async fn start_connection<F: ProtocolFactory>(
    lp: &Loop,
    fd: OwnedFd,
    kind: Kind,
    factory: &mut F,
    tls: Option<TlsStart>,
) -> Result<Connection<F::Protocol>> {
    let Some(tls) = tls else {
        return Ok(start_transport(lp, fd, kind, factory).await?.1);
    };
    let setup = tls.setup()?;
    let (app, app_ref) = factory.build()?;
    let ssl = SslProtocol::new(lp, setup, app_ref, true);
    let mut once = Prebuilt(Some((app.clone(), ssl.socket_protocol())));
    let (socket, _) = start_transport(lp, fd, kind, &mut once).await?;
    let mut guard = AbortOnDrop(Some(socket.handle()));
    let outcome = ssl.wait_handshake().await;
    // Done either way: a failed handshake closed the socket already.
    guard.0 = None;
    outcome?;
    Ok((ssl.app_transport(), app))
}

/// `start_tls`: a TLS layer over `transport` for `protocol`.
pub(crate) async fn start_tls(
    lp: &Loop,
    transport: &Transport,
    protocol: ProtocolRef,
    tls: TlsConfig,
    options: StartTlsOptions,
) -> Result<Transport> {
    let start = match tls {
        TlsConfig::Client(config) => {
            if options.server_hostname.is_none() {
                return Err(Error::InvalidInput(String::from(
                    "start_tls on the client side needs server_hostname",
                )));
            }
            TlsStart::client(
                Some(config),
                options.server_hostname,
                "",
                options.ssl_handshake_timeout,
                options.ssl_shutdown_timeout,
            )?
        }
        TlsConfig::Server(config) => {
            if options.server_hostname.is_some() {
                return Err(Error::InvalidInput(String::from(
                    "server_hostname is only meaningful on the client side",
                )));
            }
            TlsStart::server(
                Some(config),
                options.ssl_handshake_timeout,
                options.ssl_shutdown_timeout,
            )?
        }
    };
    let Some(start) = start else {
        return Err(Error::InvalidInput(String::from("no TLS configuration")));
    };
    if transport.is_closing() {
        return Err(Error::Closed);
    }
    let setup = start.setup()?;
    let ssl = SslProtocol::new(lp, setup, protocol, false);
    transport.set_protocol(ssl.socket_protocol());
    ssl.start(transport.clone());
    transport.resume_reading();
    let mut guard = AbortOnDrop(Some(transport.clone()));
    let outcome = ssl.wait_handshake().await;
    guard.0 = None;
    outcome?;
    Ok(ssl.app_transport())
}
