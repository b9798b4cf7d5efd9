//! `shield`: protect work from the cancellation of whoever awaits it
//! (asyncio's `asyncio.shield`).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::error::Error;
use crate::task::{Task, spawn};

/// Runs `fut` as a task of its own and awaits it; dropping the returned
/// future (which is what cancelling the awaiting task does) does not cancel
/// that task: it runs to completion, detached. Awaited to the end, it
/// yields the task's outcome (`Err(Error::Cancelled)` if the inner task
/// itself was cancelled).
///
/// ```
/// use std::{cell::Cell, rc::Rc, time::Duration};
/// use tulip::{shield, sleep, spawn};
/// let event_loop = tulip::EventLoop::builder().paused_clock(true).build()?;
/// let finished = Rc::new(Cell::new(false));
/// let f = finished.clone();
/// event_loop.run_until_complete(async move {
///     let outer = spawn(async move {
///         shield(async move { sleep(Duration::from_secs(1)).await; f.set(true) }).await
///     });
///     sleep(Duration::from_millis(10)).await;
///     outer.cancel();
///     assert!(outer.await.unwrap_err().is_cancelled());
///     sleep(Duration::from_secs(2)).await;
/// })?;
/// assert!(finished.get());
/// # Ok::<(), tulip::Error>(())
/// ```
///
/// # Cancel safety
///
/// Cancel-safe by purpose: dropping the future detaches the inner task,
/// which completes; only its result is lost. Its outcome then counts as
/// retrieved, so a later panic in it is not reported as "Task exception was
/// never retrieved" (asyncio's shield marks the inner's exception retrieved
/// when the outer is cancelled).
///
/// # Panics
///
/// Outside a running loop, as [`spawn`](crate::spawn) does: it spawns
/// at the call.
#[track_caller]
pub fn shield<F>(fut: F) -> Shield<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    Shield { task: spawn(fut) }
}

/// The future of [`shield`].
///
/// ```
/// use std::time::Duration;
/// use tulip::prelude::*;
///
/// tulip::run(async {
///     let shielded = shield(async { sleep(Duration::from_millis(1)).await; "saved" });
///     let inner = shielded.task().task_ref();
///     drop(shielded); // the awaiter gave up: the inner task runs on
///     sleep(Duration::from_millis(5)).await;
///     assert!(inner.done() && !inner.cancelled());
/// })?;
/// # Ok::<(), tulip::Error>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Shield<T> {
    task: Task<T>,
}

impl<T> Shield<T> {
    /// The inner task (to inspect it, or to cancel it explicitly).
    ///
    /// ```
    /// use std::time::Duration;
    /// use tulip::prelude::*;
    ///
    /// tulip::run(async {
    ///     let shielded = shield(sleep(Duration::from_secs(3600)));
    ///     shielded.task().cancel(); // an explicit cancel does reach the inner task
    ///     assert!(shielded.await.unwrap_err().is_cancelled());
    /// })?;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn task(&self) -> &Task<T> {
        &self.task
    }
}

impl<T> Future for Shield<T> {
    type Output = Result<T, Error>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let out = Pin::new(&mut self.task).poll(cx);
        if out.is_pending() {
            self.task.note_awaited_via(crate::graph::AwaitVia::Shield);
        }
        out
    }
}

impl<T> Drop for Shield<T> {
    fn drop(&mut self) {
        // The outer is gone (cancelled): the inner task runs on detached,
        // with nobody to take its outcome. (Harmless if it was taken.)
        self.task.mark_retrieved();
    }
}
