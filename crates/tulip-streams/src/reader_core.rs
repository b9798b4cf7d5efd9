//! A reader's state and read logic ([`ReaderCore`]), shared between the
//! [`StreamReader`](crate::StreamReader) and the protocol that fills it.
//!
//! Every read works the same way: look at the buffer; if what it needs is
//! there, take it (the only point where bytes leave the buffer);
//! otherwise wait for more data or EOF and look again. So a read future
//! dropped while it waits has consumed nothing: every read is cancel
//! safe, and the next read sees the same bytes.

use std::task::{Context, Poll, Waker};

use tulip_transport::Transport;

use crate::buffer::ReadBuffer;
use crate::error::{Error, IncompleteReadError, LimitOverrunError, Result};
use crate::separators::find_separator;

/// The default limit of a reader: 64 KiB (asyncio's `_DEFAULT_LIMIT`).
pub const DEFAULT_LIMIT: usize = 64 * 1024;

/// `readexactly_into` reads this many bytes or more straight into the
/// caller's vector; fewer are copied.
const ADOPT_MIN: usize = 16 * 1024;

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
    /// before more than `n` are there (asyncio resumes a paused transport
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
    pub(crate) paused: bool,
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
    pub(crate) fn total(&self) -> usize {
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
        self.trim();
        self.wakeup();
        let total = self.total();
        let over = match self.hold {
            Hold::Any => total > 2 * self.limit,
            Hold::Exactly(n) => total > n.max(2 * self.limit),
            Hold::ToEof => false,
        };
        if over && !self.paused {
            if let Some(t) = &self.transport {
                t.pause_reading();
                self.paused = true;
            }
        }
    }

    /// Keeps a few bytes that arrived, or that a read waits behind, in an
    /// allocation of their size rather than a whole chunk, unless a
    /// `readexactly` sized the buffer for its bytes.
    fn trim(&mut self) {
        if !matches!(self.hold, Hold::Exactly(_)) {
            self.buffer.trim();
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

    /// A read that set a [`Hold`] is gone (completed or dropped): back to
    /// the default sizing and flow control.
    pub(crate) fn release_hold(&mut self) {
        self.hold = Hold::Any;
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
        self.trim();
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
        static READ: tulip_executor::graph::WaitKind =
            tulip_executor::graph::WaitKind::new("StreamReader.read");
        tulip_executor::graph::waiting_on(&READ, tulip_executor::graph::WaitDetail::None);
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

    /// `readexactly` into the caller's vector: when the bytes are still to
    /// come, the vector itself becomes the buffer they land in.
    pub(crate) fn poll_readexactly_into(
        &mut self,
        cx: &mut Context<'_>,
        n: usize,
        out: &mut Vec<u8>,
        started: &mut bool,
    ) -> Poll<Result<()>> {
        self.check(started)?;
        if self.buffer.len() >= n {
            if n > 0 && self.buffer.len() == n && self.buffer.allocated() == n {
                // The caller's vector, adopted below, now full.
                *out = self.buffer.take(n);
            } else {
                out.clear();
                out.extend_from_slice(&self.buffer.data()[..n]);
                self.buffer.consume(n);
            }
            self.consumed();
            return Poll::Ready(Ok(()));
        }
        if self.eof {
            let partial = self.buffer.take_all();
            self.consumed();
            return Poll::Ready(Err(IncompleteReadError::new(partial, Some(n)).into()));
        }
        if n >= ADOPT_MIN && out.capacity() > 0 && self.exception.is_none() {
            let mut vec = std::mem::take(out);
            vec.resize(n, 0);
            self.buffer.adopt(vec);
        }
        self.wait(cx, Hold::Exactly(n))
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
