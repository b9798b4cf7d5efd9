//! Helpers shared by the tulip-sync tests: hand polling with a counting
//! waker, for tests that must control exactly when each future runs.

#![allow(dead_code)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};

/// A waker that counts its wake-ups.
pub struct Counter(AtomicUsize);

impl Wake for Counter {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// A fresh counting waker and its counter.
pub fn counting_waker() -> (Waker, Arc<Counter>) {
    let counter = Arc::new(Counter(AtomicUsize::new(0)));
    (Waker::from(counter.clone()), counter)
}

impl Counter {
    /// How many times the waker was woken.
    pub fn count(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

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
