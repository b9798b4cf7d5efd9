//! asyncio's settable `Future`, named [`LoopFuture`] because Rust's prelude
//! already holds `std::future::Future`: a one-time outcome that callbacks set
//! and any number of tasks await.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker};

use crate::error::Error;
use crate::event_loop::base_events::{Loop, LoopInner};
use crate::task::CallbackId;

enum Outcome<T> {
    Pending,
    Done(Result<T, Error>),
    /// The value was moved out by [`LoopFuture::take_result`].
    Taken,
}

type FutureCallback<T> = Box<dyn FnOnce(&LoopFuture<T>)>;

struct State<T> {
    outcome: RefCell<Outcome<T>>,
    waiters: RefCell<Vec<Waker>>,
    callbacks: RefCell<Vec<(u64, FutureCallback<T>)>>,
    next_callback_id: Cell<u64>,
    lp: Weak<LoopInner>,
}

/// asyncio's `Future`: an outcome set once by [`set_result`](LoopFuture::set_result),
/// [`set_exception`](LoopFuture::set_exception) or [`cancel`](LoopFuture::cancel),
/// awaited by any number of tasks (each gets a clone of the value), with done
/// callbacks run through the loop.
///
/// Cloning the `LoopFuture` clones the handle; all clones share one outcome.
///
/// ```
/// let event_loop = tulip::EventLoop::new()?;
/// let lp = event_loop.handle();
/// let fut = lp.create_future::<String>();
/// let setter = fut.clone();
/// lp.call_soon(move || setter.set_result("hello".to_string()).unwrap())?;
/// let value = event_loop.run_until_complete(fut)??;
/// assert_eq!(value, "hello");
/// # Ok::<(), tulip::Error>(())
/// ```
///
/// A `LoopFuture` belongs to its loop's thread:
///
/// ```compile_fail
/// fn assert_send<T: Send>(_: T) {}
/// let event_loop = tulip::EventLoop::new().unwrap();
/// assert_send(event_loop.create_future::<u32>());
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct LoopFuture<T> {
    state: Rc<State<T>>,
}

impl<T> Clone for LoopFuture<T> {
    fn clone(&self) -> LoopFuture<T> {
        LoopFuture {
            state: self.state.clone(),
        }
    }
}

impl Loop {
    /// A new pending future attached to this loop (asyncio's `create_future`).
    ///
    /// ```
    /// use tulip::prelude::*;
    ///
    /// tulip::run(async {
    ///     let lp = get_running_loop()?;
    ///     let fut = lp.create_future::<u32>();
    ///     let setter = fut.clone();
    ///     lp.call_soon(move || setter.set_result(42).unwrap())?;
    ///     assert_eq!(fut.await?, 42);
    ///     Ok::<(), tulip::Error>(())
    /// })??;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    #[doc(alias = "Future")]
    pub fn create_future<T: 'static>(&self) -> LoopFuture<T> {
        LoopFuture {
            state: Rc::new(State {
                outcome: RefCell::new(Outcome::Pending),
                waiters: RefCell::new(Vec::new()),
                callbacks: RefCell::new(Vec::new()),
                next_callback_id: Cell::new(0),
                lp: self.downgrade(),
            }),
        }
    }
}

