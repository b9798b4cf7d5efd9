//! Cross-loop channels: `Send` multi-producer, single-consumer queues whose
//! receiving side is awaited on a loop, and whose senders may be on other
//! loops or on plain threads.
//!
//! [`unbounded`] never makes a sender wait; [`bounded`] holds at most
//! `capacity` messages and makes [`Sender::send`] wait for room (senders
//! waiting for room get it in the order they started waiting).
//! [`Sender::close`] or [`Receiver::close`] closes the channel from either
//! side; the last [`Sender`]'s drop closes it too, and the [`Receiver`]'s
//! drop closes it and drops the messages left. A closed channel still hands
//! out the messages sent before it closed, then [`RecvError`].
//!
//! # The wake-up rule
//!
//! A receiving task that has to wait is woken through its waker, and a
//! task's waker used from another thread pushes the task onto its loop's
//! remote queue and writes the loop's notifier (once: the notifier
//! coalesces writes until the loop polls again). On top of that the channel
//! keeps a "receiver notified" flag: the first message after the receiver
//! last waited sets it and wakes the receiver; later messages see it set
//! and wake nobody, until the receiver has taken every message and waits
//! again (it clears the flag just before it registers its waker and looks
//! at the queue once more, so no message is left behind). So the receiving
//! loop is woken at most once per pass, however many messages arrive, and
//! a burst of messages is received in one poll of the receiving task.
//!
//! ```
//! use tulip::channel;
//!
//! let (tx, rx) = channel::unbounded();
//! let producers: Vec<_> = (0..4)
//!     .map(|p| {
//!         let tx = tx.clone();
//!         std::thread::spawn(move || {
//!             for i in 0..100 {
//!                 tx.send_blocking((p, i)).unwrap();
//!             }
//!         })
//!     })
//!     .collect();
//! drop(tx); // the channel closes when the producers' senders are gone
//! let received = tulip::run(async move {
//!     let mut n = 0;
//!     while let Ok((_producer, _i)) = rx.recv().await {
//!         n += 1;
//!     }
//!     n
//! })?;
//! assert_eq!(received, 400);
//! for p in producers {
//!     p.join().unwrap();
//! }
//! # Ok::<(), tulip::Error>(())
//! ```

mod error;

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering, fence};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

use concurrent_queue::{ConcurrentQueue, PopError, PushError};
use futures_core::Stream;

pub use error::{RecvError, SendError, TryRecvError, TrySendError};

/// Creates a channel with no limit on the messages it holds: a send never
/// waits.
///
/// ```
/// use tulip::channel;
///
/// let (tx, rx) = channel::unbounded();
/// for i in 0..1000 {
///     tx.try_send(i).unwrap(); // never full
/// }
/// assert_eq!(rx.len(), 1000);
/// assert_eq!(rx.try_recv(), Ok(0));
/// ```
pub fn unbounded<T: Send>() -> (Sender<T>, Receiver<T>) {
    channel(ConcurrentQueue::unbounded(), None)
}

/// Creates a channel that holds at most `capacity` messages: a
/// [`send`](Sender::send) waits for room (back-pressure), a
/// [`try_send`](Sender::try_send) fails with [`TrySendError::Full`].
///
/// # Panics
///
/// If `capacity` is 0: a channel with no room cannot hold a message, and
/// this channel has no rendezvous mode (use `bounded(1)`, which lets one
/// message wait for the receiver).
///
/// ```
/// use tulip::channel;
///
/// let (tx, rx) = channel::bounded(2);
/// tx.try_send('a').unwrap();
/// tx.try_send('b').unwrap();
/// assert!(tx.try_send('c').unwrap_err().is_full());
/// assert_eq!(rx.try_recv(), Ok('a'));
/// tx.try_send('c').unwrap(); // room again
/// assert_eq!(tx.capacity(), Some(2));
/// ```
pub fn bounded<T: Send>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    assert!(
        capacity > 0,
        "tulip::channel::bounded: capacity must be at least 1 (got 0)"
    );
    channel(ConcurrentQueue::bounded(capacity), Some(capacity))
}

fn channel<T>(queue: ConcurrentQueue<T>, capacity: Option<usize>) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        queue,
        capacity,
        senders: AtomicUsize::new(1),
        notified: AtomicBool::new(false),
        receivers: Mutex::new(RecvWakers {
            first: None,
            rest: Vec::new(),
        }),
        waiting_senders: Mutex::new(SendWaiters {
            next_id: 0,
            list: VecDeque::new(),
        }),
        waiting_len: AtomicUsize::new(0),
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared },
    )
}

