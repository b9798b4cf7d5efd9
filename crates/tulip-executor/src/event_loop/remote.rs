//! The thread-safe side of a loop: [`RemoteLoop`], the `Send + Sync` handle
//! other threads use to schedule callbacks and stop the loop, and the
//! lock-free queue behind it that also carries task wake-ups from other
//! threads.
//!
//! The queue is generic over the runnable it carries (the loop instantiates
//! it with its task runnable) and [`RemoteLoop`] sees it through
//! `RemoteQueue`, so this file names neither the loop nor the task: the
//! loop imports it, not the other way round.
//!
//! [`RemoteLoop::spawn`] builds a task on the loop from another thread (or
//! another loop) and hands back a [`RemoteTask`], the `Send` future of its
//! outcome: the same submission `run_coroutine_threadsafe` makes, through
//! the same queue.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use concurrent_queue::{ConcurrentQueue, PushError};
use tulip_reactor::Notifier;

use crate::error::Error;
use crate::toolkit::threadsafe::{ConcurrentFuture, run_coroutine_threadsafe};

/// An entry of the remote queue; `R` is the loop's task runnable.
pub(crate) enum RemoteItem<R> {
    Callback(Box<dyn FnOnce() + Send>),
    Task(R),
    Stop,
}

/// The lock-free queue other threads push onto, and the notifier that
/// wakes the loop.
pub(crate) struct Remote<R> {
    pub(crate) queue: ConcurrentQueue<RemoteItem<R>>,
    pub(crate) notifier: Arc<Notifier>,
}

impl<R> Remote<R> {
    pub(crate) fn new(notifier: Arc<Notifier>) -> Remote<R> {
        Remote {
            queue: ConcurrentQueue::unbounded(),
            notifier,
        }
    }

    pub(crate) fn push(&self, item: RemoteItem<R>) -> Result<(), RemoteItem<R>> {
        match self.queue.push(item) {
            Ok(()) => {
                // A failed notify (fd exhaustion) cannot lose the item: the
                // loop drains the queue on every pass it makes.
                let _ = self.notifier.notify();
                Ok(())
            }
            Err(PushError::Closed(item) | PushError::Full(item)) => Err(item),
        }
    }

    /// Schedules a task woken on a thread other than its loop's (or while
    /// its loop is not running).
    pub(crate) fn schedule(&self, runnable: R) {
        if let Err(RemoteItem::Task(runnable)) = self.push(RemoteItem::Task(runnable)) {
            // The loop is closed: its tasks were all completed before the
            // queue closed, so this cannot be a live task. A local task's
            // runnable must not be dropped off its thread; leak it instead.
            std::mem::forget(runnable);
        }
    }
}

impl<R> Drop for Remote<R> {
    fn drop(&mut self) {
        // The loop drains this queue when it closes; anything still here
        // (a loop leaked without closing) may be dropped on another thread,
        // where a local task's runnable must not be dropped: leak those.
        while let Ok(item) = self.queue.pop() {
            match item {
                RemoteItem::Task(runnable) => std::mem::forget(runnable),
                other => drop(other),
            }
        }
    }
}

/// A `Send + Sync + Clone` handle on an event loop, for other threads:
/// asyncio's `loop.call_soon_threadsafe` and a thread-safe `stop`.
///
/// ```
/// let event_loop = tulip::EventLoop::new()?;
/// let remote = event_loop.handle().remote();
/// std::thread::spawn(move || {
///     remote.call_soon_threadsafe(|| println!("hello from the loop thread")).unwrap();
///     remote.stop().unwrap();
/// });
/// event_loop.run_forever()?;
/// # Ok::<(), tulip::Error>(())
/// ```
#[derive(Clone)]
pub struct RemoteLoop {
    remote: Arc<dyn RemoteQueue>,
}

