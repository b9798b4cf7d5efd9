//! asyncio's `Event`: a flag that tasks wait to be set.
//!
//! [`Event::set`] wakes every waiter at once in O(waiters) (the waiter list
//! is O(1) per waiter both ways), and a waiter woken by `set` returns even if
//! the event is [`clear`](Event::clear)-ed before it runs, as in asyncio.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use crate::waiters::{WaiterList, wake_all};

struct EventState {
    flag: bool,
    waiters: WaiterList<()>,
}

/// asyncio's `Event`: [`wait`](Event::wait) returns once the flag is
/// [`set`](Event::set). Cloning gives another handle to the same event.
///
/// ```
/// use tulip::sync::Event;
/// tulip::run(async {
///     let event = Event::new();
///     let waiter = tulip::spawn({
///         let event = event.clone();
///         async move {
///             event.wait().await;
///             "woken"
///         }
///     });
///     tulip::yield_now().await;
///     event.set();
///     assert_eq!(waiter.await.unwrap(), "woken");
///     assert!(event.is_set());
/// })?;
/// # Ok::<(), tulip::Error>(())
/// ```
#[derive(Clone)]
pub struct Event {
    state: Rc<RefCell<EventState>>,
}

impl Default for Event {
    fn default() -> Event {
        Event::new()
    }
}

impl Event {
    /// A new event, not set.
    ///
    /// ```
    /// use tulip::sync::Event;
    /// let event = Event::new();
    /// assert!(!event.is_set());
    /// ```
    pub fn new() -> Event {
        Event {
            state: Rc::new(RefCell::new(EventState {
                flag: false,
                waiters: WaiterList::new(),
            })),
        }
    }

    /// Sets the flag and wakes every waiter.
    ///
    /// ```
    /// use tulip::sync::Event;
    /// tulip::run(async {
    ///     let event = Event::new();
    ///     let waiters: Vec<_> = (0..2)
    ///         .map(|_| {
    ///             let event = event.clone();
    ///             tulip::spawn(async move { event.wait().await })
    ///         })
    ///         .collect();
    ///     tulip::yield_now().await;
    ///     event.set(); // wakes both
    ///     for waiter in waiters {
    ///         waiter.await.unwrap();
    ///     }
    /// })?;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    #[doc(alias = "notify_waiters")]
    pub fn set(&self) {
        let wakers = {
            let mut s = self.state.borrow_mut();
            s.flag = true;
            s.waiters.notify_all(|()| ())
        };
        wake_all(wakers);
    }

    /// Clears the flag: later [`wait`](Event::wait)s block until the next
    /// [`set`](Event::set). Waiters already woken still return.
    ///
    /// ```
    /// use tulip::sync::Event;
    /// let event = Event::new();
    /// event.set();
    /// event.clear();
    /// assert!(!event.is_set());
    /// ```
    pub fn clear(&self) {
        self.state.borrow_mut().flag = false;
    }

    /// Whether the flag is set.
    ///
    /// ```
    /// use tulip::sync::Event;
    /// let event = Event::new();
    /// event.set();
    /// assert!(event.is_set());
    /// ```
    pub fn is_set(&self) -> bool {
        self.state.borrow().flag
    }

    /// Waits until the flag is set (at once if it already is).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a dropped [`EventWait`] leaves the waiter list in O(1);
    /// `set` wakes everyone, so there is no wake-up to pass on.
    ///
    /// ```
    /// use tulip::sync::Event;
    /// tulip::run(async {
    ///     let event = Event::new();
    ///     event.set();
    ///     event.wait().await; // already set: returns at once
    /// })?;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn wait(&self) -> EventWait {
        EventWait {
            state: self.state.clone(),
            key: None,
        }
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.state.borrow();
        f.debug_struct("Event")
            .field("set", &s.flag)
            .field("waiters", &s.waiters.len())
            .finish()
    }
}

/// The future of [`Event::wait`].
///
/// ```
/// use std::time::Duration;
/// use tulip::sync::Event;
/// tulip::run(async {
///     let event = Event::new();
///     // Nobody sets the event: the timeout drops the `EventWait`.
///     let waited = tulip::timeout(Duration::from_millis(10)).run(event.wait()).await;
///     assert!(waited.is_err());
/// })?;
/// # Ok::<(), tulip::Error>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct EventWait {
    state: Rc<RefCell<EventState>>,
    key: Option<usize>,
}

impl Future for EventWait {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        crate::waiters::noting(&crate::waiters::EVENT_WAIT, self.poll_leaf(cx))
    }
}

impl EventWait {
    fn poll_leaf(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let mut s = this.state.borrow_mut();
        match this.key {
            None if s.flag => Poll::Ready(()),
            None => {
                this.key = Some(s.waiters.push_back(cx.waker(), ()));
                Poll::Pending
            }
            Some(k) => match s.waiters.poll(k, cx.waker()) {
                Some(()) => {
                    this.key = None;
                    Poll::Ready(())
                }
                None => Poll::Pending,
            },
        }
    }
}

impl Drop for EventWait {
    fn drop(&mut self) {
        if let Some(k) = self.key.take() {
            let _ = self.state.borrow_mut().waiters.remove(k);
        }
    }
}

impl fmt::Debug for EventWait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventWait")
            .field("queued", &self.key.is_some())
            .finish()
    }
}
