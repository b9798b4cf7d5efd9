//! The provided-buffer ring: one per reactor, shared by every multishot
//! receive of it, so an idle connection costs no buffer at all.
//!
//! [`BUF_COUNT`] buffers of [`BUF_SIZE`] bytes live in one allocation; the
//! ring of their descriptors (16 bytes each, page-aligned) is registered with
//! the kernel as buffer group [`BGID`]. The kernel takes a buffer from the
//! ring's head when data arrives and names it in the completion
//! (`IORING_CQE_F_BUFFER`); the buffer is then ours (a [`RingLease`]) until
//! the lease drops, which writes it back at the ring's tail.
//!
//! The memory is freed only when the last lease and the reactor are gone
//! and the reactor has seen every operation end (or unregistered the group),
//! so the kernel never writes into freed memory; if a reactor cannot prove
//! that (an operation that never ended), the memory is leaked instead.

use std::alloc::{Layout, alloc_zeroed, dealloc};
use std::cell::Cell;
use std::io;
use std::ptr::NonNull;
use std::rc::Rc;
use std::sync::atomic::{AtomicU16, Ordering};

use io_uring::types::BufRingEntry;

/// How many buffers the ring holds (a power of two, at most 32768).
pub(crate) const BUF_COUNT: u16 = 256;
/// The size of one buffer: the most one multishot completion carries.
pub(crate) const BUF_SIZE: usize = 16 * 1024;
/// The buffer group id of the ring.
pub(crate) const BGID: u16 = 0;

const PAGE: usize = 4096;

/// The ring and its buffers.
pub(crate) struct BufRing {
    entries: NonNull<BufRingEntry>,
    entries_layout: Layout,
    bufs: NonNull<u8>,
    bufs_layout: Layout,
    /// Our copy of the ring's tail (the kernel reads the shared one).
    tail: Cell<u16>,
    /// Buffers held by leases (not in the ring).
    lent: Cell<usize>,
    /// Set when the memory must never be freed (the kernel may still use it).
    leak: Cell<bool>,
}

impl std::fmt::Debug for BufRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BufRing")
            .field("lent", &self.lent.get())
            .finish_non_exhaustive()
    }
}

impl BufRing {
    /// Allocates the ring with every buffer in it (not yet registered).
    pub(crate) fn new() -> io::Result<BufRing> {
        let entries_layout =
            Layout::from_size_align(usize::from(BUF_COUNT) * size_of::<BufRingEntry>(), PAGE)
                .map_err(io::Error::other)?;
        let bufs_layout = Layout::from_size_align(usize::from(BUF_COUNT) * BUF_SIZE, PAGE)
            .map_err(io::Error::other)?;
        // SAFETY: both layouts have a non-zero size.
        let entries = NonNull::new(unsafe { alloc_zeroed(entries_layout) }.cast::<BufRingEntry>());
        // SAFETY: as above. Zeroed, so every byte a lease may show is
        // initialized even before the kernel wrote it (untouched pages of a
        // large zeroed allocation cost no memory until used).
        let bufs = NonNull::new(unsafe { alloc_zeroed(bufs_layout) });
        let (Some(entries), Some(bufs)) = (entries, bufs) else {
            return Err(io::Error::from(io::ErrorKind::OutOfMemory));
        };
        let ring = BufRing {
            entries,
            entries_layout,
            bufs,
            bufs_layout,
            tail: Cell::new(0),
            lent: Cell::new(usize::from(BUF_COUNT)),
            leak: Cell::new(false),
        };
        for bid in 0..BUF_COUNT {
            ring.give_back(bid);
        }
        Ok(ring)
    }

    /// The address of the descriptor ring, for registration.
    pub(crate) fn ring_addr(&self) -> u64 {
        self.entries.as_ptr() as u64
    }

    /// Buffers currently in the ring (the kernel may have picked some of
    /// them for completions not reaped yet).
    pub(crate) fn available(&self) -> usize {
        usize::from(BUF_COUNT) - self.lent.get()
    }

    /// Never free the memory: the kernel may still write into it.
    pub(crate) fn leak(&self) {
        self.leak.set(true);
    }

    /// Takes buffer `bid`, which the kernel filled with `len` bytes.
    pub(crate) fn lease(ring: &Rc<BufRing>, bid: u16, len: usize) -> RingLease {
        ring.lent.set(ring.lent.get() + 1);
        RingLease {
            ring: ring.clone(),
            bid: bid & (BUF_COUNT - 1),
            len: len.min(BUF_SIZE),
        }
    }

    fn buf_ptr(&self, bid: u16) -> *mut u8 {
        // SAFETY: `bid < BUF_COUNT`, so the offset stays inside the
        // allocation of `BUF_COUNT * BUF_SIZE` bytes.
        unsafe { self.bufs.as_ptr().add(usize::from(bid) * BUF_SIZE) }
    }

    /// Puts buffer `bid` back at the ring's tail.
    fn give_back(&self, bid: u16) {
        let tail = self.tail.get();
        let idx = usize::from(tail & (BUF_COUNT - 1));
        // SAFETY: `idx < BUF_COUNT`, inside the entries allocation. The entry
        // at the tail is not one the kernel reads (it reads from the head up
        // to the published tail only), so writing it races with nothing.
        let entry = unsafe { &mut *self.entries.as_ptr().add(idx) };
        entry.set_addr(self.buf_ptr(bid) as u64);
        entry.set_len(BUF_SIZE as u32);
        entry.set_bid(bid);
        let tail = tail.wrapping_add(1);
        self.tail.set(tail);
        // SAFETY: the entries allocation is page-aligned and initialized
        // (zeroed), and its first entry's `resv` field is the shared tail.
        // The kernel reads it concurrently, so it is written as an atomic,
        // with release order so the entry written above is visible first.
        let shared = unsafe { &*BufRingEntry::tail(self.entries.as_ptr()).cast::<AtomicU16>() };
        shared.store(tail, Ordering::Release);
        self.lent.set(self.lent.get() - 1);
    }
}

impl Drop for BufRing {
    fn drop(&mut self) {
        if self.leak.get() {
            return;
        }
        // SAFETY: allocated in `new` with these layouts; the last reference
        // is gone, and the reactor that registered the ring reaped every
        // operation that could pick a buffer (else it set `leak`).
        unsafe {
            dealloc(self.entries.as_ptr().cast(), self.entries_layout);
            dealloc(self.bufs.as_ptr(), self.bufs_layout);
        }
    }
}

/// One ring buffer the kernel filled, ours until dropped (then back in the
/// ring).
pub(crate) struct RingLease {
    ring: Rc<BufRing>,
    bid: u16,
    len: usize,
}

impl RingLease {
    pub(crate) fn data(&self) -> &[u8] {
        // SAFETY: the buffer is out of the ring (the kernel handed it over
        // in a completion and cannot pick it again until `give_back`), so
        // nothing writes it while this shared slice lives; `len <= BUF_SIZE`
        // keeps it inside the buffer, and the memory is initialized.
        unsafe { std::slice::from_raw_parts(self.ring.buf_ptr(self.bid), self.len) }
    }
}

impl Drop for RingLease {
    fn drop(&mut self) {
        self.ring.give_back(self.bid);
    }
}
