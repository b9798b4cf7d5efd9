//! `as_completed`: the outcomes of concurrently running futures in the
//! order they complete (asyncio's `asyncio.as_completed`), as a
//! [`Stream`](futures_core::Stream) and through an async
//! [`next`](AsCompleted::next).
//!
//! Each future is spawned as a task on the running loop when
//! [`as_completed`] is called. Items are `Result<T, Error>`: `Ok(value)`,
//! or the child task's failure ([`Error::Cancelled`], [`Error::Panicked`]).
//!
//! **Timeout.** asyncio raises `TimeoutError` from the next await once the
//! overall deadline passed; the loop that iterates then stops. tulip yields
//! one `Err(Error::Timeout)` item and then ends the stream. The tasks that
//! did not complete keep running until the [`AsCompleted`] is dropped,
//! which cancels them (a stream nobody reads any more has no reader for
//! their results): their futures are dropped inside that drop, and the
//! tasks are done (cancelled) when it returns.
//!
//! Tasks that complete in the same loop pass are yielded in the order they
//! completed.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::error::Error;
use crate::sleep::{Sleep, sleep};
use crate::toolkit::task_set::{TaskSet, spawn_children};

/// Runs `futures` concurrently and yields their outcomes in completion
/// order; with `timeout`, an `Err(Error::Timeout)` item ends the stream
/// once it passes.
///
/// ```
/// use std::time::Duration;
/// use tulip::{as_completed, sleep};
/// let event_loop = tulip::EventLoop::builder().paused_clock(true).build()?;
/// event_loop.run_until_complete(async {
///     let mut it = as_completed(
///         [3u64, 1, 2].map(|s| async move { sleep(Duration::from_secs(s)).await; s }),
///         None,
///     );
///     let mut order = Vec::new();
///     while let Some(r) = it.next().await {
///         order.push(r.unwrap());
///     }
///     assert_eq!(order, [1, 2, 3]);
/// })?;
/// # Ok::<(), tulip::Error>(())
/// ```
///
/// # Cancel safety
///
/// Dropping the [`AsCompleted`] cancels the tasks not yet reported;
/// dropping a [`Next`] loses nothing (the next item stays queued).
///
/// # Panics
///
/// Outside a running loop, as [`spawn`](crate::spawn) does: it spawns
/// at the call.
#[track_caller]
pub fn as_completed<F>(
    futures: impl IntoIterator<Item = F>,
    timeout: Option<Duration>,
) -> AsCompleted<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    AsCompleted {
        set: TaskSet::new(spawn_children(futures), crate::graph::AwaitVia::AsCompleted),
        timeout: timeout.map(sleep),
        ended: false,
    }
}

/// The stream of [`as_completed`].
///
/// ```
/// use std::time::Duration;
/// use tulip::prelude::*;
///
/// let event_loop = tulip::EventLoop::builder().paused_clock(true).build()?;
/// event_loop.run_until_complete(async {
///     let mut it = as_completed(
///         [1u64, 60].map(|s| async move { sleep(Duration::from_secs(s)).await; s }),
///         Some(Duration::from_secs(5)),
///     );
///     assert_eq!(it.next().await.unwrap()?, 1);
///     assert!(it.next().await.unwrap().unwrap_err().is_timeout()); // ends the stream
///     assert!(it.next().await.is_none());
///     Ok::<(), tulip::Error>(())
/// })??;
/// # Ok::<(), tulip::Error>(())
/// ```
#[must_use = "streams do nothing unless polled; dropping it cancels the tasks not yet reported"]
pub struct AsCompleted<T> {
    set: TaskSet<T>,
    timeout: Option<Sleep>,
    ended: bool,
}

impl<T> Unpin for AsCompleted<T> {}

impl<T> AsCompleted<T> {
    /// The next outcome, `None` at the end (an async `next`, without a
    /// `StreamExt` import).
    ///
    /// ```
    /// use tulip::as_completed;
    /// tulip::run(async {
    ///     let mut it = as_completed(vec![async { 1 }], None);
    ///     assert_eq!(it.next().await.unwrap().unwrap(), 1);
    ///     assert!(it.next().await.is_none());
    /// })?;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the [`Next`] before it completes loses no item.
    #[allow(clippy::should_implement_trait)] // async: it returns a future
    pub fn next(&mut self) -> Next<'_, T> {
        Next { it: self }
    }

    /// How many outcomes are still to come (before a timeout).
    ///
    /// ```
    /// use tulip::prelude::*;
    ///
    /// tulip::run(async {
    ///     let mut it = as_completed((1..=2).map(|i| async move { i }), None);
    ///     assert_eq!(it.remaining(), 2);
    ///     it.next().await;
    ///     assert_eq!(it.remaining(), 1);
    /// })?;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn remaining(&self) -> usize {
        if self.ended { 0 } else { self.set.pending() }
    }

    fn poll_item(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, Error>>> {
        if self.ended {
            return Poll::Ready(None);
        }
        match self.set.poll_next(cx) {
            Poll::Ready(Some((_, out))) => return Poll::Ready(Some(out)),
            Poll::Ready(None) => {
                self.ended = true;
                return Poll::Ready(None);
            }
            Poll::Pending => {}
        }
        if let Some(s) = self.timeout.as_mut() {
            if Pin::new(s).poll(cx).is_ready() {
                self.ended = true;
                return Poll::Ready(Some(Err(Error::Timeout)));
            }
            // The timeout's sleep recorded itself: as_completed says more.
            crate::graph::record_raw(
                &crate::toolkit::task_set::AS_COMPLETED,
                crate::graph::count(self.set.pending()),
            );
        }
        Poll::Pending
    }
}

impl<T> futures_core::Stream for AsCompleted<T> {
    type Item = Result<T, Error>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.poll_item(cx)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.remaining();
        (0, Some(n + usize::from(self.timeout.is_some() && n > 0)))
    }
}

impl<T> futures_core::FusedStream for AsCompleted<T> {
    fn is_terminated(&self) -> bool {
        self.ended
    }
}

/// The future of [`AsCompleted::next`].
///
/// ```
/// use tulip::prelude::*;
///
/// tulip::run(async {
///     let mut it = as_completed(vec![async { 7 }], None);
///     let next: tulip::Next<'_, i32> = it.next();
///     assert_eq!(next.await.unwrap()?, 7);
///     Ok::<(), tulip::Error>(())
/// })??;
/// # Ok::<(), tulip::Error>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Next<'a, T> {
    it: &'a mut AsCompleted<T>,
}

impl<T> Future for Next<'_, T> {
    type Output = Option<Result<T, Error>>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.it.poll_item(cx)
    }
}
