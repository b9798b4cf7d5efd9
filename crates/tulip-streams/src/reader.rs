//! [`StreamReader`]: asyncio's `StreamReader`, the reading half of a
//! stream, a handle on the state it shares with its protocol (see
//! `reader_core.rs` for the read logic), plus the lines [`Stream`] and the
//! [`StreamFeeder`].

use std::cell::RefCell;
use std::fmt;
use std::future::poll_fn;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use futures_core::Stream;

use crate::buffer::ReadBuffer;
use crate::error::{Error, Result};
use crate::protocol::{Owner, StreamReaderProtocol};
use crate::reader_core::{DEFAULT_LIMIT, ReaderCore, check_limit};
use crate::separators::Separators;

/// Clears the reader's hold when a `readexactly` / `read_to_eof` future
/// goes away, completed or cancelled: a dropped `readexactly(n)` must not
/// keep the buffer sized, or the transport unpaused, for its `n` bytes.
struct HoldGuard(Rc<RefCell<StreamReaderProtocol>>);

impl Drop for HoldGuard {
    fn drop(&mut self) {
        if let Ok(mut p) = self.0.try_borrow_mut() {
            p.reader.release_hold();
        }
    }
}

/// Where the lines [`Stream`] is.
#[derive(Default)]
struct LinesState {
    offset: usize,
    generation: u64,
    started: bool,
    done: bool,
}

/// The reading half of a stream (asyncio's `StreamReader`).
///
/// Made by [`open_connection`](crate::open_connection) and
/// [`start_server`](crate::start_server), or standalone with
/// [`StreamReader::new`] and fed with [`feed_data`](StreamReader::feed_data)
/// and [`feed_eof`](StreamReader::feed_eof).
///
/// Reads take `&mut self`: one read at a time, which asyncio can only check
/// at run time ("called while another coroutine is already waiting").
/// Iterating the reader as a [`Stream`] yields its lines (asyncio's
/// `async for line in reader`). It also implements
/// `futures_io::AsyncRead` and `AsyncBufRead`.
///
/// The buffer holds at most about twice the [limit](StreamReader::limit)
/// before the transport is paused (and resumed once reads bring it down
/// to the limit), whatever the peer sends; it is allocated when data
/// arrives and released once read, so an idle connection holds none.
///
/// ```
/// use tulip::streams::StreamReader;
///
/// tulip::run(async {
///     let mut reader = StreamReader::new();
///     reader.feed_data(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nbody");
///     reader.feed_eof();
///     assert_eq!(reader.readline().await?, b"GET / HTTP/1.1\r\n");
///     assert_eq!(reader.readuntil(b"\r\n\r\n").await?, b"Host: x\r\n\r\n");
///     assert_eq!(reader.read_to_eof().await?, b"body");
///     assert!(reader.at_eof());
///     Ok::<(), tulip::streams::Error>(())
/// })??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// A reader stays on its loop's thread (it is `!Send`):
///
/// ```compile_fail
/// fn send<T: Send>(_: T) {}
/// send(tulip::streams::StreamReader::new());
/// ```
pub struct StreamReader {
    pub(crate) shared: Rc<RefCell<StreamReaderProtocol>>,
    /// Closes the transport once the reader and every writer are dropped.
    _owner: Option<Rc<Owner>>,
    /// Bytes lent out by `AsyncBufRead::poll_fill_buf`.
    pub(crate) lent: ReadBuffer,
    lines: LinesState,
}

impl StreamReader {
    /// A standalone reader with the default limit (64 KiB), fed by
    /// [`feed_data`](StreamReader::feed_data).
    ///
    /// ```
    /// use tulip::streams::{DEFAULT_LIMIT, StreamReader};
    /// let reader = StreamReader::new();
    /// assert_eq!(reader.limit(), DEFAULT_LIMIT);
    /// assert_eq!(reader.bytes_buffered(), 0);
    /// ```
    pub fn new() -> StreamReader {
        StreamReader::from_shared(StreamReaderProtocol::standalone(DEFAULT_LIMIT), None)
    }

