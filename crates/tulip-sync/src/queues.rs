//! asyncio's `Queue`, `PriorityQueue` and `LifoQueue`: one implementation,
//! [`BaseQueue`], parameterized by its storage ([`Fifo`], [`Priority`],
//! [`Lifo`], or any [`QueueStorage`]).
//!
//! Items are handed over directly: a put with getters waiting gives its item
//! to the first getter, and a get from a full queue moves the first waiting
//! putter's item in. So getters and putters are served in FIFO order, a task
//! arriving later never barges ahead, and [`qsize`](BaseQueue::qsize) counts
//! exactly the items nobody has been given yet. A getter dropped after it was
//! handed an item passes the item on to the next getter, or puts it back at
//! the front of the queue (even if that briefly exceeds `maxsize`): an item
//! is never lost.
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
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use crate::error::{Error, PutError};
use crate::waiters::{Removed, WaiterList, wake_all};

/// How a queue stores its items: the order in which they come out.
///
/// ```
/// use tulip_sync::{Fifo, QueueStorage};
/// let mut fifo = Fifo::default();
/// fifo.push(1);
/// fifo.push(2);
/// assert_eq!(fifo.pop(), Some(1));
/// ```
pub trait QueueStorage<T> {
    /// Adds an item (asyncio's `_put`).
    fn push(&mut self, item: T);
    /// Removes the next item (asyncio's `_get`).
    fn pop(&mut self) -> Option<T>;
    /// The number of items stored.
    fn len(&self) -> usize;
    /// Whether no item is stored.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Puts back an item that was taken out but never delivered (its getter
    /// was cancelled): it should come out next. Defaults to
    /// [`push`](QueueStorage::push).
    fn push_returned(&mut self, item: T) {
        self.push(item);
    }
}

/// First in, first out: the storage of [`Queue`].
///
/// ```
/// use tulip_sync::{Fifo, QueueStorage};
/// let mut s = Fifo::default();
/// s.push('a');
/// s.push('b');
/// assert_eq!(s.pop(), Some('a'));
/// ```
pub struct Fifo<T>(VecDeque<T>);

/// Last in, first out: the storage of [`LifoQueue`].
///
/// ```
/// use tulip_sync::{Lifo, QueueStorage};
/// let mut s = Lifo::default();
/// s.push('a');
/// s.push('b');
/// assert_eq!(s.pop(), Some('b'));
/// ```
pub struct Lifo<T>(Vec<T>);