impl<T: 'static> LoopFuture<T> {
    fn complete(&self, outcome: Result<T, Error>) -> Result<(), Error> {
        {
            let mut o = self.state.outcome.borrow_mut();
            if !matches!(*o, Outcome::Pending) {
                return Err(Error::InvalidState("the future is already done"));
            }
            *o = Outcome::Done(outcome);
        }
        for w in std::mem::take(&mut *self.state.waiters.borrow_mut()) {
            w.wake();
        }
        let callbacks = std::mem::take(&mut *self.state.callbacks.borrow_mut());
        if !callbacks.is_empty() {
            if let Some(inner) = self.state.lp.upgrade() {
                let lp = Loop::from_inner(inner);
                for (_, cb) in callbacks {
                    let fut = self.clone();
                    let _ = lp.call_soon(move || cb(&fut));
                }
            }
        }
        Ok(())
    }

    /// Completes the future with `value`. [`Error::InvalidState`] if it is
    /// already done.
    ///
    /// ```
    /// let event_loop = tulip::EventLoop::new()?;
    /// let fut = event_loop.create_future();
    /// fut.set_result("ready")?;
    /// assert!(fut.done());
    /// assert_eq!(fut.result()?, "ready");
    /// assert!(fut.set_result("again").is_err()); // already done: InvalidState
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn set_result(&self, value: T) -> Result<(), Error> {
        self.complete(Ok(value))
    }

    /// Completes the future with an error. [`Error::InvalidState`] if it is
    /// already done.
    ///
    /// ```
    /// use std::io;
    ///
    /// let event_loop = tulip::EventLoop::new()?;
    /// let fut = event_loop.create_future::<()>();
    /// fut.set_exception(tulip::Error::exception(io::Error::other("no route")))?;
    /// assert_eq!(fut.exception()?.unwrap().to_string(), "no route");
    /// assert!(fut.result().is_err());
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn set_exception(&self, error: Error) -> Result<(), Error> {
        self.complete(Err(error))
    }

    /// Cancels the future; false if it was already done.
    ///
    /// ```
    /// let event_loop = tulip::EventLoop::new()?;
    /// let fut = event_loop.create_future::<()>();
    /// assert!(fut.cancel());
    /// assert!(fut.cancelled());
    /// assert!(!fut.cancel()); // already done
    /// assert!(event_loop.run_until_complete(fut)?.unwrap_err().is_cancelled());
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn cancel(&self) -> bool {
        self.complete(Err(Error::Cancelled)).is_ok()
    }

    /// Whether the future has an outcome.
    ///
    /// ```
    /// let event_loop = tulip::EventLoop::new()?;
    /// let fut = event_loop.create_future::<()>();
    /// assert!(!fut.done());
    /// fut.set_result(())?;
    /// assert!(fut.done());
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn done(&self) -> bool {
        !matches!(*self.state.outcome.borrow(), Outcome::Pending)
    }

    /// Whether the future was cancelled.
    ///
    /// ```
    /// let event_loop = tulip::EventLoop::new()?;
    /// let fut = event_loop.create_future::<()>();
    /// fut.cancel();
    /// assert!(fut.cancelled());
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn cancelled(&self) -> bool {
        matches!(
            *self.state.outcome.borrow(),
            Outcome::Done(Err(Error::Cancelled))
        )
    }

    /// The error the future completed with (asyncio's `exception()`):
    /// `Ok(None)` for a value, `Ok(Some(e))` for an error,
    /// `Err(Error::Cancelled)` if cancelled, `Err(Error::InvalidState)` if
    /// not done.
    ///
    /// ```
    /// let event_loop = tulip::EventLoop::new()?;
    /// let fut = event_loop.create_future::<i32>();
    /// assert!(fut.exception().is_err()); // not done yet
    /// fut.set_result(1)?;
    /// assert!(fut.exception()?.is_none()); // done with a value
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn exception(&self) -> Result<Option<Error>, Error> {
        match &*self.state.outcome.borrow() {
            Outcome::Pending => Err(Error::InvalidState("Exception is not set.")),
            Outcome::Done(Err(Error::Cancelled)) => Err(Error::Cancelled),
            Outcome::Done(Err(e)) => Ok(Some(e.clone())),
            Outcome::Done(Ok(_)) | Outcome::Taken => Ok(None),
        }
    }

    /// Moves the value (or error) out of a done future, for values that are
    /// not `Clone`; later calls and awaits see `Error::InvalidState`.
    ///
    /// ```
    /// let event_loop = tulip::EventLoop::new()?;
    /// let fut = event_loop.create_future::<Vec<u8>>(); // any T, Clone or not
    /// fut.set_result(vec![1, 2, 3])?;
    /// assert_eq!(fut.take_result()?, [1, 2, 3]);
    /// assert!(fut.take_result().is_err()); // taken
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn take_result(&self) -> Result<T, Error> {
        let mut o = self.state.outcome.borrow_mut();
        match std::mem::replace(&mut *o, Outcome::Taken) {
            Outcome::Done(r) => r,
            Outcome::Pending => {
                *o = Outcome::Pending;
                Err(Error::InvalidState("Result is not set."))
            }
            Outcome::Taken => Err(Error::InvalidState("the result was already taken")),
        }
    }

    /// Waits until the future is done, without taking its outcome (for
    /// values that are not `Clone`: wait, then [`take_result`](LoopFuture::take_result)).
    ///
    /// ```
    /// use tulip::prelude::*;
    ///
    /// struct NotClone(u8);
    ///
    /// tulip::run(async {
    ///     let lp = get_running_loop()?;
    ///     let fut = lp.create_future::<NotClone>();
    ///     let setter = fut.clone();
    ///     lp.call_soon(move || setter.set_result(NotClone(9)).unwrap())?;
    ///     fut.wait().await;
    ///     assert_eq!(fut.take_result()?.0, 9);
    ///     Ok::<(), tulip::Error>(())
    /// })??;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn wait(&self) -> WaitDone<'_, T> {
        WaitDone { fut: self }
    }

    /// Adds a callback run through the loop's `call_soon` once the future is
    /// done (on the next pass if it already is), in the context current now
    /// (contextvars, as asyncio's `add_done_callback(fn, context=None)`).
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    ///
    /// let event_loop = tulip::EventLoop::new()?;
    /// let fut = event_loop.create_future::<i32>();
    /// let seen = Rc::new(Cell::new(0));
    /// let s = seen.clone();
    /// fut.add_done_callback(move |f| s.set(f.result().unwrap()));
    /// let removed = fut.add_done_callback(|_| unreachable!());
    /// assert!(fut.remove_done_callback(removed));
    /// fut.set_result(5)?;
    /// event_loop.run_until_complete(tulip::sleep(std::time::Duration::ZERO))?; // one pass
    /// assert_eq!(seen.get(), 5);
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn add_done_callback(&self, callback: impl FnOnce(&LoopFuture<T>) + 'static) -> CallbackId {
        // contextvars: the callback runs in the context current now.
        let mut context = crate::context::Context::current();
        let callback = move |fut: &LoopFuture<T>| context.run(|| callback(fut));
        let id = self.state.next_callback_id.get() + 1;
        self.state.next_callback_id.set(id);
        if self.done() {
            if let Some(inner) = self.state.lp.upgrade() {
                let fut = self.clone();
                let _ = Loop::from_inner(inner).call_soon(move || callback(&fut));
            }
        } else {
            self.state
                .callbacks
                .borrow_mut()
                .push((id, Box::new(callback)));
        }
        crate::task::callback_id(id)
    }

    /// Removes a done callback not yet scheduled; whether it was found.
    ///
    /// ```
    /// let event_loop = tulip::EventLoop::new()?;
    /// let fut = event_loop.create_future::<()>();
    /// let id = fut.add_done_callback(|_| unreachable!("removed"));
    /// assert!(fut.remove_done_callback(id));
    /// assert!(!fut.remove_done_callback(id)); // gone already
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn remove_done_callback(&self, id: CallbackId) -> bool {
        let mut cbs = self.state.callbacks.borrow_mut();
        let before = cbs.len();
        cbs.retain(|(i, _)| crate::task::callback_id(*i) != id);
        cbs.len() != before
    }

    /// The loop the future belongs to (`None` once it is gone).
    ///
    /// ```
    /// let event_loop = tulip::EventLoop::new()?;
    /// let fut = event_loop.create_future::<()>();
    /// assert!(fut.get_loop().unwrap().same_loop(&event_loop));
    /// drop(event_loop);
    /// assert!(fut.get_loop().is_none()); // the loop is gone
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn get_loop(&self) -> Option<Loop> {
        self.state.lp.upgrade().map(Loop::from_inner)
    }

    fn register(&self, cx: &Context<'_>) {
        let mut waiters = self.state.waiters.borrow_mut();
        if !waiters.iter().any(|w| w.will_wake(cx.waker())) {
            waiters.push(cx.waker().clone());
        }
    }
}

