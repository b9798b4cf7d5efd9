//! What the completion-path tests (`uring_*.rs`) share: a loop built on
//! the uring backend (it falls back to epoll, with one log line, where the
//! kernel refuses io_uring: the tests then run on readiness and still
//! pass), a peer that streams a known pattern, and checking a stream
//! against it.

#![allow(dead_code)]

use std::future::Future;
use std::io::Write;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tulip::{BackendKind, EventLoop, Loop};

/// How long any of these tests may run.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// Runs `make(lp)`'s future on a fresh loop of the uring backend, within
/// [`DEADLINE`], and closes the loop.
pub fn run_uring<F, Fut>(make: F) -> Fut::Output
where
    F: FnOnce(Loop) -> Fut,
    Fut: Future + 'static,
    Fut::Output: 'static,
{
    let ev = EventLoop::builder()
        .backend(BackendKind::Uring)
        .build()
        .expect("a uring loop (or its epoll fallback)");
    let lp = ev.handle();
    if !lp.has_completions() {
        eprintln!("io_uring refused here: this test runs on readiness");
    }
    let out = ev
        .run_until_complete(tulip::wait_for(make(lp), DEADLINE))
        .expect("the loop ran")
        .expect("the test timed out");
    ev.close().expect("the loop closed");
    out
}

/// Byte `i` of stream `seed`: shows loss, duplication and misordering.
pub fn byte_at(seed: usize, i: usize) -> u8 {
    ((i / 7 + i * 13 + seed * 101) % 251) as u8
}

/// `len` bytes of stream `seed`, from offset `from`.
pub fn pattern_from(seed: usize, from: usize, len: usize) -> Vec<u8> {
    (from..from + len).map(|i| byte_at(seed, i)).collect()
}

/// Writes `total` bytes of stream `seed` to `peer` in uneven pieces, then
/// closes it (the reader sees EOF). Errors end it (the test's other side
/// may be gone).
pub fn stream_pattern(mut peer: impl Write, seed: usize, total: usize) {
    let mut at = 0;
    let mut piece = 1;
    while at < total {
        let n = piece.min(total - at);
        if peer.write_all(&pattern_from(seed, at, n)).is_err() {
            return;
        }
        at += n;
        piece = piece * 3 % 65_521 + 1;
    }
}

/// Holds the tests of one file to one at a time: they count the process's
/// descriptors.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Where `got` first differs from stream `seed` (`None`: it is a prefix).
pub fn first_mismatch(seed: usize, got: &[u8]) -> Option<usize> {
    got.iter()
        .enumerate()
        .find(|&(i, &b)| b != byte_at(seed, i))
        .map(|(i, _)| i)
}
