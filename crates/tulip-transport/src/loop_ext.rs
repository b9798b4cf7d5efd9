//! The loop's networking methods (asyncio's `loop.create_connection`,
//! `loop.create_server`, `loop.sock_recv`, ...), as an extension trait on
//! [`Loop`] so that `lp.create_connection(...)` reads as in asyncio. It is
//! in `tulip::prelude`.

use std::cell::RefCell;
use std::fs::File;
use std::net::SocketAddr;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::rc::Rc;

use tulip_executor::Loop;

use crate::address::SockAddr;
use crate::connect::connection;
use crate::connect::dns::{self, AddrInfo, AddrInfoOptions, NameInfoFlags};
use crate::connect::options::{AcceptedSocketOptions, ConnectOptions};
use crate::datagram::options::DatagramOptions;
use crate::datagram::protocol::DatagramProtocolFactory;
use crate::datagram::transport::{self as datagram, DatagramTransport};
use crate::error::Result;
use crate::protocols::ProtocolFactory;
use crate::protocols::ProtocolRef;
use crate::server::base::{self as server, Server};
use crate::server::options::{Hosts, ServerOptions};
use crate::server::unix::{self, UnixConnectOptions, UnixServerOptions};
use crate::sock_ops;
use crate::stream::{pipes, sendfile};
use crate::tls::options::{StartTlsOptions, TlsConfig};
use crate::transports::{Connection, Transport};