impl<T: Clone + 'static> LoopFuture<T> {
    /// The outcome of a done future, cloned (asyncio's `result()`):
    /// [`Error::InvalidState`] if not done.
    ///
    /// ```
    /// let event_loop = tulip::EventLoop::new()?;
    /// let fut = event_loop.create_future();
    /// assert!(fut.result().is_err()); // not done: InvalidState
    /// fut.set_result(3)?;
    /// assert_eq!(fut.result()?, 3);
    /// assert_eq!(fut.result()?, 3); // cloned, still there
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn result(&self) -> Result<T, Error> {
        match &*self.state.outcome.borrow() {
            Outcome::Pending => Err(Error::InvalidState("Result is not set.")),
            Outcome::Done(r) => r.clone(),
            Outcome::Taken => Err(Error::InvalidState("the result was already taken")),
        }
    }
}

impl<T: Clone + 'static> Future for LoopFuture<T> {
    type Output = Result<T, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T, Error>> {
        if self.done() {
            Poll::Ready(self.result())
        } else {
            self.register(cx);
            Poll::Pending
        }
    }
}

/// The future of [`LoopFuture::wait`].
///
/// ```
/// use tulip::prelude::*;
///
/// tulip::run(async {
///     let fut = get_running_loop()?.create_future::<String>();
///     fut.set_result("done".into())?;
///     let waiting: tulip::WaitDone<'_, String> = fut.wait();
///     waiting.await;
///     assert_eq!(fut.take_result()?, "done");
///     Ok::<(), tulip::Error>(())
/// })??;
/// # Ok::<(), tulip::Error>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct WaitDone<'a, T> {
    fut: &'a LoopFuture<T>,
}

impl<T: 'static> Future for WaitDone<'_, T> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.fut.done() {
            Poll::Ready(())
        } else {
            self.fut.register(cx);
            Poll::Pending
        }
    }
}

impl<T> fmt::Debug for LoopFuture<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &*self.state.outcome.borrow() {
            Outcome::Pending => "pending",
            Outcome::Done(Ok(_)) | Outcome::Taken => "finished",
            Outcome::Done(Err(Error::Cancelled)) => "cancelled",
            Outcome::Done(Err(_)) => "failed",
        };
        write!(f, "<LoopFuture {state}>")
    }
}
