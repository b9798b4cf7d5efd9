//! # tulip-transport
//!
//! asyncio's low-level networking for tulip: protocols and transports
//! (TCP, Unix sockets, UDP, pipes), servers, the loop's socket operations
//! and DNS.
//!
//! On a loop with completions (the uring backend), stream socket
//! transports, servers and IP datagram endpoints run on io_uring
//! operations (a multishot receive into the loop's buffer ring, sends from
//! the transport's own buffer, multishot accept); pipes, Unix datagram
//! endpoints and `sendfile` wait for readiness there. The protocols see
//! no difference.
//!
//! ## asyncio correspondence
//!
//! | asyncio | tulip-transport |
//! |---|---|
//! | `BaseProtocol`, `Protocol`, `BufferedProtocol`, `DatagramProtocol` | [`BaseProtocol`], [`Protocol`], [`BufferedProtocol`], [`DatagramProtocol`] |
//! | `Transport` (`ReadTransport` + `WriteTransport`) | [`Transport`] (implemented by [`TransportImpl`]) |
//! | `get_extra_info` | [`Transport::get_extra_info`], [`ExtraInfo`] |
//! | `loop.create_server`, `Server`, `Server.sockets` | [`LoopNetExt::create_server`], [`Server`], [`ServerSocket`] |
//! | `loop.create_unix_connection` / `create_unix_server` | [`LoopNetExt::create_unix_connection`] / [`LoopNetExt::create_unix_server`] |
//! | `loop.create_datagram_endpoint`, `DatagramTransport` (`sendto`, `abort`) | [`LoopNetExt::create_datagram_endpoint`], [`DatagramOptions`], [`DatagramTransport`] |
//! | `socket.AF_INET`, `AF_INET6`, `AF_UNIX` | [`AddressFamily`] |
//! | `loop.create_connection` (`happy_eyeballs_delay`, `interleave`, `all_errors`, `local_addr`, `family`, `proto`, `flags`) | [`LoopNetExt::create_connection`], [`ConnectOptions`] |
//! | `loop.getaddrinfo` (`family`, `type`, `proto`, `flags`), `socket.SOCK_STREAM`, `AI_*` | [`LoopNetExt::getaddrinfo`], [`AddrInfoOptions`], [`AddrInfo`], [`SockType`] |
//! | `loop.getnameinfo`, `NI_*` | [`LoopNetExt::getnameinfo`], [`NameInfoFlags`] |
//! | `socket.gaierror` | [`GaiError`] (inside [`Error::Io`]) |
//! | `SendfileNotAvailableError`, `OSError` | [`Error`] |
//! | a `protocol_factory` that raises | a [`Fallible`] factory; its error is [`Error::ProtocolFactory`] ([`FactoryError`]) |
//! | `ssl=` (an `SSLContext`), `server_hostname`, `ssl_handshake_timeout`, `ssl_shutdown_timeout` | [`TlsClientConfig`], [`TlsServerConfig`], the `tls` and `ssl_*` fields of the option structs |
//! | `loop.start_tls` | [`LoopNetExt::start_tls`], [`TlsConfig`], [`StartTlsOptions`] |
//! | `ssl.SSLError`, `ssl.SSLCertVerificationError` | [`Error::Tls`], [`TlsError`] |
//! | `get_extra_info('ssl_object')`, `'peercert'`, `'cipher'` | [`Transport::tls_info`], [`TlsInfo`], the SSL keys of `get_extra_info` |

#![deny(unsafe_code)]

mod address;
mod connect;
mod datagram;
mod error;
mod lifecycle;
mod loop_ext;
pub mod net;
mod ops;
mod protocols;
mod server;
mod sock;
mod sock_ops;
mod stream;
mod tls;
mod transports;

/// The rustls crate tulip's TLS is built on, re-exported so that a program
/// matches [`TlsError`]'s rustls errors (and builds rustls configurations)
/// without depending on the same rustls version itself.
///
/// ```
/// use tulip::transport::TlsError;
/// use tulip::transport::rustls::CertificateError;
///
/// /// Whether a connection failed because the server's certificate was not
/// /// issued by a trusted CA.
/// fn untrusted(e: &TlsError) -> bool {
///     matches!(e.certificate_error(), Some(CertificateError::UnknownIssuer))
/// }
/// # let e = TlsError::Rustls(tulip::transport::rustls::Error::InvalidCertificate(
/// #     CertificateError::UnknownIssuer,
/// # ));
/// # assert!(untrusted(&e));
/// ```
pub use rustls;

pub use address::{AddressFamily, SockAddr, UnixAddr};
pub use connect::dns::{AddrInfo, AddrInfoOptions, GaiError, NameInfoFlags, SockType};
pub use connect::options::{AcceptedSocketOptions, ConnectOptions};
pub use datagram::options::DatagramOptions;
pub use datagram::protocol::{DatagramProtocol, DatagramProtocolFactory};
pub use datagram::transport::DatagramTransport;
pub use error::{Error, FactoryError, Result};
pub use loop_ext::LoopNetExt;
pub use protocols::{
    BaseProtocol, Buffered, BufferedProtocol, Fallible, Protocol, ProtocolFactory, ProtocolRef,
};
pub use server::balance::{BalancedAcceptor, LoopLoad};
pub use server::base::Server;
pub use server::listener::ServerSocket;
pub use server::options::{Hosts, ServerOptions};
pub use server::unix::{UnixConnectOptions, UnixServerOptions};
pub use tls::error::{HandshakeFailure, TlsError};
pub use tls::info::TlsInfo;
pub use tls::options::{
    SSL_HANDSHAKE_TIMEOUT, SSL_SHUTDOWN_TIMEOUT, StartTlsOptions, TlsClientConfig, TlsConfig,
    TlsServerConfig,
};
pub use transports::{
    Connection, DEFAULT_HIGH_WATER, ExtraInfo, FlowControl, Transport, TransportImpl,
};