/// asyncio's networking methods of the event loop. Every method is
/// `async` and runs on the loop it is called on (the loop must be running
/// to make progress, as with every tulip future).
///
/// The trait is in `tulip::prelude`; the loop comes from
/// `get_running_loop()` inside `tulip::run`. Each method has its own
/// runnable example; [`create_connection`](LoopNetExt::create_connection)'s
/// runs an echo server and its client.
///
/// ```
/// use tulip::prelude::*;
/// use tulip::transport::NameInfoFlags;
///
/// let (host, port) = tulip::run(async {
///     let lp = get_running_loop()?;
///     let numeric = NameInfoFlags::NUMERICHOST | NameInfoFlags::NUMERICSERV;
///     lp.getnameinfo("[::1]:443".parse().unwrap(), numeric).await
/// })??;
/// assert_eq!((host.as_str(), port.as_str()), ("::1", "443"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
// The futures are !Send by design (one loop per thread), so the lint about
// unnameable Send bounds of async trait methods does not apply.
#[allow(async_fn_in_trait)]
pub trait LoopNetExt {
    /// Opens a streaming connection to `host:port` (asyncio's
    /// `create_connection`): resolves `host` without blocking the loop,
    /// tries every address (Happy Eyeballs when
    /// [`ConnectOptions::happy_eyeballs_delay`] is set), and returns the
    /// transport and the protocol `factory` made once `connection_made` has
    /// run.
    ///
    /// Options ([`ConnectOptions`], `ConnectOptions::new()` for asyncio's
    /// defaults): `family`, `proto` and `flags` narrow the resolution;
    /// `local_addr` binds the socket first; `happy_eyeballs_delay` and
    /// `interleave` race the addresses; `all_errors` keeps every attempt's
    /// error; `sock` connects nothing and wraps an already connected
    /// socket (then `host` must be empty and `port` 0); `tls`,
    /// `server_hostname` and the `ssl_*` timeouts run a TLS client
    /// handshake before returning.
    ///
    /// Errors: a resolution failure is [`Error::Io`](crate::Error::Io)
    /// holding a [`GaiError`](crate::GaiError); a refused or unreachable
    /// address is the OS error ([`Error::Io`](crate::Error::Io)), the
    /// first attempt's when several failed, or all of them in
    /// [`Error::AllAttemptsFailed`](crate::Error::AllAttemptsFailed) with
    /// `all_errors`; `sock` together with a host or port is
    /// [`Error::InvalidInput`](crate::Error::InvalidInput); a failed
    /// handshake is [`Error::Tls`](crate::Error::Tls). A
    /// [`Fallible`](crate::Fallible) factory's error is returned as
    /// [`Error::ProtocolFactory`](crate::Error::ProtocolFactory), the
    /// socket closed.
    ///
    /// # Cancel safety
    ///
    /// Dropped before it completes, the attempt is abandoned: every socket
    /// it opened is closed and no protocol is made (or, during a TLS
    /// handshake, the connection is aborted). Nothing is left behind to
    /// clean up.
    ///
    /// ```
    /// use tulip::prelude::*;
    /// use tulip::transport::{ConnectOptions, Error, ServerOptions};
    ///
    /// /// Echoes every byte back; closes at the peer's EOF.
    /// #[derive(Default)]
    /// struct Echo(Option<Transport>);
    /// impl BaseProtocol for Echo {}
    /// impl Protocol for Echo {
    ///     fn connection_made(&mut self, t: Transport) {
    ///         self.0 = Some(t);
    ///     }
    ///     fn data_received(&mut self, data: &[u8]) {
    ///         if let Some(t) = &self.0 {
    ///             let _ = t.write(data);
    ///         }
    ///     }
    /// }
    ///
    /// /// Collects the reply; resolves `done` with it once the connection
    /// /// is gone.
    /// struct Client {
    ///     got: Vec<u8>,
    ///     done: LoopFuture<Vec<u8>>,
    /// }
    /// impl BaseProtocol for Client {
    ///     fn connection_lost(&mut self, _exc: Option<Error>) {
    ///         let _ = self.done.set_result(std::mem::take(&mut self.got));
    ///     }
    /// }
    /// impl Protocol for Client {
    ///     fn data_received(&mut self, data: &[u8]) {
    ///         self.got.extend_from_slice(data);
    ///     }
    /// }
    ///
    /// let reply = tulip::run(async {
    ///     let lp = get_running_loop()?;
    ///     // Port 0: the OS picks a free port.
    ///     let server = lp
    ///         .create_server(Echo::default, "127.0.0.1", 0, ServerOptions::new())
    ///         .await?;
    ///     let port = server.sockets()[0].inet_addr().unwrap().port();
    ///
    ///     let done = lp.create_future();
    ///     let factory = {
    ///         let done = done.clone();
    ///         move || Client { got: Vec::new(), done: done.clone() }
    ///     };
    ///     let (transport, _client) = lp
    ///         .create_connection(factory, "127.0.0.1", port, ConnectOptions::new())
    ///         .await?;
    ///     transport.write(b"hello")?;
    ///     transport.write_eof()?;
    ///     let reply = done.await?;
    ///     server.close();
    ///     Ok::<_, Error>(reply)
    /// })??;
    /// assert_eq!(reply, b"hello");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// A port nobody listens on fails with the OS error:
    ///
    /// ```
    /// use tulip::prelude::*;
    /// use tulip::transport::{ConnectOptions, ServerOptions};
    /// # #[derive(Default)]
    /// # struct Quiet;
    /// # impl BaseProtocol for Quiet {}
    /// # impl Protocol for Quiet {}
    ///
    /// let err = tulip::run(async {
    ///     let lp = get_running_loop()?;
    ///     // A port that was free a moment ago.
    ///     let server = lp
    ///         .create_server(Quiet::default, "127.0.0.1", 0, ServerOptions::new())
    ///         .await?;
    ///     let port = server.sockets()[0].inet_addr().unwrap().port();
    ///     server.close();
    ///     server.wait_closed().await;
    ///     let res = lp
    ///         .create_connection(Quiet::default, "127.0.0.1", port, ConnectOptions::new())
    ///         .await;
    ///     Ok::<_, tulip::transport::Error>(res.err())
    /// })??;
    /// let err = err.expect("nothing listens there");
    /// assert_eq!(err.io_kind(), Some(std::io::ErrorKind::ConnectionRefused));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    async fn create_connection<F: ProtocolFactory>(
        &self,
        factory: F,
        host: &str,
        port: u16,
        options: ConnectOptions,
    ) -> Result<Connection<F::Protocol>>;

    /// Listens on `port` of `hosts` (asyncio's `create_server`): binds one
    /// socket per distinct address `hosts` resolves to (every interface,
    /// IPv4 and IPv6, for [`Hosts::All`](crate::Hosts::All) or `None`;
    /// port 0 lets the OS pick a port, read back from
    /// [`Server::sockets`]), and, unless told otherwise, starts accepting:
    /// each connection gets its own protocol from `factory`.
    ///
    /// Options ([`ServerOptions`], `ServerOptions::new()` for asyncio's
    /// defaults): `family` and `flags` narrow the resolution; `backlog`,
    /// `reuse_address` (on by default), `reuse_port` and `keep_alive` set
    /// up the listening sockets; `sock` listens on an already bound socket
    /// (then `hosts` must be [`Hosts::All`](crate::Hosts::All) and `port`
    /// 0); `start_serving: Some(false)` binds without accepting until
    /// [`Server::start_serving`]; `tls` and the `ssl_*` timeouts make
    /// every connection a TLS server side.
    ///
    /// Errors: a host that does not resolve is [`Error::Io`](crate::Error::Io)
    /// holding a [`GaiError`](crate::GaiError); a bind error (address in
    /// use, not available, no permission) is the OS error with a message
    /// naming the address; `sock` together with a host or port, or nothing
    /// to listen on, is [`Error::InvalidInput`](crate::Error::InvalidInput).
    /// A factory that fails for an accepted connection (a panic, a
    /// [`Fallible`](crate::Fallible) one's error) is no error of this
    /// call: it is reported to the loop's exception handler and that
    /// connection closed; the server goes on.
    ///
    /// # Cancel safety
    ///
    /// Dropped before it completes, no socket is left listening: binding
    /// happens only after every host is resolved, and the sockets bound
    /// (or the server already made over them) are closed with the future.
    ///
    /// See [`create_connection`](LoopNetExt::create_connection) for an
    /// echo server and its client in one program; a port already taken
    /// fails with the address in the message:
    ///
    /// ```
    /// use tulip::prelude::*;
    /// use tulip::transport::{Error, ServerOptions};
    ///
    /// #[derive(Default)]
    /// struct Quiet;
    /// impl BaseProtocol for Quiet {}
    /// impl Protocol for Quiet {}
    ///
    /// let err = tulip::run(async {
    ///     let lp = get_running_loop()?;
    ///     let first = lp
    ///         .create_server(Quiet::default, "127.0.0.1", 0, ServerOptions::new())
    ///         .await?;
    ///     let port = first.sockets()[0].inet_addr().unwrap().port();
    ///     let options = ServerOptions::new().reuse_address(false);
    ///     let second = lp.create_server(Quiet::default, "127.0.0.1", port, options).await;
    ///     first.close();
    ///     Ok::<_, Error>(second.err())
    /// })??;
    /// let err = err.expect("the port is taken");
    /// assert_eq!(err.io_kind(), Some(std::io::ErrorKind::AddrInUse));
    /// assert!(err.to_string().contains("127.0.0.1"), "{err}");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    async fn create_server<F: ProtocolFactory>(
        &self,
        factory: F,
        hosts: impl Into<Hosts>,
        port: u16,
        options: ServerOptions,
    ) -> Result<Server>;

    /// Connects to a Unix-domain stream socket (asyncio's
    /// `create_unix_connection`). `path` may be `None` with
    /// [`UnixConnectOptions::sock`].
    ///
    /// A server on a socket file and a client, with the file removed when
    /// the server closes:
    ///
    /// ```
    /// use tulip::prelude::*;
    /// use tulip::transport::{Error, UnixConnectOptions, UnixServerOptions};
    ///
    /// #[derive(Default)]
    /// struct Quiet;
    /// impl BaseProtocol for Quiet {}
    /// impl Protocol for Quiet {}
    ///
    /// let dir = std::env::temp_dir().join(format!("tulip-doc-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// let path = dir.join("app.sock");
    /// let p = path.clone();
    /// tulip::run(async move {
    ///     let lp = get_running_loop()?;
    ///     let server = lp
    ///         .create_unix_server(Quiet::default, Some(&p), UnixServerOptions::new())
    ///         .await?;
    ///     let (transport, _) = lp
    ///         .create_unix_connection(Quiet::default, Some(&p), UnixConnectOptions::new())
    ///         .await?;
    ///     let peer = transport.peer_addr().and_then(|a| a.as_unix().cloned());
    ///     assert_eq!(peer, Some(tulip::transport::UnixAddr::path(&p)));
    ///     transport.close();
    ///     server.close();
    ///     Ok::<_, Error>(())
    /// })??;
    /// assert!(!path.exists(), "removed with the server");
    /// # std::fs::remove_dir(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    async fn create_unix_connection<F: ProtocolFactory>(
        &self,
        factory: F,
        path: Option<&Path>,
        options: UnixConnectOptions,
    ) -> Result<Connection<F::Protocol>>;

    /// Listens on a Unix-domain stream socket (asyncio's
    /// `create_unix_server`); a path starting with a NUL byte names the
    /// abstract namespace.
    async fn create_unix_server<F: ProtocolFactory>(
        &self,
        factory: F,
        path: Option<&Path>,
        options: UnixServerOptions,
    ) -> Result<Server>;

    /// Opens a datagram endpoint (asyncio's `create_datagram_endpoint`);
    /// [`DatagramProtocol`](crate::DatagramProtocol)'s example runs a UDP
    /// echo endpoint and a client.
    async fn create_datagram_endpoint<F: DatagramProtocolFactory>(
        &self,
        factory: F,
        options: DatagramOptions,
    ) -> Result<(DatagramTransport, Rc<RefCell<F::Protocol>>)>;

    /// Wraps an already accepted (or otherwise connected) stream socket in
    /// a transport (asyncio's `connect_accepted_socket`); with
    /// [`AcceptedSocketOptions::tls`], as the TLS server side, returning
    /// once the handshake is done.
    ///
    /// ```
    /// use std::net::{TcpListener, TcpStream};
    /// use tulip::prelude::*;
    /// use tulip::transport::AcceptedSocketOptions;
    /// # #[derive(Default)]
    /// # struct Quiet;
    /// # impl BaseProtocol for Quiet {}
    /// # impl Protocol for Quiet {}
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let client = TcpStream::connect(listener.local_addr()?)?;
    /// let (accepted, _) = listener.accept()?;
    /// tulip::run(async move {
    ///     let lp = get_running_loop()?;
    ///     let (transport, _) = lp
    ///         .connect_accepted_socket(Quiet::default, accepted.into(), AcceptedSocketOptions::new())
    ///         .await?;
    ///     let peer = transport.peer_addr().and_then(|a| a.as_inet());
    ///     assert_eq!(peer, Some(client.local_addr()?));
    ///     transport.close();
    ///     Ok::<_, tulip::transport::Error>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    async fn connect_accepted_socket<F: ProtocolFactory>(
        &self,
        factory: F,
        sock: OwnedFd,
        options: AcceptedSocketOptions,
    ) -> Result<Connection<F::Protocol>>;

    /// Upgrades an open connection to TLS (asyncio's `start_tls`, for
    /// STARTTLS): `transport` now carries the TLS records, and the
    /// returned transport, over it, is the one `protocol` (whose
    /// callbacks the TLS layer calls from now on) writes through. The
    /// side is the configuration's: a [`TlsConfig::Client`] verifies the
    /// server for [`StartTlsOptions::server_hostname`] (required), a
    /// [`TlsConfig::Server`] presents its certificate. Returns once the
    /// handshake is done; `protocol` gets no second `connection_made`.
    ///
    /// Errors: [`Error::InvalidInput`](crate::Error::InvalidInput) for a
    /// missing or empty client server name; [`Error::Closed`](crate::Error::Closed)
    /// on a closing transport; the handshake's failure
    /// ([`Error::Tls`](crate::Error::Tls), a reset); the transport is
    /// closed then.
    ///
    /// # Cancel safety
    ///
    /// Cancelled during the handshake, the connection is aborted.
    ///
    /// A plain connection upgraded by the client (here to a server that
    /// speaks TLS from the start, with an `rcgen` self-signed certificate):
    ///
    /// ```
    /// use tulip::prelude::*;
    /// use tulip::transport::{ConnectOptions, ProtocolRef, ServerOptions, StartTlsOptions};
    /// use tulip::transport::{TlsClientConfig, TlsServerConfig};
    /// # #[derive(Default)]
    /// # struct Quiet;
    /// # impl BaseProtocol for Quiet {}
    /// # impl Protocol for Quiet {}
    ///
    /// let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])?;
    /// let pem = cert.cert.pem();
    /// let server_tls =
    ///     TlsServerConfig::from_pem(pem.as_bytes(), cert.key_pair.serialize_pem().as_bytes())?;
    /// let client_tls = TlsClientConfig::with_ca_pem(pem.as_bytes())?;
    /// tulip::run(async move {
    ///     let lp = get_running_loop()?;
    ///     let options = ServerOptions::new().tls(server_tls);
    ///     let server = lp.create_server(Quiet::default, "127.0.0.1", 0, options).await?;
    ///     let port = server.sockets()[0].inet_addr().unwrap().port();
    ///     let (plain, protocol) = lp
    ///         .create_connection(Quiet::default, "127.0.0.1", port, ConnectOptions::new())
    ///         .await?;
    ///     assert!(plain.tls_info().is_none());
    ///     let options = StartTlsOptions::new().server_hostname("localhost");
    ///     let tls = lp.start_tls(&plain, ProtocolRef::plain(protocol), client_tls, options).await?;
    ///     assert!(tls.tls_info().is_some_and(|i| i.handshake_complete));
    ///     tls.close();
    ///     server.close();
    ///     Ok::<_, tulip::transport::Error>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    async fn start_tls(
        &self,
        transport: &Transport,
        protocol: ProtocolRef,
        tls: impl Into<TlsConfig>,
        options: StartTlsOptions,
    ) -> Result<Transport>;

    /// Reads a pipe (or any readable stream descriptor) through a protocol
    /// (asyncio's `connect_read_pipe`).
    ///
    /// ```
    /// use std::io::Write;
    /// use std::os::fd::OwnedFd;
    /// use tulip::prelude::*;
    /// use tulip::transport::Error;
    ///
    /// /// Collects everything; resolves `done` at the end.
    /// struct Sink {
    ///     got: Vec<u8>,
    ///     done: LoopFuture<Vec<u8>>,
    /// }
    /// impl BaseProtocol for Sink {
    ///     fn connection_lost(&mut self, _exc: Option<Error>) {
    ///         let _ = self.done.set_result(std::mem::take(&mut self.got));
    ///     }
    /// }
    /// impl Protocol for Sink {
    ///     fn data_received(&mut self, data: &[u8]) {
    ///         self.got.extend_from_slice(data);
    ///     }
    /// }
    ///
    /// let (reader, mut writer) = std::io::pipe()?;
    /// writer.write_all(b"from the other end")?;
    /// drop(writer); // EOF
    /// let got = tulip::run(async move {
    ///     let lp = get_running_loop()?;
    ///     let done = lp.create_future();
    ///     let factory = {
    ///         let done = done.clone();
    ///         move || Sink { got: Vec::new(), done: done.clone() }
    ///     };
    ///     lp.connect_read_pipe(factory, OwnedFd::from(reader)).await?;
    ///     Ok::<_, Error>(done.await?)
    /// })??;
    /// assert_eq!(got, b"from the other end");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    async fn connect_read_pipe<F: ProtocolFactory>(
        &self,
        factory: F,
        pipe: OwnedFd,
    ) -> Result<Connection<F::Protocol>>;

    /// Writes a pipe through a transport (asyncio's `connect_write_pipe`).
    ///
    /// ```
    /// use std::io::Read;
    /// use std::os::fd::OwnedFd;
    /// use tulip::prelude::*;
    ///
    /// #[derive(Default)]
    /// struct Quiet;
    /// impl BaseProtocol for Quiet {}
    /// impl Protocol for Quiet {}
    ///
    /// let (mut reader, writer) = std::io::pipe()?;
    /// tulip::run(async move {
    ///     let lp = get_running_loop()?;
    ///     let (transport, _) = lp.connect_write_pipe(Quiet::default, OwnedFd::from(writer)).await?;
    ///     transport.write(b"to the other end")?;
    ///     // Closing flushes, then closes the pipe: the reader sees EOF.
    ///     transport.close();
    ///     while transport.fd().is_some() {
    ///         yield_now().await;
    ///     }
    ///     Ok::<_, tulip::transport::Error>(())
    /// })??;
    /// let mut got = String::new();
    /// reader.read_to_string(&mut got)?;
    /// assert_eq!(got, "to the other end");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    async fn connect_write_pipe<F: ProtocolFactory>(
        &self,
        factory: F,
        pipe: OwnedFd,
    ) -> Result<Connection<F::Protocol>>;

    /// Receives up to `nbytes` bytes from a non-blocking socket (empty at
    /// EOF). A blocking socket is [`Error::InvalidInput`](crate::Error::InvalidInput).
    ///
    /// The `sock_*` methods work on sockets the program made itself (here
    /// with std), waiting on the loop instead of blocking:
    ///
    /// ```
    /// use std::net::{TcpListener, TcpStream};
    /// use tulip::prelude::*;
    ///
    /// let got = tulip::run(async {
    ///     let lp = get_running_loop()?;
    ///     let listener = TcpListener::bind("127.0.0.1:0")?;
    ///     listener.set_nonblocking(true)?;
    ///     let client = TcpStream::connect(listener.local_addr()?)?;
    ///     client.set_nonblocking(true)?;
    ///
    ///     let (accepted, peer) = lp.sock_accept(&listener).await?;
    ///     assert_eq!(peer.and_then(|p| p.as_inet()), Some(client.local_addr()?));
    ///     lp.sock_sendall(&client, b"hello").await?;
    ///     drop(client);
    ///     let mut got = Vec::new();
    ///     loop {
    ///         let chunk = lp.sock_recv(&accepted, 1024).await?;
    ///         if chunk.is_empty() {
    ///             break; // EOF
    ///         }
    ///         got.extend_from_slice(&chunk);
    ///     }
    ///     Ok::<_, tulip::transport::Error>(got)
    /// })??;
    /// assert_eq!(got, b"hello");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: nothing is consumed unless the call completes.
    async fn sock_recv(&self, sock: impl AsFd, nbytes: usize) -> Result<Vec<u8>>;

    /// Receives into `buf`; returns the number of bytes received (0 at
    /// EOF).
    ///
    /// ```
    /// use std::os::unix::net::UnixStream;
    /// use tulip::prelude::*;
    ///
    /// tulip::run(async {
    ///     let lp = get_running_loop()?;
    ///     let (a, b) = UnixStream::pair()?;
    ///     a.set_nonblocking(true)?;
    ///     b.set_nonblocking(true)?;
    ///     lp.sock_sendall(&a, b"ping").await?;
    ///     let mut buf = [0u8; 16];
    ///     let n = lp.sock_recv_into(&b, &mut buf).await?;
    ///     assert_eq!(&buf[..n], b"ping");
    ///     Ok::<_, tulip::transport::Error>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as [`sock_recv`](LoopNetExt::sock_recv).
    async fn sock_recv_into(&self, sock: impl AsFd, buf: &mut [u8]) -> Result<usize>;

    /// Receives one datagram of up to `bufsize` bytes and its sender.
    ///
    /// ```
    /// use std::net::UdpSocket;
    /// use tulip::prelude::*;
    /// use tulip::transport::SockAddr;
    ///
    /// tulip::run(async {
    ///     let lp = get_running_loop()?;
    ///     let a = UdpSocket::bind("127.0.0.1:0")?;
    ///     let b = UdpSocket::bind("127.0.0.1:0")?;
    ///     a.set_nonblocking(true)?;
    ///     b.set_nonblocking(true)?;
    ///     let to = SockAddr::Inet(b.local_addr()?);
    ///     assert_eq!(lp.sock_sendto(&a, b"ping", &to).await?, 4);
    ///     let (data, from) = lp.sock_recvfrom(&b, 64).await?;
    ///     assert_eq!(data, b"ping");
    ///     assert_eq!(from.and_then(|f| f.as_inet()), Some(a.local_addr()?));
    ///     Ok::<_, tulip::transport::Error>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a datagram is received whole or stays queued.
    async fn sock_recvfrom(
        &self,
        sock: impl AsFd,
        bufsize: usize,
    ) -> Result<(Vec<u8>, Option<SockAddr>)>;

    /// Receives one datagram into `buf`: its length and sender.
    ///
    /// ```
    /// use std::net::UdpSocket;
    /// use tulip::prelude::*;
    /// use tulip::transport::SockAddr;
    ///
    /// tulip::run(async {
    ///     let lp = get_running_loop()?;
    ///     let a = UdpSocket::bind("127.0.0.1:0")?;
    ///     let b = UdpSocket::bind("127.0.0.1:0")?;
    ///     a.set_nonblocking(true)?;
    ///     b.set_nonblocking(true)?;
    ///     lp.sock_sendto(&a, b"ping", &SockAddr::Inet(b.local_addr()?)).await?;
    ///     let mut buf = [0u8; 64];
    ///     let (n, from) = lp.sock_recvfrom_into(&b, &mut buf).await?;
    ///     assert_eq!(&buf[..n], b"ping");
    ///     assert_eq!(from.and_then(|f| f.as_inet()), Some(a.local_addr()?));
    ///     Ok::<_, tulip::transport::Error>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as [`sock_recvfrom`](LoopNetExt::sock_recvfrom).
    async fn sock_recvfrom_into(
        &self,
        sock: impl AsFd,
        buf: &mut [u8],
    ) -> Result<(usize, Option<SockAddr>)>;

    /// Sends all of `data`.
    ///
    /// # Cancel safety
    ///
    /// Not cancel-safe for the byte stream: cancelled midway, the peer may
    /// already have received a prefix of `data`, and nothing says how
    /// much (as in asyncio).
    async fn sock_sendall(&self, sock: impl AsFd, data: &[u8]) -> Result<()>;

    /// Sends one datagram to `addr`; returns the bytes sent.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: the datagram is sent whole or not at all.
    async fn sock_sendto(&self, sock: impl AsFd, data: &[u8], addr: &SockAddr) -> Result<usize>;

    /// Connects a non-blocking socket to `addr`. The standard library makes
    /// no unconnected socket, so the example makes one with `rustix` (a
    /// `socket2::Socket` works the same way).
    ///
    /// ```
    /// use std::net::TcpListener;
    /// use rustix::net::{AddressFamily, SocketFlags, SocketType, socket_with};
    /// use tulip::prelude::*;
    /// use tulip::transport::SockAddr;
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let addr = SockAddr::Inet(listener.local_addr()?);
    /// tulip::run(async move {
    ///     let lp = get_running_loop()?;
    ///     let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
    ///     let sock = socket_with(AddressFamily::INET, SocketType::STREAM, flags, None)?;
    ///     lp.sock_connect(&sock, &addr).await?;
    ///     lp.sock_sendall(&sock, b"hi").await?;
    ///     Ok::<_, tulip::transport::Error>(())
    /// })??;
    /// let (mut peer, _) = listener.accept()?;
    /// let mut got = [0u8; 2];
    /// std::io::Read::read_exact(&mut peer, &mut got)?;
    /// assert_eq!(&got, b"hi");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Cancelled, the socket may be left connecting; it is the caller's to
    /// close or reuse.
    async fn sock_connect(&self, sock: impl AsFd, addr: &SockAddr) -> Result<()>;

    /// Accepts a connection: the new (non-blocking) socket and its peer.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a pending connection stays queued for the next call.
    async fn sock_accept(&self, sock: impl AsFd) -> Result<(OwnedFd, Option<SockAddr>)>;

    /// Sends `count` bytes of `file` from `offset` (all the rest when
    /// `None`) with the zero-copy `sendfile` system call, or with reads and
    /// sends when `fallback` is on and zero-copy is impossible. Returns the
    /// bytes sent. The file's position is left at `offset` plus the bytes
    /// sent, as asyncio does.
    ///
    /// # Cancel safety
    ///
    /// Cancelled, part of the file may have been sent; the file's position
    /// says how much.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use std::os::unix::net::UnixStream;
    /// use tulip::prelude::*;
    ///
    /// let mut file = tempfile::tempfile()?;
    /// file.write_all(b"0123456789")?;
    /// let (a, mut b) = UnixStream::pair()?;
    /// a.set_nonblocking(true)?;
    /// let sent = tulip::run(async move {
    ///     let lp = get_running_loop()?;
    ///     // Four bytes from offset 3.
    ///     lp.sock_sendfile(&a, &file, 3, Some(4), true).await
    /// })??;
    /// assert_eq!(sent, 4);
    /// let mut got = [0; 4];
    /// b.read_exact(&mut got)?;
    /// assert_eq!(&got, b"3456");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    async fn sock_sendfile(
        &self,
        sock: impl AsFd,
        file: &File,
        offset: u64,
        count: Option<u64>,
        fallback: bool,
    ) -> Result<u64>;

    /// Sends a file over a transport (asyncio's `loop.sendfile`): waits for
    /// the transport's buffer to drain, then as
    /// [`sock_sendfile`](LoopNetExt::sock_sendfile). Over a transport
    /// that cannot use the zero-copy call, `fallback` writes the file
    /// through the transport with flow control.
    ///
    /// # Cancel safety
    ///
    /// As [`sock_sendfile`](LoopNetExt::sock_sendfile); the transport gets
    /// its state back (writes allowed, reading resumed, protocol restored).
    ///
    /// ```
    /// use std::io::Write;
    /// use tulip::prelude::*;
    /// use tulip::transport::{ConnectOptions, Error, ServerOptions};
    /// # #[derive(Default)]
    /// # struct Quiet;
    /// # impl BaseProtocol for Quiet {}
    /// # impl Protocol for Quiet {}
    ///
    /// /// The server side: collects everything, resolves `done` at the end.
    /// struct Sink {
    ///     got: Vec<u8>,
    ///     done: LoopFuture<Vec<u8>>,
    /// }
    /// impl BaseProtocol for Sink {
    ///     fn connection_lost(&mut self, _exc: Option<Error>) {
    ///         let _ = self.done.set_result(std::mem::take(&mut self.got));
    ///     }
    /// }
    /// impl Protocol for Sink {
    ///     fn data_received(&mut self, data: &[u8]) {
    ///         self.got.extend_from_slice(data);
    ///     }
    /// }
    ///
    /// let mut file = tempfile::tempfile()?;
    /// file.write_all(&[7u8; 100_000])?;
    /// let got = tulip::run(async move {
    ///     let lp = get_running_loop()?;
    ///     let done = lp.create_future();
    ///     let factory = {
    ///         let done = done.clone();
    ///         move || Sink { got: Vec::new(), done: done.clone() }
    ///     };
    ///     let server = lp.create_server(factory, "127.0.0.1", 0, ServerOptions::new()).await?;
    ///     let port = server.sockets()[0].inet_addr().unwrap().port();
    ///     let (transport, _) = lp
    ///         .create_connection(Quiet::default, "127.0.0.1", port, ConnectOptions::new())
    ///         .await?;
    ///     transport.write(b"header:")?;
    ///     let sent = lp.sendfile(&transport, &file, 0, None, true).await?;
    ///     assert_eq!(sent, 100_000);
    ///     transport.close();
    ///     let got = done.await?;
    ///     server.close();
    ///     Ok::<_, Error>(got)
    /// })??;
    /// assert_eq!(got.len(), 7 + 100_000);
    /// assert!(got.starts_with(b"header:"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    async fn sendfile(
        &self,
        transport: &Transport,
        file: &File,
        offset: u64,
        count: Option<u64>,
        fallback: bool,
    ) -> Result<u64>;

    /// Resolves `host` and `port` (asyncio's `getaddrinfo`) on a worker
    /// thread.
    ///
    /// Errors: a failed resolution is [`Error::Io`](crate::Error::Io)
    /// holding a [`GaiError`](crate::GaiError) (found back with
    /// [`GaiError::find`](crate::GaiError::find)).
    ///
    /// ```
    /// use std::net::SocketAddr;
    /// use tulip::prelude::*;
    /// use tulip::transport::{AddrInfoOptions, AddressFamily, GaiError, SockType};
    ///
    /// tulip::run(async {
    ///     let lp = get_running_loop()?;
    ///     // Numeric host and port: answered without asking any DNS server.
    ///     let options = AddrInfoOptions::new()
    ///         .socktype(SockType::Stream)
    ///         .flags(AddrInfoOptions::AI_NUMERICHOST | AddrInfoOptions::AI_NUMERICSERV);
    ///     let found = lp.getaddrinfo(Some("127.0.0.1"), Some("8080"), options.clone()).await?;
    ///     assert_eq!(found[0].family, AddressFamily::Inet);
    ///     assert_eq!(found[0].socktype, SockType::Stream);
    ///     assert_eq!(found[0].address, "127.0.0.1:8080".parse::<SocketAddr>().unwrap());
    ///
    ///     // A name where only numbers are allowed fails as asyncio's `gaierror`.
    ///     let err = lp.getaddrinfo(Some("localhost"), Some("80"), options).await.unwrap_err();
    ///     assert!(GaiError::find(&err).is_some());
    ///     Ok::<_, tulip::transport::Error>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    async fn getaddrinfo(
        &self,
        host: Option<&str>,
        port: Option<&str>,
        options: AddrInfoOptions,
    ) -> Result<Vec<AddrInfo>>;

    /// Looks up the host and service names of `addr` (asyncio's
    /// `getnameinfo`) on a worker thread.
    ///
    /// ```
    /// use tulip::prelude::*;
    /// use tulip::transport::NameInfoFlags;
    ///
    /// let names = tulip::run(async {
    ///     let lp = get_running_loop()?;
    ///     let flags = NameInfoFlags::NUMERICHOST | NameInfoFlags::NUMERICSERV;
    ///     lp.getnameinfo("127.0.0.1:8080".parse().unwrap(), flags).await
    /// })??;
    /// assert_eq!(names, ("127.0.0.1".to_string(), "8080".to_string()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    async fn getnameinfo(&self, addr: SocketAddr, flags: NameInfoFlags)
    -> Result<(String, String)>;
}