/// Smallest first (asyncio's `heapq`): the storage of [`PriorityQueue`].
///
/// ```
/// use tulip_sync::{Priority, QueueStorage};
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
    fn push_returned(&mut self, item: T) {
        self.0.push_front(item);
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

struct QueueState<T, S> {
    items: S,
    maxsize: usize,
    unfinished: usize,
    shutdown: bool,
    immediate: bool,
    /// Granted `Some(item)`, or `None` when the queue shuts down.
    getters: WaiterList<Option<T>>,
    /// Bring their item; granted `Ok(())` once it is in, or `Err(item)` back
    /// when the queue shuts down.
    putters: WaiterList<Result<(), T>, T>,
    joiners: WaiterList<()>,
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
    fn full(&self) -> bool {
        self.maxsize > 0 && self.items.len() >= self.maxsize
    }

    /// Accepts a new item: to the first getter, else into storage.
    fn accept(&mut self, item: T, after: &mut After<T>) {
        self.unfinished = self.unfinished.saturating_add(1);
        self.deliver(item, after);
    }

    fn deliver(&mut self, item: T, after: &mut After<T>) {
        if self.getters.is_empty() {
            self.items.push(item);
        } else if let Some(w) = self.getters.notify_one(|()| Some(item)) {
            after.wakers.push(w);
        }
    }

    /// Takes the next stored item, letting waiting putters in behind it.
    fn take(&mut self, after: &mut After<T>) -> Option<T> {
        let item = self.items.pop()?;
        while !self.full() && !self.putters.is_empty() {
            let items = &mut self.items;
            if let Some(w) = self.putters.notify_one(|item| {
                items.push(item);
                Ok(())
            }) {
                self.unfinished = self.unfinished.saturating_add(1);
                after.wakers.push(w);
            }
        }
        Some(item)
    }

    /// An item handed to a getter that was dropped before taking it.
    fn give_back(&mut self, item: T, after: &mut After<T>) {
        if self.immediate {
            after.dropped.push(item);
            self.done_one(after);
        } else if self.getters.is_empty() {
            self.items.push_returned(item);
        } else {
            self.deliver(item, after);
        }
    }

    fn done_one(&mut self, after: &mut After<T>) {
        self.unfinished = self.unfinished.saturating_sub(1);
        if self.unfinished == 0 {
            after.wakers.extend(self.joiners.notify_all(|()| ()));
        }
    }
}

/// The queue of asyncio's `queues` module, over the storage `S`: use it as
/// [`Queue`], [`PriorityQueue`] or [`LifoQueue`].
///
/// Cloning gives another handle to the same queue (queues are shared
/// between producer and consumer tasks, as in asyncio).
///
/// ```
/// use tulip_sync::Queue;
/// tulip_executor::run(async {
///     let queue = Queue::new(2);
///     let consumer = tulip_executor::spawn({
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
/// # Ok::<(), tulip_executor::Error>(())
/// ```
pub struct BaseQueue<T, S> {
    state: Rc<RefCell<QueueState<T, S>>>,
}

/// asyncio's `Queue`: first in, first out.
///
/// ```
/// let queue = tulip_sync::Queue::new(0);
/// queue.put_nowait(1).unwrap();
/// queue.put_nowait(2).unwrap();
/// assert_eq!(queue.get_nowait(), Ok(1));
/// ```
pub type Queue<T> = BaseQueue<T, Fifo<T>>;

/// asyncio's `PriorityQueue`: smallest item first (use `(priority, item)`
/// tuples as in asyncio).
///
/// ```
/// let queue = tulip_sync::PriorityQueue::new(0);
/// queue.put_nowait((2, "b")).unwrap();
/// queue.put_nowait((1, "a")).unwrap();
/// assert_eq!(queue.get_nowait(), Ok((1, "a")));
/// ```
pub type PriorityQueue<T> = BaseQueue<T, Priority<T>>;

/// asyncio's `LifoQueue`: last in, first out.
///
/// ```
/// let queue = tulip_sync::LifoQueue::new(0);
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
    pub fn new(maxsize: usize) -> Self {
        Self::with_storage(S::default(), maxsize)
    }
}

impl<T, S: QueueStorage<T>> BaseQueue<T, S> {
    /// A queue over `storage` (which may already hold items: they count as
    /// unfinished for [`join`](BaseQueue::join)); `maxsize` 0 is unbounded.
    pub fn with_storage(storage: S, maxsize: usize) -> Self {
        BaseQueue {
            state: Rc::new(RefCell::new(QueueState {
                unfinished: storage.len(),
                items: storage,
                maxsize,
                shutdown: false,
                immediate: false,
                getters: WaiterList::new(),
                putters: WaiterList::new(),
                joiners: WaiterList::new(),
            })),
        }
    }

    /// The number of items in the queue.
    #[doc(alias = "len")]
    pub fn qsize(&self) -> usize {
        self.state.borrow().items.len()
    }

    /// Whether the queue holds no item.
    #[doc(alias = "is_empty")]
    pub fn empty(&self) -> bool {
        self.qsize() == 0
    }

    /// Whether the queue holds `maxsize` items (never, if unbounded).
    #[doc(alias = "is_full")]
    pub fn full(&self) -> bool {
        self.state.borrow().full()
    }

    /// The largest number of items the queue holds; 0 means unbounded.
    #[doc(alias = "capacity")]
    pub fn maxsize(&self) -> usize {
        self.state.borrow().maxsize
    }

    /// Whether [`shutdown`](BaseQueue::shutdown) was called.
    pub fn is_shutdown(&self) -> bool {
        self.state.borrow().shutdown
    }

    /// Puts `item` without waiting: [`Error::QueueFull`] or
    /// [`Error::QueueShutDown`], with the item given back, if it cannot.
    #[doc(alias = "try_put")]
    #[doc(alias = "try_send")]
    pub fn put_nowait(&self, item: T) -> Result<(), PutError<T>> {
        let mut after = After::new();
        {
            let mut s = self.state.borrow_mut();
            if s.shutdown {
                return Err(PutError::new(Error::QueueShutDown, item));
            }
            if s.getters.is_empty() && s.full() {
                return Err(PutError::new(Error::QueueFull, item));
            }
            s.accept(item, &mut after);
        }
        after.run();
        Ok(())
    }

