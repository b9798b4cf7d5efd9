//! [`StreamReader`]: asyncio's `StreamReader`, the reading half of a
//! stream, with its buffer logic ([`ReaderCore`]) shared with the
//! protocol that fills it.
//!
//! Every read method works the same way: look at the buffer; if what it
//! needs is there, take it (the only point where bytes leave the buffer);
//! otherwise wait for more data or EOF and look again. So a read future
//! dropped while it waits has consumed nothing: every method is cancel
//! safe, and the next read sees the same bytes.

use std::cell::RefCell;
use std::fmt;
use std::future::poll_fn;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use futures_core::Stream;
use tulip_transport::Transport;

use crate::buffer::ReadBuffer;
use crate::error::{Error, IncompleteReadError, LimitOverrunError, Result};
use crate::protocol::{Owner, StreamReaderProtocol};

/// The default limit of a reader: 64 KiB (asyncio's `_DEFAULT_LIMIT`).
pub const DEFAULT_LIMIT: usize = 64 * 1024;

/// Checks a user-given limit (asyncio's "Limit cannot be <= 0").
pub(crate) fn check_limit(limit: usize) -> Result<usize> {
    if limit == 0 {
        Err(Error::InvalidInput(String::from("Limit cannot be <= 0")))
    } else {
        Ok(limit)
    }
}

/// What a waiting read needs, for sizing the buffer and for flow control.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Hold {
    /// Nothing in particular: pause the transport over twice the limit.
    Any,
    /// `readexactly(n)`: size the buffer for `n` bytes; do not pause
    /// before they are all there (asyncio resumes a paused transport
    /// whenever a read waits, so the effect is the same, minus the
    /// pause/resume churn).
    Exactly(usize),
    /// `read_to_eof`: everything is wanted; never pause.
    ToEof,
}

/// A reader's state: buffer, EOF, exception, the waiting read, and the
/// transport to pause when the buffer grows past twice the limit.
pub(crate) struct ReaderCore {
    pub(crate) buffer: ReadBuffer,
    /// Bytes lent to the [`StreamReader`] (for `AsyncBufRead`) and not
    /// consumed yet: they count toward flow control.
    pub(crate) lent: usize,
    pub(crate) limit: usize,
    pub(crate) eof: bool,
    pub(crate) exception: Option<Error>,
    waiter: Option<Waker>,
    pub(crate) transport: Option<Transport>,
    paused: bool,
    hold: Hold,
    /// Bumped whenever the data's start moves (bytes consumed or put
    /// back): a search offset kept across polls is stale then.
    pub(crate) generation: u64,
}

impl ReaderCore {
    pub(crate) fn new(limit: usize) -> ReaderCore {
        ReaderCore {
            buffer: ReadBuffer::default(),
            lent: 0,
            limit,
            eof: false,
            exception: None,
            waiter: None,
            transport: None,
            paused: false,
            hold: Hold::Any,
            generation: 0,
        }
    }

    /// Bytes held, including those lent out.
    fn total(&self) -> usize {
        self.buffer.len() + self.lent
    }

    fn wakeup(&mut self) {
        if let Some(w) = self.waiter.take() {
            w.wake();
        }
    }

    /// The room for the next read from the socket.
    pub(crate) fn get_buffer(&mut self) -> &mut [u8] {
        let want = match self.hold {
            Hold::Exactly(n) => n.saturating_sub(self.lent),
            _ => 0,
        };
        self.buffer.spare(want)
    }

    /// `n` bytes landed in the room given by [`get_buffer`](Self::get_buffer).
    pub(crate) fn buffer_updated(&mut self, n: usize) {
        self.buffer.filled(n);
        self.data_arrived();
    }

    /// asyncio's `feed_data`.
    pub(crate) fn feed_data(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        if self.eof {
            log::warn!("StreamReader: feed_data after feed_eof ignored");
            return;
        }
        self.buffer.extend(data);
        self.data_arrived();
    }