impl LoopNetExt for Loop {
    async fn create_connection<F: ProtocolFactory>(
        &self,
        factory: F,
        host: &str,
        port: u16,
        options: ConnectOptions,
    ) -> Result<Connection<F::Protocol>> {
        connection::create_connection(self, factory, host, port, options).await
    }

    async fn create_server<F: ProtocolFactory>(
        &self,
        factory: F,
        hosts: impl Into<Hosts>,
        port: u16,
        options: ServerOptions,
    ) -> Result<Server> {
        server::create_server(self, factory, hosts.into(), port, options).await
    }

    async fn create_unix_connection<F: ProtocolFactory>(
        &self,
        factory: F,
        path: Option<&Path>,
        options: UnixConnectOptions,
    ) -> Result<Connection<F::Protocol>> {
        unix::create_unix_connection(self, factory, path, options).await
    }

    async fn create_unix_server<F: ProtocolFactory>(
        &self,
        factory: F,
        path: Option<&Path>,
        options: UnixServerOptions,
    ) -> Result<Server> {
        unix::create_unix_server(self, factory, path, options).await
    }

    async fn create_datagram_endpoint<F: DatagramProtocolFactory>(
        &self,
        factory: F,
        options: DatagramOptions,
    ) -> Result<(DatagramTransport, Rc<RefCell<F::Protocol>>)> {
        datagram::create_datagram_endpoint(self, factory, options).await
    }