    /// A standalone reader with `limit`: the longest line or separated
    /// chunk it returns, and half the bytes it buffers before pausing its
    /// transport.
    ///
    /// Errors: [`Error::InvalidInput`] if `limit` is 0.
    ///
    /// ```
    /// use tulip::streams::{Error, StreamReader};
    /// let reader = StreamReader::with_limit(1024)?;
    /// assert_eq!(reader.limit(), 1024);
    /// assert!(matches!(StreamReader::with_limit(0), Err(Error::InvalidInput(_))));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn with_limit(limit: usize) -> Result<StreamReader> {
        Ok(StreamReader::from_shared(
            StreamReaderProtocol::standalone(check_limit(limit)?),
            None,
        ))
    }

    pub(crate) fn from_shared(
        shared: Rc<RefCell<StreamReaderProtocol>>,
        owner: Option<Rc<Owner>>,
    ) -> StreamReader {
        StreamReader {
            shared,
            _owner: owner,
            lent: ReadBuffer::default(),
            lines: LinesState::default(),
        }
    }

    /// The reader's limit.
    ///
    /// ```
    /// use tulip::streams::StreamReader;
    /// assert_eq!(StreamReader::with_limit(16)?.limit(), 16);
    /// # Ok::<(), tulip::streams::Error>(())
    /// ```
    pub fn limit(&self) -> usize {
        self.shared.borrow().reader.limit
    }

    /// Bytes buffered and not read yet.
    ///
    /// ```
    /// use tulip::streams::StreamReader;
    /// tulip::run(async {
    ///     let mut reader = StreamReader::new();
    ///     reader.feed_data(b"abcdef");
    ///     assert_eq!(reader.bytes_buffered(), 6);
    ///     reader.read(4).await?;
    ///     assert_eq!(reader.bytes_buffered(), 2);
    ///     Ok::<(), tulip::streams::Error>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn bytes_buffered(&self) -> usize {
        self.shared.borrow().reader.total()
    }

    /// Bytes of memory the reader's buffer holds now (0 when idle).
    ///
    /// ```
    /// use tulip::streams::StreamReader;
    /// let reader = StreamReader::new();
    /// assert_eq!(reader.buffer_capacity(), 0); // nothing held while idle
    /// reader.feed_data(b"some bytes");
    /// assert!(reader.buffer_capacity() >= 10);
    /// ```
    pub fn buffer_capacity(&self) -> usize {
        self.shared.borrow().reader.buffer.allocated() + self.lent.allocated()
    }

    /// A handle that feeds this reader, for the code that plays the
    /// protocol's part while a read is waiting.
    ///
    /// ```
    /// use tulip::streams::StreamReader;
    /// tulip::run(async {
    ///     let mut reader = StreamReader::new();
    ///     let feeder = reader.feeder();
    ///     // Another task plays the protocol's part while `readline` waits.
    ///     tulip::spawn(async move {
    ///         feeder.feed_data(b"hello ");
    ///         tulip::yield_now().await;
    ///         feeder.feed_data(b"world\n");
    ///     });
    ///     assert_eq!(reader.readline().await?, b"hello world\n");
    ///     Ok::<(), tulip::streams::Error>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn feeder(&self) -> StreamFeeder {
        StreamFeeder {
            shared: self.shared.clone(),
        }
    }

    /// Puts bytes lent to `AsyncBufRead` back in front of the buffer.
    pub(crate) fn merge_lent(&mut self) {
        if self.lent.allocated() == 0 {
            return;
        }
        let mut p = self.shared.borrow_mut();
        let core = &mut p.reader;
        if !self.lent.is_empty() {
            if core.buffer.is_empty() {
                std::mem::swap(&mut core.buffer, &mut self.lent);
            } else {
                core.buffer.prepend(self.lent.data());
            }
            core.lent = 0;
            core.generation = core.generation.wrapping_add(1);
        }
        self.lent.release();
    }

    fn poll_with<T>(
        &mut self,
        cx: &mut Context<'_>,
        f: impl FnOnce(&mut ReaderCore, &mut Context<'_>) -> Poll<T>,
    ) -> Poll<T> {
        f(&mut self.shared.borrow_mut().reader, cx)
    }

    /// Reads up to `n` bytes (asyncio's `read(n)`): as soon as at least
    /// one byte is buffered, returns what is there, up to `n`; at EOF,
    /// returns an empty vector. `n == 0` returns an empty vector at once.
    /// For asyncio's `read()` / `read(-1)`, see
    /// [`read_to_eof`](StreamReader::read_to_eof).
    ///
    /// ```
    /// # tulip::run(async {
    /// let mut reader = tulip::streams::StreamReader::new();
    /// reader.feed_data(b"hello");
    /// reader.feed_eof();
    /// assert_eq!(reader.read(3).await?, b"hel");
    /// assert_eq!(reader.read(100).await?, b"lo");
    /// assert_eq!(reader.read(100).await?, b""); // EOF
    /// # Ok::<(), tulip::streams::Error>(())
    /// # }).unwrap().unwrap();
    /// ```
    ///
    /// Errors: the exception set on the reader (the connection's error).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropped before it completes, it has consumed nothing.
    pub async fn read(&mut self, n: usize) -> Result<Vec<u8>> {
        self.merge_lent();
        let mut started = false;
        poll_fn(|cx| self.poll_with(cx, |core, cx| core.poll_read(cx, n, &mut started))).await
    }

    /// Reads until EOF and returns every byte (asyncio's `read()` with
    /// `n = -1`). The bytes are handed over in the buffer they arrived in
    /// when possible (no copy). The transport is not paused meanwhile: the
    /// whole stream is wanted.
    ///
    /// ```
    /// # tulip::run(async {
    /// let mut reader = tulip::streams::StreamReader::new();
    /// reader.feed_data(b"all ");
    /// reader.feed_data(b"of it");
    /// reader.feed_eof();
    /// assert_eq!(reader.read_to_eof().await?, b"all of it");
    /// # Ok::<(), tulip::streams::Error>(())
    /// # }).unwrap().unwrap();
    /// ```
    ///
    /// Errors: the exception set on the reader.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the bytes stay in the reader until EOF, so a dropped
    /// call loses nothing.
    #[doc(alias = "read_to_end")]
    pub async fn read_to_eof(&mut self) -> Result<Vec<u8>> {
        self.merge_lent();
        let _hold = HoldGuard(self.shared.clone());
        let mut started = false;
        poll_fn(|cx| self.poll_with(cx, |core, cx| core.poll_read_to_eof(cx, &mut started))).await
    }

    /// Reads one line, ending with `b"\n"` (asyncio's `readline`). At EOF
    /// returns the partial last line without a newline, then empty
    /// vectors.
    ///
    /// ```
    /// # tulip::run(async {
    /// let mut reader = tulip::streams::StreamReader::new();
    /// reader.feed_data(b"first\nlast");
    /// reader.feed_eof();
    /// assert_eq!(reader.readline().await?, b"first\n");
    /// assert_eq!(reader.readline().await?, b"last");
    /// assert_eq!(reader.readline().await?, b"");
    /// # Ok::<(), tulip::streams::Error>(())
    /// # }).unwrap().unwrap();
    /// ```
    ///
    /// Errors: [`Error::LimitOverrun`] when the line is longer than the
    /// limit; as asyncio does, the line is then discarded (up to and
    /// including its newline if it was found, else the whole buffer), so
    /// the next read starts past it. The exception set on the reader.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropped while waiting, it has consumed nothing.
    #[doc(alias = "read_line")]
    pub async fn readline(&mut self) -> Result<Vec<u8>> {
        self.merge_lent();
        let mut offset = 0;
        let mut started = false;
        poll_fn(|cx| {
            self.poll_with(cx, |core, cx| {
                core.poll_readline(cx, &mut offset, &mut started)
            })
        })
        .await
    }

    /// Reads until `separator` and returns the bytes with the separator
    /// at their end (asyncio's `readuntil`). `separator` may be a list of
    /// separators (asyncio 3.13's tuple): the shortest chunk ending in any
    /// of them is returned.
    ///
    /// ```
    /// # tulip::run(async {
    /// let mut reader = tulip::streams::StreamReader::new();
    /// reader.feed_data(b"a\r\nb\nc");
    /// let seps: [&[u8]; 2] = [b"\r\n", b"\n"];
    /// assert_eq!(reader.readuntil(seps).await?, b"a\r\n");
    /// assert_eq!(reader.readuntil(seps).await?, b"b\n");
    /// # Ok::<(), tulip::streams::Error>(())
    /// # }).unwrap().unwrap();
    /// ```
    ///
    /// Errors:
    /// - [`Error::IncompleteRead`] at EOF without a separator: the bytes
    ///   read are in it (and gone from the reader), `expected` is `None`.
    /// - [`Error::LimitOverrun`] when no separator is found within the
    ///   limit, or one is found past it; the data stays in the buffer
    ///   (read it otherwise, e.g. with [`read`](StreamReader::read)).
    /// - [`Error::InvalidInput`] for an empty separator or list.
    /// - The exception set on the reader.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropped while waiting, it has consumed nothing.
    #[doc(alias = "read_until")]
    pub async fn readuntil<S: Separators>(&mut self, separator: S) -> Result<Vec<u8>> {
        self.merge_lent();
        let mut offset = 0;
        let mut started = false;
        poll_fn(|cx| {
            separator.with_separators(|seps| {
                self.poll_with(cx, |core, cx| {
                    core.poll_readuntil(cx, seps, &mut offset, &mut started)
                })
            })
        })
        .await
    }

    /// Reads exactly `n` bytes (asyncio's `readexactly`); `n` may exceed
    /// the limit (the transport keeps reading until they are there).
    ///
    /// ```
    /// # tulip::run(async {
    /// let mut reader = tulip::streams::StreamReader::new();
    /// // A frame: a 2-byte big-endian length, then the payload.
    /// reader.feed_data(&[0, 5]);
    /// reader.feed_data(b"hello");
    /// let header = reader.readexactly(2).await?;
    /// let len = u16::from_be_bytes([header[0], header[1]]);
    /// assert_eq!(reader.readexactly(usize::from(len)).await?, b"hello");
    /// # Ok::<(), tulip::streams::Error>(())
    /// # }).unwrap().unwrap();
    /// ```
    ///
    /// Errors: [`Error::IncompleteRead`] when EOF comes first, with the
    /// bytes read (removed from the reader) and `expected == Some(n)`.
    /// The exception set on the reader.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the bytes are taken only once all `n` are there; a
    /// call dropped before that leaves them in the reader, and the next
    /// read returns them in order.
    #[doc(alias = "read_exact")]
    pub async fn readexactly(&mut self, n: usize) -> Result<Vec<u8>> {
        self.merge_lent();
        let _hold = HoldGuard(self.shared.clone());
        let mut started = false;
        poll_fn(|cx| self.poll_with(cx, |core, cx| core.poll_readexactly(cx, n, &mut started)))
            .await
    }

    /// [`readexactly`](StreamReader::readexactly) into `buf`, whose
    /// allocation is reused: `buf` ends up holding exactly the `n` bytes.
    /// When they are still to come, `buf` itself becomes the buffer the
    /// socket is read into (no copy, no allocation when `buf` is reused
    /// frame after frame); asyncio has no such method.
    ///
    /// ```
    /// # tulip::run(async {
    /// let mut reader = tulip::streams::StreamReader::new();
    /// reader.feed_data(b"0123456789");
    /// let mut frame = Vec::new();
    /// reader.readexactly_into(4, &mut frame).await?;
    /// assert_eq!(frame, b"0123");
    /// reader.readexactly_into(6, &mut frame).await?;
    /// assert_eq!(frame, b"456789");
    /// # Ok::<(), tulip::streams::Error>(())
    /// # }).unwrap().unwrap();
    /// ```
    ///
    /// Errors: as `readexactly` (the partial bytes are in the
    /// [`IncompleteReadError`](crate::IncompleteReadError), and `buf` is left
    /// as it was or empty).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe for the bytes: a call dropped before it completes
    /// leaves them in the reader, in order. `buf` may then be left empty
    /// (its allocation went to the reader).
    #[doc(alias = "read_exact")]
    pub async fn readexactly_into(&mut self, n: usize, buf: &mut Vec<u8>) -> Result<()> {
        self.merge_lent();
        let _hold = HoldGuard(self.shared.clone());
        let mut started = false;
        poll_fn(|cx| {
            self.poll_with(cx, |core, cx| {
                core.poll_readexactly_into(cx, n, buf, &mut started)
            })
        })
        .await
    }

    /// Whether EOF was fed and every byte was read (asyncio's `at_eof`).
    ///
    /// ```
    /// use tulip::streams::StreamReader;
    /// tulip::run(async {
    ///     let mut reader = StreamReader::new();
    ///     reader.feed_data(b"last");
    ///     reader.feed_eof();
    ///     assert!(!reader.at_eof()); // EOF fed, but bytes are left
    ///     reader.read(4).await?;
    ///     assert!(reader.at_eof());
    ///     Ok::<(), tulip::streams::Error>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn at_eof(&self) -> bool {
        self.shared.borrow().reader.at_eof() && self.lent.is_empty()
    }

    /// Appends bytes to the buffer and wakes the waiting read (asyncio's
    /// `feed_data`). Bytes fed after [`feed_eof`](StreamReader::feed_eof)
    /// are ignored (asyncio asserts).
    ///
    /// ```
    /// use tulip::streams::StreamReader;
    /// tulip::run(async {
    ///     let mut reader = StreamReader::new();
    ///     reader.feed_data(b"12");
    ///     reader.feed_data(b"34");
    ///     assert_eq!(reader.readexactly(4).await?, b"1234");
    ///     Ok::<(), tulip::streams::Error>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn feed_data(&self, data: &[u8]) {
        self.shared.borrow_mut().reader.feed_data(data);
    }

    /// Marks the end of the stream (asyncio's `feed_eof`).
    ///
    /// ```
    /// use tulip::streams::StreamReader;
    /// tulip::run(async {
    ///     let mut reader = StreamReader::new();
    ///     reader.feed_data(b"tail");
    ///     reader.feed_eof();
    ///     assert_eq!(reader.read_to_eof().await?, b"tail"); // returns at EOF
    ///     Ok::<(), tulip::streams::Error>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn feed_eof(&self) {
        self.shared.borrow_mut().reader.feed_eof();
    }

    /// The exception set on the reader, if any (asyncio's `exception`).
    ///
    /// ```
    /// use tulip::streams::{Error, StreamReader};
    /// let reader = StreamReader::new();
    /// assert!(reader.exception().is_none());
    /// reader.set_exception(Error::InvalidInput(String::from("bad frame")));
    /// assert!(matches!(reader.exception(), Some(Error::InvalidInput(_))));
    /// ```
    pub fn exception(&self) -> Option<Error> {
        self.shared.borrow().reader.exception.clone()
    }

    /// Sets the exception every later read returns, and wakes the waiting
    /// read with it (asyncio's `set_exception`). A connection lost with an
    /// error sets it.
    ///
    /// ```
    /// use tulip::streams::{Error, StreamReader};
    /// tulip::run(async {
    ///     let mut reader = StreamReader::new();
    ///     reader.set_exception(Error::InvalidInput(String::from("bad frame")));
    ///     // Every later read returns it.
    ///     assert!(matches!(reader.read(10).await, Err(Error::InvalidInput(_))));
    ///     assert!(matches!(reader.readline().await, Err(Error::InvalidInput(_))));
    /// })?;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn set_exception(&self, exc: Error) {
        self.shared.borrow_mut().reader.set_exception(exc);
    }
}

