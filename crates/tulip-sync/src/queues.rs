//! asyncio's `Queue`, `PriorityQueue` and `LifoQueue`: one implementation,
//! [`BaseQueue`], parameterized by its storage ([`Fifo`], [`Priority`],
//! [`Lifo`], or any [`QueueStorage`]).
//!
//! As in asyncio, items live in the storage until a getter takes them, and
//! waiters are woken with a bare turn: a put with getters waiting stores its
//! item and wakes the first getter, which takes the next item on its own
//! poll; a get from a full queue wakes the first waiting putter, which puts
//! its item on its own poll. So items come out in the storage's order
//! (FIFO, smallest first, last first) whichever getter runs first, and a
//! put that ends without `Ok` never put its item.
//!
//! Unlike asyncio, a woken waiter's turn is reserved for it: the item (or
//! the free place) it was woken for is *promised*, so a task arriving later
//! never barges ahead of one already waiting, and
//! [`qsize`](BaseQueue::qsize) counts the items nobody was promised. A
//! waiter dropped before it took its turn passes the turn on to the next
//! waiter (asyncio's `_wakeup_next` on cancellation); with none, the
//! promised item is free for anyone again, so no item is ever lost.
//!
//! [`shutdown`](BaseQueue::shutdown) follows asyncio 3.13: afterwards puts
//! fail with [`Error::QueueShutDown`] (giving the item back), gets drain the
//! remaining items and then fail; `shutdown(true)` drops the remaining items
//! at once, counting them as done for [`join`](BaseQueue::join).

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use crate::error::{Error, PutError};
use crate::waiters::{Removed, WaiterList, wake_all};

