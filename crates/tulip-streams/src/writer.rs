//! [`StreamWriter`]: asyncio's `StreamWriter`, the writing half of a
//! stream: a transport plus `drain` (flow control) and `wait_closed`.

use std::cell::RefCell;
use std::fmt;
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Context, Poll};

use tulip_transport::{ExtraInfo, LoopNetExt, ProtocolRef, StartTlsOptions, TlsConfig, Transport};

use crate::error::{Error, Result};
use crate::protocol::{Owner, StreamReaderProtocol};

/// Where an `AsyncWrite::poll_close` is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum CloseState {
    /// Not closing.
    #[default]
    Open,
    /// EOF written; waiting for the transport's buffer to empty, with
    /// the water marks to restore (`low`, `high`).
    Flushing(usize, usize),
    /// The transport is closing (it cannot write EOF); waiting for
    /// `connection_lost`.
    Closing,
    /// Done.
    Closed,
}

/// The writing half of a stream (asyncio's `StreamWriter`).
///
/// A cheap handle: clones write to the same connection (asyncio code
/// shares one writer between tasks, e.g. to broadcast). The connection is
/// closed (after sending what is buffered) once the reader and every
/// writer are dropped, if [`close`](StreamWriter::close) was not called
/// before.
///
/// `write` never blocks: the transport sends what the socket takes and
/// buffers the rest; [`drain`](StreamWriter::drain) waits while that
/// buffer is over its high-water mark. It also implements
/// `futures_io::AsyncWrite`.
///
/// ```no_run
/// # async fn demo() -> Result<(), tulip::streams::Error> {
/// let (mut reader, writer) =
///     tulip::streams::open_connection("127.0.0.1", 8888, tulip::streams::ConnectOptions::new()).await?;
/// writer.write(b"Hello World!\n")?;
/// writer.drain().await?;
/// let line = reader.readline().await?;
/// writer.close();
/// writer.wait_closed().await?;
/// # Ok(()) }
/// ```
///
/// A writer stays on its loop's thread (it is `!Send`):
///
/// ```compile_fail
/// fn is_send<T: Send>() {}
/// is_send::<tulip::streams::StreamWriter>();
/// ```
pub struct StreamWriter {
    transport: Transport,
    pub(crate) shared: Rc<RefCell<StreamReaderProtocol>>,
    owner: Rc<Owner>,
    pub(crate) close_state: CloseState,
}

impl StreamWriter {
    pub(crate) fn from_parts(
        transport: Transport,
        shared: Rc<RefCell<StreamReaderProtocol>>,
        owner: Rc<Owner>,
    ) -> StreamWriter {
        StreamWriter {
            transport,
            shared,
            owner,
            close_state: CloseState::Open,
        }
    }

    /// The transport (asyncio's `transport` attribute).
    ///
    /// ```
    /// use tulip::streams::{UnixConnectOptions, open_unix_connection};
    /// tulip::run(async {
    ///     # let (a, b) = std::os::unix::net::UnixStream::pair()?;
    ///     # let (_, writer) = open_unix_connection(None, UnixConnectOptions::new().sock(a.into())).await?;
    ///     # let (mut reader, _peer) = open_unix_connection(None, UnixConnectOptions::new().sock(b.into())).await?;
    ///     // `writer` and `reader` are the two ends of a connection.
    ///     let transport = writer.transport();
    ///     assert!(!transport.is_closing());
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    /// Sends `data` (asyncio's `write`): at once as far as the socket
    /// takes it, the rest is buffered. Call [`drain`](StreamWriter::drain)
    /// after writing to wait while the buffer is too full.
    ///
    /// Errors: writing after [`write_eof`](StreamWriter::write_eof). A
    /// write to a lost connection is dropped (as asyncio does); `drain`
    /// reports the loss.
    ///
    /// ```
    /// use std::os::unix::net::UnixStream;
    /// use tulip::streams::{UnixConnectOptions, open_unix_connection};
    /// tulip::run(async {
    ///     // The two ends of a connection: a socket pair.
    ///     let (a, b) = UnixStream::pair()?;
    ///     let (_, writer) = open_unix_connection(None, UnixConnectOptions::new().sock(a.into())).await?;
    ///     let (mut reader, _peer) = open_unix_connection(None, UnixConnectOptions::new().sock(b.into())).await?;
    ///     writer.write(b"ping\n")?;
    ///     writer.drain().await?;
    ///     assert_eq!(reader.readline().await?, b"ping\n");
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write(&self, data: &[u8]) -> Result<()> {
        Ok(self.transport.write(data)?)
    }

