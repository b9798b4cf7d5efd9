//! # tulip-streams
//!
//! asyncio's high-level networking for tulip ("Streams"): a
//! [`StreamReader`] and a [`StreamWriter`] per connection, made by
//! [`open_connection`] and [`start_server`] (and their Unix-socket
//! twins), on top of tulip-transport's transports and protocols.
//!
//! ```no_run
//! use tulip::streams::{ConnectOptions, open_connection};
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     tulip::run(async {
//!         let (mut reader, writer) =
//!             open_connection("127.0.0.1", 8888, ConnectOptions::new()).await?;
//!         writer.write(b"Hello World!\n")?;
//!         writer.drain().await?;
//!         let line = reader.readline().await?;
//!         println!("Received: {}", String::from_utf8_lossy(&line));
//!         writer.close();
//!         writer.wait_closed().await
//!     })??;
//!     Ok(())
//! }
//! ```
//!
//! - **No extra copy.** Each connection's protocol is a
//!   `tulip::transport::BufferedProtocol`: the socket is
//!   read straight into the spare room of the reader's buffer, where
//!   `readline`, `readuntil` and `readexactly` find the bytes.
//!   `readexactly(n)` sizes the buffer for `n` bytes (up to 4 MiB at once)
//!   and hands that very buffer over when it is exactly the frame.
//! - **Bounded memory.** The reader pauses its transport when its buffer
//!   passes twice its limit (64 KiB by default) and resumes it once reads
//!   bring it down to the limit, as asyncio does, so a peer that sends
//!   faster than the application reads is held back by TCP. A buffer
//!   exists only while it holds data: it is taken (from a small
//!   per-thread pool) when data arrives and given back once read, so an
//!   idle connection owns none.
//! - **Cancel safety.** Every read consumes bytes only in the poll that
//!   completes it: a read dropped while waiting (a timeout, a `select`)
//!   loses nothing, and the next read returns the same bytes in order.
//!   Each method's `# Cancel safety` section says so.
//! - **The Rust ecosystem.** [`StreamReader`] implements
//!   `futures_io::AsyncRead` and `AsyncBufRead` and is a `Stream` of
//!   lines; [`StreamWriter`] implements `futures_io::AsyncWrite`. See
//!   below.
//!
//! ## The futures-io traits
//!
//! - `poll_read` copies what is buffered (it waits only when nothing
//!   is); `poll_fill_buf` lends the buffer itself, no copy. Bytes lent and
//!   not consumed are put back in front of the buffer by the next
//!   asyncio-style read, so both styles mix on one reader.
//! - `poll_write` waits while the transport's write buffer is over its
//!   high-water mark (as [`drain`](StreamWriter::drain)), then hands the
//!   bytes to the transport, which sends them in the background as a
//!   socket would; `poll_flush` is `drain`.
//! - `poll_close` flushes and closes: it writes EOF (a half-close, as
//!   tokio's `shutdown` and async-io's `close` do on a socket, so the
//!   peer's answer can still be read) and completes once every buffered
//!   byte is sent. A transport that cannot write EOF is closed instead,
//!   and the call completes when the connection is.
//! - Errors become `io::Error`s: an incomplete read is `UnexpectedEof`, a
//!   limit overrun `InvalidData`, the connection's error keeps its kind.
//! - asyncio's `read`, `write` and `close` are inherent methods, so they
//!   win over the extension traits' methods of the same name: call those
//!   with the trait's path, e.g. `AsyncWriteExt::close(&mut writer)` or
//!   `AsyncReadExt::read(&mut reader, &mut buf)` (`write_all`,
//!   `read_exact`, `read_line`, `flush`, `futures::io::copy` have no
//!   namesake).
//!
//! ```no_run
//! use futures_util::io::{AsyncWriteExt, copy};
//! use tulip::streams::{ServerOptions, StreamReader, StreamWriter, start_server};
//!
//! # async fn demo() -> Result<(), tulip::streams::Error> {
//! // An echo server made of ecosystem parts.
//! let server = start_server(
//!     |mut reader: StreamReader, mut writer: StreamWriter| async move {
//!         copy(&mut reader, &mut writer).await?;
//!         AsyncWriteExt::close(&mut writer).await
//!     },
//!     "127.0.0.1",
//!     8888,
//!     ServerOptions::new(),
//! )
//! .await?;
//! # Ok(()) }
//! ```
//!
//! ## Differences from asyncio
//!
//! - Reads take `&mut self`, so two concurrent reads of one reader do not
//!   compile (asyncio raises `RuntimeError` at run time). A
//!   [`StreamFeeder`] feeds a reader while a read waits.
//! - `read(-1)` is [`StreamReader::read_to_eof`]; asyncio's `ValueError`
//!   for a too-long line in `readline` is [`Error::LimitOverrun`] (the line
//!   is discarded, as asyncio does).
//! - A read that has started returns the bytes it needs when they are
//!   there even if an exception was set meanwhile (asyncio does the same
//!   when the data arrived first), and a read that would wait on a reader
//!   with an exception returns it instead of waiting forever.
//! - The connection is closed when its reader and every writer clone are
//!   dropped (asyncio closes it when the writer is garbage collected).
//! - `client_connected` of [`start_server`] is always async; it may return
//!   `()` or a `Result` (see [`ClientResult`]).
//! - Additions: [`StreamReader::readexactly_into`] reads a frame into the
//!   caller's reused vector (the socket fills it directly: no copy, no
//!   allocation per frame); [`StreamReader::bytes_buffered`] and
//!   [`StreamReader::buffer_capacity`] show the buffer.
//!
//! ## asyncio correspondence
//!
//! | asyncio | tulip-streams |
//! |---|---|
//! | `asyncio.open_connection(host, port, limit=, **kwds)` | [`open_connection`]`(host, port, options)` with [`StreamOptions`]`<`[`ConnectOptions`]`>` |
//! | `asyncio.start_server(cb, host, port, limit=, **kwds)` | [`start_server`]`(cb, hosts, port, options)` → [`Server`] |
//! | `asyncio.open_unix_connection` / `start_unix_server` | [`open_unix_connection`] / [`start_unix_server`] |
//! | `StreamReader(limit=)` | [`StreamReader::new`], [`StreamReader::with_limit`] |
//! | `read(n)` / `read()` / `read(-1)` | [`StreamReader::read`] / [`StreamReader::read_to_eof`] |
//! | `readline()` / `readuntil(sep)` / `readuntil((sep1, sep2))` | [`StreamReader::readline`] / [`StreamReader::readuntil`] (see [`Separators`]) |
//! | `readexactly(n)` | [`StreamReader::readexactly`] |
//! | `at_eof()`, `feed_data`, `feed_eof`, `exception()`, `set_exception` | the same names on [`StreamReader`] (and [`StreamFeeder`]) |
//! | `async for line in reader` | `impl Stream for StreamReader` |
//! | `StreamWriter.write` / `writelines` / `drain` | [`StreamWriter::write`] / [`StreamWriter::writelines`] / [`StreamWriter::drain`] |
//! | `close` / `is_closing` / `wait_closed` | [`StreamWriter::close`] / [`StreamWriter::is_closing`] / [`StreamWriter::wait_closed`] |
//! | `write_eof` / `can_write_eof` / `get_extra_info` / `transport` | the same names on [`StreamWriter`] |
//! | `ssl=`, `server_hostname=`, `ssl_handshake_timeout=`, `ssl_shutdown_timeout=` | the `tls`, `server_hostname` and `ssl_*` fields of the transport options ([`TlsClientConfig`], [`TlsServerConfig`]) |
//! | `StreamWriter.start_tls(sslcontext, server_hostname=)` | [`StreamWriter::start_tls`] with [`StartTlsOptions`] |
//! | `StreamReaderProtocol` | [`StreamReaderProtocol`] (a `BufferedProtocol`), [`StreamProtocolFactory`] |
//! | `IncompleteReadError` (`partial`, `expected`) | [`IncompleteReadError`], [`Error::IncompleteRead`] |
//! | `LimitOverrunError` (`consumed`) | [`LimitOverrunError`], [`Error::LimitOverrun`] |

#![forbid(unsafe_code)]

mod buffer;
mod connect;
mod error;
mod io_traits;
mod protocol;
mod reader;
mod reader_core;
mod separators;
mod writer;

pub use connect::{
    ClientResult, StreamOptions, open_connection, open_unix_connection, start_server,
    start_unix_server,
};
pub use error::{Error, IncompleteReadError, LimitOverrunError, Result};
pub use protocol::{StreamProtocolFactory, StreamReaderProtocol};
pub use reader::{StreamFeeder, StreamReader};
pub use reader_core::DEFAULT_LIMIT;
pub use separators::Separators;
pub use tulip_transport::{
    ConnectOptions, Hosts, Server, ServerOptions, StartTlsOptions, TlsClientConfig, TlsConfig,
    TlsServerConfig, UnixConnectOptions, UnixServerOptions,
};
pub use writer::StreamWriter;