    /// Takes the next item without waiting: [`Error::QueueEmpty`], or
    /// [`Error::QueueShutDown`] once a shut-down queue is drained.
    #[doc(alias = "try_get")]
    #[doc(alias = "try_recv")]
    pub fn get_nowait(&self) -> Result<T, Error> {
        let mut after = After::new();
        let result = {
            let mut s = self.state.borrow_mut();
            match s.take(&mut after) {
                Some(item) => Ok(item),
                None if s.shutdown => Err(Error::QueueShutDown),
                None => Err(Error::QueueEmpty),
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
    /// A dropped [`QueuePut`] that was still waiting drops its item (it was
    /// never put, as with a cancelled `await queue.put(x)` in asyncio); one
    /// that completed had its item put. Nothing else is affected.
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
    /// Cancel safe: a dropped [`QueueGet`] that had already been handed an
    /// item passes it to the next getter, or back to the front of the
    /// queue. No item is lost.
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
    pub fn shutdown(&self, immediate: bool) {
        let mut after = After::new();
        {
            let mut s = self.state.borrow_mut();
            s.shutdown = true;
            if immediate {
                s.immediate = true;
                while let Some(item) = s.items.pop() {
                    after.dropped.push(item);
                    s.unfinished = s.unfinished.saturating_sub(1);
                }
                if s.unfinished == 0 {
                    after.wakers.extend(s.joiners.notify_all(|()| ()));
                }
            }
            after.wakers.extend(s.getters.notify_all(|()| None));
            after.wakers.extend(s.putters.notify_all(Err));
        }
        after.run();
    }
}

impl<T, S: QueueStorage<T>> fmt::Debug for BaseQueue<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.state.borrow();
        f.debug_struct("Queue")
            .field("qsize", &s.items.len())
            .field("maxsize", &s.maxsize)
            .field("unfinished", &s.unfinished)
            .field("getters", &s.getters.len())
            .field("putters", &s.putters.len())
            .field("shutdown", &s.shutdown)
            .finish()
    }
}

/// The future of [`BaseQueue::put`].
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

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let mut after = After::new();
        let result = {
            let mut s = this.state.borrow_mut();
            if let Some(k) = this.key {
                match s.putters.poll(k, cx.waker()) {
                    None => return Poll::Pending,
                    Some(granted) => {
                        this.key = None;
                        granted.map_err(|item| PutError::new(Error::QueueShutDown, item))
                    }
                }
            } else {
                let item = this.item.take().expect("QueuePut polled after completion");
                if s.shutdown {
                    Err(PutError::new(Error::QueueShutDown, item))
                } else if s.getters.is_empty() && s.full() {
                    this.key = Some(s.putters.push_back(cx.waker(), item));
                    return Poll::Pending;
                } else {
                    s.accept(item, &mut after);
                    Ok(())
                }
            }
        };
        after.run();
        Poll::Ready(result)
    }
}

impl<T, S: QueueStorage<T>> Drop for QueuePut<T, S> {
    fn drop(&mut self) {
        if let Some(k) = self.key.take() {
            let removed = self.state.borrow_mut().putters.remove(k);
            // Dropped here, after the borrow.
            drop(removed);
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
#[must_use = "futures do nothing unless awaited"]
pub struct QueueGet<T, S: QueueStorage<T>> {
    state: Rc<RefCell<QueueState<T, S>>>,
    key: Option<usize>,
}

impl<T, S: QueueStorage<T>> Future for QueueGet<T, S> {
    type Output = Result<T, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let mut after = After::new();
        let result = {
            let mut s = this.state.borrow_mut();
            if let Some(k) = this.key {
                match s.getters.poll(k, cx.waker()) {
                    None => return Poll::Pending,
                    Some(granted) => {
                        this.key = None;
                        match granted {
                            Some(item) => Ok(item),
                            // Told "shut down", but an item may have come
                            // back since (a getter that was handed it was
                            // dropped): get drains before it raises.
                            None => s.take(&mut after).ok_or(Error::QueueShutDown),
                        }
                    }
                }
            } else {
                match s.take(&mut after) {
                    Some(item) => Ok(item),
                    None if s.shutdown => Err(Error::QueueShutDown),
                    None => {
                        this.key = Some(s.getters.push_back(cx.waker(), ()));
                        return Poll::Pending;
                    }
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
                if let Removed::Notified(Some(item)) = s.getters.remove(k) {
                    s.give_back(item, &mut after);
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
#[must_use = "futures do nothing unless awaited"]
pub struct QueueJoin<T, S: QueueStorage<T>> {
    state: Rc<RefCell<QueueState<T, S>>>,
    key: Option<usize>,
}

impl<T, S: QueueStorage<T>> Future for QueueJoin<T, S> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
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
