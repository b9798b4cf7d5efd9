//! A stream transport's write buffer: what the kernel did not take yet,
//! as chunks (small writes coalesced), handed back as vectored slices.

use std::collections::VecDeque;
use std::io::IoSlice;

/// Small writes are appended to the last buffered chunk up to this size.
const COALESCE_LIMIT: usize = 16 * 1024;

/// Data waiting to be sent: chunks, the first one partly sent.
#[derive(Default)]
pub(crate) struct WriteBuffer {
    chunks: VecDeque<Vec<u8>>,
    head: usize,
    size: usize,
}

impl WriteBuffer {
    pub(crate) fn push(&mut self, data: &[u8]) {
        self.size += data.len();
        if let Some(last) = self.chunks.back_mut() {
            if last.len() + data.len() <= COALESCE_LIMIT {
                last.extend_from_slice(data);
                return;
            }
        }
        self.chunks.push_back(data.to_vec());
    }

    pub(crate) fn consume(&mut self, mut n: usize) {
        self.size -= n;
        while n > 0 {
            let Some(front) = self.chunks.front() else {
                break;
            };
            let left = front.len() - self.head;
            if n >= left {
                n -= left;
                self.head = 0;
                self.chunks.pop_front();
            } else {
                self.head += n;
                n = 0;
            }
        }
    }

    pub(crate) fn clear(&mut self) {
        self.chunks.clear();
        self.head = 0;
        self.size = 0;
    }

    /// Bytes waiting.
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// Points `slices` at the waiting data, oldest first, as many chunks
    /// as fit; returns how many it filled.
    pub(crate) fn fill_slices<'a>(&'a self, slices: &mut [IoSlice<'a>]) -> usize {
        let mut n = 0;
        for (i, (slot, chunk)) in slices.iter_mut().zip(&self.chunks).enumerate() {
            let start = if i == 0 { self.head } else { 0 };
            *slot = IoSlice::new(&chunk[start..]);
            n += 1;
        }
        n
    }
}
