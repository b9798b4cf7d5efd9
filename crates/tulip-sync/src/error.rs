//! The crate's error type: asyncio's synchronization and queue exceptions as
//! Rust values, plus [`PutError`], which gives a rejected item back.

use std::fmt;

/// What can go wrong with a lock, a condition, a semaphore, a barrier or a
/// queue. asyncio raises these as exceptions; tulip-sync returns them.
///
/// ```
/// use tulip::sync::{Error, Queue};
/// let queue: Queue<u32> = Queue::new(0);
/// assert_eq!(queue.get_nowait(), Err(Error::QueueEmpty));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[doc(alias = "SyncError")]
pub enum Error {
    /// A [`Condition`](crate::Condition) was given a guard of another lock:
    /// the caller does not hold the condition's lock (asyncio's
    /// `RuntimeError('cannot wait on un-acquired lock')` and
    /// `RuntimeError('cannot notify on un-acquired lock')`).
    #[doc(alias = "RuntimeError")]
    NotOwner,
    /// A [`BoundedSemaphore`](crate::BoundedSemaphore) was released more
    /// times than it was acquired (asyncio's
    /// `ValueError('BoundedSemaphore released too many times')`).
    #[doc(alias = "ValueError")]
    ReleasedTooManyTimes,
    /// The [`Barrier`](crate::Barrier) was aborted or reset while the caller
    /// waited on it, or is broken (asyncio's `BrokenBarrierError`).
    #[doc(alias = "BrokenBarrierError")]
    BrokenBarrier,
    /// `get_nowait` on an empty queue (asyncio's `QueueEmpty`).
    QueueEmpty,
    /// `put_nowait` on a full queue (asyncio's `QueueFull`).
    QueueFull,
    /// The queue was shut down (asyncio 3.13's `QueueShutDown`): puts fail,
    /// gets fail once the queue is drained.
    QueueShutDown,
    /// `task_done` was called more times than items were put (asyncio's
    /// `ValueError('task_done() called too many times')`).
    TaskDoneTooManyTimes,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::NotOwner => "lock is not acquired by the caller",
            Error::ReleasedTooManyTimes => "BoundedSemaphore released too many times",
            Error::BrokenBarrier => "barrier is broken",
            Error::QueueEmpty => "queue is empty",
            Error::QueueFull => "queue is full",
            Error::QueueShutDown => "queue is shut down",
            Error::TaskDoneTooManyTimes => "task_done() called too many times",
        })
    }
}

impl std::error::Error for Error {}

/// A put that was refused ([`Error::QueueFull`] or [`Error::QueueShutDown`]),
/// with the item given back: nothing is lost.
///
/// ```
/// use tulip::sync::{Error, Queue};
/// let queue = Queue::new(1);
/// queue.put_nowait("a").unwrap();
/// let refused = queue.put_nowait("b").unwrap_err();
/// assert_eq!(refused.error(), Error::QueueFull);
/// assert_eq!(refused.into_item(), "b");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct PutError<T> {
    error: Error,
    item: T,
}

impl<T> PutError<T> {
    pub(crate) fn new(error: Error, item: T) -> PutError<T> {
        PutError { error, item }
    }

    /// Why the put was refused.
    ///
    /// ```
    /// use tulip::sync::{Error, Queue};
    /// let queue = Queue::new(1);
    /// queue.shutdown(false);
    /// assert_eq!(queue.put_nowait(1).unwrap_err().error(), Error::QueueShutDown);
    /// ```
    pub fn error(&self) -> Error {
        self.error
    }

    /// The item that was not put.
    ///
    /// ```
    /// use tulip::sync::Queue;
    /// let queue = Queue::new(1);
    /// queue.put_nowait(String::from("a")).unwrap();
    /// let refused = queue.put_nowait(String::from("b")).unwrap_err();
    /// let item: String = refused.into_item(); // back to the caller, not lost
    /// assert_eq!(item, "b");
    /// ```
    #[doc(alias = "into_inner")]
    pub fn into_item(self) -> T {
        self.item
    }

    /// The item that was not put, by reference.
    ///
    /// ```
    /// use tulip::sync::Queue;
    /// let queue = Queue::new(1);
    /// queue.put_nowait(1).unwrap();
    /// let refused = queue.put_nowait(2).unwrap_err();
    /// assert_eq!(*refused.item(), 2);
    /// ```
    pub fn item(&self) -> &T {
        &self.item
    }
}

impl<T> fmt::Debug for PutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PutError")
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl<T> fmt::Display for PutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl<T> std::error::Error for PutError<T> {}

impl<T> From<PutError<T>> for Error {
    fn from(e: PutError<T>) -> Error {
        e.error
    }
}
