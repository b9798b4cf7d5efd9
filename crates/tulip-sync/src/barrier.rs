//! asyncio's `Barrier` (3.11): `parties` tasks wait until all have arrived.
//!
//! When the last party arrives, every waiter is released with its arrival
//! index (0 for the first, `parties - 1` for the last) and the barrier is at
//! once ready for the next cycle; asyncio's "draining" phase is not needed
//! because each released waiter already holds its result. A waiter dropped
//! before the barrier fills simply leaves it (as in asyncio, it does not
//! break the barrier); indices are given at release time, so they are always
//! exactly `0..parties`.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use crate::error::Error;
use crate::waiters::{WaiterList, wake_all};

struct BarrierState {
    parties: usize,
    broken: bool,
    /// Granted `Ok(index)` when released, `Err(())` on reset or abort.
    waiters: WaiterList<Result<usize, ()>>,
}

impl BarrierState {
    fn break_waiters(&mut self) -> Vec<std::task::Waker> {
        self.waiters.notify_all(|()| Err(()))
    }
}

/// asyncio's `Barrier`: [`wait`](Barrier::wait) blocks until `parties` tasks
/// are waiting, then releases them all. Cloning gives another handle to the
/// same barrier.
///
/// ```
/// use tulip::sync::Barrier;
/// tulip::run(async {
///     let barrier = Barrier::new(3);
///     let tasks: Vec<_> = (0..3)
///         .map(|_| {
///             let barrier = barrier.clone();
///             tulip::spawn(async move { barrier.wait().await })
///         })
///         .collect();
///     let mut indices = Vec::new();
///     for t in tasks {
///         indices.push(t.await.unwrap().unwrap());
///     }
///     assert_eq!(indices, [0, 1, 2]);
///     assert_eq!(barrier.n_waiting(), 0);
/// })?;
/// # Ok::<(), tulip::Error>(())
/// ```
#[derive(Clone)]
pub struct Barrier {
    state: Rc<RefCell<BarrierState>>,
}

impl Barrier {
    /// A barrier for `parties` tasks. asyncio raises `ValueError` for 0;
    /// here a barrier of 0 parties behaves as one of 1 (as std's `Barrier`).
    ///
    /// ```
    /// use tulip::sync::Barrier;
    /// assert_eq!(Barrier::new(3).parties(), 3);
    /// assert_eq!(Barrier::new(0).parties(), 1);
    /// ```
    pub fn new(parties: usize) -> Barrier {
        Barrier {
            state: Rc::new(RefCell::new(BarrierState {
                parties: parties.max(1),
                broken: false,
                waiters: WaiterList::new(),
            })),
        }
    }