    fn data_arrived(&mut self) {
        self.wakeup();
        let total = self.total();
        let over = match self.hold {
            Hold::Any => total > 2 * self.limit,
            Hold::Exactly(n) => total > 2 * self.limit && total >= n,
            Hold::ToEof => false,
        };
        if over && !self.paused {
            if let Some(t) = &self.transport {
                t.pause_reading();
                self.paused = true;
            }
        }
    }

    /// asyncio's `feed_eof`.
    pub(crate) fn feed_eof(&mut self) {
        self.eof = true;
        if self.buffer.is_empty() {
            self.buffer.release();
        }
        self.wakeup();
    }

    /// asyncio's `set_exception`.
    pub(crate) fn set_exception(&mut self, exc: Error) {
        self.exception = Some(exc);
        self.wakeup();
    }

    /// asyncio's `at_eof`.
    pub(crate) fn at_eof(&self) -> bool {
        self.eof && self.total() == 0
    }

    /// asyncio's `_maybe_resume_transport`, after bytes were consumed.
    fn consumed(&mut self) {
        self.generation = self.generation.wrapping_add(1);
        self.hold = Hold::Any;
        if self.paused && self.total() <= self.limit {
            self.paused = false;
            if let Some(t) = &self.transport {
                t.resume_reading();
            }
        }
    }

    /// Consumes `n` lent bytes (`AsyncBufRead::consume`).
    pub(crate) fn consumed_lent(&mut self, n: usize) {
        self.lent -= n.min(self.lent);
        self.consumed();
    }

