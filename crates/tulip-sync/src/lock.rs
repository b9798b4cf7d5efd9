//! asyncio's `Lock`: mutual exclusion between tasks, with an RAII guard.
//!
//! asyncio's `release()` is the drop of the [`LockGuard`]: a lock cannot be
//! released by a task that does not hold it, nor released twice. On release
//! with tasks waiting, the lock passes straight to the first of them (it
//! stays locked), so acquisition is strictly FIFO.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use crate::semaphore::Permits;

/// asyncio's `Lock`: one task at a time holds it.
///
/// [`acquire`](Lock::acquire) waits for the lock and returns a [`LockGuard`];
/// dropping the guard releases it (asyncio's `release()`, as `async with
/// lock:` does). Waiters get the lock in FIFO order. Cloning gives another
/// handle to the same lock.
///
/// ```
/// use tulip::sync::Lock;
/// tulip::run(async {
///     let lock = Lock::new();
///     let guard = lock.acquire().await;
///     assert!(lock.locked());
///     assert!(lock.try_acquire().is_none());
///     drop(guard); // asyncio's `lock.release()`
///     assert!(!lock.locked());
/// })?;
/// # Ok::<(), tulip::Error>(())
/// ```
///
/// A lock belongs to one thread:
///
/// ```compile_fail
/// fn assert_send<T: Send>(_: T) {}
/// assert_send(tulip::sync::Lock::new());
/// ```
#[derive(Clone)]
#[doc(alias = "Mutex")]
pub struct Lock {
    permits: Rc<Permits>,
}

impl Default for Lock {
    fn default() -> Lock {
        Lock::new()
    }
}

impl Lock {
    /// A new, unlocked lock.
    ///
    /// ```
    /// use tulip::sync::Lock;
    /// let lock = Lock::new();
    /// assert!(!lock.locked());
    /// ```
    pub fn new() -> Lock {
        Lock {
            permits: Rc::new(Permits::new(1, Some(1))),
        }
    }

    /// Whether the lock is held, or handed over to a waiter that has not run
    /// yet.
    ///
    /// ```
    /// use tulip::sync::Lock;
    /// let lock = Lock::new();
    /// let guard = lock.try_acquire().unwrap();
    /// assert!(lock.locked());
    /// drop(guard);
    /// assert!(!lock.locked());
    /// ```
    pub fn locked(&self) -> bool {
        self.permits.locked()
    }

    /// Waits until the lock is free, takes it and returns its guard.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a dropped [`LockAcquire`] leaves the queue, and if the
    /// lock had already been handed to it, the lock passes to the next
    /// waiter (or is released).
    ///
    /// ```
    /// use tulip::sync::Lock;
    /// tulip::run(async {
    ///     let lock = Lock::new();
    ///     let counter = std::rc::Rc::new(std::cell::Cell::new(0));
    ///     let tasks: Vec<_> = (0..3)
    ///         .map(|_| {
    ///             let (lock, counter) = (lock.clone(), counter.clone());
    ///             tulip::spawn(async move {
    ///                 let _guard = lock.acquire().await; // asyncio's `async with lock:`
    ///                 let seen = counter.get();
    ///                 tulip::yield_now().await; // nobody else gets in meanwhile
    ///                 counter.set(seen + 1);
    ///             })
    ///         })
    ///         .collect();
    ///     for task in tasks {
    ///         task.await.unwrap();
    ///     }
    ///     assert_eq!(counter.get(), 3);
    /// })?;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    #[doc(alias = "lock")]
    pub fn acquire(&self) -> LockAcquire {
        LockAcquire {
            lock: self.clone(),
            key: None,
        }
    }

    /// Takes the lock if it is free and nobody waits for it.
    ///
    /// ```
    /// use tulip::sync::Lock;
    /// let lock = Lock::new();
    /// let guard = lock.try_acquire().expect("the lock is free");
    /// assert!(lock.try_acquire().is_none());
    /// drop(guard);
    /// assert!(lock.try_acquire().is_some());
    /// ```
    #[doc(alias = "try_lock")]
    pub fn try_acquire(&self) -> Option<LockGuard> {
        self.permits
            .try_acquire()
            .then(|| LockGuard { lock: self.clone() })
    }

    /// Whether both handles are the same lock.
    ///
    /// ```
    /// use tulip::sync::Lock;
    /// let lock = Lock::new();
    /// assert!(lock.ptr_eq(&lock.clone()));
    /// assert!(!lock.ptr_eq(&Lock::new()));
    /// ```
    pub fn ptr_eq(&self, other: &Lock) -> bool {
        Rc::ptr_eq(&self.permits, &other.permits)
    }
}

impl fmt::Debug for Lock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lock")
            .field("locked", &self.locked())
            .field("waiters", &self.permits.n_waiting())
            .finish()
    }
}

/// The future of [`Lock::acquire`].
///
/// ```
/// use tulip::sync::Lock;
/// tulip::run(async {
///     let lock = Lock::new();
///     let guard = lock.acquire().await;
///     // Waiting for a held lock, with a timeout: the dropped
///     // `LockAcquire` leaves the queue.
///     let waited = tulip::timeout(std::time::Duration::from_millis(10))
///         .run(lock.acquire())
///         .await;
///     assert!(waited.is_err());
///     drop(guard);
///     assert!(lock.try_acquire().is_some());
/// })?;
/// # Ok::<(), tulip::Error>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct LockAcquire {
    lock: Lock,
    key: Option<usize>,
}

impl Future for LockAcquire {
    type Output = LockGuard;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<LockGuard> {
        crate::waiters::noting(&crate::waiters::LOCK_ACQUIRE, self.poll_leaf(cx))
    }
}

impl LockAcquire {
    fn poll_leaf(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<LockGuard> {
        let this = &mut *self;
        this.lock
            .permits
            .poll_acquire(&mut this.key, cx)
            .map(|()| LockGuard {
                lock: this.lock.clone(),
            })
    }
}

impl Drop for LockAcquire {
    fn drop(&mut self) {
        self.lock.permits.cancel_acquire(&mut self.key);
    }
}

impl fmt::Debug for LockAcquire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockAcquire")
            .field("queued", &self.key.is_some())
            .finish()
    }
}

/// Proof that the task holds a [`Lock`]; dropping it releases the lock
/// (asyncio's `release()`).
///
/// ```
/// use tulip::sync::Lock;
/// tulip::run(async {
///     let lock = Lock::new();
///     {
///         let guard = lock.acquire().await;
///         assert!(guard.lock().ptr_eq(&lock));
///     } // released here
///     assert!(!lock.locked());
/// })?;
/// # Ok::<(), tulip::Error>(())
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct LockGuard {
    lock: Lock,
}

impl LockGuard {
    /// The lock this guard holds.
    ///
    /// ```
    /// use tulip::sync::Lock;
    /// let lock = Lock::new();
    /// let guard = lock.try_acquire().unwrap();
    /// assert!(guard.lock().ptr_eq(&lock));
    /// ```
    pub fn lock(&self) -> &Lock {
        &self.lock
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        self.lock.permits.release_saturating();
    }
}

impl fmt::Debug for LockGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockGuard").finish_non_exhaustive()
    }
}
