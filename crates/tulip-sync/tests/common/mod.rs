//! Helpers shared by the tulip-sync tests: hand polling, for tests that
//! must control exactly when each future runs (with `tulip-test`'s
//! counting waker where the wake-ups count).

#![allow(dead_code)]

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// Polls `fut` once with `waker`.
pub fn poll_with<F: Future + Unpin>(fut: &mut F, waker: &Waker) -> Poll<F::Output> {
    Pin::new(fut).poll(&mut Context::from_waker(waker))
}

/// Polls `fut` once with a no-op waker.
pub fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    poll_with(fut, Waker::noop())
}

/// Polls `fut` once with a no-op waker and expects it ready.
#[track_caller]
pub fn ready<F: Future + Unpin>(fut: &mut F) -> F::Output {
    match poll_once(fut) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("expected the future to be ready"),
    }
}

/// Polls `fut` once with a no-op waker and expects it pending.
#[track_caller]
pub fn pending<F: Future + Unpin>(fut: &mut F) {
    assert!(
        poll_once(fut).is_pending(),
        "expected the future to be pending"
    );
}
