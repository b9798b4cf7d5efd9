//! Opening streams: asyncio's `open_connection`, `start_server`,
//! `open_unix_connection` and `start_unix_server`, on the loop's
//! `create_connection` / `create_server` / Unix counterparts with a
//! [`StreamReaderProtocol`] per connection.

use std::fmt;
use std::path::Path;
use std::rc::Rc;

use tulip_executor::{ExceptionContext, get_running_loop};
use tulip_transport::{
    ConnectOptions, Hosts, LoopNetExt, Server, ServerOptions, Transport, UnixConnectOptions,
    UnixServerOptions,
};

use crate::error::Result;
use crate::protocol::{OnConnected, StreamProtocolFactory, StreamReaderProtocol};
use crate::reader::StreamReader;
use crate::reader_core::{DEFAULT_LIMIT, check_limit};
use crate::writer::StreamWriter;

/// The options of a streams function: the reader's `limit` plus every
/// option of the transport call underneath (`O` is [`ConnectOptions`],
/// [`ServerOptions`], [`UnixConnectOptions`] or [`UnixServerOptions`]).
///
/// Pass the transport options alone when the default limit will do; they
/// convert:
///
/// ```no_run
/// use std::time::Duration;
/// use tulip::streams::{ConnectOptions, StreamOptions, open_connection};
///
/// # async fn demo() -> Result<(), tulip::streams::Error> {
/// let (reader, writer) = open_connection(
///     "localhost",
///     8888,
///     ConnectOptions::new().happy_eyeballs_delay(Duration::from_millis(250)),
/// )
/// .await?;
/// let (reader, writer) =
///     open_connection("localhost", 8888, StreamOptions::default().limit(1024)).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct StreamOptions<O> {
    /// The reader's limit (`None`: 64 KiB): the longest line `readline`
    /// returns, and half what the reader buffers before pausing the
    /// transport.
    pub limit: Option<usize>,
    /// The options of the transport call.
    pub transport: O,
}

impl<O> StreamOptions<O> {
    /// The default limit with `transport` options.
    ///
    /// ```
    /// use tulip::streams::{ConnectOptions, StreamOptions};
    /// let options = StreamOptions::new(ConnectOptions::new());
    /// assert_eq!(options.limit, None); // the default, 64 KiB
    /// ```
    pub fn new(transport: O) -> StreamOptions<O> {
        StreamOptions {
            limit: None,
            transport,
        }
    }

    /// Sets [`limit`](StreamOptions::limit).
    ///
    /// ```
    /// use tulip::streams::{StreamOptions, UnixConnectOptions, open_unix_connection};
    /// tulip::run(async {
    ///     let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    ///     let options = StreamOptions::new(UnixConnectOptions::new().sock(a.into())).limit(256);
    ///     let (reader, _writer) = open_unix_connection(None, options).await?;
    ///     assert_eq!(reader.limit(), 256);
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn limit(mut self, limit: usize) -> StreamOptions<O> {
        self.limit = Some(limit);
        self
    }

    /// Sets [`transport`](StreamOptions::transport).
    ///
    /// ```
    /// use std::time::Duration;
    /// use tulip::streams::{ConnectOptions, StreamOptions};
    /// let options = StreamOptions::default()
    ///     .limit(1024)
    ///     .transport(ConnectOptions::new().happy_eyeballs_delay(Duration::from_millis(250)));
    /// assert_eq!(options.limit, Some(1024));
    /// ```
    pub fn transport(mut self, transport: O) -> StreamOptions<O> {
        self.transport = transport;
        self
    }

    fn checked_limit(&self) -> Result<usize> {
        check_limit(self.limit.unwrap_or(DEFAULT_LIMIT))
    }
}

impl<O> From<O> for StreamOptions<O> {
    fn from(transport: O) -> StreamOptions<O> {
        StreamOptions::new(transport)
    }
}

/// What a `client_connected` handler of [`start_server`] may return: `()`,
/// or a `Result` whose error is reported to the loop's exception handler
/// ("Unhandled exception in client_connected_cb") before the connection
/// is closed, as asyncio does with an exception.
///
/// ```
/// use tulip::prelude::*;
/// use tulip::streams::{ConnectOptions, Error, ServerOptions};
///
/// // A handler may return `()` or a `Result`: an `Err` is reported to the
/// // loop's exception handler, then the connection is closed.
/// async fn greet(_reader: StreamReader, writer: StreamWriter) -> Result<(), Error> {
///     writer.write(b"hello\n")?;
///     writer.drain().await
/// }
///
/// tulip::run(async {
///     let server = start_server(greet, "127.0.0.1", 0, ServerOptions::new()).await?;
///     let port = server.sockets()[0].inet_addr().expect("a TCP socket").port();
///     let (mut reader, _writer) = open_connection("127.0.0.1", port, ConnectOptions::new()).await?;
///     assert_eq!(reader.readline().await?, b"hello\n");
///     server.close();
///     Ok::<(), Error>(())
/// })??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait ClientResult {
    /// `Err` with the error's text for a failure.
    ///
    /// ```
    /// use tulip::streams::ClientResult;
    /// assert_eq!(().into_client_result(), Ok(()));
    /// let failed: Result<(), std::io::Error> = Err(std::io::Error::other("handshake failed"));
    /// assert_eq!(failed.into_client_result(), Err(String::from("handshake failed")));
    /// ```
    fn into_client_result(self) -> std::result::Result<(), String>;
}

