//! asyncio's `Semaphore` and `BoundedSemaphore`, and the permit core that
//! [`Lock`](crate::Lock) shares with them.
//!
//! A release with waiters queued hands the permit straight to the first
//! waiter (the counter stays at zero), so a task arriving later can never
//! barge ahead of one already waiting: acquisition is strictly FIFO. A waiter
//! dropped after it was handed a permit releases it again, to the next waiter.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use crate::error::Error;
use crate::waiters::{Removed, WaiterList};

struct PermitsState {
    value: usize,
    bound: Option<usize>,
    waiters: WaiterList<()>,
}

/// A counter of permits with a FIFO of waiters.
pub(crate) struct Permits {
    state: RefCell<PermitsState>,
}

impl Permits {
    pub(crate) fn new(value: usize, bound: Option<usize>) -> Permits {
        Permits {
            state: RefCell::new(PermitsState {
                value,
                bound,
                waiters: WaiterList::new(),
            }),
        }
    }

    /// No permit can be taken right now (asyncio's `locked()`).
    pub(crate) fn locked(&self) -> bool {
        let s = self.state.borrow();
        s.value == 0 || !s.waiters.is_empty()
    }

    pub(crate) fn value(&self) -> usize {
        self.state.borrow().value
    }

    pub(crate) fn n_waiting(&self) -> usize {
        self.state.borrow().waiters.len()
    }

    /// Takes a permit if one is free and nobody is queued before us.
    pub(crate) fn try_acquire(&self) -> bool {
        let mut s = self.state.borrow_mut();
        if s.value > 0 && s.waiters.is_empty() {
            s.value -= 1;
            true
        } else {
            false
        }
    }

    /// Polls an acquisition whose waiter slot is `key`.
    pub(crate) fn poll_acquire(&self, key: &mut Option<usize>, cx: &Context<'_>) -> Poll<()> {
        match *key {
            None => {
                if self.try_acquire() {
                    return Poll::Ready(());
                }
                *key = Some(self.state.borrow_mut().waiters.push_back(cx.waker(), ()));
                Poll::Pending
            }
            Some(k) => match self.state.borrow_mut().waiters.poll(k, cx.waker()) {
                Some(()) => {
                    *key = None;
                    Poll::Ready(())
                }
                None => Poll::Pending,
            },
        }
    }

    /// Abandons an acquisition; a permit it was already granted is released.
    pub(crate) fn cancel_acquire(&self, key: &mut Option<usize>) {
        if let Some(k) = key.take() {
            let removed = self.state.borrow_mut().waiters.remove(k);
            if let Removed::Notified(()) = removed {
                self.release_saturating();
            }
        }
    }

    /// Releases a permit: to the first waiter if any, else to the counter.
    /// Past the bound, [`Error::ReleasedTooManyTimes`] and nothing changes.
    pub(crate) fn release(&self) -> Result<(), Error> {
        let waker = {
            let mut s = self.state.borrow_mut();
            if s.bound.is_some_and(|b| s.value >= b) {
                return Err(Error::ReleasedTooManyTimes);
            }
            let waker = s.waiters.notify_one(|()| ());
            if waker.is_none() {
                // `Semaphore::new(usize::MAX)` is "unlimited": saturate
                // rather than overflow.
                s.value = s.value.saturating_add(1);
            }
            waker
        };
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
    }

    /// A release that ignores the bound's error (guards' drops).
    pub(crate) fn release_saturating(&self) {
        let _ = self.release();
    }
}

/// Which kind of semaphore a permit comes from (shown by `Debug`).
#[derive(Clone)]
enum Kind {
    Plain,
    Bounded,
}