    /// Sends several buffers, with one vectored system call where possible
    /// (asyncio's `writelines`).
    ///
    /// Errors: as [`write`](StreamWriter::write).
    ///
    /// ```
    /// use tulip::streams::{UnixConnectOptions, open_unix_connection};
    /// tulip::run(async {
    ///     # let (a, b) = std::os::unix::net::UnixStream::pair()?;
    ///     # let (_, writer) = open_unix_connection(None, UnixConnectOptions::new().sock(a.into())).await?;
    ///     # let (mut reader, _peer) = open_unix_connection(None, UnixConnectOptions::new().sock(b.into())).await?;
    ///     // `writer` and `reader` are the two ends of a connection.
    ///     writer.writelines(&[&b"HTTP/1.1 200 OK\r\n"[..], b"\r\n"])?;
    ///     writer.drain().await?;
    ///     assert_eq!(reader.readuntil(b"\r\n\r\n").await?, b"HTTP/1.1 200 OK\r\n\r\n");
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn writelines<B: AsRef<[u8]>>(&self, data: &[B]) -> Result<()> {
        let bufs: Vec<&[u8]> = data.iter().map(AsRef::as_ref).collect();
        Ok(self.transport.writelines(&bufs)?)
    }

    /// Closes the write side once the buffer is sent, keeping the read
    /// side open (asyncio's `write_eof`; a TCP half-close).
    ///
    /// ```
    /// use tulip::streams::{UnixConnectOptions, open_unix_connection};
    /// tulip::run(async {
    ///     # let (a, b) = std::os::unix::net::UnixStream::pair()?;
    ///     # let (_, writer) = open_unix_connection(None, UnixConnectOptions::new().sock(a.into())).await?;
    ///     # let (mut reader, _peer) = open_unix_connection(None, UnixConnectOptions::new().sock(b.into())).await?;
    ///     // `writer` and `reader` are the two ends of a connection.
    ///     writer.write(b"all of it")?;
    ///     writer.write_eof()?; // the reader sees EOF; it could still answer
    ///     assert_eq!(reader.read_to_eof().await?, b"all of it");
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_eof(&self) -> Result<()> {
        Ok(self.transport.write_eof()?)
    }

    /// Whether [`write_eof`](StreamWriter::write_eof) is possible.
    ///
    /// ```
    /// use tulip::streams::{UnixConnectOptions, open_unix_connection};
    /// tulip::run(async {
    ///     # let (a, b) = std::os::unix::net::UnixStream::pair()?;
    ///     # let (_, writer) = open_unix_connection(None, UnixConnectOptions::new().sock(a.into())).await?;
    ///     # let (mut reader, _peer) = open_unix_connection(None, UnixConnectOptions::new().sock(b.into())).await?;
    ///     // `writer` and `reader` are the two ends of a connection.
    ///     if writer.can_write_eof() {
    ///         writer.write_eof()?;
    ///         assert!(reader.read_to_eof().await?.is_empty());
    ///     }
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn can_write_eof(&self) -> bool {
        self.transport.can_write_eof()
    }

    /// Closes the stream (asyncio's `close`): the buffer is sent, then the
    /// connection closed. Await [`wait_closed`](StreamWriter::wait_closed)
    /// to know when it is.
    ///
    /// ```
    /// use tulip::streams::{UnixConnectOptions, open_unix_connection};
    /// tulip::run(async {
    ///     # let (a, b) = std::os::unix::net::UnixStream::pair()?;
    ///     # let (_, writer) = open_unix_connection(None, UnixConnectOptions::new().sock(a.into())).await?;
    ///     # let (mut reader, _peer) = open_unix_connection(None, UnixConnectOptions::new().sock(b.into())).await?;
    ///     // `writer` and `reader` are the two ends of a connection.
    ///     writer.write(b"bye")?;
    ///     writer.close(); // what was written is still sent
    ///     assert!(writer.is_closing());
    ///     writer.wait_closed().await?;
    ///     assert_eq!(reader.read_to_eof().await?, b"bye");
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn close(&self) {
        self.transport.close();
    }