/// The wakers of the tasks waiting in `recv`: one in the usual case, kept
/// out of the `Vec` so that a wake-up moves no allocation.
struct RecvWakers {
    first: Option<Waker>,
    rest: Vec<Waker>,
}

/// Senders waiting for room on a bounded channel, oldest first.
struct SendWaiters {
    next_id: u64,
    list: VecDeque<(u64, Waker)>,
}

struct Shared<T> {
    queue: ConcurrentQueue<T>,
    capacity: Option<usize>,
    senders: AtomicUsize,
    /// "Receiver notified": set by the first sender after the receiver last
    /// waited; cleared by the receiver before it waits again.
    notified: AtomicBool,
    receivers: Mutex<RecvWakers>,
    waiting_senders: Mutex<SendWaiters>,
    /// `waiting_senders.list.len()`, read without the lock by the receiver.
    waiting_len: AtomicUsize,
}

fn lock<M>(m: &Mutex<M>) -> MutexGuard<'_, M> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<T> Shared<T> {
    /// After a message went in: wakes the receiver unless a wake-up is
    /// already pending.
    fn notify_receiver(&self) {
        if self.notified.swap(true, Ordering::SeqCst) {
            return;
        }
        self.wake_receivers();
    }

    fn wake_receivers(&self) {
        let mut receivers = lock(&self.receivers);
        let first = receivers.first.take();
        let rest = if receivers.rest.is_empty() {
            Vec::new()
        } else {
            std::mem::take(&mut receivers.rest)
        };
        drop(receivers);
        // Woken outside the lock: a wake from another thread may write the
        // loop's notifier.
        for w in first.into_iter().chain(rest) {
            w.wake();
        }
    }

    fn push(&self, value: T) -> Result<(), PushError<T>> {
        self.queue.push(value)?;
        self.notify_receiver();
        Ok(())
    }

    fn pop(&self) -> Result<T, PopError> {
        let v = self.queue.pop()?;
        if self.capacity.is_some() {
            // Pairs with the fence in `SendFuture::poll`: either that sender
            // sees the room made here, or this sees it waiting.
            fence(Ordering::SeqCst);
            if self.waiting_len.load(Ordering::Relaxed) > 0 {
                self.wake_next_sender();
            }
        }
        Ok(v)
    }

    /// Gives the room just made to the sender waiting longest.
    fn wake_next_sender(&self) {
        let mut waiters = lock(&self.waiting_senders);
        let next = waiters.list.pop_front();
        self.waiting_len
            .store(waiters.list.len(), Ordering::Relaxed);
        drop(waiters);
        if let Some((_, w)) = next {
            w.wake();
        }
    }

    fn poll_recv(&self, cx: &mut Context<'_>) -> Poll<Result<T, RecvError>> {
        match self.pop() {
            Ok(v) => return Poll::Ready(Ok(v)),
            Err(PopError::Closed) => return Poll::Ready(Err(RecvError)),
            Err(PopError::Empty) => {}
        }
        // Waits: clear the flag, register, then look once more (a message
        // sent after the first look either is seen now or wakes us).
        self.notified.swap(false, Ordering::SeqCst);
        {
            let mut receivers = lock(&self.receivers);
            let waker = cx.waker();
            match &receivers.first {
                None => receivers.first = Some(waker.clone()),
                Some(w) if w.will_wake(waker) => {}
                Some(_) => {
                    if !receivers.rest.iter().any(|w| w.will_wake(waker)) {
                        receivers.rest.push(waker.clone());
                    }
                }
            }
        }
        match self.pop() {
            Ok(v) => Poll::Ready(Ok(v)),
            Err(PopError::Closed) => Poll::Ready(Err(RecvError)),
            Err(PopError::Empty) => Poll::Pending,
        }
    }

    fn close(&self) -> bool {
        if !self.queue.close() {
            return false;
        }
        self.wake_receivers();
        let waiters = std::mem::take(&mut lock(&self.waiting_senders).list);
        self.waiting_len.store(0, Ordering::Relaxed);
        for (_, w) in waiters {
            w.wake();
        }
        true
    }
}

