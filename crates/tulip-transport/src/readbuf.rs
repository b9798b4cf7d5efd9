//! The loop thread's shared read buffer: every `Protocol` read lands here
//! first, so an idle connection owns no read buffer of its own.

use std::cell::Cell;

/// How much one read asks for (asyncio's `max_size`: 256 KiB).
pub(crate) const READ_SIZE: usize = 256 * 1024;

thread_local! {
    static SHARED: Cell<Option<Box<[u8]>>> = const { Cell::new(None) };
}

/// Runs `f` with the thread's read buffer. Reads never nest (a loop runs one
/// callback at a time), but if `f` reached another read somehow, that one
/// would get a fresh buffer rather than the one in use.
pub(crate) fn with_read_buffer<R>(f: impl FnOnce(&mut [u8]) -> R) -> R {
    let mut buf = SHARED
        .with(Cell::take)
        .unwrap_or_else(|| vec![0u8; READ_SIZE].into_boxed_slice());
    let out = f(&mut buf);
    SHARED.with(|s| s.set(Some(buf)));
    out
}