impl ClientResult for () {
    fn into_client_result(self) -> std::result::Result<(), String> {
        Ok(())
    }
}

impl<E: fmt::Display> ClientResult for std::result::Result<(), E> {
    fn into_client_result(self) -> std::result::Result<(), String> {
        self.map_err(|e| e.to_string())
    }
}

/// Opens a connection to `host:port` and returns its reader and writer
/// (asyncio's `open_connection`): `create_connection` with every one of
/// its options (`sock` for an already connected socket, `local_addr`,
/// Happy Eyeballs, ...) and a reader with `options.limit`.
///
/// ```no_run
/// use tulip::streams::{ConnectOptions, open_connection};
///
/// # async fn demo() -> Result<(), tulip::streams::Error> {
/// let (mut reader, writer) = open_connection("127.0.0.1", 8888, ConnectOptions::new()).await?;
/// writer.write(b"Hello World!")?;
/// let data = reader.read(100).await?;
/// writer.close();
/// writer.wait_closed().await?;
/// # Ok(()) }
/// ```
///
/// Options: the reader's `limit` ([`StreamOptions::limit`], 64 KiB by
/// default) and everything [`ConnectOptions`] holds: `tls` for TLS with
/// the server's name checked (`server_hostname` to check another),
/// `local_addr`, `happy_eyeballs_delay` and `interleave`, `sock` for a
/// socket that is already connected, `all_errors`. Pass a
/// [`ConnectOptions`] alone for the default limit.
///
/// Errors: as `create_connection`: the name does not resolve
/// ([`Error::io_kind`](crate::Error::io_kind) tells the OS error of a
/// refused or unreachable peer), a TLS error
/// ([`Error::as_tls`](crate::Error::as_tls)), a timeout;
/// [`Error::InvalidInput`](crate::Error::InvalidInput) for a zero limit;
/// no running loop.
///
/// # Cancel safety
///
/// Cancelled (dropped) before it returns, the connection being made is
/// aborted and its socket closed: nothing is left open. Once it returns,
/// the reader and writer own the connection.
pub async fn open_connection(
    host: &str,
    port: u16,
    options: impl Into<StreamOptions<ConnectOptions>>,
) -> Result<(StreamReader, StreamWriter)> {
    let options = options.into();
    let factory = StreamReaderProtocol::factory(options.checked_limit()?)?;
    let lp = get_running_loop()?;
    let (_, protocol) = lp
        .create_connection(factory, host, port, options.transport)
        .await?;
    StreamReaderProtocol::into_streams(protocol)
}

/// Opens a Unix-domain stream connection to `path` (asyncio's
/// `open_unix_connection`); `path` may be `None` with
/// [`UnixConnectOptions::sock`].
///
/// [`start_unix_server`] has an example of both.
///
/// Errors: as `create_unix_connection` (no socket at `path` is
/// `NotFound`, no one listening `ConnectionRefused`); a zero limit.
/// Cancel safety: as [`open_connection`].
///
/// ```
/// use tulip::streams::{UnixConnectOptions, open_unix_connection};
/// tulip::run(async {
///     // With an already connected socket (`path` None), here one end of a pair.
///     let (a, b) = std::os::unix::net::UnixStream::pair()?;
///     let (_, writer) = open_unix_connection(None, UnixConnectOptions::new().sock(a.into())).await?;
///     let (mut reader, _) = open_unix_connection(None, UnixConnectOptions::new().sock(b.into())).await?;
///     writer.write(b"over a Unix socket\n")?;
///     assert_eq!(reader.readline().await?, b"over a Unix socket\n");
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub async fn open_unix_connection(
    path: Option<&Path>,
    options: impl Into<StreamOptions<UnixConnectOptions>>,
) -> Result<(StreamReader, StreamWriter)> {
    let options = options.into();
    let factory = StreamReaderProtocol::factory(options.checked_limit()?)?;
    let lp = get_running_loop()?;
    let (_, protocol) = lp
        .create_unix_connection(factory, path, options.transport)
        .await?;
    StreamReaderProtocol::into_streams(protocol)
}