/// The sending side of a channel: `Clone + Send + Sync`, usable from any
/// loop ([`send`](Sender::send)) or plain thread
/// ([`send_blocking`](Sender::send_blocking)). The channel closes when the
/// last sender is dropped.
///
/// ```
/// use tulip::channel;
///
/// let (tx, rx) = channel::bounded::<u32>(16);
/// let tx2 = tx.clone();
/// std::thread::spawn(move || tx2.send_blocking(2).unwrap()).join().unwrap();
/// tx.send_blocking(1).unwrap();
/// drop(tx);
/// let mut got: Vec<u32> = tulip::run(async move {
///     let mut v = Vec::new();
///     while let Ok(x) = rx.recv().await {
///         v.push(x);
///     }
///     v
/// })?;
/// got.sort();
/// assert_eq!(got, [1, 2]);
/// # Ok::<(), tulip::Error>(())
/// ```
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Sender<T> {
    /// Sends `value`, waiting for room if the channel is bounded and full.
    /// Fails with the value back ([`SendError`]) if the channel is closed.
    ///
    /// Cancel safety: dropping the future before it is done drops the value
    /// unsent (nothing was queued) and passes its turn for room on to the
    /// next waiting sender.
    ///
    /// ```
    /// use tulip::channel;
    ///
    /// tulip::run(async {
    ///     let (tx, rx) = channel::bounded(1);
    ///     let producer = tulip::spawn(async move {
    ///         for i in 0..3 {
    ///             tx.send(i).await.unwrap(); // waits while the channel is full
    ///         }
    ///     });
    ///     for i in 0..3 {
    ///         assert_eq!(rx.recv().await, Ok(i));
    ///     }
    ///     producer.await.unwrap();
    /// })?;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn send(&self, value: T) -> SendFuture<'_, T> {
        SendFuture {
            shared: &self.shared,
            value: Some(value),
            waiting: None,
        }
    }

    /// Sends `value` now if there is room: [`TrySendError::Full`] if the
    /// bounded channel is full, [`TrySendError::Closed`] if it is closed,
    /// both with the value back.
    ///
    /// ```
    /// let (tx, rx) = tulip::channel::bounded(1);
    /// assert!(tx.try_send(1).is_ok());
    /// assert_eq!(tx.try_send(2).unwrap_err().into_inner(), 2);
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// ```
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        self.shared.push(value).map_err(|e| match e {
            PushError::Full(v) => TrySendError::Full(v),
            PushError::Closed(v) => TrySendError::Closed(v),
        })
    }

    /// Sends `value` from a plain thread, blocking it while the bounded
    /// channel is full. Never call it on a loop's thread with a bounded
    /// channel whose receiver is on that loop: the loop could not make room
    /// while its thread is blocked.
    ///
    /// ```
    /// let (tx, rx) = tulip::channel::bounded(4);
    /// let producer = std::thread::spawn(move || {
    ///     for i in 0..100 {
    ///         tx.send_blocking(i).unwrap();
    ///     }
    /// });
    /// let sum = tulip::run(async move {
    ///     let mut sum = 0;
    ///     while let Ok(i) = rx.recv().await {
    ///         sum += i;
    ///     }
    ///     sum
    /// })?;
    /// assert_eq!(sum, 4950);
    /// producer.join().unwrap();
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn send_blocking(&self, value: T) -> Result<(), SendError<T>> {
        match self.shared.push(value) {
            Ok(()) => Ok(()),
            Err(PushError::Closed(v)) => Err(SendError(v)),
            Err(PushError::Full(v)) => block_on(self.send(v)),
        }
    }

    /// Closes the channel: sends fail from now on, the receiver still gets
    /// the messages already sent. Returns true if this call closed it.
    ///
    /// ```
    /// let (tx, rx) = tulip::channel::unbounded();
    /// tx.try_send(1).unwrap();
    /// assert!(tx.close());
    /// assert!(!tx.close()); // already closed
    /// assert!(tx.is_closed());
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// assert!(rx.try_recv().is_err());
    /// ```
    pub fn close(&self) -> bool {
        self.shared.close()
    }

    /// Whether the channel is closed.
    ///
    /// ```
    /// let (tx, rx) = tulip::channel::unbounded::<()>();
    /// assert!(!tx.is_closed());
    /// drop(rx);
    /// assert!(tx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.shared.queue.is_closed()
    }

    /// The number of messages in the channel.
    ///
    /// ```
    /// let (tx, _rx) = tulip::channel::unbounded();
    /// tx.try_send("x").unwrap();
    /// assert_eq!(tx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.shared.queue.len()
    }

    /// Whether the channel holds no message.
    ///
    /// ```
    /// let (tx, _rx) = tulip::channel::unbounded::<u8>();
    /// assert!(tx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.shared.queue.is_empty()
    }

    /// The capacity of a bounded channel; `None` for an unbounded one.
    ///
    /// ```
    /// assert_eq!(tulip::channel::bounded::<u8>(8).0.capacity(), Some(8));
    /// assert_eq!(tulip::channel::unbounded::<u8>().0.capacity(), None);
    /// ```
    pub fn capacity(&self) -> Option<usize> {
        self.shared.capacity
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.shared.senders.fetch_add(1, Ordering::Relaxed);
        Sender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if self.shared.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.shared.close();
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// The future of [`Sender::send`].
///
/// ```
/// tulip::run(async {
///     let (tx, rx) = tulip::channel::unbounded();
///     let fut: tulip::channel::SendFuture<'_, u8> = tx.send(5);
///     fut.await.unwrap();
///     assert_eq!(rx.recv().await, Ok(5));
/// })?;
/// # Ok::<(), tulip::Error>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct SendFuture<'a, T> {
    shared: &'a Arc<Shared<T>>,
    value: Option<T>,
    /// Our place among the senders waiting for room, once we wait.
    waiting: Option<u64>,
}