    async fn connect_accepted_socket<F: ProtocolFactory>(
        &self,
        factory: F,
        sock: OwnedFd,
        options: AcceptedSocketOptions,
    ) -> Result<Connection<F::Protocol>> {
        connection::connect_accepted_socket(self, factory, sock, options).await
    }

    async fn start_tls(
        &self,
        transport: &Transport,
        protocol: ProtocolRef,
        tls: impl Into<TlsConfig>,
        options: StartTlsOptions,
    ) -> Result<Transport> {
        crate::tls::transport::start_tls(self, transport, protocol, tls.into(), options).await
    }

    async fn connect_read_pipe<F: ProtocolFactory>(
        &self,
        factory: F,
        pipe: OwnedFd,
    ) -> Result<Connection<F::Protocol>> {
        pipes::connect_read_pipe(self, factory, pipe).await
    }

    async fn connect_write_pipe<F: ProtocolFactory>(
        &self,
        factory: F,
        pipe: OwnedFd,
    ) -> Result<Connection<F::Protocol>> {
        pipes::connect_write_pipe(self, factory, pipe).await
    }

    async fn sock_recv(&self, sock: impl AsFd, nbytes: usize) -> Result<Vec<u8>> {
        sock_ops::sock_recv(self, sock.as_fd(), nbytes).await
    }

