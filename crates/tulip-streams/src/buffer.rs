//! A reader's buffer: the bytes received and not yet read, in one `Vec`
//! that the socket reads straight into.
//!
//! The `Vec`'s length covers initialized memory only (zeroed once, when
//! allocated), so its unused tail can be handed to the transport as a
//! `&mut [u8]` without `unsafe`; `start..end` is the data. The buffer
//! exists only while it holds data: it is taken when data arrives and
//! given back once drained, to a small per-thread pool that the next
//! arrival reuses without zeroing again. An idle connection owns no
//! buffer at all, and one holding a few bytes (a slow peer's partial
//! line) keeps them in an allocation of their size: [`ReadBuffer::trim`]
//! gives the chunk back, and the next read takes one from the pool again.

use std::cell::RefCell;

/// The size of a fresh buffer, and so of one read from the socket.
pub(crate) const CHUNK: usize = 64 * 1024;

/// A read is never offered less room than this (unless a waiting read
/// needs fewer bytes): the buffer is compacted or grown first.
const MIN_SPARE: usize = 4 * 1024;

/// A read waiting for up to this many bytes gets a buffer of that size
/// at once; a larger one sees the buffer grow as the bytes arrive (a
/// length announced by a peer cannot make it allocate more up front).
pub(crate) const PRESIZE_MAX: usize = 4 * 1024 * 1024;

/// [`ReadBuffer::trim`] moves at most this many held bytes out of a chunk
/// (so a chunk is never more than 16 times what it holds while it waits).
const TRIM_MAX: usize = CHUNK / 16;

/// At most this many drained buffers wait in a thread's pool (4 MiB).
const POOL_MAX: usize = 64;

