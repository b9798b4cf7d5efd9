//! [`StreamReaderProtocol`]: the protocol between a transport and its
//! streams (asyncio's `StreamReaderProtocol` with its
//! `FlowControlMixin`).
//!
//! It is a [`BufferedProtocol`]: the transport reads straight into the
//! spare room of the reader's buffer (`get_buffer`), so bytes land where
//! `readline` and friends find them, with no intermediate copy. It also
//! keeps the writer's flow control (paused by the transport's write
//! buffer, resumed when it drains) and the connection's outcome for
//! `drain` and `wait_closed`.

use std::cell::RefCell;
use std::fmt;
use std::rc::{Rc, Weak};
use std::task::{Context, Waker};

use tulip_transport::{BaseProtocol, BufferedProtocol, ProtocolFactory, ProtocolRef, Transport};

use crate::error::{Error, Result};
use crate::reader::StreamReader;
use crate::reader_core::{DEFAULT_LIMIT, ReaderCore, check_limit};
use crate::writer::StreamWriter;

/// What the server does with each new connection's streams.
pub(crate) type OnConnected = Rc<dyn Fn(StreamReader, StreamWriter)>;

/// Closes the transport once the reader and every writer of a connection
/// are dropped (asyncio closes it when the writer is collected). `close`
/// sends what is buffered first.
pub(crate) struct Owner {
    transport: RefCell<Transport>,
}

impl Owner {
    /// The transport to close is now `transport` (after `start_tls`).
    pub(crate) fn replace_transport(&self, transport: Transport) {
        *self.transport.borrow_mut() = transport;
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.transport.get_mut().close();
    }
}

/// The writer's side: flow control and the connection's outcome.
#[derive(Default)]
pub(crate) struct WriterState {
    /// The transport's write buffer is over its high-water mark.
    pub(crate) paused: bool,
    /// `connection_lost` was called.
    pub(crate) lost: bool,
    /// The error it was called with.
    pub(crate) error: Option<Error>,
    /// Tasks waiting in `drain`, `wait_closed` or `AsyncWrite`.
    waiters: Vec<Waker>,
}

impl WriterState {
    /// Parks the task until the next resume or connection loss.
    pub(crate) fn register(&mut self, cx: &Context<'_>) {
        if !self.waiters.iter().any(|w| w.will_wake(cx.waker())) {
            self.waiters.push(cx.waker().clone());
        }
    }

    fn wake_all(&mut self) {
        for w in self.waiters.drain(..) {
            w.wake();
        }
    }
}

/// The protocol of a stream connection (asyncio's `StreamReaderProtocol`):
/// a [`BufferedProtocol`] that fills a [`StreamReader`]'s buffer and keeps
/// a [`StreamWriter`]'s flow control.
///
/// [`open_connection`](crate::open_connection) and
/// [`start_server`](crate::start_server) use it; use it directly to put
/// streams on any transport the loop makes (an accepted socket, a pipe):
///
/// ```no_run
/// use tulip::streams::StreamReaderProtocol;
/// use tulip::transport::LoopNetExt;
///
/// # async fn demo(sock: std::os::fd::OwnedFd) -> Result<(), tulip::streams::Error> {
/// let lp = tulip::get_running_loop()?;
/// let factory = StreamReaderProtocol::factory(64 * 1024)?;
/// let options = tulip::transport::AcceptedSocketOptions::new();
/// let (_transport, protocol) = lp.connect_accepted_socket(factory, sock, options).await?;
/// let (mut reader, writer) = StreamReaderProtocol::into_streams(protocol)?;
/// writer.write(b"hello\n")?;
/// let line = reader.readline().await?;
/// # Ok(()) }
/// ```
pub struct StreamReaderProtocol {
    pub(crate) reader: ReaderCore,
    pub(crate) writer: WriterState,
    transport: Option<Transport>,
    this: Weak<RefCell<StreamReaderProtocol>>,
    on_connected: Option<OnConnected>,
    streams_taken: bool,
}

impl StreamReaderProtocol {
    fn build(limit: usize, on_connected: Option<OnConnected>) -> Rc<RefCell<StreamReaderProtocol>> {
        Rc::new_cyclic(|this| {
            RefCell::new(StreamReaderProtocol {
                reader: ReaderCore::new(limit),
                writer: WriterState::default(),
                transport: None,
                this: this.clone(),
                on_connected,
                streams_taken: false,
            })
        })
    }

    /// The shared state of a reader that no transport feeds.
    pub(crate) fn standalone(limit: usize) -> Rc<RefCell<StreamReaderProtocol>> {
        let p = StreamReaderProtocol::build(limit, None);
        p.borrow_mut().streams_taken = true;
        p
    }