    /// Waits until `parties` tasks are waiting; returns this task's arrival
    /// index in `0..parties`. [`Error::BrokenBarrier`] if the barrier is
    /// broken, or is aborted or reset while this task waits.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a dropped [`BarrierWait`] that was not released leaves
    /// the barrier (one fewer party waiting); one already released has
    /// nothing to pass on, the others were released too.
    ///
    /// ```
    /// use tulip::sync::Barrier;
    /// tulip::run(async {
    ///     let barrier = Barrier::new(2);
    ///     let other = tulip::spawn({
    ///         let barrier = barrier.clone();
    ///         async move { barrier.wait().await }
    ///     });
    ///     let mine = barrier.wait().await.unwrap();
    ///     let theirs = other.await.unwrap().unwrap();
    ///     assert_eq!(mine + theirs, 1); // arrival indices 0 and 1
    /// })?;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn wait(&self) -> BarrierWait {
        BarrierWait {
            state: self.state.clone(),
            key: None,
        }
    }

    /// Returns the barrier to its empty state; tasks waiting on it get
    /// [`Error::BrokenBarrier`]. A broken barrier becomes usable again.
    ///
    /// ```
    /// use tulip::sync::{Barrier, Error};
    /// tulip::run(async {
    ///     let barrier = Barrier::new(2);
    ///     let waiter = tulip::spawn({
    ///         let barrier = barrier.clone();
    ///         async move { barrier.wait().await }
    ///     });
    ///     tulip::yield_now().await;
    ///     assert_eq!(barrier.n_waiting(), 1);
    ///     barrier.reset();
    ///     assert_eq!(waiter.await.unwrap(), Err(Error::BrokenBarrier));
    ///     assert!(!barrier.broken());
    /// })?;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn reset(&self) {
        let wakers = {
            let mut s = self.state.borrow_mut();
            s.broken = false;
            s.break_waiters()
        };
        wake_all(wakers);
    }

    /// Breaks the barrier: waiting tasks and every later
    /// [`wait`](Barrier::wait) get [`Error::BrokenBarrier`] until
    /// [`reset`](Barrier::reset).
    ///
    /// ```
    /// use tulip::sync::{Barrier, Error};
    /// tulip::run(async {
    ///     let barrier = Barrier::new(2);
    ///     barrier.abort();
    ///     assert!(barrier.broken());
    ///     assert_eq!(barrier.wait().await, Err(Error::BrokenBarrier));
    ///     barrier.reset();
    ///     assert!(!barrier.broken());
    /// })?;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn abort(&self) {
        let wakers = {
            let mut s = self.state.borrow_mut();
            s.broken = true;
            s.break_waiters()
        };
        wake_all(wakers);
    }

    /// The number of tasks needed to pass the barrier.
    ///
    /// ```
    /// use tulip::sync::Barrier;
    /// assert_eq!(Barrier::new(4).parties(), 4);
    /// ```
    pub fn parties(&self) -> usize {
        self.state.borrow().parties
    }

    /// The number of tasks waiting in the current cycle.
    ///
    /// ```
    /// use tulip::sync::Barrier;
    /// tulip::run(async {
    ///     let barrier = Barrier::new(2);
    ///     assert_eq!(barrier.n_waiting(), 0);
    ///     let waiter = tulip::spawn({
    ///         let barrier = barrier.clone();
    ///         async move { barrier.wait().await }
    ///     });
    ///     tulip::yield_now().await;
    ///     assert_eq!(barrier.n_waiting(), 1);
    ///     barrier.wait().await.unwrap();
    ///     waiter.await.unwrap().unwrap();
    /// })?;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn n_waiting(&self) -> usize {
        self.state.borrow().waiters.len()
    }

    /// Whether the barrier is broken.
    ///
    /// ```
    /// use tulip::sync::Barrier;
    /// let barrier = Barrier::new(2);
    /// assert!(!barrier.broken());
    /// barrier.abort();
    /// assert!(barrier.broken());
    /// ```
    pub fn broken(&self) -> bool {
        self.state.borrow().broken
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.state.borrow();
        f.debug_struct("Barrier")
            .field("parties", &s.parties)
            .field("waiting", &s.waiters.len())
            .field("broken", &s.broken)
            .finish()
    }
}

/// The future of [`Barrier::wait`].
///
/// ```
/// use std::time::Duration;
/// use tulip::sync::Barrier;
/// tulip::run(async {
///     let barrier = Barrier::new(2);
///     // The second party never comes: the dropped wait leaves the barrier.
///     let waited = tulip::timeout(Duration::from_millis(10)).run(barrier.wait()).await;
///     assert!(waited.is_err());
///     assert_eq!(barrier.n_waiting(), 0);
/// })?;
/// # Ok::<(), tulip::Error>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct BarrierWait {
    state: Rc<RefCell<BarrierState>>,
    key: Option<usize>,
}

impl Future for BarrierWait {
    type Output = Result<usize, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<<Self as Future>::Output> {
        crate::waiters::noting(&crate::waiters::BARRIER_WAIT, self.poll_leaf(cx))
    }
}

impl BarrierWait {
    fn poll_leaf(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<<Self as Future>::Output> {
        let this = &mut *self;
        let wakers = {
            let mut s = this.state.borrow_mut();
            if let Some(k) = this.key {
                return match s.waiters.poll(k, cx.waker()) {
                    Some(granted) => {
                        this.key = None;
                        Poll::Ready(granted.map_err(|()| Error::BrokenBarrier))
                    }
                    None => Poll::Pending,
                };
            }
            if s.broken {
                return Poll::Ready(Err(Error::BrokenBarrier));
            }
            if s.waiters.len() + 1 < s.parties {
                this.key = Some(s.waiters.push_back(cx.waker(), ()));
                return Poll::Pending;
            }
            let mut index = 0;
            s.waiters.notify_all(|()| {
                index += 1;
                Ok(index - 1)
            })
        };
        let last = wakers.len();
        wake_all(wakers);
        Poll::Ready(Ok(last))
    }
}

impl Drop for BarrierWait {
    fn drop(&mut self) {
        if let Some(k) = self.key.take() {
            let _ = self.state.borrow_mut().waiters.remove(k);
        }
    }
}

impl fmt::Debug for BarrierWait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BarrierWait")
            .field("queued", &self.key.is_some())
            .finish()
    }
}