thread_local! {
    static POOL: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// A fresh (or pooled) buffer of [`CHUNK`] initialized bytes.
fn pool_take() -> Vec<u8> {
    POOL.try_with(|p| p.borrow_mut().pop())
        .ok()
        .flatten()
        .unwrap_or_else(|| vec![0u8; CHUNK])
}

/// Gives a drained buffer back: pooled if it has the standard size and
/// the pool has room, freed otherwise.
fn pool_put(buf: Vec<u8>) {
    if buf.len() != CHUNK {
        return;
    }
    let _ = POOL.try_with(|p| {
        if let Ok(mut p) = p.try_borrow_mut() {
            if p.len() < POOL_MAX {
                p.push(buf);
            }
        }
    });
}

/// The bytes received and not read yet.
#[derive(Default)]
pub(crate) struct ReadBuffer {
    /// Initialized memory; empty when nothing is held.
    buf: Vec<u8>,
    /// Where the unread data starts.
    start: usize,
    /// Where it ends (the free tail follows).
    end: usize,
}

impl ReadBuffer {
    /// Bytes held.
    pub(crate) fn len(&self) -> usize {
        self.end - self.start
    }

    /// Whether no byte is held.
    pub(crate) fn is_empty(&self) -> bool {
        self.end == self.start
    }

    /// The unread bytes.
    pub(crate) fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Bytes of memory allocated.
    pub(crate) fn allocated(&self) -> usize {
        self.buf.len()
    }

    /// Moves the data to the front of the allocation.
    fn compact(&mut self) {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
    }

    /// The free room to read into next (the `get_buffer` of a
    /// `BufferedProtocol`); never empty. `want` is how many bytes a
    /// waiting read needs in all (0 when unknown): up to [`PRESIZE_MAX`]
    /// the buffer is sized at once so that they fit in one allocation, and
    /// no more than the missing bytes is offered, so that the read can
    /// take the allocation whole.
    pub(crate) fn spare(&mut self, want: usize) -> &mut [u8] {
        if self.buf.is_empty() {
            self.buf = pool_take();
            self.start = 0;
            self.end = 0;
        }
        let missing = want.saturating_sub(self.len());
        if missing > 0 && want <= PRESIZE_MAX && self.buf.len() - self.start < want {
            self.compact();
            if self.buf.len() < want {
                self.buf.resize(want, 0);
            }
        }
        let needed = if missing > 0 {
            missing.min(MIN_SPARE)
        } else {
            MIN_SPARE
        };
        if self.buf.len() - self.end < needed {
            self.compact();
            if self.buf.len() - self.end < needed {
                if self.buf.len() < CHUNK && self.end + needed <= CHUNK {
                    // A trimmed buffer: back into a pooled chunk.
                    self.adopt(pool_take());
                } else {
                    let len = (self.buf.len() * 2).max(self.end + CHUNK);
                    self.buf.resize(len, 0);
                }
            }
        }
        let stop = if missing > 0 {
            (self.end + missing).min(self.buf.len())
        } else {
            self.buf.len()
        };
        &mut self.buf[self.end..stop]
    }

    /// `n` bytes were written at the start of the last [`spare`](Self::spare)
    /// room.
    pub(crate) fn filled(&mut self, n: usize) {
        self.end = (self.end + n).min(self.buf.len());
        if self.is_empty() {
            self.release();
        }
    }

    /// Appends `data` (asyncio's `feed_data`).
    pub(crate) fn extend(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        if self.buf.is_empty() {
            // A few bytes get a buffer of their size (a chunk would be
            // trimmed at once); more, a pooled chunk if they fit.
            if data.len() <= TRIM_MAX {
                self.buf = data.to_vec();
                self.start = 0;
                self.end = data.len();
                return;
            }
            if data.len() <= CHUNK {
                self.buf = pool_take();
                self.start = 0;
                self.end = 0;
            }
        }
        if self.buf.len() - self.end < data.len() {
            self.compact();
            if self.buf.len() - self.end < data.len() {
                let len = (self.buf.len() * 2).max(self.end + data.len());
                self.buf.resize(len, 0);
            }
        }
        self.buf[self.end..self.end + data.len()].copy_from_slice(data);
        self.end += data.len();
    }

    /// Puts `data` in front of what is held (bytes that were taken out
    /// earlier and not consumed).
    pub(crate) fn prepend(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        if self.is_empty() {
            self.extend(data);
        } else if self.start >= data.len() {
            self.start -= data.len();
            self.buf[self.start..self.start + data.len()].copy_from_slice(data);
        } else {
            self.buf.truncate(self.end);
            self.buf
                .splice(self.start..self.start, data.iter().copied());
            self.end += data.len();
        }
    }

    /// Makes `vec` the buffer, the held bytes copied to its front: a
    /// caller's buffer that the next reads fill in place. `vec` must be
    /// at least as long as what is held.
    pub(crate) fn adopt(&mut self, mut vec: Vec<u8>) {
        let n = self.len();
        debug_assert!(vec.len() >= n);
        vec[..n].copy_from_slice(self.data());
        self.release();
        self.buf = vec;
        self.end = n;
    }

    /// Keeps a few held bytes ([`TRIM_MAX`] at most) in an allocation of
    /// their size and gives the chunk (or larger allocation) they were in
    /// back: for bytes that may wait long (a partial line from a slow
    /// peer). More data, or a small allocation, stays as it is. Not for a
    /// buffer sized for a waiting read (`spare(want)`, `adopt`).
    pub(crate) fn trim(&mut self) {
        let n = self.len();
        if n > 0 && n <= TRIM_MAX && self.buf.len() >= CHUNK {
            let kept = self.data().to_vec();
            self.release();
            self.buf = kept;
            self.end = n;
        }
    }

    /// Drops the first `n` bytes (all when `n` is larger); the buffer is
    /// released once drained.
    pub(crate) fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
        if self.is_empty() {
            self.release();
        }
    }

    /// Takes the first `n` bytes (all when `n` is larger). When they are
    /// the whole buffer and fill most of its allocation, the allocation
    /// itself is handed over (no copy).
    pub(crate) fn take(&mut self, n: usize) -> Vec<u8> {
        let n = n.min(self.len());
        if n == self.len() && self.start == 0 && n * 2 >= self.buf.len() {
            let mut out = std::mem::take(&mut self.buf);
            out.truncate(n);
            self.start = 0;
            self.end = 0;
            return out;
        }
        let out = self.buf[self.start..self.start + n].to_vec();
        self.consume(n);
        out
    }

    /// Takes everything held.
    pub(crate) fn take_all(&mut self) -> Vec<u8> {
        self.take(self.len())
    }

    /// Drops the data and gives the allocation back.
    pub(crate) fn release(&mut self) {
        self.start = 0;
        self.end = 0;
        if !self.buf.is_empty() {
            pool_put(std::mem::take(&mut self.buf));
        }
    }
}