/// How a queue stores its items: the order in which they come out.
///
/// ```
/// use tulip::sync::{Fifo, QueueStorage};
/// let mut fifo = Fifo::default();
/// fifo.push(1);
/// fifo.push(2);
/// assert_eq!(fifo.pop(), Some(1));
/// ```
pub trait QueueStorage<T> {
    /// Adds an item (asyncio's `_put`).
    ///
    /// ```
    /// use tulip::sync::{Lifo, QueueStorage};
    /// let mut storage = Lifo::default();
    /// storage.push('a');
    /// storage.push('b');
    /// assert_eq!(storage.len(), 2);
    /// ```
    fn push(&mut self, item: T);
    /// Removes the next item (asyncio's `_get`).
    ///
    /// ```
    /// use tulip::sync::{Priority, QueueStorage};
    /// let mut storage = Priority::default();
    /// storage.push(3);
    /// storage.push(1);
    /// assert_eq!(storage.pop(), Some(1)); // the smallest first
    /// assert_eq!(storage.pop(), Some(3));
    /// assert_eq!(storage.pop(), None);
    /// ```
    fn pop(&mut self) -> Option<T>;
    /// The number of items stored.
    ///
    /// ```
    /// use tulip::sync::{Fifo, QueueStorage};
    /// let mut storage = Fifo::default();
    /// assert_eq!(storage.len(), 0);
    /// storage.push(());
    /// assert_eq!(storage.len(), 1);
    /// ```
    fn len(&self) -> usize;
    /// Whether no item is stored.
    ///
    /// ```
    /// use tulip::sync::{Fifo, QueueStorage};
    /// let mut storage = Fifo::default();
    /// assert!(storage.is_empty());
    /// storage.push(1);
    /// assert!(!storage.is_empty());
    /// ```
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// First in, first out: the storage of [`Queue`].
///
/// ```
/// use tulip::sync::{Fifo, QueueStorage};
/// let mut s = Fifo::default();
/// s.push('a');
/// s.push('b');
/// assert_eq!(s.pop(), Some('a'));
/// ```
pub struct Fifo<T>(VecDeque<T>);

/// Last in, first out: the storage of [`LifoQueue`].
///
/// ```
/// use tulip::sync::{Lifo, QueueStorage};
/// let mut s = Lifo::default();
/// s.push('a');
/// s.push('b');
/// assert_eq!(s.pop(), Some('b'));
/// ```
pub struct Lifo<T>(Vec<T>);

/// Smallest first (asyncio's `heapq`): the storage of [`PriorityQueue`].
///
/// ```
/// use tulip::sync::{Priority, QueueStorage};
/// let mut s = Priority::default();
/// s.push(3);
/// s.push(1);
/// s.push(2);
/// assert_eq!(s.pop(), Some(1));
/// ```
pub struct Priority<T>(BinaryHeap<Reverse<T>>);

impl<T> Default for Fifo<T> {
    fn default() -> Self {
        Fifo(VecDeque::new())
    }
}
impl<T> Default for Lifo<T> {
    fn default() -> Self {
        Lifo(Vec::new())
    }
}
impl<T: Ord> Default for Priority<T> {
    fn default() -> Self {
        Priority(BinaryHeap::new())
    }
}

impl<T> QueueStorage<T> for Fifo<T> {
    fn push(&mut self, item: T) {
        self.0.push_back(item);
    }
    fn pop(&mut self) -> Option<T> {
        self.0.pop_front()
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

impl<T> QueueStorage<T> for Lifo<T> {
    fn push(&mut self, item: T) {
        self.0.push(item);
    }
    fn pop(&mut self) -> Option<T> {
        self.0.pop()
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

impl<T: Ord> QueueStorage<T> for Priority<T> {
    fn push(&mut self, item: T) {
        self.0.push(Reverse(item));
    }
    fn pop(&mut self) -> Option<T> {
        self.0.pop().map(|Reverse(item)| item)
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

/// What a woken getter or putter was granted.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Turn {
    /// A getter: a stored item is promised to it. A putter: a free place.
    Granted,
    /// The queue shut down.
    ShutDown,
}

struct QueueState<T, S> {
    items: S,
    maxsize: usize,
    unfinished: usize,
    shutdown: bool,
    /// Stored items promised to woken getters that have not taken them yet.
    promised_items: usize,
    /// Free places promised to woken putters that have not put yet.
    promised_places: usize,
    getters: WaiterList<Turn>,
    putters: WaiterList<Turn>,
    joiners: WaiterList<()>,
    /// The items are in `items`; `S` stores `T`s.
    item: PhantomData<T>,
}

/// What to do once the state's borrow is released: wake wakers, drop items
/// (whose destructors might touch the queue).
struct After<T> {
    wakers: Vec<Waker>,
    dropped: Vec<T>,
}

impl<T> After<T> {
    fn new() -> Self {
        After {
            wakers: Vec::new(),
            dropped: Vec::new(),
        }
    }

    fn run(self) {
        wake_all(self.wakers);
        drop(self.dropped);
    }
}

impl<T, S: QueueStorage<T>> QueueState<T, S> {
    /// Stored items nobody was promised (`qsize`). After an immediate
    /// shutdown the storage is empty while promises are still out.
    fn available(&self) -> usize {
        self.items.len().saturating_sub(self.promised_items)
    }

    /// No place for a new item: the unpromised items and the places
    /// promised to woken putters fill `maxsize`.
    fn full(&self) -> bool {
        self.maxsize > 0 && self.available().saturating_add(self.promised_places) >= self.maxsize
    }

    /// Stores a new item and wakes a getter for it.
    fn put_item(&mut self, item: T, after: &mut After<T>) {
        self.items.push(item);
        self.unfinished = self.unfinished.saturating_add(1);
        self.wake_getters(after);
    }

    /// Takes the next stored item (the caller checked that one is there
    /// for it) and wakes putters for the place it frees.
    fn take_item(&mut self, after: &mut After<T>) -> Option<T> {
        let item = self.items.pop()?;
        self.wake_putters(after);
        Some(item)
    }

    /// Promises each unpromised item to the next waiting getter.
    fn wake_getters(&mut self, after: &mut After<T>) {
        while self.available() > 0
            && promise_turn(&mut self.getters, &mut self.promised_items, after)
        {}
    }

    /// Promises each free place to the next waiting putter.
    fn wake_putters(&mut self, after: &mut After<T>) {
        while !self.shutdown
            && !self.full()
            && promise_turn(&mut self.putters, &mut self.promised_places, after)
        {}
    }

    fn done_one(&mut self, after: &mut After<T>) {
        self.unfinished = self.unfinished.saturating_sub(1);
        if self.unfinished == 0 {
            after.wakers.extend(self.joiners.notify_all(|()| ()));
        }
    }
}

/// Wakes the first waiter of `list` with its turn, counting the promise in
/// `promised`; false if nobody waits.
fn promise_turn<T>(
    list: &mut WaiterList<Turn>,
    promised: &mut usize,
    after: &mut After<T>,
) -> bool {
    match list.notify_one(|()| Turn::Granted) {
        Some(w) => {
            *promised += 1;
            after.wakers.push(w);
            true
        }
        None => false,
    }
}

/// The queue of asyncio's `queues` module, over the storage `S`: use it as
/// [`Queue`], [`PriorityQueue`] or [`LifoQueue`].
///
/// Cloning gives another handle to the same queue (queues are shared
/// between producer and consumer tasks, as in asyncio).
///
/// ```
/// use tulip::sync::Queue;
/// tulip::run(async {
///     let queue = Queue::new(2);
///     let consumer = tulip::spawn({
///         let queue = queue.clone();
///         async move {
///             let mut got = Vec::new();
///             while let Ok(item) = queue.get().await {
///                 got.push(item);
///                 queue.task_done().unwrap();
///             }
///             got
///         }
///     });
///     for i in 0..5 {
///         queue.put(i).await.unwrap();
///     }
///     queue.join().await;
///     queue.shutdown(false);
///     assert_eq!(consumer.await.unwrap(), [0, 1, 2, 3, 4]);
/// })?;
/// # Ok::<(), tulip::Error>(())
/// ```
pub struct BaseQueue<T, S> {
    state: Rc<RefCell<QueueState<T, S>>>,
}

/// asyncio's `Queue`: first in, first out.
///
/// ```
/// let queue = tulip::sync::Queue::new(0);
/// queue.put_nowait(1).unwrap();
/// queue.put_nowait(2).unwrap();
/// assert_eq!(queue.get_nowait(), Ok(1));
/// ```
pub type Queue<T> = BaseQueue<T, Fifo<T>>;

/// asyncio's `PriorityQueue`: smallest item first (use `(priority, item)`
/// tuples as in asyncio).
///
/// ```
/// let queue = tulip::sync::PriorityQueue::new(0);
/// queue.put_nowait((2, "b")).unwrap();
/// queue.put_nowait((1, "a")).unwrap();
/// assert_eq!(queue.get_nowait(), Ok((1, "a")));
/// ```
pub type PriorityQueue<T> = BaseQueue<T, Priority<T>>;

/// asyncio's `LifoQueue`: last in, first out.
///
/// ```
/// let queue = tulip::sync::LifoQueue::new(0);
/// queue.put_nowait(1).unwrap();
/// queue.put_nowait(2).unwrap();
/// assert_eq!(queue.get_nowait(), Ok(2));
/// ```
pub type LifoQueue<T> = BaseQueue<T, Lifo<T>>;

impl<T, S> Clone for BaseQueue<T, S> {
    fn clone(&self) -> Self {
        BaseQueue {
            state: self.state.clone(),
        }
    }
}

impl<T, S: QueueStorage<T> + Default> BaseQueue<T, S> {
    /// A queue holding at most `maxsize` items; 0 means unbounded.
    ///
    /// ```
    /// use tulip::sync::Queue;
    /// let bounded: Queue<u32> = Queue::new(10);
    /// assert_eq!(bounded.maxsize(), 10);
    /// let unbounded: Queue<u32> = Queue::new(0);
    /// assert!(!unbounded.full());
    /// ```
    pub fn new(maxsize: usize) -> Self {
        Self::with_storage(S::default(), maxsize)
    }
}

impl<T, S: QueueStorage<T>> BaseQueue<T, S> {
    /// A queue over `storage` (which may already hold items: they count as
    /// unfinished for [`join`](BaseQueue::join)); `maxsize` 0 is unbounded.
    ///
    /// ```
    /// use tulip::sync::{BaseQueue, Fifo, QueueStorage};
    /// let mut storage = Fifo::default();
    /// storage.push("already here");
    /// let queue = BaseQueue::with_storage(storage, 0);
    /// assert_eq!(queue.qsize(), 1);
    /// assert_eq!(queue.get_nowait(), Ok("already here"));
    /// ```
    pub fn with_storage(storage: S, maxsize: usize) -> Self {
        BaseQueue {
            state: Rc::new(RefCell::new(QueueState {
                unfinished: storage.len(),
                items: storage,
                maxsize,
                shutdown: false,
                promised_items: 0,
                promised_places: 0,
                getters: WaiterList::new(),
                putters: WaiterList::new(),
                joiners: WaiterList::new(),
                item: PhantomData,
            })),
        }
    }

    /// The number of items in the queue, not counting those already
    /// promised to a woken getter that has not run yet.
    ///
    /// ```
    /// use tulip::sync::Queue;
    /// let queue = Queue::new(0);
    /// queue.put_nowait('a').unwrap();
    /// queue.put_nowait('b').unwrap();
    /// assert_eq!(queue.qsize(), 2);
    /// ```
    #[doc(alias = "len")]
    pub fn qsize(&self) -> usize {
        self.state.borrow().available()
    }

    /// Whether the queue holds no item.
    ///
    /// ```
    /// use tulip::sync::Queue;
    /// let queue = Queue::new(0);
    /// assert!(queue.empty());
    /// queue.put_nowait(1).unwrap();
    /// assert!(!queue.empty());
    /// ```
    #[doc(alias = "is_empty")]
    pub fn empty(&self) -> bool {
        self.qsize() == 0
    }

    /// Whether the queue holds `maxsize` items (never, if unbounded),
    /// counting the places promised to woken putters that have not run yet:
    /// whether [`put_nowait`](BaseQueue::put_nowait) would fail.
    ///
    /// ```
    /// use tulip::sync::Queue;
    /// let queue = Queue::new(1);
    /// assert!(!queue.full());
    /// queue.put_nowait(1).unwrap();
    /// assert!(queue.full());
    /// ```
    #[doc(alias = "is_full")]
    pub fn full(&self) -> bool {
        self.state.borrow().full()
    }

    /// The largest number of items the queue holds; 0 means unbounded.
    ///
    /// ```
    /// use tulip::sync::Queue;
    /// let queue: Queue<()> = Queue::new(5);
    /// assert_eq!(queue.maxsize(), 5);
    /// ```
    #[doc(alias = "capacity")]
    pub fn maxsize(&self) -> usize {
        self.state.borrow().maxsize
    }

    /// Whether [`shutdown`](BaseQueue::shutdown) was called.
    ///
    /// ```
    /// use tulip::sync::Queue;
    /// let queue: Queue<()> = Queue::new(0);
    /// assert!(!queue.is_shutdown());
    /// queue.shutdown(false);
    /// assert!(queue.is_shutdown());
    /// ```
    pub fn is_shutdown(&self) -> bool {
        self.state.borrow().shutdown
    }

    /// Puts `item` without waiting: [`Error::QueueFull`] or
    /// [`Error::QueueShutDown`], with the item given back, if it cannot.
    ///
    /// ```
    /// use tulip::sync::{Error, Queue};
    /// let queue = Queue::new(1);
    /// assert!(queue.put_nowait(1).is_ok());
    /// assert_eq!(queue.put_nowait(2).unwrap_err().error(), Error::QueueFull);
    /// ```
    #[doc(alias = "try_put")]
    #[doc(alias = "try_send")]
    pub fn put_nowait(&self, item: T) -> Result<(), PutError<T>> {
        let mut after = After::new();
        {
            let mut s = self.state.borrow_mut();
            if s.shutdown {
                return Err(PutError::new(Error::QueueShutDown, item));
            }
            if s.full() {
                return Err(PutError::new(Error::QueueFull, item));
            }
            s.put_item(item, &mut after);
        }
        after.run();
        Ok(())
    }

    /// Takes the next item without waiting: [`Error::QueueEmpty`], or
    /// [`Error::QueueShutDown`] once a shut-down queue is drained.
    ///
    /// ```
    /// use tulip::sync::{Error, Queue};
    /// let queue = Queue::new(0);
    /// queue.put_nowait(1).unwrap();
    /// assert_eq!(queue.get_nowait(), Ok(1));
    /// assert_eq!(queue.get_nowait(), Err(Error::QueueEmpty));
    /// ```
    #[doc(alias = "try_get")]
    #[doc(alias = "try_recv")]
    pub fn get_nowait(&self) -> Result<T, Error> {
        let mut after = After::new();
        let result = {
            let mut s = self.state.borrow_mut();
            match s.available() {
                0 if s.shutdown => Err(Error::QueueShutDown),
                0 => Err(Error::QueueEmpty),
                _ => s.take_item(&mut after).ok_or(Error::QueueEmpty),
            }
        };
        after.run();
        result
    }

    /// Puts `item`, waiting while the queue is full, in FIFO order behind
    /// earlier putters. [`Error::QueueShutDown`], with the item given back,
    /// if the queue is or gets shut down first.
    ///
    /// # Cancel safety
    ///
    /// A dropped [`QueuePut`] that had not completed drops its item: it was
    /// never put, even if a place had been promised to it (the place passes
    /// to the next putter), as with a cancelled `await queue.put(x)` in
    /// asyncio. So a caller may put the item again without duplicating it.
    /// One that completed with `Ok` had its item put.
    ///
    /// ```
    /// use tulip::sync::Queue;
    /// tulip::run(async {
    ///     // A bounded queue: the producer waits while the consumer is behind.
    ///     let queue = Queue::new(1);
    ///     let producer = tulip::spawn({
    ///         let queue = queue.clone();
    ///         async move {
    ///             for i in 0..3 {
    ///                 queue.put(i).await.unwrap();
    ///             }
    ///         }
    ///     });
    ///     let mut got = Vec::new();
    ///     for _ in 0..3 {
    ///         got.push(queue.get().await.unwrap());
    ///     }
    ///     producer.await.unwrap();
    ///     assert_eq!(got, [0, 1, 2]);
    /// })?;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    #[doc(alias = "send")]
    pub fn put(&self, item: T) -> QueuePut<T, S> {
        QueuePut {
            state: self.state.clone(),
            item: Some(item),
            key: None,
        }
    }

    /// Takes the next item, waiting while the queue is empty, in FIFO order
    /// behind earlier getters. [`Error::QueueShutDown`] once a shut-down
    /// queue is drained.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: items stay in the queue until a getter takes them, so a
    /// dropped [`QueueGet`] took none; if an item had been promised to it,
    /// the promise passes to the next getter (or the item is free again).
    /// No item is lost or reordered.
    ///
    /// ```
    /// use tulip::sync::{Error, Queue};
    /// tulip::run(async {
    ///     let queue = Queue::new(0);
    ///     let consumer = tulip::spawn({
    ///         let queue = queue.clone();
    ///         async move {
    ///             let mut got = Vec::new();
    ///             // Waits for each item; ends once the queue is shut down and drained.
    ///             while let Ok(item) = queue.get().await {
    ///                 got.push(item);
    ///             }
    ///             got
    ///         }
    ///     });
    ///     queue.put("a").await.unwrap();
    ///     queue.put("b").await.unwrap();
    ///     queue.shutdown(false);
    ///     assert_eq!(consumer.await.unwrap(), ["a", "b"]);
    ///     assert_eq!(queue.get().await, Err(Error::QueueShutDown));
    /// })?;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    #[doc(alias = "recv")]
    pub fn get(&self) -> QueueGet<T, S> {
        QueueGet {
            state: self.state.clone(),
            key: None,
        }
    }

    /// Marks one item taken from the queue as processed; when every item put
    /// is, [`join`](BaseQueue::join) returns. [`Error::TaskDoneTooManyTimes`]
    /// if there is no unfinished item.
    ///
    /// ```
    /// use tulip::sync::{Error, Queue};
    /// let queue = Queue::new(0);
    /// queue.put_nowait("job").unwrap();
    /// let job = queue.get_nowait().unwrap();
    /// // ... process `job` ...
    /// # let _ = job;
    /// assert_eq!(queue.task_done(), Ok(()));
    /// assert_eq!(queue.task_done(), Err(Error::TaskDoneTooManyTimes));
    /// ```
    pub fn task_done(&self) -> Result<(), Error> {
        let mut after = After::new();
        {
            let mut s = self.state.borrow_mut();
            if s.unfinished == 0 {
                return Err(Error::TaskDoneTooManyTimes);
            }
            s.done_one(&mut after);
        }
        after.run();
        Ok(())
    }

    /// Waits until every item put has been marked with
    /// [`task_done`](BaseQueue::task_done) (at once if none is unfinished).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: every joiner is woken together, so a dropped
    /// [`QueueJoin`] has nothing to pass on.
    ///
    /// ```
    /// use std::{cell::RefCell, rc::Rc};
    /// use tulip::sync::Queue;
    /// tulip::run(async {
    ///     let queue = Queue::new(0);
    ///     let done = Rc::new(RefCell::new(Vec::new()));
    ///     let worker = tulip::spawn({
    ///         let (queue, done) = (queue.clone(), done.clone());
    ///         async move {
    ///             while let Ok(job) = queue.get().await {
    ///                 done.borrow_mut().push(job * 10);
    ///                 queue.task_done().unwrap();
    ///             }
    ///         }
    ///     });
    ///     for job in 1..=3 {
    ///         queue.put_nowait(job).unwrap();
    ///     }
    ///     queue.join().await; // every job put has been marked done
    ///     assert_eq!(*done.borrow(), [10, 20, 30]);
    ///     queue.shutdown(false); // lets the worker's loop end
    ///     worker.await.unwrap();
    /// })?;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn join(&self) -> QueueJoin<T, S> {
        QueueJoin {
            state: self.state.clone(),
            key: None,
        }
    }

    /// Shuts the queue down (asyncio 3.13): later puts fail with
    /// [`Error::QueueShutDown`], waiting putters get their items back with
    /// it, and waiting getters get it. Without `immediate`, the items left
    /// can still be taken, then gets fail too; with `immediate`, they are
    /// dropped at once and counted as done, so [`join`](BaseQueue::join)
    /// returns unless items already taken are unfinished.
    ///
    /// ```
    /// use tulip::sync::{Error, Queue};
    /// let queue = Queue::new(0);
    /// queue.put_nowait(1).unwrap();
    /// queue.put_nowait(2).unwrap();
    /// queue.shutdown(false);
    /// assert_eq!(queue.put_nowait(3).unwrap_err().error(), Error::QueueShutDown);
    /// assert_eq!(queue.get_nowait(), Ok(1)); // what was in can still be taken
    /// let drop_rest = Queue::new(0);
    /// drop_rest.put_nowait(1).unwrap();
    /// drop_rest.shutdown(true); // items dropped and counted as done
    /// assert_eq!(drop_rest.get_nowait(), Err(Error::QueueShutDown));
    /// ```
    pub fn shutdown(&self, immediate: bool) {
        let mut after = After::new();
        {
            let mut s = self.state.borrow_mut();
            s.shutdown = true;
            if immediate {
                while let Some(item) = s.items.pop() {
                    after.dropped.push(item);
                    s.unfinished = s.unfinished.saturating_sub(1);
                }
                if s.unfinished == 0 {
                    after.wakers.extend(s.joiners.notify_all(|()| ()));
                }
            }
            after
                .wakers
                .extend(s.getters.notify_all(|()| Turn::ShutDown));
            after
                .wakers
                .extend(s.putters.notify_all(|()| Turn::ShutDown));
        }
        after.run();
    }
}

impl<T, S: QueueStorage<T>> fmt::Debug for BaseQueue<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.state.borrow();
        f.debug_struct("Queue")
            .field("qsize", &s.available())
            .field("maxsize", &s.maxsize)
            .field("unfinished", &s.unfinished)
            .field("getters", &s.getters.len())
            .field("putters", &s.putters.len())
            .field("shutdown", &s.shutdown)
            .finish()
    }
}

/// The future of [`BaseQueue::put`].
///
/// ```
/// use std::time::Duration;
/// use tulip::sync::Queue;
/// tulip::run(async {
///     let queue = Queue::new(1);
///     queue.put_nowait(1).unwrap();
///     // The queue stays full: the timeout drops the `QueuePut` and its item.
///     let put = tulip::timeout(Duration::from_millis(10)).run(queue.put(2)).await;
///     assert!(put.is_err());
///     assert_eq!(queue.qsize(), 1);
/// })?;
/// # Ok::<(), tulip::Error>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct QueuePut<T, S: QueueStorage<T>> {
    state: Rc<RefCell<QueueState<T, S>>>,
    item: Option<T>,
    key: Option<usize>,
}

// The item is only ever moved, never pinned.
impl<T, S: QueueStorage<T>> Unpin for QueuePut<T, S> {}

impl<T, S: QueueStorage<T>> Future for QueuePut<T, S> {
    type Output = Result<(), PutError<T>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<<Self as Future>::Output> {
        crate::waiters::noting(&crate::waiters::QUEUE_PUT, self.poll_leaf(cx))
    }
}

impl<T, S: QueueStorage<T>> QueuePut<T, S> {
    fn poll_leaf(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<<Self as Future>::Output> {
        let this = &mut *self;
        let mut after = After::new();
        let result = {
            let mut s = this.state.borrow_mut();
            let turn = match this.key {
                Some(k) => match s.putters.poll(k, cx.waker()) {
                    None => return Poll::Pending,
                    Some(turn) => {
                        this.key = None;
                        if turn == Turn::Granted {
                            s.promised_places -= 1;
                        }
                        Some(turn)
                    }
                },
                None => None,
            };
            let item = this.item.take().expect("QueuePut polled after completion");
            if s.shutdown || turn == Some(Turn::ShutDown) {
                Err(PutError::new(Error::QueueShutDown, item))
            } else if turn.is_none() && s.full() {
                this.item = Some(item);
                this.key = Some(s.putters.push_back(cx.waker(), ()));
                return Poll::Pending;
            } else {
                s.put_item(item, &mut after);
                Ok(())
            }
        };
        after.run();
        Poll::Ready(result)
    }
}

impl<T, S: QueueStorage<T>> Drop for QueuePut<T, S> {
    fn drop(&mut self) {
        if let Some(k) = self.key.take() {
            let mut after = After::new();
            {
                let mut s = self.state.borrow_mut();
                if let Removed::Notified(Turn::Granted) = s.putters.remove(k) {
                    // Its place goes to the next putter.
                    s.promised_places -= 1;
                    s.wake_putters(&mut after);
                }
            }
            after.run();
        }
    }
}

impl<T, S: QueueStorage<T>> fmt::Debug for QueuePut<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueuePut")
            .field("queued", &self.key.is_some())
            .finish()
    }
}

/// The future of [`BaseQueue::get`].
///
/// ```
/// use std::time::Duration;
/// use tulip::sync::Queue;
/// tulip::run(async {
///     let queue: Queue<u8> = Queue::new(0);
///     // Nothing comes: the dropped `QueueGet` took no item.
///     let got = tulip::timeout(Duration::from_millis(10)).run(queue.get()).await;
///     assert!(got.is_err());
/// })?;
/// # Ok::<(), tulip::Error>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct QueueGet<T, S: QueueStorage<T>> {
    state: Rc<RefCell<QueueState<T, S>>>,
    key: Option<usize>,
}

