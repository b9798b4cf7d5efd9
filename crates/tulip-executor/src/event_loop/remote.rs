//! The thread-safe side of a loop: [`RemoteLoop`], the `Send + Sync` handle
//! other threads use to schedule callbacks and stop the loop, and the
//! lock-free queue behind it that also carries task wake-ups from other
//! threads.
//!
//! The queue is generic over the runnable it carries (the loop instantiates
//! it with its task runnable) and [`RemoteLoop`] sees it through
//! `RemoteQueue`, so this file names neither the loop nor the task: the
//! loop imports it, not the other way round.

use std::fmt;
use std::sync::Arc;

use concurrent_queue::{ConcurrentQueue, PushError};
use tulip_reactor::Notifier;

use crate::error::Error;

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
        self.remote.push_callback(Box::new(callback))
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
}

impl fmt::Debug for RemoteLoop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteLoop")
            .field("closed", &self.is_closed())
            .finish()
    }
}
