//! asyncio's `Condition`: tasks wait, with a [`Lock`] released, until
//! another task holding the lock notifies them.
//!
//! The lock is proven held by a [`LockGuard`]: [`Condition::wait`] consumes
//! the guard and gives back a new one once the lock is re-acquired, and
//! [`Condition::notify`] borrows it. So "waiting or notifying without the
//! lock" cannot be written; a guard of *another* lock is caught and returned
//! as [`Error::NotOwner`] (asyncio's `RuntimeError`).

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use crate::error::Error;
use crate::lock::{Lock, LockAcquire, LockGuard};
use crate::waiters::{Removed, WaiterList, wake_all};

struct ConditionInner {
    lock: Lock,
    waiters: RefCell<WaiterList<()>>,
}

impl ConditionInner {
    /// Wakes up to `n` waiters in FIFO order; how many were woken.
    fn notify(&self, n: usize) -> usize {
        let mut wakers = Vec::new();
        {
            let mut waiters = self.waiters.borrow_mut();
            while wakers.len() < n {
                match waiters.notify_one(|()| ()) {
                    Some(w) => wakers.push(w),
                    None => break,
                }
            }
        }
        let count = wakers.len();
        wake_all(wakers);
        count
    }
}

/// asyncio's `Condition`: [`wait`](Condition::wait) releases the lock,
/// waits for a [`notify`](Condition::notify), and re-acquires the lock.
///
/// Built over its own [`Lock`] ([`Condition::new`]) or a shared one
/// ([`Condition::with_lock`]). Waiters are notified in FIFO order. Cloning
/// gives another handle to the same condition.
///
/// ```
/// use tulip::sync::Condition;
/// use std::{cell::Cell, rc::Rc};
/// tulip::run(async {
///     let cond = Condition::new();
///     let ready = Rc::new(Cell::new(false));
///     let consumer = tulip::spawn({
///         let (cond, ready) = (cond.clone(), ready.clone());
///         async move {
///             let guard = cond.acquire().await;
///             let _guard = cond.wait_for(guard, || ready.get()).await.unwrap();
///             "ready"
///         }
///     });
///     tulip::yield_now().await;
///     let guard = cond.acquire().await;
///     ready.set(true);
///     cond.notify_all(&guard).unwrap();
///     drop(guard);
///     assert_eq!(consumer.await.unwrap(), "ready");
/// })?;
/// # Ok::<(), tulip::Error>(())
/// ```
#[derive(Clone)]
pub struct Condition {
    inner: Rc<ConditionInner>,
}

impl Default for Condition {
    fn default() -> Condition {
        Condition::new()
    }
}

impl Condition {
    /// A condition over a new lock of its own.
    ///
    /// ```
    /// use tulip::sync::Condition;
    /// let cond = Condition::new();
    /// assert!(!cond.locked());
    /// ```
    pub fn new() -> Condition {
        Condition::with_lock(Lock::new())
    }

    /// A condition over `lock` (asyncio's `Condition(lock)`), which other
    /// code may also acquire directly.
    ///
    /// ```
    /// use tulip::sync::{Condition, Lock};
    /// let lock = Lock::new();
    /// let cond = Condition::with_lock(lock.clone());
    /// assert!(cond.lock().ptr_eq(&lock));
    /// let _guard = lock.try_acquire().unwrap();
    /// assert!(cond.locked());
    /// ```
    pub fn with_lock(lock: Lock) -> Condition {
        Condition {
            inner: Rc::new(ConditionInner {
                lock,
                waiters: RefCell::new(WaiterList::new()),
            }),
        }
    }

    /// The underlying lock.
    ///
    /// ```
    /// use tulip::sync::Condition;
    /// let cond = Condition::new();
    /// let guard = cond.lock().try_acquire().unwrap();
    /// assert!(guard.lock().ptr_eq(cond.lock()));
    /// ```
    pub fn lock(&self) -> &Lock {
        &self.inner.lock
    }