    /// asyncio's `_wait_for_data`: resumes a paused transport (waiting
    /// while paused would never end) and parks the reading task; or, when
    /// an exception is set, no data will come: that error.
    fn wait<T>(&mut self, cx: &mut Context<'_>, hold: Hold) -> Poll<Result<T>> {
        if let Some(e) = &self.exception {
            return Poll::Ready(Err(e.clone()));
        }
        self.hold = hold;
        if self.paused {
            self.paused = false;
            if let Some(t) = &self.transport {
                t.resume_reading();
            }
        }
        match &self.waiter {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => self.waiter = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    fn check(&self, started: &mut bool) -> Result<()> {
        if !*started {
            *started = true;
            if let Some(e) = &self.exception {
                return Err(e.clone());
            }
        }
        Ok(())
    }

    pub(crate) fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        n: usize,
        started: &mut bool,
    ) -> Poll<Result<Vec<u8>>> {
        self.check(started)?;
        if n == 0 {
            return Poll::Ready(Ok(Vec::new()));
        }
        if self.buffer.is_empty() && !self.eof {
            return self.wait(cx, Hold::Any);
        }
        let data = self.buffer.take(n);
        self.consumed();
        Poll::Ready(Ok(data))
    }

    /// Waits until some data is buffered or EOF came (for the I/O
    /// traits, which check the exception on every call).
    pub(crate) fn poll_data(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        if let Some(e) = &self.exception {
            return Poll::Ready(Err(e.clone()));
        }
        if self.buffer.is_empty() && !self.eof {
            return self.wait(cx, Hold::Any);
        }
        Poll::Ready(Ok(()))
    }

    /// `AsyncRead`: copies into `out`.
    pub(crate) fn poll_read_into(
        &mut self,
        cx: &mut Context<'_>,
        out: &mut [u8],
    ) -> Poll<Result<usize>> {
        if out.is_empty() {
            return Poll::Ready(Ok(0));
        }
        if let Err(e) = std::task::ready!(self.poll_data(cx)) {
            return Poll::Ready(Err(e));
        }
        let n = out.len().min(self.buffer.len());
        out[..n].copy_from_slice(&self.buffer.data()[..n]);
        self.buffer.consume(n);
        self.consumed();
        Poll::Ready(Ok(n))
    }

    pub(crate) fn poll_read_to_eof(
        &mut self,
        cx: &mut Context<'_>,
        started: &mut bool,
    ) -> Poll<Result<Vec<u8>>> {
        self.check(started)?;
        if !self.eof {
            return self.wait(cx, Hold::ToEof);
        }
        let data = self.buffer.take_all();
        self.consumed();
        Poll::Ready(Ok(data))
    }

    pub(crate) fn poll_readexactly(
        &mut self,
        cx: &mut Context<'_>,
        n: usize,
        started: &mut bool,
    ) -> Poll<Result<Vec<u8>>> {
        self.check(started)?;
        if n == 0 {
            return Poll::Ready(Ok(Vec::new()));
        }
        if self.buffer.len() < n {
            if self.eof {
                let partial = self.buffer.take_all();
                self.consumed();
                return Poll::Ready(Err(IncompleteReadError::new(partial, Some(n)).into()));
            }
            return self.wait(cx, Hold::Exactly(n));
        }
        let data = self.buffer.take(n);
        self.consumed();
        Poll::Ready(Ok(data))
    }

    /// asyncio's `readuntil` over one or several separators. `offset`:
    /// the bytes known to hold no complete separator, kept across polls.
    pub(crate) fn poll_readuntil(
        &mut self,
        cx: &mut Context<'_>,
        separators: &[&[u8]],
        offset: &mut usize,
        started: &mut bool,
    ) -> Poll<Result<Vec<u8>>> {
        let Some(min_len) = separators.iter().map(|s| s.len()).min() else {
            return Poll::Ready(Err(Error::InvalidInput(String::from(
                "Separator should contain at least one element",
            ))));
        };
        if min_len == 0 {
            return Poll::Ready(Err(Error::InvalidInput(String::from(
                "Separator should be at least one-byte string",
            ))));
        }
        let max_len = separators.iter().map(|s| s.len()).max().unwrap_or(min_len);
        self.check(started)?;
        let buflen = self.buffer.len();
        if buflen.saturating_sub(*offset) >= min_len {
            if let Some((start, end)) = find_separator(self.buffer.data(), *offset, separators) {
                if start > self.limit {
                    return Poll::Ready(Err(LimitOverrunError::new(
                        "Separator is found, but chunk is longer than limit",
                        start,
                    )
                    .into()));
                }
                let chunk = self.buffer.take(end);
                self.consumed();
                return Poll::Ready(Ok(chunk));
            }
            *offset = (buflen + 1).saturating_sub(max_len);
            if *offset > self.limit {
                return Poll::Ready(Err(LimitOverrunError::new(
                    "Separator is not found, and chunk exceed the limit",
                    *offset,
                )
                .into()));
            }
        }
        if self.eof {
            let partial = self.buffer.take_all();
            self.consumed();
            return Poll::Ready(Err(IncompleteReadError::new(partial, None).into()));
        }
        self.wait(cx, Hold::Any)
    }

    /// asyncio's `readline`: `readuntil(b"\n")`, a partial last line at
    /// EOF, and a too-long line discarded.
    pub(crate) fn poll_readline(
        &mut self,
        cx: &mut Context<'_>,
        offset: &mut usize,
        started: &mut bool,
    ) -> Poll<Result<Vec<u8>>> {
        match self.poll_readuntil(cx, &[b"\n"], offset, started) {
            Poll::Ready(Err(Error::IncompleteRead(e))) => Poll::Ready(Ok(e.partial)),
            Poll::Ready(Err(Error::LimitOverrun(e))) => {
                if self.buffer.data().get(e.consumed) == Some(&b'\n') {
                    self.buffer.consume(e.consumed + 1);
                } else {
                    self.buffer.consume(usize::MAX);
                }
                self.consumed();
                Poll::Ready(Err(Error::LimitOverrun(e)))
            }
            other => other,
        }
    }
}

/// The earliest end of any separator in `data[offset..]`: `(start, end)`
/// of the match (on a tie, the shorter separator wins).
fn find_separator(data: &[u8], offset: usize, separators: &[&[u8]]) -> Option<(usize, usize)> {
    let hay = data.get(offset..)?;
    let mut best: Option<(usize, usize)> = None;
    for sep in separators {
        // A separator cannot end before the best match if it starts
        // after it: search only up to the best end found so far.
        let limit = best.map_or(hay.len(), |(_, end)| (end - offset).min(hay.len()));
        let region = &hay[..limit];
        let found = if sep.len() == 1 {
            memchr::memchr(sep[0], region)
        } else {
            memchr::memmem::find(region, sep)
        };
        if let Some(i) = found {
            let (start, end) = (offset + i, offset + i + sep.len());
            let better = match best {
                None => true,
                Some((bs, be)) => end < be || (end == be && start > bs),
            };
            if better {
                best = Some((start, end));
            }
        }
    }
    best
}

/// One or several separators for [`StreamReader::readuntil`]: a byte
/// string (`b"\r\n"`, `&[u8]`, `&Vec<u8>`, `&str`) or a list of them
/// (`[&b"\r\n"[..], b"\n"]`, `&[&[u8]]`), as asyncio accepts `bytes` or a
/// tuple of `bytes`.
pub trait Separators {
    /// Calls `f` with the separators.
    fn with_separators<R>(&self, f: impl FnOnce(&[&[u8]]) -> R) -> R;
}

impl Separators for &[u8] {
    fn with_separators<R>(&self, f: impl FnOnce(&[&[u8]]) -> R) -> R {
        f(std::slice::from_ref(self))
    }
}

impl<const N: usize> Separators for &[u8; N] {
    fn with_separators<R>(&self, f: impl FnOnce(&[&[u8]]) -> R) -> R {
        let s: &[u8] = &self[..];
        f(&[s])
    }
}

impl Separators for &Vec<u8> {
    fn with_separators<R>(&self, f: impl FnOnce(&[&[u8]]) -> R) -> R {
        f(&[self.as_slice()])
    }
}

impl Separators for &str {
    fn with_separators<R>(&self, f: impl FnOnce(&[&[u8]]) -> R) -> R {
        f(&[self.as_bytes()])
    }
}

impl Separators for &[&[u8]] {
    fn with_separators<R>(&self, f: impl FnOnce(&[&[u8]]) -> R) -> R {
        f(self)
    }
}

impl<const N: usize> Separators for [&[u8]; N] {
    fn with_separators<R>(&self, f: impl FnOnce(&[&[u8]]) -> R) -> R {
        f(self)
    }
}

impl<const N: usize> Separators for &[&[u8]; N] {
    fn with_separators<R>(&self, f: impl FnOnce(&[&[u8]]) -> R) -> R {
        f(&self[..])
    }
}

impl Separators for &Vec<&[u8]> {
    fn with_separators<R>(&self, f: impl FnOnce(&[&[u8]]) -> R) -> R {
        f(self)
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
/// use tulip_streams::StreamReader;
///
/// tulip_executor::run(async {
///     let mut reader = StreamReader::new();
///     reader.feed_data(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nbody");
///     reader.feed_eof();
///     assert_eq!(reader.readline().await?, b"GET / HTTP/1.1\r\n");
///     assert_eq!(reader.readuntil(b"\r\n\r\n").await?, b"Host: x\r\n\r\n");
///     assert_eq!(reader.read_to_eof().await?, b"body");
///     assert!(reader.at_eof());
///     Ok::<(), tulip_streams::Error>(())
/// })??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
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
    pub fn new() -> StreamReader {
        StreamReader::from_shared(StreamReaderProtocol::standalone(DEFAULT_LIMIT), None)
    }

    /// A standalone reader with `limit`: the longest line or separated
    /// chunk it returns, and half the bytes it buffers before pausing its
    /// transport.
    ///
    /// Errors: [`Error::InvalidInput`] if `limit` is 0.
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
    pub fn limit(&self) -> usize {
        self.shared.borrow().reader.limit
    }

    /// Bytes buffered and not read yet.
    pub fn bytes_buffered(&self) -> usize {
        self.shared.borrow().reader.total()
    }

    /// Bytes of memory the reader's buffer holds now (0 when idle).
    pub fn buffer_capacity(&self) -> usize {
        self.shared.borrow().reader.buffer.allocated() + self.lent.allocated()
    }

    /// A handle that feeds this reader, for the code that plays the
    /// protocol's part while a read is waiting.
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
    /// Errors: the exception set on the reader.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the bytes stay in the reader until EOF, so a dropped
    /// call loses nothing.
    #[doc(alias = "read_to_end")]
    pub async fn read_to_eof(&mut self) -> Result<Vec<u8>> {
        self.merge_lent();
        let mut started = false;
        poll_fn(|cx| self.poll_with(cx, |core, cx| core.poll_read_to_eof(cx, &mut started))).await
    }

    /// Reads one line, ending with `b"\n"` (asyncio's `readline`). At EOF
    /// returns the partial last line without a newline, then empty
    /// vectors.
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
    /// # tulip_executor::run(async {
    /// let mut reader = tulip_streams::StreamReader::new();
    /// reader.feed_data(b"a\r\nb\nc");
    /// let seps: [&[u8]; 2] = [b"\r\n", b"\n"];
    /// assert_eq!(reader.readuntil(seps).await?, b"a\r\n");
    /// assert_eq!(reader.readuntil(seps).await?, b"b\n");
    /// # Ok::<(), tulip_streams::Error>(())
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
        let mut started = false;
        poll_fn(|cx| self.poll_with(cx, |core, cx| core.poll_readexactly(cx, n, &mut started)))
            .await
    }