impl Default for StreamReader {
    fn default() -> StreamReader {
        StreamReader::new()
    }
}

impl fmt::Debug for StreamReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.shared.borrow();
        let core = &p.reader;
        f.debug_struct("StreamReader")
            .field("buffered", &(core.total()))
            .field("eof", &core.eof)
            .field("limit", &core.limit)
            .field("exception", &core.exception)
            .field("paused", &core.paused)
            .finish()
    }
}

/// The lines of the stream (asyncio's `async for line in reader`): each
/// item is a [`readline`](StreamReader::readline); the stream ends at EOF.
/// After [`Error::LimitOverrun`] (the line was discarded) it goes on with
/// the next line; after any other error it ends.
///
/// Cancel safe, as `readline`: a dropped `next()` loses nothing.
impl Stream for StreamReader {
    type Item = Result<Vec<u8>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.lines.done {
            return Poll::Ready(None);
        }
        this.merge_lent();
        let mut p = this.shared.borrow_mut();
        let core = &mut p.reader;
        let lines = &mut this.lines;
        if lines.generation != core.generation {
            lines.offset = 0;
        }
        let res = core.poll_readline(cx, &mut lines.offset, &mut lines.started);
        lines.generation = core.generation;
        match res {
            Poll::Pending => Poll::Pending,
            Poll::Ready(res) => {
                lines.offset = 0;
                lines.started = false;
                match res {
                    Ok(line) if line.is_empty() => {
                        lines.done = true;
                        Poll::Ready(None)
                    }
                    Ok(line) => Poll::Ready(Some(Ok(line))),
                    Err(e) => {
                        lines.done = !matches!(e, Error::LimitOverrun(_));
                        Poll::Ready(Some(Err(e)))
                    }
                }
            }
        }
    }
}