    async fn sock_recv_into(&self, sock: impl AsFd, buf: &mut [u8]) -> Result<usize> {
        sock_ops::sock_recv_into(self, sock.as_fd(), buf).await
    }

    async fn sock_recvfrom(
        &self,
        sock: impl AsFd,
        bufsize: usize,
    ) -> Result<(Vec<u8>, Option<SockAddr>)> {
        sock_ops::sock_recvfrom(self, sock.as_fd(), bufsize).await
    }

    async fn sock_recvfrom_into(
        &self,
        sock: impl AsFd,
        buf: &mut [u8],
    ) -> Result<(usize, Option<SockAddr>)> {
        sock_ops::sock_recvfrom_into(self, sock.as_fd(), buf).await
    }

    async fn sock_sendall(&self, sock: impl AsFd, data: &[u8]) -> Result<()> {
        sock_ops::sock_sendall(self, sock.as_fd(), data).await
    }

    async fn sock_sendto(&self, sock: impl AsFd, data: &[u8], addr: &SockAddr) -> Result<usize> {
        sock_ops::sock_sendto(self, sock.as_fd(), data, addr).await
    }

    async fn sock_connect(&self, sock: impl AsFd, addr: &SockAddr) -> Result<()> {
        sock_ops::sock_connect(self, sock.as_fd(), addr).await
    }

    async fn sock_accept(&self, sock: impl AsFd) -> Result<(OwnedFd, Option<SockAddr>)> {
        sock_ops::sock_accept(self, sock.as_fd()).await
    }

    async fn sock_sendfile(
        &self,
        sock: impl AsFd,
        file: &File,
        offset: u64,
        count: Option<u64>,
        fallback: bool,
    ) -> Result<u64> {
        sendfile::sock_sendfile(self, sock.as_fd(), file, offset, count, fallback).await
    }

    async fn sendfile(
        &self,
        transport: &Transport,
        file: &File,
        offset: u64,
        count: Option<u64>,
        fallback: bool,
    ) -> Result<u64> {
        sendfile::sendfile(self, transport, file, offset, count, fallback).await
    }

    async fn getaddrinfo(
        &self,
        host: Option<&str>,
        port: Option<&str>,
        options: AddrInfoOptions,
    ) -> Result<Vec<AddrInfo>> {
        dns::getaddrinfo(self, host, port, options).await
    }

    async fn getnameinfo(
        &self,
        addr: SocketAddr,
        flags: NameInfoFlags,
    ) -> Result<(String, String)> {
        dns::getnameinfo(self, addr, flags).await
    }
}