/// What a [`RemoteLoop`] does with its loop's queue, whatever the runnable
/// type the queue carries.
trait RemoteQueue: Send + Sync {
    fn push_callback(&self, callback: Box<dyn FnOnce() + Send>) -> Result<(), Error>;
    fn push_stop(&self) -> Result<(), Error>;
    fn is_closed(&self) -> bool;
}

impl<R: Send> RemoteQueue for Remote<R> {
    fn push_callback(&self, callback: Box<dyn FnOnce() + Send>) -> Result<(), Error> {
        self.push(RemoteItem::Callback(callback))
            .map_err(|_| Error::LoopClosed)
    }

    fn push_stop(&self) -> Result<(), Error> {
        self.push(RemoteItem::Stop).map_err(|_| Error::LoopClosed)
    }

    fn is_closed(&self) -> bool {
        self.queue.is_closed()
    }
}

impl RemoteLoop {
    /// The handle on the loop whose queue is `remote`.
    pub(crate) fn new<R: Send + 'static>(remote: Arc<Remote<R>>) -> RemoteLoop {
        RemoteLoop { remote }
    }

    /// Schedules `callback` to run on the loop's thread, in FIFO order with
    /// the loop's other callbacks. Wakes the loop if it is waiting.
    ///
    /// After the loop is closed this returns [`Error::LoopClosed`] and the
    /// callback is dropped (never run).
    ///
    /// The callback runs in a copy of the context current on the calling
    /// thread (contextvars); [`call_soon_threadsafe_with_context`](RemoteLoop::call_soon_threadsafe_with_context)
    /// takes one.
    ///
    /// ```
    /// use std::sync::mpsc;
    ///
    /// let event_loop = tulip::EventLoop::new()?;
    /// let remote = event_loop.remote();
    /// let (tx, rx) = mpsc::channel();
    /// let worker = std::thread::spawn(move || {
    ///     remote.call_soon_threadsafe(move || tx.send(std::thread::current().id()).unwrap())?;
    ///     remote.stop()
    /// });
    /// worker.join().unwrap()?;
    /// event_loop.run_forever()?;
    /// assert_eq!(rx.recv().unwrap(), std::thread::current().id()); // ran on the loop's thread
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn call_soon_threadsafe<F: FnOnce() + Send + 'static>(
        &self,
        callback: F,
    ) -> Result<(), Error> {
        if !crate::context::in_use() {
            // contextvars: no variable was ever set, so the context is
            // empty; none is carried (the box stays the callback's size).
            let callback = move || crate::context::run_in_blank(callback);
            return self.remote.push_callback(Box::new(callback));
        }
        self.call_soon_threadsafe_with_context(callback, crate::context::Context::current())
    }

    /// [`call_soon_threadsafe`](RemoteLoop::call_soon_threadsafe), running
    /// `callback` in `context` (asyncio's `call_soon_threadsafe(callback,
    /// context=ctx)`).
    ///
    /// ```
    /// use std::sync::mpsc;
    /// use tulip::contextvars::{Context, ContextVar};
    ///
    /// static JOB: ContextVar<u32> = ContextVar::new("job");
    ///
    /// let event_loop = tulip::EventLoop::new()?;
    /// let remote = event_loop.remote();
    /// let (tx, rx) = mpsc::channel();
    /// std::thread::spawn(move || {
    ///     let mut ctx = Context::new();
    ///     ctx.run(|| JOB.set(42));
    ///     remote.call_soon_threadsafe_with_context(move || tx.send(JOB.get()).unwrap(), ctx)?;
    ///     remote.stop()
    /// })
    /// .join()
    /// .unwrap()?;
    /// event_loop.run_forever()?;
    /// assert_eq!(rx.recv().unwrap(), Some(42)); // seen on the loop's thread
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn call_soon_threadsafe_with_context<F: FnOnce() + Send + 'static>(
        &self,
        callback: F,
        context: crate::context::Context,
    ) -> Result<(), Error> {
        let mut context = context;
        self.remote
            .push_callback(Box::new(move || context.run(callback)))
    }

    /// Stops the loop as [`Loop::stop`](crate::Loop::stop) does, from any
    /// thread. [`Error::LoopClosed`] after close.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tulip::prelude::*;
    ///
    /// let event_loop = tulip::EventLoop::new()?;
    /// let remote = event_loop.remote();
    /// let stopper = std::thread::spawn(move || {
    ///     std::thread::sleep(Duration::from_millis(5));
    ///     remote.stop()
    /// });
    /// event_loop.run_forever()?; // waits until the other thread stops it
    /// stopper.join().unwrap()?;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn stop(&self) -> Result<(), Error> {
        self.remote.push_stop()
    }

    /// Whether the loop was closed.
    ///
    /// ```
    /// let event_loop = tulip::EventLoop::new()?;
    /// let remote = event_loop.remote();
    /// event_loop.close()?;
    /// assert!(remote.is_closed());
    /// assert!(remote.call_soon_threadsafe(|| ()).is_err());
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn is_closed(&self) -> bool {
        self.remote.is_closed()
    }

    /// Builds a task on this loop and returns the `Send` future of its
    /// outcome, awaitable on any loop (or with
    /// [`RemoteTask::join_blocking`] on a plain thread).
    ///
    /// `f` is a `Send` closure called on the loop's thread, inside the new
    /// task: the future it makes need not be `Send` and can use the loop's
    /// `!Send` API (`Rc`, [`spawn`](crate::spawn), [`sleep`](crate::sleep)).
    /// Only the closure and the result `T` cross threads. The outcome is
    /// the value, [`Error::Panicked`] if the task panicked,
    /// [`Error::Cancelled`] if it was cancelled, [`Error::LoopClosed`] if
    /// the loop closed before it ran.
    ///
    /// Dropping the [`RemoteTask`] before it is done cancels the task on
    /// its loop; [`RemoteTask::detach`] lets it run on unobserved.
    ///
    /// ```
    /// use std::rc::Rc;
    ///
    /// // A second loop on its own thread.
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// let thread = std::thread::spawn(move || {
    ///     let worker = tulip::EventLoop::new()?;
    ///     tx.send(worker.remote()).unwrap();
    ///     worker.run_forever()
    /// });
    /// let remote: tulip::RemoteLoop = rx.recv().unwrap();
    /// let stop = remote.clone();
    /// let answer = tulip::run(async move {
    ///     let task = remote.spawn(|| async {
    ///         let local = Rc::new(21); // stays on the worker's loop
    ///         tulip::sleep(std::time::Duration::from_millis(1)).await;
    ///         *local * 2
    ///     });
    ///     task.await
    /// })?;
    /// assert_eq!(answer?, 42);
    /// stop.stop()?;
    /// thread.join().unwrap()?;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    ///
    /// `!Send` values stay on their loop: a closure that captures an `Rc`
    /// cannot be sent to another loop.
    ///
    /// ```compile_fail
    /// use std::rc::Rc;
    ///
    /// let event_loop = tulip::EventLoop::new()?;
    /// let shared = Rc::new(1);
    /// let task = event_loop.remote().spawn(move || async move { shared });
    /// # Ok::<(), tulip::Error>(())
    /// ```
    ///
    /// Nor can a task whose result is an `Rc` it made on its loop.
    ///
    /// ```compile_fail
    /// let event_loop = tulip::EventLoop::new()?;
    /// let task = event_loop.remote().spawn(|| async { std::rc::Rc::new(1) });
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn spawn<F, Fut, T>(&self, f: F) -> RemoteTask<T>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = T> + 'static,
        T: Send + 'static,
    {
        RemoteTask {
            inner: Some(run_coroutine_threadsafe(self, f)),
        }
    }
}