/// asyncio's `Semaphore`: a counter of permits, decremented by
/// [`acquire`](Semaphore::acquire) (waiting while it is zero) and incremented
/// by [`release`](Semaphore::release) or by dropping a [`SemaphorePermit`].
///
/// Waiters are served in FIFO order. Cloning gives another handle to the same
/// semaphore.
///
/// ```
/// use tulip::sync::Semaphore;
/// tulip::run(async {
///     let sem = Semaphore::new(2);
///     let a = sem.acquire().await;
///     let _b = sem.acquire().await;
///     assert!(sem.locked());
///     drop(a); // asyncio's `release()`
///     assert!(!sem.locked());
/// })?;
/// # Ok::<(), tulip::Error>(())
/// ```
///
/// A semaphore belongs to one thread:
///
/// ```compile_fail
/// fn assert_send<T: Send>(_: T) {}
/// assert_send(tulip::sync::Semaphore::new(1));
/// ```
#[derive(Clone)]
pub struct Semaphore {
    permits: Rc<Permits>,
}

impl Semaphore {
    /// A semaphore holding `value` permits.
    ///
    /// ```
    /// use tulip::sync::Semaphore;
    /// let sem = Semaphore::new(2);
    /// assert_eq!(sem.value(), 2);
    /// ```
    pub fn new(value: usize) -> Semaphore {
        Semaphore {
            permits: Rc::new(Permits::new(value, None)),
        }
    }

    /// Whether an [`acquire`](Semaphore::acquire) would wait: no permit is
    /// free, or other tasks are already waiting.
    ///
    /// ```
    /// use tulip::sync::Semaphore;
    /// let sem = Semaphore::new(1);
    /// let permit = sem.try_acquire().unwrap();
    /// assert!(sem.locked());
    /// drop(permit);
    /// assert!(!sem.locked());
    /// ```
    pub fn locked(&self) -> bool {
        self.permits.locked()
    }

    /// The number of free permits (asyncio's private `_value`).
    ///
    /// ```
    /// use tulip::sync::Semaphore;
    /// let sem = Semaphore::new(3);
    /// let _permit = sem.try_acquire().unwrap();
    /// assert_eq!(sem.value(), 2);
    /// ```
    pub fn value(&self) -> usize {
        self.permits.value()
    }

    /// Waits for a permit, in FIFO order behind earlier waiters.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a dropped [`SemaphoreAcquire`] leaves the queue, and if
    /// it had already been handed a permit, the permit goes to the next
    /// waiter.
    ///
    /// ```
    /// use std::{cell::Cell, rc::Rc};
    /// use tulip::sync::Semaphore;
    /// tulip::run(async {
    ///     // At most two tasks in the guarded section at once.
    ///     let sem = Semaphore::new(2);
    ///     let inside = Rc::new(Cell::new(0));
    ///     let most = Rc::new(Cell::new(0));
    ///     let tasks: Vec<_> = (0..5)
    ///         .map(|_| {
    ///             let (sem, inside, most) = (sem.clone(), inside.clone(), most.clone());
    ///             tulip::spawn(async move {
    ///                 let _permit = sem.acquire().await;
    ///                 inside.set(inside.get() + 1);
    ///                 most.set(most.get().max(inside.get()));
    ///                 tulip::yield_now().await;
    ///                 inside.set(inside.get() - 1);
    ///             })
    ///         })
    ///         .collect();
    ///     for task in tasks {
    ///         task.await.unwrap();
    ///     }
    ///     assert_eq!(most.get(), 2);
    /// })?;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn acquire(&self) -> SemaphoreAcquire {
        SemaphoreAcquire::new(self.permits.clone(), Kind::Plain)
    }

    /// Takes a permit without waiting, if one is free and nobody waits.
    ///
    /// ```
    /// use tulip::sync::Semaphore;
    /// let sem = Semaphore::new(1);
    /// let permit = sem.try_acquire();
    /// assert!(permit.is_some());
    /// assert!(sem.try_acquire().is_none());
    /// ```
    #[doc(alias = "try_lock")]
    pub fn try_acquire(&self) -> Option<SemaphorePermit> {
        self.permits
            .try_acquire()
            .then(|| SemaphorePermit::new(self.permits.clone(), Kind::Plain))
    }

    /// Adds a permit, waking the first waiter if any (asyncio's `release()`).
    /// Usually done by dropping a [`SemaphorePermit`]; call this for a permit
    /// that was [`forget`](SemaphorePermit::forget)-ed, or to grow the
    /// semaphore.
    ///
    /// ```
    /// use tulip::sync::Semaphore;
    /// let sem = Semaphore::new(1);
    /// sem.try_acquire().unwrap().forget(); // asyncio's bare `acquire()`
    /// assert_eq!(sem.value(), 0);
    /// sem.release();
    /// assert_eq!(sem.value(), 1);
    /// sem.release(); // a plain semaphore may grow past its initial value
    /// assert_eq!(sem.value(), 2);
    /// ```
    #[doc(alias = "add_permits")]
    pub fn release(&self) {
        self.permits.release_saturating();
    }
}