    /// Whether EOF was fed and every byte was read (asyncio's `at_eof`).
    pub fn at_eof(&self) -> bool {
        self.shared.borrow().reader.at_eof() && self.lent.is_empty()
    }

    /// Appends bytes to the buffer and wakes the waiting read (asyncio's
    /// `feed_data`). Bytes fed after [`feed_eof`](StreamReader::feed_eof)
    /// are ignored (asyncio asserts).
    pub fn feed_data(&self, data: &[u8]) {
        self.shared.borrow_mut().reader.feed_data(data);
    }

    /// Marks the end of the stream (asyncio's `feed_eof`).
    pub fn feed_eof(&self) {
        self.shared.borrow_mut().reader.feed_eof();
    }

    /// The exception set on the reader, if any (asyncio's `exception`).
    pub fn exception(&self) -> Option<Error> {
        self.shared.borrow().reader.exception.clone()
    }

    /// Sets the exception every later read returns, and wakes the waiting
    /// read with it (asyncio's `set_exception`). A connection lost with an
    /// error sets it.
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
#[derive(Clone)]
pub struct StreamFeeder {
    shared: Rc<RefCell<StreamReaderProtocol>>,
}

impl StreamFeeder {
    /// [`StreamReader::feed_data`].
    pub fn feed_data(&self, data: &[u8]) {
        self.shared.borrow_mut().reader.feed_data(data);
    }