impl fmt::Debug for RemoteLoop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteLoop")
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// The outcome of a task built on another loop by [`RemoteLoop::spawn`]: a
/// `Send` future of `Result<T, Error>`, awaitable on any loop, or
/// [`join_blocking`](RemoteTask::join_blocking) on a plain thread.
///
/// Dropping it before the task is done cancels the task (its future is
/// dropped on its own loop, so its cleanup runs there); use
/// [`detach`](RemoteTask::detach) to let the task run on.
///
/// ```
/// let worker = tulip::EventLoop::new()?;
/// let remote = worker.remote();
/// let task: tulip::RemoteTask<u32> = remote.spawn(|| async { 7 });
/// worker.run_until_complete(async { tulip::yield_now().await })?;
/// assert_eq!(task.join_blocking()?, 7);
/// # Ok::<(), tulip::Error>(())
/// ```
#[must_use = "dropping a RemoteTask cancels the task"]
pub struct RemoteTask<T> {
    /// `None` once detached or joined.
    inner: Option<ConcurrentFuture<T>>,
}

impl<T> RemoteTask<T> {
    /// Blocks this thread until the task is done and returns its outcome.
    /// Never call it on the task's own loop thread: that loop could not
    /// run the task while its thread is blocked.
    ///
    /// ```
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// let thread = std::thread::spawn(move || {
    ///     let worker = tulip::EventLoop::new()?;
    ///     tx.send(worker.remote()).unwrap();
    ///     worker.run_forever()
    /// });
    /// let remote: tulip::RemoteLoop = rx.recv().unwrap();
    /// let stop = remote.clone();
    /// let task = remote.spawn(|| async { "done" });
    /// assert_eq!(task.join_blocking()?, "done");
    /// stop.stop()?;
    /// thread.join().unwrap()?;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn join_blocking(mut self) -> Result<T, Error> {
        match self.inner.take() {
            Some(fut) => fut.result(None),
            None => Err(Error::InvalidState("the outcome was already taken")),
        }
    }

    /// Lets the task run on without this handle: dropping the handle no
    /// longer cancels it, and its outcome is dropped on its loop.
    ///
    /// ```
    /// let worker = tulip::EventLoop::new()?;
    /// let (tx, rx) = tulip::channel::unbounded();
    /// worker.remote().spawn(move || async move { tx.try_send(1).unwrap() }).detach();
    /// worker.run_until_complete(async { tulip::yield_now().await })?;
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn detach(mut self) {
        self.inner = None;
    }

    /// Asks the task's loop to cancel it; false if it is already done.
    /// Awaiting the handle then gives [`Error::Cancelled`].
    ///
    /// ```
    /// let worker = tulip::EventLoop::new()?;
    /// let task = worker.remote().spawn(std::future::pending::<()>);
    /// assert!(task.cancel());
    /// worker.run_until_complete(async { for _ in 0..3 { tulip::yield_now().await } })?;
    /// assert!(task.join_blocking().unwrap_err().is_cancelled());
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn cancel(&self) -> bool {
        self.inner.as_ref().is_some_and(ConcurrentFuture::cancel)
    }

    /// Whether the task is done (its outcome is there).
    ///
    /// ```
    /// let worker = tulip::EventLoop::new()?;
    /// let task = worker.remote().spawn(|| async {});
    /// assert!(!task.is_done());
    /// worker.run_until_complete(async { tulip::yield_now().await })?;
    /// assert!(task.is_done());
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn is_done(&self) -> bool {
        self.inner.as_ref().is_none_or(ConcurrentFuture::done)
    }
}

impl<T> Future for RemoteTask<T> {
    type Output = Result<T, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.inner.as_mut() {
            Some(fut) => {
                let out = Pin::new(fut).poll(cx);
                if out.is_ready() {
                    self.inner = None;
                }
                out
            }
            None => Poll::Ready(Err(Error::InvalidState("the outcome was already taken"))),
        }
    }
}

impl<T> Drop for RemoteTask<T> {
    fn drop(&mut self) {
        if let Some(fut) = self.inner.take() {
            fut.cancel();
        }
    }
}

impl<T> fmt::Debug for RemoteTask<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteTask")
            .field("done", &self.is_done())
            .finish()
    }
}