/// asyncio's `BoundedSemaphore`: a [`Semaphore`] that refuses to be released
/// above its initial value ([`Error::ReleasedTooManyTimes`]).
///
/// ```
/// use tulip::sync::{BoundedSemaphore, Error};
/// tulip::run(async {
///     let sem = BoundedSemaphore::new(1);
///     sem.acquire().await.forget();
///     assert_eq!(sem.release(), Ok(()));
///     assert_eq!(sem.release(), Err(Error::ReleasedTooManyTimes));
/// })?;
/// # Ok::<(), tulip::Error>(())
/// ```
#[derive(Clone)]
pub struct BoundedSemaphore {
    permits: Rc<Permits>,
}

impl BoundedSemaphore {
    /// A semaphore holding `value` permits, never more.
    ///
    /// ```
    /// use tulip::sync::BoundedSemaphore;
    /// let sem = BoundedSemaphore::new(2);
    /// assert_eq!(sem.value(), 2);
    /// ```
    pub fn new(value: usize) -> BoundedSemaphore {
        BoundedSemaphore {
            permits: Rc::new(Permits::new(value, Some(value))),
        }
    }

    /// Whether an [`acquire`](BoundedSemaphore::acquire) would wait.
    ///
    /// ```
    /// use tulip::sync::BoundedSemaphore;
    /// let sem = BoundedSemaphore::new(1);
    /// let permit = sem.try_acquire().unwrap();
    /// assert!(sem.locked());
    /// drop(permit);
    /// assert!(!sem.locked());
    /// ```
    pub fn locked(&self) -> bool {
        self.permits.locked()
    }

    /// The number of free permits.
    ///
    /// ```
    /// use tulip::sync::BoundedSemaphore;
    /// let sem = BoundedSemaphore::new(2);
    /// let _permit = sem.try_acquire().unwrap();
    /// assert_eq!(sem.value(), 1);
    /// ```
    pub fn value(&self) -> usize {
        self.permits.value()
    }

    /// Waits for a permit, in FIFO order behind earlier waiters.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`Semaphore::acquire`].
    ///
    /// ```
    /// use tulip::sync::BoundedSemaphore;
    /// tulip::run(async {
    ///     let sem = BoundedSemaphore::new(1);
    ///     let permit = sem.acquire().await;
    ///     assert_eq!(sem.value(), 0);
    ///     drop(permit);
    ///     assert_eq!(sem.value(), 1);
    /// })?;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn acquire(&self) -> SemaphoreAcquire {
        SemaphoreAcquire::new(self.permits.clone(), Kind::Bounded)
    }

    /// Takes a permit without waiting, if one is free and nobody waits.
    ///
    /// ```
    /// use tulip::sync::BoundedSemaphore;
    /// let sem = BoundedSemaphore::new(1);
    /// let _permit = sem.try_acquire().unwrap();
    /// assert!(sem.try_acquire().is_none());
    /// ```
    #[doc(alias = "try_lock")]
    pub fn try_acquire(&self) -> Option<SemaphorePermit> {
        self.permits
            .try_acquire()
            .then(|| SemaphorePermit::new(self.permits.clone(), Kind::Bounded))
    }

    /// Adds a permit back; [`Error::ReleasedTooManyTimes`] (and no change)
    /// if that would exceed the initial value.
    ///
    /// ```
    /// use tulip::sync::{BoundedSemaphore, Error};
    /// let sem = BoundedSemaphore::new(1);
    /// sem.try_acquire().unwrap().forget();
    /// assert_eq!(sem.release(), Ok(()));
    /// assert_eq!(sem.release(), Err(Error::ReleasedTooManyTimes));
    /// assert_eq!(sem.value(), 1);
    /// ```
    pub fn release(&self) -> Result<(), Error> {
        self.permits.release()
    }
}