/// Starts a server on `port` of `hosts` (asyncio's `start_server`): for
/// each client, `client_connected(reader, writer)` runs as its own task.
/// It is an async closure (`async |reader, writer| ...`, which may
/// capture state), an `async fn`, or a closure returning a future.
/// When it returns, the connection is closed once its reader and writer
/// are dropped (keep a writer clone to go on writing, as a chat server
/// does); when it returns an error, the error goes to the loop's
/// exception handler and the connection is closed.
///
/// ```no_run
/// use tulip::streams::{ServerOptions, StreamReader, StreamWriter, start_server};
///
/// async fn handle_echo(mut reader: StreamReader, writer: StreamWriter) -> Result<(), tulip::streams::Error> {
///     let data = reader.read(100).await?;
///     writer.write(&data)?;
///     writer.drain().await?;
///     writer.close();
///     writer.wait_closed().await
/// }
///
/// # async fn demo() -> Result<(), tulip::streams::Error> {
/// let server = start_server(handle_echo, "127.0.0.1", 8888, ServerOptions::default()).await?;
/// server.serve_forever().await?;
/// # Ok(()) }
/// ```
///
/// Options: the readers' `limit` ([`StreamOptions::limit`]) and
/// everything [`ServerOptions`] holds: `tls` to serve TLS, `backlog`,
/// `reuse_address`/`reuse_port`, `sock` for a listening socket of your
/// own, `start_serving` (off: accept only once
/// [`start_serving`](Server::start_serving) or
/// [`serve_forever`](Server::serve_forever) runs). `hosts` is one host, a
/// list, or every interface; port 0 picks a free port, which
/// [`Server::sockets`] tells.
///
/// Errors: as `create_server` (the address is in use, a host does not
/// resolve: see [`Error::io_kind`](crate::Error::io_kind)); a zero limit; no
/// running loop. An error of one client never reaches the server: it goes
/// to the loop's exception handler.
///
/// # Cancel safety
///
/// Cancelled (dropped) before it returns, the listening sockets it opened
/// are closed. Cancelling [`serve_forever`](Server::serve_forever) closes
/// the server; the clients' tasks keep running until they return.
pub async fn start_server<H, R>(
    client_connected: H,
    hosts: impl Into<Hosts>,
    port: u16,
    options: impl Into<StreamOptions<ServerOptions>>,
) -> Result<Server>
where
    H: AsyncFn(StreamReader, StreamWriter) -> R + 'static,
    R: ClientResult,
{
    let options = options.into();
    let factory = server_factory(client_connected, options.checked_limit()?);
    let lp = get_running_loop()?;
    Ok(lp
        .create_server(factory, hosts, port, options.transport)
        .await?)
}

/// Starts a Unix-domain stream server on `path` (asyncio's
/// `start_unix_server`); `path` may be `None` with
/// [`UnixServerOptions::sock`]. As [`start_server`] otherwise. A client
/// connects with [`open_unix_connection`]:
///
/// ```
/// use tulip::prelude::*;
/// use tulip::streams::{
///     Error, UnixConnectOptions, UnixServerOptions, open_unix_connection, start_unix_server,
/// };
///
/// async fn shout(mut reader: StreamReader, writer: StreamWriter) -> Result<(), Error> {
///     let line = reader.readline().await?;
///     writer.write(&line.to_ascii_uppercase())?;
///     writer.close();
///     writer.wait_closed().await
/// }
///
/// async fn main_task() -> Result<(), Error> {
///     let path = std::env::temp_dir().join(format!("tulip-shout-{}.sock", std::process::id()));
///     let server = start_unix_server(shout, Some(&path), UnixServerOptions::new()).await?;
///
///     let (mut reader, writer) = open_unix_connection(Some(&path), UnixConnectOptions::new()).await?;
///     writer.write(b"hello\n")?;
///     assert_eq!(reader.readline().await?, b"HELLO\n");
///
///     server.close();
///     server.wait_closed().await;
///     let _ = std::fs::remove_file(&path);
///     Ok(())
/// }
///
/// tulip::run(main_task())??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub async fn start_unix_server<H, R>(
    client_connected: H,
    path: Option<&Path>,
    options: impl Into<StreamOptions<UnixServerOptions>>,
) -> Result<Server>
where
    H: AsyncFn(StreamReader, StreamWriter) -> R + 'static,
    R: ClientResult,
{
    let options = options.into();
    let factory = server_factory(client_connected, options.checked_limit()?);
    let lp = get_running_loop()?;
    Ok(lp
        .create_unix_server(factory, path, options.transport)
        .await?)
}

/// The protocol factory of a streams server: each connection's streams
/// go to a new task running `client_connected`.
fn server_factory<H, R>(client_connected: H, limit: usize) -> StreamProtocolFactory
where
    H: AsyncFn(StreamReader, StreamWriter) -> R + 'static,
    R: ClientResult,
{
    let handler = Rc::new(client_connected);
    let on_connected: OnConnected = Rc::new(move |reader, writer| {
        let handler = handler.clone();
        let transport = writer.transport().clone();
        // The task runs later (create_task never polls inline): the
        // handler's own code never runs inside `connection_made`.
        tulip_executor::spawn(async move {
            let outcome = (*handler)(reader, writer).await.into_client_result();
            if let Err(message) = outcome {
                report_failure(&transport, message);
            }
        })
        .detach();
    });
    StreamProtocolFactory::with_callback(limit, on_connected)
}

/// A handler failed: tell the exception handler, close the connection.
fn report_failure(transport: &Transport, message: String) {
    if let Ok(lp) = get_running_loop() {
        let mut context = ExceptionContext::new("Unhandled exception in client_connected_cb")
            .with_extra("exception", message);
        if let Some(peer) = transport.peer_addr() {
            context = context.with_extra("peername", peer.to_string());
        }
        lp.call_exception_handler(&context);
    }
    transport.close();
}