    /// Ends the stream at once (the transport's `abort()`; asyncio's
    /// `StreamWriter` has no such method, its users call
    /// `writer.transport.abort()`): what is buffered is dropped, and a TCP
    /// connection is reset, so the peer sees `ECONNRESET` rather than an
    /// end it could take for a complete stream. A
    /// [`drain`](StreamWriter::drain) waiting meanwhile returns an error
    /// (the data it waited for was not sent).
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), tulip::streams::Error> {
    /// use std::time::Duration;
    /// use tulip::streams::{ConnectOptions, open_connection};
    ///
    /// let (_reader, writer) = open_connection("127.0.0.1", 8888, ConnectOptions::new()).await?;
    /// writer.write(&vec![0u8; 1 << 20])?;
    /// if tulip::wait_for(writer.drain(), Duration::from_secs(5)).await.is_err() {
    ///     writer.abort(); // the peer stopped reading: give up on it
    /// }
    /// writer.wait_closed().await.ok();
    /// # Ok(()) }
    /// ```
    ///
    /// What was still buffered never reaches the peer:
    ///
    /// ```
    /// use tulip::streams::{UnixConnectOptions, open_unix_connection};
    /// tulip::run(async {
    ///     # let (a, b) = std::os::unix::net::UnixStream::pair()?;
    ///     # let (_, writer) = open_unix_connection(None, UnixConnectOptions::new().sock(a.into())).await?;
    ///     # let (mut reader, _peer) = open_unix_connection(None, UnixConnectOptions::new().sock(b.into())).await?;
    ///     // `writer` and `reader` are the two ends of a connection.
    ///     let size = 8 << 20; // more than the socket takes at once
    ///     writer.write(&vec![0u8; size])?;
    ///     writer.abort();
    ///     assert!(writer.is_closing());
    ///     let received = reader.read_to_eof().await.map_or(0, |data| data.len());
    ///     assert!(received < size);
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn abort(&self) {
        self.transport.abort();
    }

    /// Whether the stream is closing or closed.
    ///
    /// ```
    /// use tulip::streams::{UnixConnectOptions, open_unix_connection};
    /// tulip::run(async {
    ///     # let (a, b) = std::os::unix::net::UnixStream::pair()?;
    ///     # let (_, writer) = open_unix_connection(None, UnixConnectOptions::new().sock(a.into())).await?;
    ///     # let (mut reader, _peer) = open_unix_connection(None, UnixConnectOptions::new().sock(b.into())).await?;
    ///     // `writer` and `reader` are the two ends of a connection.
    ///     assert!(!writer.is_closing());
    ///     writer.close();
    ///     assert!(writer.is_closing());
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_closing(&self) -> bool {
        self.transport.is_closing()
    }

    /// Waits until the connection is closed (asyncio's `wait_closed`).
    ///
    /// Errors: the error the connection was lost with, if any.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only waits.
    ///
    /// ```
    /// use tulip::streams::{UnixConnectOptions, open_unix_connection};
    /// tulip::run(async {
    ///     # let (a, b) = std::os::unix::net::UnixStream::pair()?;
    ///     # let (_, writer) = open_unix_connection(None, UnixConnectOptions::new().sock(a.into())).await?;
    ///     # let (mut reader, _peer) = open_unix_connection(None, UnixConnectOptions::new().sock(b.into())).await?;
    ///     // `writer` and `reader` are the two ends of a connection.
    ///     writer.close();
    ///     writer.wait_closed().await?; // the connection is closed now
    ///     assert!(reader.read_to_eof().await?.is_empty());
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn wait_closed(&self) -> Result<()> {
        poll_fn(|cx| {
            let mut p = self.shared.borrow_mut();
            let w = &mut p.writer;
            if w.lost {
                Poll::Ready(w.error.clone().map_or(Ok(()), Err))
            } else {
                w.register(cx);
                Poll::Pending
            }
        })
        .await
    }

    /// asyncio's `get_extra_info(name)`: `"peername"`, `"sockname"`,
    /// `"socket"`, ...; `None` when unknown.
    ///
    /// ```
    /// use tulip::streams::{UnixConnectOptions, open_unix_connection};
    /// tulip::run(async {
    ///     # let (a, b) = std::os::unix::net::UnixStream::pair()?;
    ///     # let (_, writer) = open_unix_connection(None, UnixConnectOptions::new().sock(a.into())).await?;
    ///     # let (mut reader, _peer) = open_unix_connection(None, UnixConnectOptions::new().sock(b.into())).await?;
    ///     // `writer` and `reader` are the two ends of a connection.
    ///     assert!(writer.get_extra_info("socket").is_some()); // the descriptor
    ///     assert!(writer.get_extra_info("no such name").is_none());
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_extra_info(&self, name: &str) -> Option<ExtraInfo> {
        self.transport.get_extra_info(name)
    }

    /// Upgrades the connection to TLS (asyncio's `start_tls`, for
    /// STARTTLS): waits for the buffer to drain, runs the handshake, and
    /// from then on this writer and the reader go through TLS. The side
    /// is the configuration's ([`TlsConfig::Client`] needs
    /// [`StartTlsOptions::server_hostname`]).
    ///
    /// ```no_run
    /// use tulip::streams::{ConnectOptions, StartTlsOptions, TlsClientConfig, open_connection};
    ///
    /// # async fn demo() -> Result<(), tulip::streams::Error> {
    /// let (mut reader, mut writer) = open_connection("mail.example", 25, ConnectOptions::new()).await?;
    /// writer.write(b"STARTTLS\r\n")?;
    /// let _go_ahead = reader.readline().await?;
    /// let options = StartTlsOptions::new().server_hostname("mail.example");
    /// writer.start_tls(TlsClientConfig::new()?, options).await?;
    /// writer.write(b"EHLO me\r\n")?; // encrypted
    /// # Ok(()) }
    /// ```
    ///
    /// Clones of this writer made before the call still hold the plain
    /// transport: write through this one (or clones made after).
    ///
    /// Errors: as `drain`; as the loop's `start_tls` (an invalid option, a
    /// certificate error, a handshake timeout), after which the
    /// connection is closed.
    ///
    /// # Cancel safety
    ///
    /// Cancelled during the handshake, the connection is aborted.
    pub async fn start_tls(
        &mut self,
        tls: impl Into<TlsConfig>,
        options: StartTlsOptions,
    ) -> Result<()> {
        self.drain().await?;
        let lp = tulip_executor::get_running_loop()?;
        let protocol = ProtocolRef::buffered(self.shared.clone());
        let tls_transport = lp
            .start_tls(&self.transport, protocol, tls, options)
            .await?;
        self.shared
            .borrow_mut()
            .replace_transport(tls_transport.clone());
        self.owner.replace_transport(tls_transport.clone());
        self.transport = tls_transport;
        Ok(())
    }

    /// Waits until it is fine to write again (asyncio's `drain`): at once
    /// unless the transport's write buffer is over its high-water mark,
    /// else until it drains to the low-water mark.
    ///
    /// ```
    /// use tulip::streams::{UnixConnectOptions, open_unix_connection};
    /// tulip::run(async {
    ///     # let (a, b) = std::os::unix::net::UnixStream::pair()?;
    ///     # let (_, writer) = open_unix_connection(None, UnixConnectOptions::new().sock(a.into())).await?;
    ///     # let (mut reader, _peer) = open_unix_connection(None, UnixConnectOptions::new().sock(b.into())).await?;
    ///     // `writer` and `reader` are the two ends of a connection.
    ///     let consumer = tulip::spawn(async move { reader.read_to_eof().await });
    ///     for chunk in std::iter::repeat_n([7u8; 64 * 1024], 32) {
    ///         writer.write(&chunk)?;
    ///         writer.drain().await?; // memory stays bounded whatever the peer reads
    ///     }
    ///     writer.close();
    ///     assert_eq!(consumer.await??.len(), 32 * 64 * 1024);
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// Errors: once the connection is lost, its error (the reader's
    /// exception), or `ConnectionReset` ("Connection lost") when it was
    /// closed; a drain waiting when the loss happens returns at once with
    /// it (or `Ok` if the connection was closed after sending everything;
    /// an [`abort`](StreamWriter::abort) that dropped the buffer is
    /// `ConnectionReset`).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only waits; the bytes written are in the transport.
    pub async fn drain(&self) -> Result<()> {
        let exc = self.shared.borrow().reader.exception.clone();
        if let Some(e) = exc {
            return Err(e);
        }
        if self.transport.is_closing() {
            // Let a pending connection_lost run first, so that a
            // write-drain loop on a dying connection sees its error.
            tulip_executor::yield_now().await;
        }
        let mut waiting = false;
        poll_fn(|cx| self.poll_drain(cx, &mut waiting)).await
    }

    fn poll_drain(&self, cx: &mut Context<'_>, waiting: &mut bool) -> Poll<Result<()>> {
        let mut p = self.shared.borrow_mut();
        let w = &mut p.writer;
        if w.lost {
            return Poll::Ready(match (&w.error, *waiting) {
                (Some(e), _) => Err(e.clone()),
                (None, true) => Ok(()),
                (None, false) => Err(Error::connection_lost()),
            });
        }
        if !w.paused {
            return Poll::Ready(Ok(()));
        }
        *waiting = true;
        w.register(cx);
        static DRAIN: tulip_executor::graph::WaitKind =
            tulip_executor::graph::WaitKind::new("StreamWriter.drain");
        tulip_executor::graph::waiting_on(&DRAIN, tulip_executor::graph::WaitDetail::None);
        Poll::Pending
    }

    /// `AsyncWrite`: ready to take bytes (not paused), or the error that
    /// forbids it.
    pub(crate) fn poll_writable(&self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let mut p = self.shared.borrow_mut();
        if let Some(e) = &p.reader.exception {
            return Poll::Ready(Err(e.clone()));
        }
        let w = &mut p.writer;
        if w.lost {
            return Poll::Ready(Err(w.error.clone().unwrap_or_else(Error::connection_lost)));
        }
        if self.transport.is_closing() {
            return Poll::Ready(Err(Error::Transport(tulip_transport::Error::Closed)));
        }
        if w.paused {
            w.register(cx);
            return Poll::Pending;
        }
        Poll::Ready(Ok(()))
    }

    /// `AsyncWrite::poll_flush`: as `drain`, but a cleanly closed
    /// connection is not an error (everything was sent).
    pub(crate) fn poll_flush_inner(&self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let mut p = self.shared.borrow_mut();
        let w = &mut p.writer;
        if w.lost {
            return Poll::Ready(w.error.clone().map_or(Ok(()), Err));
        }
        if w.paused {
            w.register(cx);
            return Poll::Pending;
        }
        Poll::Ready(Ok(()))
    }

    /// `AsyncWrite::poll_close`: writes EOF (or closes, when the
    /// transport cannot) and waits until everything buffered is sent.
    pub(crate) fn poll_close_inner(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        loop {
            match self.close_state {
                CloseState::Closed => return Poll::Ready(Ok(())),
                CloseState::Open => {
                    if self.shared.borrow().writer.lost {
                        return self.finish_close();
                    }
                    if self.transport.can_write_eof() {
                        self.transport.write_eof()?;
                        let (low, high) = self.transport.get_write_buffer_limits();
                        // With both marks at 0 the protocol is paused while
                        // anything is buffered and resumed once it is all
                        // sent: that resume is the signal awaited below.
                        self.transport.set_write_buffer_limits(Some(0), Some(0))?;
                        self.close_state = CloseState::Flushing(low, high);
                    } else {
                        self.transport.close();
                        self.close_state = CloseState::Closing;
                    }
                }
                CloseState::Flushing(low, high) => {
                    let mut p = self.shared.borrow_mut();
                    if p.writer.lost {
                        drop(p);
                        return self.finish_close();
                    }
                    if self.transport.get_write_buffer_size() == 0 {
                        drop(p);
                        self.close_state = CloseState::Closed;
                        self.transport
                            .set_write_buffer_limits(Some(high), Some(low))?;
                        return Poll::Ready(Ok(()));
                    }
                    p.writer.register(cx);
                    return Poll::Pending;
                }
                CloseState::Closing => {
                    let mut p = self.shared.borrow_mut();
                    if p.writer.lost {
                        drop(p);
                        return self.finish_close();
                    }
                    p.writer.register(cx);
                    return Poll::Pending;
                }
            }
        }
    }

    fn finish_close(&mut self) -> Poll<Result<()>> {
        self.close_state = CloseState::Closed;
        Poll::Ready(
            self.shared
                .borrow()
                .writer
                .error
                .clone()
                .map_or(Ok(()), Err),
        )
    }
}

impl Clone for StreamWriter {
    fn clone(&self) -> StreamWriter {
        StreamWriter {
            transport: self.transport.clone(),
            shared: self.shared.clone(),
            owner: self.owner.clone(),
            close_state: CloseState::Open,
        }
    }
}

impl fmt::Debug for StreamWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamWriter")
            .field("transport", &self.transport)
            .finish_non_exhaustive()
    }
}