    /// Whether the underlying lock is held.
    ///
    /// ```
    /// use tulip::sync::Condition;
    /// tulip::run(async {
    ///     let cond = Condition::new();
    ///     let guard = cond.acquire().await;
    ///     assert!(cond.locked());
    ///     drop(guard);
    ///     assert!(!cond.locked());
    /// })?;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn locked(&self) -> bool {
        self.inner.lock.locked()
    }

    /// Acquires the underlying lock (asyncio's `async with cond:`).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`Lock::acquire`].
    ///
    /// ```
    /// use tulip::sync::Condition;
    /// tulip::run(async {
    ///     let cond = Condition::new();
    ///     let guard = cond.acquire().await; // asyncio's `async with cond:`
    ///     assert_eq!(cond.notify(&guard, 1), Ok(0)); // nobody waits
    /// })?;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn acquire(&self) -> LockAcquire {
        self.inner.lock.acquire()
    }

    /// Releases the lock held by `guard`, waits for a notification, then
    /// re-acquires the lock and returns its new guard.
    ///
    /// [`Error::NotOwner`] if `guard` holds another lock (that guard is
    /// dropped, releasing its lock).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: if the [`ConditionWait`] is dropped, the lock is not
    /// held (the guard was consumed), and a notification it had already
    /// received, while waiting to re-acquire the lock, say, is passed on to
    /// the next waiter, as asyncio 3.13 does. Nothing is lost; at worst a
    /// waiter sees a spurious wake-up, which the condition-variable protocol
    /// allows (use [`wait_for`](Condition::wait_for)).
    ///
    /// ```
    /// use tulip::sync::Condition;
    /// tulip::run(async {
    ///     let cond = Condition::new();
    ///     let waiter = tulip::spawn({
    ///         let cond = cond.clone();
    ///         async move {
    ///             let guard = cond.acquire().await;
    ///             let guard = cond.wait(guard).await.unwrap(); // lock released while waiting
    ///             assert!(guard.lock().ptr_eq(cond.lock())); // and held again now
    ///         }
    ///     });
    ///     tulip::yield_now().await;
    ///     let guard = cond.acquire().await;
    ///     assert_eq!(cond.notify(&guard, 1), Ok(1));
    ///     drop(guard);
    ///     waiter.await.unwrap();
    /// })?;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn wait(&self, guard: LockGuard) -> ConditionWait {
        ConditionWait {
            cond: self.clone(),
            state: WaitState::Start(guard),
        }
    }

    /// Waits until `predicate` returns true, checking it first and after
    /// every wake-up, with the lock held each time; returns the guard.
    ///
    /// [`Error::NotOwner`] if `guard` holds another lock.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`wait`](Condition::wait).
    ///
    /// ```
    /// use std::{cell::Cell, rc::Rc};
    /// use tulip::sync::Condition;
    /// tulip::run(async {
    ///     let cond = Condition::new();
    ///     let count = Rc::new(Cell::new(0));
    ///     let waiter = tulip::spawn({
    ///         let (cond, count) = (cond.clone(), count.clone());
    ///         async move {
    ///             let guard = cond.acquire().await;
    ///             let _guard = cond.wait_for(guard, || count.get() >= 2).await.unwrap();
    ///             count.get()
    ///         }
    ///     });
    ///     for _ in 0..2 {
    ///         tulip::yield_now().await;
    ///         let guard = cond.acquire().await;
    ///         count.set(count.get() + 1);
    ///         cond.notify_all(&guard).unwrap();
    ///     }
    ///     assert_eq!(waiter.await.unwrap(), 2);
    /// })?;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub async fn wait_for(
        &self,
        mut guard: LockGuard,
        mut predicate: impl FnMut() -> bool,
    ) -> Result<LockGuard, Error> {
        self.check(&guard)?;
        while !predicate() {
            guard = self.wait(guard).await?;
        }
        Ok(guard)
    }

    /// Wakes up to `n` waiters, in FIFO order; returns how many were woken.
    ///
    /// [`Error::NotOwner`] if `guard` holds another lock.
    ///
    /// ```
    /// use tulip::sync::{Condition, Error, Lock};
    /// tulip::run(async {
    ///     let cond = Condition::new();
    ///     let waiters: Vec<_> = (0..3)
    ///         .map(|_| {
    ///             let cond = cond.clone();
    ///             tulip::spawn(async move {
    ///                 let guard = cond.acquire().await;
    ///                 drop(cond.wait(guard).await.unwrap());
    ///             })
    ///         })
    ///         .collect();
    ///     tulip::yield_now().await;
    ///     let guard = cond.acquire().await;
    ///     assert_eq!(cond.notify(&guard, 2), Ok(2)); // two of the three
    ///     assert_eq!(cond.notify(&guard, 2), Ok(1)); // the last one
    ///     // Notifying needs the condition's own lock held.
    ///     let other = Lock::new().acquire().await;
    ///     assert_eq!(cond.notify(&other, 1), Err(Error::NotOwner));
    ///     drop(guard);
    ///     for waiter in waiters {
    ///         waiter.await.unwrap();
    ///     }
    /// })?;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn notify(&self, guard: &LockGuard, n: usize) -> Result<usize, Error> {
        self.check(guard)?;
        Ok(self.inner.notify(n))
    }

    /// Wakes every waiter; returns how many were woken.
    ///
    /// [`Error::NotOwner`] if `guard` holds another lock.
    ///
    /// ```
    /// use tulip::sync::Condition;
    /// tulip::run(async {
    ///     let cond = Condition::new();
    ///     let waiters: Vec<_> = (0..2)
    ///         .map(|_| {
    ///             let cond = cond.clone();
    ///             tulip::spawn(async move {
    ///                 let guard = cond.acquire().await;
    ///                 drop(cond.wait(guard).await.unwrap());
    ///             })
    ///         })
    ///         .collect();
    ///     tulip::yield_now().await;
    ///     let guard = cond.acquire().await;
    ///     assert_eq!(cond.notify_all(&guard), Ok(2));
    ///     drop(guard);
    ///     for waiter in waiters {
    ///         waiter.await.unwrap();
    ///     }
    /// })?;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    #[doc(alias = "notify_waiters")]
    pub fn notify_all(&self, guard: &LockGuard) -> Result<usize, Error> {
        self.notify(guard, usize::MAX)
    }

    fn check(&self, guard: &LockGuard) -> Result<(), Error> {
        if guard.lock().ptr_eq(&self.inner.lock) {
            Ok(())
        } else {
            Err(Error::NotOwner)
        }
    }
}

impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condition")
            .field("locked", &self.locked())
            .field("waiters", &self.inner.waiters.borrow().len())
            .finish()
    }
}

enum WaitState {
    Start(LockGuard),
    Waiting(usize),
    Reacquiring(LockAcquire),
    Done,
}

/// The future of [`Condition::wait`].
///
/// ```
/// use std::time::Duration;
/// use tulip::sync::Condition;
/// tulip::run(async {
///     let cond = Condition::new();
///     let guard = cond.acquire().await;
///     // Nobody notifies: the timeout drops the `ConditionWait`, and the lock
///     // it released is not held any more.
///     let waited = tulip::timeout(Duration::from_millis(10)).run(cond.wait(guard)).await;
///     assert!(waited.is_err());
///     assert!(!cond.locked());
/// })?;
/// # Ok::<(), tulip::Error>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct ConditionWait {
    cond: Condition,
    state: WaitState,
}

impl Future for ConditionWait {
    type Output = Result<LockGuard, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<<Self as Future>::Output> {
        crate::waiters::noting(&crate::waiters::CONDITION_WAIT, self.poll_leaf(cx))
    }
}

impl ConditionWait {
    fn poll_leaf(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<<Self as Future>::Output> {
        let this = &mut *self;
        loop {
            match std::mem::replace(&mut this.state, WaitState::Done) {
                WaitState::Start(guard) => {
                    if let Err(e) = this.cond.check(&guard) {
                        return Poll::Ready(Err(e));
                    }
                    let key = this
                        .cond
                        .inner
                        .waiters
                        .borrow_mut()
                        .push_back(cx.waker(), ());
                    this.state = WaitState::Waiting(key);
                    drop(guard);
                    return Poll::Pending;
                }
                WaitState::Waiting(key) => {
                    let notified = this.cond.inner.waiters.borrow_mut().poll(key, cx.waker());
                    match notified {
                        Some(()) => {
                            this.state = WaitState::Reacquiring(this.cond.inner.lock.acquire());
                        }
                        None => {
                            this.state = WaitState::Waiting(key);
                            return Poll::Pending;
                        }
                    }
                }
                WaitState::Reacquiring(mut acquire) => match Pin::new(&mut acquire).poll(cx) {
                    Poll::Ready(guard) => return Poll::Ready(Ok(guard)),
                    Poll::Pending => {
                        this.state = WaitState::Reacquiring(acquire);
                        return Poll::Pending;
                    }
                },
                WaitState::Done => panic!("ConditionWait polled after completion"),
            }
        }
    }
}

impl Drop for ConditionWait {
    fn drop(&mut self) {
        match std::mem::replace(&mut self.state, WaitState::Done) {
            WaitState::Waiting(key) => {
                let removed = self.cond.inner.waiters.borrow_mut().remove(key);
                if let Removed::Notified(()) = removed {
                    self.cond.inner.notify(1);
                }
            }
            WaitState::Reacquiring(acquire) => {
                drop(acquire);
                self.cond.inner.notify(1);
            }
            WaitState::Start(_) | WaitState::Done => {}
        }
    }
}

impl fmt::Debug for ConditionWait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            WaitState::Start(_) => "start",
            WaitState::Waiting(_) => "waiting",
            WaitState::Reacquiring(_) => "reacquiring",
            WaitState::Done => "done",
        };
        f.debug_struct("ConditionWait")
            .field("state", &state)
            .finish()
    }
}
