//! # tulip-sync
//!
//! asyncio's synchronization primitives and queues for
//! [tulip](https://docs.rs/tulip): [`Lock`], [`Event`], [`Condition`],
//! [`Semaphore`], [`BoundedSemaphore`], [`Barrier`], and [`Queue`],
//! [`PriorityQueue`], [`LifoQueue`].
//!
//! - **Single-threaded**, like asyncio: `Rc`, `Cell` and `RefCell`, no
//!   atomics, no locks. Handles are cheap `Clone`s of one shared object,
//!   as asyncio objects shared between tasks are; none of them is `Send`.
//! - **Any executor**: built on [`std::task::Waker`] only, so they work
//!   under tulip's loop or any other single-threaded executor.
//! - **FIFO-fair**: waiters are served in arrival order. A release hands the
//!   lock, the permit or the item straight to the first waiter, so a task
//!   arriving later can never barge ahead of one already waiting.
//! - **Cancellation-safe**: every waiting future can be dropped at any
//!   point. One dropped after it was granted the lock, a permit, an item or a
//!   notification, but before it ran, passes the grant on to the next
//!   waiter: nothing is ever lost. The `# Cancel safety` section of each
//!   async method says exactly what happens.
//! - **O(1) waiters**: enqueue, wake-up and removal of a waiter are O(1), so
//!   100,000 tasks waiting on one [`Event`] cost 100,000 steps to release.
//!
//! Errors are values of one enum, [`Error`] (with [`PutError`] giving a
//! refused item back), never panics.
//!
//! ```
//! use tulip::sync::{Lock, Queue};
//! tulip::run(async {
//!     let queue = Queue::new(10);
//!     let lock = Lock::new();
//!     let workers: Vec<_> = (0..3)
//!         .map(|_| {
//!             let (queue, lock) = (queue.clone(), lock.clone());
//!             tulip::spawn(async move {
//!                 let mut sum = 0;
//!                 while let Ok(n) = queue.get().await {
//!                     let _guard = lock.acquire().await;
//!                     sum += n;
//!                     queue.task_done().unwrap();
//!                 }
//!                 sum
//!             })
//!         })
//!         .collect();
//!     for n in 1..=100 {
//!         queue.put(n).await.unwrap();
//!     }
//!     queue.join().await;
//!     queue.shutdown(false);
//!     let mut total = 0;
//!     for w in workers {
//!         total += w.await.unwrap();
//!     }
//!     assert_eq!(total, 5050);
//! })?;
//! # Ok::<(), tulip::Error>(())
//! ```
//!
//! ## asyncio correspondence
//!
//! | asyncio | tulip-sync |
//! |---|---|
//! | `Lock()` / `async with lock:` / `acquire()` / `release()` / `locked()` | [`Lock::new`] / [`Lock::acquire`] → [`LockGuard`] / dropping the [`LockGuard`] / [`Lock::locked`] |
//! | `Event()` / `set()` / `clear()` / `is_set()` / `wait()` | [`Event::new`] / [`Event::set`] / [`Event::clear`] / [`Event::is_set`] / [`Event::wait`] |
//! | `Condition(lock=None)` | [`Condition::new`], [`Condition::with_lock`] |
//! | `cond.wait()` / `wait_for(predicate)` | [`Condition::wait`] / [`Condition::wait_for`] (take and give back a [`LockGuard`]) |
//! | `cond.notify(n)` / `notify_all()` | [`Condition::notify`] / [`Condition::notify_all`] (borrow a [`LockGuard`]) |
//! | `Semaphore(value)` / `acquire()` / `release()` / `locked()` | [`Semaphore::new`] / [`Semaphore::acquire`] → [`SemaphorePermit`] / [`Semaphore::release`] or dropping the permit / [`Semaphore::locked`] |
//! | `BoundedSemaphore(value)` | [`BoundedSemaphore`] |
//! | `Barrier(parties)` / `wait()` / `reset()` / `abort()` | [`Barrier::new`] / [`Barrier::wait`] / [`Barrier::reset`] / [`Barrier::abort`] |
//! | `barrier.parties` / `n_waiting` / `broken` | [`Barrier::parties`] / [`Barrier::n_waiting`] / [`Barrier::broken`] |
//! | `Queue(maxsize)` / `PriorityQueue` / `LifoQueue` | [`Queue::new`] / [`PriorityQueue`] / [`LifoQueue`] (all [`BaseQueue`]) |
//! | `put` / `get` / `put_nowait` / `get_nowait` | [`BaseQueue::put`] / [`BaseQueue::get`] / [`BaseQueue::put_nowait`] / [`BaseQueue::get_nowait`] |
//! | `qsize` / `empty` / `full` / `maxsize` | [`BaseQueue::qsize`] / [`BaseQueue::empty`] / [`BaseQueue::full`] / [`BaseQueue::maxsize`] |
//! | `task_done` / `join` / `shutdown(immediate)` | [`BaseQueue::task_done`] / [`BaseQueue::join`] / [`BaseQueue::shutdown`] |
//! | `QueueEmpty` / `QueueFull` / `QueueShutDown` | [`Error::QueueEmpty`] / [`Error::QueueFull`] / [`Error::QueueShutDown`] |
//! | `BrokenBarrierError` | [`Error::BrokenBarrier`] |
//! | `RuntimeError` (condition without its lock) | [`Error::NotOwner`] |
//! | `ValueError` (bounded semaphore over-release, `task_done` too many times) | [`Error::ReleasedTooManyTimes`], [`Error::TaskDoneTooManyTimes`] |

#![forbid(unsafe_code)]

mod barrier;
mod condition;
mod error;
mod event;
mod lock;
mod queues;
mod semaphore;
mod waiters;

pub use barrier::{Barrier, BarrierWait};
pub use condition::{Condition, ConditionWait};
pub use error::{Error, PutError};
pub use event::{Event, EventWait};
pub use lock::{Lock, LockAcquire, LockGuard};
pub use queues::{
    BaseQueue, Fifo, Lifo, LifoQueue, Priority, PriorityQueue, Queue, QueueGet, QueueJoin,
    QueuePut, QueueStorage,
};
pub use semaphore::{BoundedSemaphore, Semaphore, SemaphoreAcquire, SemaphorePermit};