    /// A [`ProtocolFactory`] of stream protocols whose readers have
    /// `limit` (pass it to `lp.create_connection`,
    /// `lp.connect_accepted_socket`, `lp.connect_read_pipe`, ...).
    ///
    /// Errors: [`Error::InvalidInput`] if `limit` is 0.
    ///
    /// ```
    /// use tulip::prelude::*;
    /// use tulip::streams::{StreamReaderProtocol, UnixConnectOptions};
    /// tulip::run(async {
    ///     let (a, b) = std::os::unix::net::UnixStream::pair()?;
    ///     let lp = get_running_loop()?;
    ///     // asyncio's `loop.create_connection(lambda: StreamReaderProtocol(...))`.
    ///     let factory = StreamReaderProtocol::factory(1024)?;
    ///     let (_transport, protocol) =
    ///         lp.create_unix_connection(factory, None, UnixConnectOptions::new().sock(a.into())).await?;
    ///     let (reader, writer) = StreamReaderProtocol::into_streams(protocol)?;
    ///     assert_eq!(reader.limit(), 1024);
    ///     # drop((reader, writer, b));
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn factory(limit: usize) -> Result<StreamProtocolFactory> {
        Ok(StreamProtocolFactory {
            limit: check_limit(limit)?,
            on_connected: None,
        })
    }

    /// The reader and writer of a connection made with a
    /// [`factory`](StreamReaderProtocol::factory). The connection is closed
    /// once both (and every clone of the writer) are dropped.
    ///
    /// Errors: [`Error::InvalidInput`] if the streams were taken already;
    /// the transport error `tulip::transport::Error::Closed` if the
    /// connection was never made.
    ///
    /// ```
    /// use tulip::prelude::*;
    /// use tulip::streams::{Error, StreamReaderProtocol, UnixConnectOptions};
    /// tulip::run(async {
    ///     let (a, b) = std::os::unix::net::UnixStream::pair()?;
    ///     let factory = StreamReaderProtocol::factory(1024)?;
    ///     let (_, protocol) = get_running_loop()?
    ///         .create_unix_connection(factory, None, UnixConnectOptions::new().sock(a.into()))
    ///         .await?;
    ///     let (_reader, writer) = StreamReaderProtocol::into_streams(protocol.clone())?;
    ///     writer.write(b"via the protocol's streams")?;
    ///     // Once only: a second call is refused.
    ///     assert!(matches!(StreamReaderProtocol::into_streams(protocol), Err(Error::InvalidInput(_))));
    ///     # drop(b);
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_streams(
        protocol: Rc<RefCell<StreamReaderProtocol>>,
    ) -> Result<(StreamReader, StreamWriter)> {
        let transport = {
            let mut p = protocol.borrow_mut();
            if p.streams_taken {
                return Err(Error::InvalidInput(String::from(
                    "the streams of this protocol were taken already",
                )));
            }
            let Some(t) = p.transport.clone() else {
                return Err(Error::Transport(tulip_transport::Error::Closed));
            };
            p.streams_taken = true;
            t
        };
        Ok(make_streams(protocol, transport))
    }

    /// Whether `connection_lost` was called.
    ///
    /// ```
    /// use tulip::prelude::*;
    /// use tulip::streams::{StreamReaderProtocol, UnixConnectOptions};
    /// tulip::run(async {
    ///     let (a, b) = std::os::unix::net::UnixStream::pair()?;
    ///     let (_, protocol) = get_running_loop()?
    ///         .create_unix_connection(
    ///             StreamReaderProtocol::factory(1024)?,
    ///             None,
    ///             UnixConnectOptions::new().sock(a.into()),
    ///         )
    ///         .await?;
    ///     assert!(!protocol.borrow().is_connection_lost());
    ///     let (_reader, writer) = StreamReaderProtocol::into_streams(protocol.clone())?;
    ///     writer.close();
    ///     writer.wait_closed().await?;
    ///     assert!(protocol.borrow().is_connection_lost());
    ///     # drop(b);
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_connection_lost(&self) -> bool {
        self.writer.lost
    }

    /// Reads and writes go through `transport` from now on (asyncio's
    /// `_replace_transport`, after `start_tls`).
    pub(crate) fn replace_transport(&mut self, transport: Transport) {
        self.reader.transport = Some(transport.clone());
        self.transport = Some(transport);
    }
}

/// The reader and writer over one connection, sharing one [`Owner`].
fn make_streams(
    shared: Rc<RefCell<StreamReaderProtocol>>,
    transport: Transport,
) -> (StreamReader, StreamWriter) {
    let owner = Rc::new(Owner {
        transport: RefCell::new(transport.clone()),
    });
    let reader = StreamReader::from_shared(shared.clone(), Some(owner.clone()));
    let writer = StreamWriter::from_parts(transport, shared, owner);
    (reader, writer)
}

impl fmt::Debug for StreamReaderProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamReaderProtocol")
            .field("transport", &self.transport)
            .field("buffered", &self.reader.buffer.len())
            .field("write_paused", &self.writer.paused)
            .field("lost", &self.writer.lost)
            .finish()
    }
}

