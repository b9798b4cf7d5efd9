//! A waker that counts its wake-ups, for tests that poll futures or the
//! reactor by hand and check exactly when a waker fired.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Wake, Waker};

/// Counts how often the wakers made from it were woken (`wake` and
/// `wake_by_ref` alike).
///
/// ```
/// use tulip_test::Counter;
///
/// let (counter, waker) = Counter::waker();
/// assert_eq!(counter.count(), 0);
/// waker.wake_by_ref();
/// waker.wake();
/// assert_eq!(counter.count(), 2);
/// ```
#[derive(Debug, Default)]
pub struct Counter(AtomicUsize);

impl Counter {
    /// A fresh counter at zero and a waker that bumps it.
    ///
    /// ```
    /// use std::task::Context;
    /// use tulip_test::Counter;
    ///
    /// let (counter, waker) = Counter::waker();
    /// let mut cx = Context::from_waker(&waker);
    /// cx.waker().wake_by_ref();
    /// assert_eq!(counter.count(), 1);
    /// ```
    pub fn waker() -> (Arc<Counter>, Waker) {
        let counter = Arc::new(Counter::default());
        let waker = Waker::from(counter.clone());
        (counter, waker)
    }

    /// How often the waker was woken so far.
    ///
    /// ```
    /// use tulip_test::Counter;
    ///
    /// let (counter, waker) = Counter::waker();
    /// waker.clone().wake();
    /// assert_eq!(counter.count(), 1);
    /// ```
    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl Wake for Counter {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}