    /// [`StreamReader::feed_eof`].
    pub fn feed_eof(&self) {
        self.shared.borrow_mut().reader.feed_eof();
    }

    /// [`StreamReader::set_exception`].
    pub fn set_exception(&self, exc: Error) {
        self.shared.borrow_mut().reader.set_exception(exc);
    }

    /// [`StreamReader::exception`].
    pub fn exception(&self) -> Option<Error> {
        self.shared.borrow().reader.exception.clone()
    }
}

impl fmt::Debug for StreamFeeder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamFeeder").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::find_separator;

    #[test]
    fn earliest_end_wins() {
        let seps: [&[u8]; 2] = [b"\r\n", b"\n"];
        // Both end at 4: the shorter one wins (asyncio sorts by length);
        // the chunk returned is the same.
        assert_eq!(find_separator(b"ab\r\ncd", 0, &seps), Some((3, 4)));
        assert_eq!(find_separator(b"ab\ncd\r\n", 0, &seps), Some((2, 3)));
        let seps: [&[u8]; 2] = [b"abc", b"c"];
        assert_eq!(find_separator(b"xabc", 0, &seps), Some((3, 4)));
        assert_eq!(find_separator(b"xabc", 5, &seps), None);
        assert_eq!(find_separator(b"xyz", 0, &seps), None);
    }
}