impl<T> SendFuture<'_, T> {
    /// Leaves the waiting list after a send went through (or failed on a
    /// closed channel). `pass_on`: if we were woken for room we did not
    /// use, hand it to the next waiting sender.
    fn leave(&mut self, pass_on: bool) {
        let Some(id) = self.waiting.take() else {
            return;
        };
        let shared = self.shared;
        let mut waiters = lock(&shared.waiting_senders);
        if let Some(pos) = waiters.list.iter().position(|(i, _)| *i == id) {
            waiters.list.remove(pos);
            shared
                .waiting_len
                .store(waiters.list.len(), Ordering::Relaxed);
        } else if pass_on && !waiters.list.is_empty() && !shared.queue.is_full() {
            drop(waiters);
            shared.wake_next_sender();
        }
    }
}

// The future holds no pinned state.
impl<T> Unpin for SendFuture<'_, T> {}

impl<T> Future for SendFuture<'_, T> {
    type Output = Result<(), SendError<T>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let shared = this.shared;
        let value = this
            .value
            .take()
            .expect("tulip::channel::SendFuture polled after it completed");
        let value = match shared.push(value) {
            Ok(()) => {
                this.leave(false);
                return Poll::Ready(Ok(()));
            }
            Err(PushError::Closed(v)) => {
                this.leave(true);
                return Poll::Ready(Err(SendError(v)));
            }
            Err(PushError::Full(v)) => v,
        };
        {
            let mut waiters = lock(&shared.waiting_senders);
            match this.waiting {
                Some(id) => match waiters.list.iter_mut().find(|(i, _)| *i == id) {
                    Some((_, w)) => {
                        if !w.will_wake(cx.waker()) {
                            *w = cx.waker().clone();
                        }
                    }
                    // Woken for room that another sender took first: we
                    // keep our place at the head of the line.
                    None => waiters.list.push_front((id, cx.waker().clone())),
                },
                None => {
                    let id = waiters.next_id;
                    waiters.next_id += 1;
                    waiters.list.push_back((id, cx.waker().clone()));
                    this.waiting = Some(id);
                }
            }
            shared
                .waiting_len
                .store(waiters.list.len(), Ordering::Relaxed);
        }
        // Pairs with the fence in `Shared::pop`.
        fence(Ordering::SeqCst);
        match shared.push(value) {
            Ok(()) => {
                this.leave(false);
                Poll::Ready(Ok(()))
            }
            Err(PushError::Closed(v)) => {
                this.leave(true);
                Poll::Ready(Err(SendError(v)))
            }
            Err(PushError::Full(v)) => {
                this.value = Some(v);
                Poll::Pending
            }
        }
    }
}

impl<T> Drop for SendFuture<'_, T> {
    fn drop(&mut self) {
        // Cancelled while waiting: give up our place (and our turn).
        self.leave(true);
    }
}