impl Drop for ReadBuffer {
    fn drop(&mut self) {
        self.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spare_is_never_empty_and_fill_appends() {
        let mut b = ReadBuffer::default();
        assert_eq!(b.allocated(), 0);
        let room = b.spare(0);
        assert!(room.len() >= MIN_SPARE);
        room[..3].copy_from_slice(b"abc");
        b.filled(3);
        assert_eq!(b.data(), b"abc");
        b.consume(1);
        assert_eq!(b.data(), b"bc");
        assert_eq!(b.take(5), b"bc");
        assert!(b.is_empty());
        assert_eq!(b.allocated(), 0, "a drained buffer is released");
    }

    #[test]
    fn spare_compacts_then_grows() {
        let mut b = ReadBuffer::default();
        let n = b.spare(0).len();
        b.spare(0).fill(b'x');
        b.filled(n);
        b.consume(n - 10);
        let room = b.spare(0).len();
        assert!(room >= MIN_SPARE);
        assert_eq!(b.data(), &[b'x'; 10][..]);
        let room = b.spare(0).len();
        b.spare(0).fill(b'y');
        b.filled(room);
        assert!(b.spare(0).len() >= MIN_SPARE, "grows when full");
        assert_eq!(b.len(), 10 + room);
    }

    #[test]
    fn wanted_bytes_fit_one_allocation_and_are_handed_over() {
        let mut b = ReadBuffer::default();
        b.extend(b"head");
        let room = b.spare(300_000);
        assert_eq!(room.len(), 300_000 - 4);
        room.fill(7);
        b.filled(300_000 - 4);
        let out = b.take(300_000);
        assert_eq!(out.len(), 300_000);
        assert_eq!(&out[..4], b"head");
        assert_eq!(b.allocated(), 0);
    }

    #[test]
    fn prepend_keeps_order() {
        let mut b = ReadBuffer::default();
        b.extend(b"world");
        b.prepend(b"hello ");
        assert_eq!(b.data(), b"hello world");
        b.consume(6);
        b.prepend(b"big ");
        assert_eq!(b.data(), b"big world");
        let mut e = ReadBuffer::default();
        e.prepend(b"x");
        assert_eq!(e.data(), b"x");
    }

    #[test]
    fn a_few_bytes_are_trimmed_out_of_their_chunk_and_read_into_one_again() {
        let mut b = ReadBuffer::default();
        b.spare(0)[..3].copy_from_slice(b"abc");
        b.filled(3);
        assert_eq!(b.allocated(), CHUNK);
        b.trim();
        assert_eq!(b.allocated(), 3, "the chunk went back to the pool");
        assert_eq!(b.data(), b"abc");
        let room = b.spare(0);
        assert_eq!(room.len(), CHUNK - 3, "read into a pooled chunk again");
        room[..2].copy_from_slice(b"de");
        b.filled(2);
        assert_eq!(b.data(), b"abcde");
        // Too much to move, or not in a chunk: left alone.
        let mut big = ReadBuffer::default();
        big.spare(0).fill(b'x');
        big.filled(TRIM_MAX + 1);
        big.trim();
        assert_eq!(big.allocated(), CHUNK);
        let mut small = ReadBuffer::default();
        small.extend(b"yy");
        small.trim();
        assert_eq!(small.allocated(), 2);
    }

    #[test]
    fn a_small_feed_gets_a_buffer_of_its_size() {
        let mut b = ReadBuffer::default();
        b.extend(b"hi");
        assert_eq!(b.allocated(), 2);
        b.extend(b" there");
        assert_eq!(b.data(), b"hi there");
        assert_eq!(b.take_all(), b"hi there");
        assert_eq!(b.allocated(), 0);
    }

    #[test]
    fn large_feeds_grow() {
        let mut b = ReadBuffer::default();
        let big = vec![1u8; 3 * CHUNK];
        b.extend(&big);
        b.extend(b"tail");
        assert_eq!(b.len(), 3 * CHUNK + 4);
        assert_eq!(&b.take_all()[3 * CHUNK..], b"tail");
    }
}