/// Feeds a [`StreamReader`] (made by [`StreamReader::feeder`]): the
/// protocol's side of the reader, usable while a read waits.
///
/// ```
/// use tulip::streams::StreamReader;
/// tulip::run(async {
///     let mut reader = StreamReader::new();
///     let feeder = reader.feeder();
///     let feeding = tulip::spawn(async move {
///         feeder.feed_data(b"a\nb\n");
///         feeder.feed_eof();
///     });
///     assert_eq!(reader.read_to_eof().await?, b"a\nb\n");
///     feeding.await?;
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct StreamFeeder {
    shared: Rc<RefCell<StreamReaderProtocol>>,
}

impl StreamFeeder {
    /// [`StreamReader::feed_data`].
    ///
    /// ```
    /// use tulip::streams::StreamReader;
    /// tulip::run(async {
    ///     let mut reader = StreamReader::new();
    ///     reader.feeder().feed_data(b"fed");
    ///     assert_eq!(reader.read(3).await?, b"fed");
    ///     Ok::<(), tulip::streams::Error>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn feed_data(&self, data: &[u8]) {
        self.shared.borrow_mut().reader.feed_data(data);
    }

    /// [`StreamReader::feed_eof`].
    ///
    /// ```
    /// use tulip::streams::StreamReader;
    /// let reader = StreamReader::new();
    /// reader.feeder().feed_eof();
    /// assert!(reader.at_eof());
    /// ```
    pub fn feed_eof(&self) {
        self.shared.borrow_mut().reader.feed_eof();
    }

    /// [`StreamReader::set_exception`].
    ///
    /// ```
    /// use tulip::streams::{Error, StreamReader};
    /// let reader = StreamReader::new();
    /// reader.feeder().set_exception(Error::InvalidInput(String::from("lost")));
    /// assert!(reader.exception().is_some());
    /// ```
    pub fn set_exception(&self, exc: Error) {
        self.shared.borrow_mut().reader.set_exception(exc);
    }

    /// [`StreamReader::exception`].
    ///
    /// ```
    /// use tulip::streams::{Error, StreamReader};
    /// let reader = StreamReader::new();
    /// let feeder = reader.feeder();
    /// assert!(feeder.exception().is_none());
    /// reader.set_exception(Error::InvalidInput(String::from("lost")));
    /// assert!(feeder.exception().is_some());
    /// ```
    pub fn exception(&self) -> Option<Error> {
        self.shared.borrow().reader.exception.clone()
    }
}

impl fmt::Debug for StreamFeeder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamFeeder").finish_non_exhaustive()
    }
}