impl<T, S: QueueStorage<T>> Future for QueueGet<T, S> {
    type Output = Result<T, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<<Self as Future>::Output> {
        crate::waiters::noting(&crate::waiters::QUEUE_GET, self.poll_leaf(cx))
    }
}

impl<T, S: QueueStorage<T>> QueueGet<T, S> {
    fn poll_leaf(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<<Self as Future>::Output> {
        let this = &mut *self;
        let mut after = After::new();
        let result = {
            let mut s = this.state.borrow_mut();
            match this.key {
                Some(k) => match s.getters.poll(k, cx.waker()) {
                    None => return Poll::Pending,
                    Some(Turn::Granted) => {
                        this.key = None;
                        s.promised_items -= 1;
                        // Gone only if an immediate shutdown dropped it.
                        s.take_item(&mut after).ok_or(Error::QueueShutDown)
                    }
                    // Told "shut down", but an item may have been freed
                    // since (a getter it was promised to was dropped): get
                    // drains before it fails, as asyncio's re-checks
                    // `empty()`.
                    Some(Turn::ShutDown) => {
                        this.key = None;
                        if s.available() > 0 {
                            s.take_item(&mut after).ok_or(Error::QueueShutDown)
                        } else {
                            Err(Error::QueueShutDown)
                        }
                    }
                },
                None if s.available() > 0 => s.take_item(&mut after).ok_or(Error::QueueShutDown),
                None if s.shutdown => Err(Error::QueueShutDown),
                None => {
                    this.key = Some(s.getters.push_back(cx.waker(), ()));
                    return Poll::Pending;
                }
            }
        };
        after.run();
        Poll::Ready(result)
    }
}

impl<T, S: QueueStorage<T>> Drop for QueueGet<T, S> {
    fn drop(&mut self) {
        if let Some(k) = self.key.take() {
            let mut after = After::new();
            {
                let mut s = self.state.borrow_mut();
                if let Removed::Notified(Turn::Granted) = s.getters.remove(k) {
                    // Its item stays in place, promised to the next getter.
                    s.promised_items -= 1;
                    s.wake_getters(&mut after);
                }
            }
            after.run();
        }
    }
}

impl<T, S: QueueStorage<T>> fmt::Debug for QueueGet<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueueGet")
            .field("queued", &self.key.is_some())
            .finish()
    }
}