/// The future of [`Semaphore::acquire`] and [`BoundedSemaphore::acquire`].
///
/// ```
/// use std::time::Duration;
/// use tulip::sync::Semaphore;
/// tulip::run(async {
///     let sem = Semaphore::new(0);
///     // No permit comes: the dropped `SemaphoreAcquire` leaves the queue.
///     let waited = tulip::timeout(Duration::from_millis(10)).run(sem.acquire()).await;
///     assert!(waited.is_err());
///     sem.release();
///     assert!(sem.try_acquire().is_some());
/// })?;
/// # Ok::<(), tulip::Error>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct SemaphoreAcquire {
    permits: Rc<Permits>,
    kind: Kind,
    key: Option<usize>,
}

impl SemaphoreAcquire {
    fn new(permits: Rc<Permits>, kind: Kind) -> SemaphoreAcquire {
        SemaphoreAcquire {
            permits,
            kind,
            key: None,
        }
    }
}

impl Future for SemaphoreAcquire {
    type Output = SemaphorePermit;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<SemaphorePermit> {
        crate::waiters::noting(&crate::waiters::SEMAPHORE_ACQUIRE, self.poll_leaf(cx))
    }
}

impl SemaphoreAcquire {
    fn poll_leaf(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<SemaphorePermit> {
        let this = &mut *self;
        this.permits
            .poll_acquire(&mut this.key, cx)
            .map(|()| SemaphorePermit::new(this.permits.clone(), this.kind.clone()))
    }
}

impl Drop for SemaphoreAcquire {
    fn drop(&mut self) {
        self.permits.cancel_acquire(&mut self.key);
    }
}

impl fmt::Debug for SemaphoreAcquire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphoreAcquire")
            .field("queued", &self.key.is_some())
            .finish()
    }
}

/// A permit of a [`Semaphore`] or [`BoundedSemaphore`], released when
/// dropped (asyncio's `release()`, as `async with sem:` does).
///
/// ```
/// use tulip::sync::Semaphore;
/// tulip::run(async {
///     let sem = Semaphore::new(1);
///     {
///         let _permit = sem.acquire().await;
///         assert!(sem.try_acquire().is_none());
///     }
///     assert!(sem.try_acquire().is_some());
/// })?;
/// # Ok::<(), tulip::Error>(())
/// ```
#[must_use = "the permit is released as soon as it is dropped"]
pub struct SemaphorePermit {
    permits: Option<Rc<Permits>>,
    kind: Kind,
}

impl SemaphorePermit {
    fn new(permits: Rc<Permits>, kind: Kind) -> SemaphorePermit {
        SemaphorePermit {
            permits: Some(permits),
            kind,
        }
    }

    /// Keeps the permit acquired without releasing it on drop (asyncio's
    /// plain `await sem.acquire()` with no `release()`); give it back later
    /// with `release()` on the semaphore.
    ///
    /// ```
    /// use tulip::sync::Semaphore;
    /// let sem = Semaphore::new(1);
    /// let permit = sem.try_acquire().unwrap();
    /// permit.forget();
    /// assert_eq!(sem.value(), 0); // still taken
    /// sem.release();
    /// assert_eq!(sem.value(), 1);
    /// ```
    pub fn forget(mut self) {
        self.permits = None;
    }
}

impl Drop for SemaphorePermit {
    fn drop(&mut self) {
        if let Some(p) = self.permits.take() {
            p.release_saturating();
        }
    }
}

impl fmt::Debug for SemaphorePermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            Kind::Plain => "Semaphore",
            Kind::Bounded => "BoundedSemaphore",
        };
        f.debug_struct("SemaphorePermit")
            .field("of", &kind)
            .finish()
    }
}

macro_rules! debug_semaphore {
    ($ty:ident) => {
        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($ty))
                    .field("value", &self.permits.value())
                    .field("waiters", &self.permits.n_waiting())
                    .finish()
            }
        }
    };
}
debug_semaphore!(Semaphore);
debug_semaphore!(BoundedSemaphore);