impl BaseProtocol for StreamReaderProtocol {
    fn connection_lost(&mut self, exc: Option<tulip_transport::Error>) {
        let exc = exc.map(Error::Transport);
        match &exc {
            None => self.reader.feed_eof(),
            Some(e) => self.reader.set_exception(e.clone()),
        }
        self.writer.lost = true;
        // Lost without an error while writing was paused: an abort dropped
        // the buffer (a close sends it all and resumes writing first), so
        // a drain waiting for it must fail.
        self.writer.error = exc.or_else(|| self.writer.paused.then(Error::connection_lost));
        self.writer.wake_all();
        // Nothing to pause or resume any more. (`self.transport` is kept
        // for `into_streams`: the transport has dropped this protocol, so
        // there is no cycle left.)
        self.reader.transport = None;
    }

    fn pause_writing(&mut self) {
        self.writer.paused = true;
    }

    fn resume_writing(&mut self) {
        self.writer.paused = false;
        self.writer.wake_all();
    }
}

impl BufferedProtocol for StreamReaderProtocol {
    fn connection_made(&mut self, transport: Transport) {
        self.reader.transport = Some(transport.clone());
        self.transport = Some(transport.clone());
        if let Some(cb) = self.on_connected.take() {
            if let Some(shared) = self.this.upgrade() {
                self.streams_taken = true;
                let (reader, writer) = make_streams(shared, transport);
                cb(reader, writer);
            }
        }
    }

    fn get_buffer(&mut self, _sizehint: usize) -> &mut [u8] {
        self.reader.get_buffer()
    }

    fn buffer_updated(&mut self, nbytes: usize) {
        self.reader.buffer_updated(nbytes);
    }

    fn eof_received(&mut self) -> bool {
        self.reader.feed_eof();
        // Keep the transport open for writing: a half-closed connection.
        true
    }
}

/// Makes a [`StreamReaderProtocol`] per connection (see
/// [`StreamReaderProtocol::factory`]).
///
/// ```
/// use tulip::prelude::*;
/// use tulip::streams::{StreamProtocolFactory, StreamReaderProtocol, UnixConnectOptions};
/// tulip::run(async {
///     let (a, b) = std::os::unix::net::UnixStream::pair()?;
///     let factory: StreamProtocolFactory = StreamReaderProtocol::factory(4096)?;
///     let (_, protocol) = get_running_loop()?
///         .create_unix_connection(factory, None, UnixConnectOptions::new().sock(a.into()))
///         .await?;
///     let (reader, _writer) = StreamReaderProtocol::into_streams(protocol)?;
///     assert_eq!(reader.limit(), 4096);
///     # drop(b);
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct StreamProtocolFactory {
    limit: usize,
    on_connected: Option<OnConnected>,
}

impl StreamProtocolFactory {
    /// A factory whose protocols hand each connection's streams to
    /// `on_connected`, from inside `connection_made` (what
    /// [`start_server`](crate::start_server) builds on).
    pub(crate) fn with_callback(limit: usize, on_connected: OnConnected) -> StreamProtocolFactory {
        StreamProtocolFactory {
            limit,
            on_connected: Some(on_connected),
        }
    }

    /// A factory of protocols whose readers have the default limit.
    ///
    /// ```
    /// use tulip::prelude::*;
    /// use tulip::streams::{DEFAULT_LIMIT, StreamProtocolFactory, StreamReaderProtocol, UnixConnectOptions};
    /// tulip::run(async {
    ///     let (a, b) = std::os::unix::net::UnixStream::pair()?;
    ///     let (_, protocol) = get_running_loop()?
    ///         .create_unix_connection(
    ///             StreamProtocolFactory::new(),
    ///             None,
    ///             UnixConnectOptions::new().sock(a.into()),
    ///         )
    ///         .await?;
    ///     let (reader, _writer) = StreamReaderProtocol::into_streams(protocol)?;
    ///     assert_eq!(reader.limit(), DEFAULT_LIMIT);
    ///     # drop(b);
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new() -> StreamProtocolFactory {
        StreamProtocolFactory {
            limit: DEFAULT_LIMIT,
            on_connected: None,
        }
    }
}

impl Default for StreamProtocolFactory {
    fn default() -> StreamProtocolFactory {
        StreamProtocolFactory::new()
    }
}

impl fmt::Debug for StreamProtocolFactory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamProtocolFactory")
            .field("limit", &self.limit)
            .field("server", &self.on_connected.is_some())
            .finish()
    }
}

impl ProtocolFactory for StreamProtocolFactory {
    type Protocol = StreamReaderProtocol;

    fn build(
        &mut self,
    ) -> tulip_transport::Result<(Rc<RefCell<StreamReaderProtocol>>, ProtocolRef)> {
        let p = StreamReaderProtocol::build(self.limit, self.on_connected.clone());
        Ok((p.clone(), ProtocolRef::buffered(p)))
    }
}