impl<T> fmt::Debug for SendFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendFuture")
            .field("done", &self.value.is_none())
            .field("waiting", &self.waiting.is_some())
            .finish()
    }
}

/// The receiving side of a channel: `Send`, so it can be created anywhere
/// and moved to the loop that awaits it. Also a
/// [`Stream`] of the messages. Dropping it closes
/// the channel and drops the messages left in it.
///
/// ```
/// use tulip::channel;
///
/// let (tx, rx) = channel::unbounded();
/// let receiving = std::thread::spawn(move || {
///     tulip::run(async move { rx.recv().await })
/// });
/// tx.send_blocking("ping").unwrap();
/// assert_eq!(receiving.join().unwrap()?, Ok("ping"));
/// # Ok::<(), tulip::Error>(())
/// ```
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Receiver<T> {
    /// Receives the next message, waiting for one;
    /// [`RecvError`] once the channel is closed and empty.
    ///
    /// Cancel safety: a `recv` dropped before it is done took no message.
    ///
    /// ```
    /// let (tx, rx) = tulip::channel::unbounded();
    /// std::thread::spawn(move || tx.send_blocking(42).unwrap());
    /// let got = tulip::run(async move { rx.recv().await })?;
    /// assert_eq!(got, Ok(42));
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn recv(&self) -> RecvFuture<'_, T> {
        RecvFuture {
            shared: &self.shared,
        }
    }

    /// Receives a message if there is one now.
    ///
    /// ```
    /// use tulip::channel::{self, TryRecvError};
    ///
    /// let (tx, rx) = channel::unbounded();
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// tx.try_send(1).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// ```
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        self.shared.pop().map_err(|e| match e {
            PopError::Empty => TryRecvError::Empty,
            PopError::Closed => TryRecvError::Closed,
        })
    }

    /// Closes the channel: sends fail from now on (and senders waiting
    /// for room are woken with their value back); the messages already
    /// sent can still be received. Returns true if this call closed it.
    ///
    /// ```
    /// let (tx, rx) = tulip::channel::unbounded();
    /// tx.try_send('x').unwrap();
    /// assert!(rx.close());
    /// assert!(tx.try_send('y').unwrap_err().is_closed());
    /// assert_eq!(rx.try_recv(), Ok('x'));
    /// ```
    pub fn close(&self) -> bool {
        self.shared.close()
    }

    /// Whether the channel is closed.
    ///
    /// ```
    /// let (tx, rx) = tulip::channel::unbounded::<()>();
    /// drop(tx);
    /// assert!(rx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.shared.queue.is_closed()
    }

    /// The number of messages waiting to be received.
    ///
    /// ```
    /// let (tx, rx) = tulip::channel::unbounded();
    /// tx.try_send(()).unwrap();
    /// tx.try_send(()).unwrap();
    /// assert_eq!(rx.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.shared.queue.len()
    }

    /// Whether no message is waiting.
    ///
    /// ```
    /// let (_tx, rx) = tulip::channel::unbounded::<u8>();
    /// assert!(rx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.shared.queue.is_empty()
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.shared.close();
        while self.shared.queue.pop().is_ok() {}
    }
}

impl<T> Stream for Receiver<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.shared.poll_recv(cx).map(Result::ok)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.shared.queue.len(), None)
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("len", &self.len())
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// The future of [`Receiver::recv`].
///
/// ```
/// tulip::run(async {
///     let (tx, rx) = tulip::channel::unbounded();
///     tx.try_send(1u8).unwrap();
///     let fut: tulip::channel::RecvFuture<'_, u8> = rx.recv();
///     assert_eq!(fut.await, Ok(1));
/// })?;
/// # Ok::<(), tulip::Error>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct RecvFuture<'a, T> {
    shared: &'a Arc<Shared<T>>,
}

impl<T> Future for RecvFuture<'_, T> {
    type Output = Result<T, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.shared.poll_recv(cx)
    }
}

impl<T> fmt::Debug for RecvFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecvFuture")
    }
}

/// Wakes a thread parked in [`block_on`].
struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs `fut` to completion on this thread, parking it while it waits.
fn block_on<F: Future + Unpin>(mut fut: F) -> F::Output {
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(v) = Pin::new(&mut fut).poll(&mut cx) {
            return v;
        }
        thread::park();
    }
}
