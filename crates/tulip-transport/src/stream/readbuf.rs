//! The loop thread's shared read buffer: every `Protocol` read lands here
//! first, so an idle connection owns no read buffer of its own. A
//! `BufferedProtocol` read goes through [`read_buffered`], the one place
//! that calls `get_buffer` and `buffer_updated`.

use std::any::Any;
use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::protocols::BufferedProtocol;

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

/// What one read into a `BufferedProtocol`'s buffer gave.
pub(crate) enum BufferedRead<E> {
    /// `n` bytes landed and `buffer_updated(n)` ran.
    Data(usize),
    /// The source is at its end (the caller calls `eof_received`).
    Eof,
    /// `get_buffer` returned an empty buffer.
    EmptyBuffer,
    /// The read failed; nothing was handed to the protocol.
    Failed(E),
    /// `get_buffer` or `buffer_updated` panicked.
    Panicked(Box<dyn Any + Send>),
}

/// The buffered read, written once for every transport: asks `protocol`
/// for a buffer (`hint` is what it should hold), lets `read` fill it, and
/// hands the count to `buffer_updated`. Both protocol calls run inside the
/// panic guard, and `get_buffer` is called once.
pub(crate) fn read_buffered<E>(
    protocol: &mut dyn BufferedProtocol,
    hint: usize,
    read: impl FnOnce(&mut [u8]) -> Result<usize, E>,
) -> BufferedRead<E> {
    let got = catch_unwind(AssertUnwindSafe(|| {
        let buf = protocol.get_buffer(hint);
        if buf.is_empty() {
            return BufferedRead::EmptyBuffer;
        }
        match read(buf) {
            Ok(0) => BufferedRead::Eof,
            Ok(n) => BufferedRead::Data(n),
            Err(e) => BufferedRead::Failed(e),
        }
    }));
    match got {
        Ok(BufferedRead::Data(n)) => {
            match catch_unwind(AssertUnwindSafe(|| protocol.buffer_updated(n))) {
                Ok(()) => BufferedRead::Data(n),
                Err(payload) => BufferedRead::Panicked(payload),
            }
        }
        Ok(other) => other,
        Err(payload) => BufferedRead::Panicked(payload),
    }
}

#[cfg(test)]
mod tests {
    use std::io;

    use super::*;
    use crate::protocols::BaseProtocol;

    /// A protocol whose calls panic on demand.
    struct Faulty {
        buf: Vec<u8>,
        asked: usize,
        panic_in_get: bool,
        panic_in_update: bool,
    }

    impl BaseProtocol for Faulty {}

    impl BufferedProtocol for Faulty {
        fn get_buffer(&mut self, sizehint: usize) -> &mut [u8] {
            self.asked += 1;
            assert!(!self.panic_in_get, "get_buffer fails");
            self.buf.resize(sizehint, 0);
            &mut self.buf
        }

        fn buffer_updated(&mut self, _nbytes: usize) {
            assert!(!self.panic_in_update, "buffer_updated fails");
        }
    }

    fn faulty(panic_in_get: bool, panic_in_update: bool) -> Faulty {
        Faulty {
            buf: Vec::new(),
            asked: 0,
            panic_in_get,
            panic_in_update,
        }
    }

    #[test]
    fn each_outcome_is_told_apart() {
        let fill = |buf: &mut [u8]| Ok::<usize, io::Error>(buf.len());
        let mut p = faulty(false, false);
        assert!(matches!(
            read_buffered(&mut p, 4, fill),
            BufferedRead::Data(4)
        ));
        assert_eq!(p.asked, 1);
        assert!(matches!(
            read_buffered(&mut p, 4, |_| Ok::<usize, io::Error>(0)),
            BufferedRead::Eof
        ));
        assert!(matches!(
            read_buffered(&mut p, 0, fill),
            BufferedRead::EmptyBuffer
        ));
        let failed = read_buffered(&mut p, 4, |_| Err(io::Error::other("boom")));
        assert!(matches!(failed, BufferedRead::Failed(e) if e.to_string() == "boom"));
    }

    #[test]
    fn panics_in_either_call_are_caught() {
        let fill = |buf: &mut [u8]| Ok::<usize, io::Error>(buf.len());
        let mut p = faulty(true, false);
        assert!(matches!(
            read_buffered(&mut p, 4, fill),
            BufferedRead::Panicked(_)
        ));
        let mut p = faulty(false, true);
        assert!(matches!(
            read_buffered(&mut p, 4, fill),
            BufferedRead::Panicked(_)
        ));
        assert_eq!(p.asked, 1);
    }
}