/// The future of [`BaseQueue::join`].
///
/// ```
/// use std::time::Duration;
/// use tulip::sync::Queue;
/// tulip::run(async {
///     let queue = Queue::new(0);
///     queue.put_nowait("never done").unwrap();
///     // One item is unfinished: the join times out.
///     let joined = tulip::timeout(Duration::from_millis(10)).run(queue.join()).await;
///     assert!(joined.is_err());
/// })?;
/// # Ok::<(), tulip::Error>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct QueueJoin<T, S: QueueStorage<T>> {
    state: Rc<RefCell<QueueState<T, S>>>,
    key: Option<usize>,
}

impl<T, S: QueueStorage<T>> Future for QueueJoin<T, S> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        crate::waiters::noting(&crate::waiters::QUEUE_JOIN, self.poll_leaf(cx))
    }
}

impl<T, S: QueueStorage<T>> QueueJoin<T, S> {
    fn poll_leaf(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let mut s = this.state.borrow_mut();
        match this.key {
            None if s.unfinished == 0 => Poll::Ready(()),
            None => {
                this.key = Some(s.joiners.push_back(cx.waker(), ()));
                Poll::Pending
            }
            Some(k) => match s.joiners.poll(k, cx.waker()) {
                Some(()) => {
                    this.key = None;
                    Poll::Ready(())
                }
                None => Poll::Pending,
            },
        }
    }
}

impl<T, S: QueueStorage<T>> Drop for QueueJoin<T, S> {
    fn drop(&mut self) {
        if let Some(k) = self.key.take() {
            let _ = self.state.borrow_mut().joiners.remove(k);
        }
    }
}

impl<T, S: QueueStorage<T>> fmt::Debug for QueueJoin<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueueJoin")
            .field("queued", &self.key.is_some())
            .finish()
    }
}
