//! `wait`: wait for tasks until a condition ([`ReturnWhen`]) or a timeout,
//! and get them back split into `(done, pending)` (asyncio's
//! `asyncio.wait`). Nothing is cancelled, on timeout or otherwise, and no
//! outcome is consumed: the done tasks are handed back to be awaited (at
//! once) or inspected.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use crate::sleep::{Sleep, sleep};
use crate::task::{CallbackId, Task, TaskRef};

/// When [`wait`] returns (asyncio's `FIRST_COMPLETED`, `FIRST_EXCEPTION`,
/// `ALL_COMPLETED`).
///
/// ```
/// use std::time::Duration;
/// use tulip::prelude::*;
/// use tulip::ReturnWhen;
///
/// let event_loop = tulip::EventLoop::builder().paused_clock(true).build()?;
/// event_loop.run_until_complete(async {
///     let ok = spawn(sleep(Duration::from_secs(5)));
///     let bad = spawn(async { panic!("boom") });
///     // FirstException: back as soon as `bad` panicked, `ok` still pending.
///     let (done, pending) = wait([&ok, &bad], None, ReturnWhen::FirstException).await;
///     assert_eq!((done.len(), pending.len()), (1, 1));
///     assert!(bad.panicked());
///     assert_eq!(ReturnWhen::default(), ReturnWhen::AllCompleted);
/// })?;
/// # Ok::<(), tulip::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ReturnWhen {
    /// As soon as any task is done.
    FirstCompleted,
    /// As soon as any task panicked (a cancelled task does not count, as in
    /// asyncio), or when all are done.
    FirstException,
    /// When all tasks are done.
    #[default]
    AllCompleted,
}

/// What [`wait`] waits on: a [`Task`] or a [`TaskRef`] (by value or by
/// reference).
///
/// ```
/// use std::time::Duration;
/// use tulip::prelude::*;
/// use tulip::{AsTaskRef, ReturnWhen};
///
/// tulip::run(async {
///     let a = spawn(async { 1 });
///     let b = spawn(async { "two" });
///     // Tasks of different types, through their untyped references.
///     let refs: Vec<TaskRef> = vec![a.as_task_ref(), b.as_task_ref()];
///     let (done, _) = wait(refs, Some(Duration::from_secs(5)), ReturnWhen::AllCompleted).await;
///     assert_eq!(done.len(), 2);
/// })?;
/// # Ok::<(), tulip::Error>(())
/// ```
pub trait AsTaskRef {
    /// A reference to the task.
    fn as_task_ref(&self) -> TaskRef;
}

impl<T> AsTaskRef for Task<T> {
    fn as_task_ref(&self) -> TaskRef {
        self.task_ref()
    }
}

impl AsTaskRef for TaskRef {
    fn as_task_ref(&self) -> TaskRef {
        self.clone()
    }
}

impl<A: AsTaskRef + ?Sized> AsTaskRef for &A {
    fn as_task_ref(&self) -> TaskRef {
        (**self).as_task_ref()
    }
}

struct Shared {
    done: Cell<usize>,
    panicked: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

/// Waits for `tasks` until `return_when` holds or `timeout` passes, and
/// yields them back as `(done, pending)`, each in input order (asyncio's
/// `wait`). The timeout does not cancel anything.
///
/// ```
/// use std::time::Duration;
/// use tulip::{ReturnWhen, sleep, spawn, wait};
/// let event_loop = tulip::EventLoop::builder().paused_clock(true).build()?;
/// event_loop.run_until_complete(async {
///     let fast = spawn(async { sleep(Duration::from_secs(1)).await; 1 });
///     let slow = spawn(async { sleep(Duration::from_secs(9)).await; 2 });
///     let (done, pending) = wait(vec![fast, slow], None, ReturnWhen::FirstCompleted).await;
///     assert_eq!((done.len(), pending.len()), (1, 1));
///     assert_eq!(done.into_iter().next().unwrap().await.unwrap(), 1);
/// })?;
/// # Ok::<(), tulip::Error>(())
/// ```
///
/// # Cancel safety
///
/// Dropping the returned future drops the tasks it holds: [`Task`]
/// handles are detached (the tasks run on), nothing is cancelled.
pub fn wait<W: AsTaskRef>(
    tasks: impl IntoIterator<Item = W>,
    timeout: Option<Duration>,
    return_when: ReturnWhen,
) -> Wait<W> {
    Wait {
        tasks: tasks.into_iter().collect(),
        refs: Vec::new(),
        timeout: timeout.map(sleep),
        return_when,
        shared: Rc::new(Shared {
            done: Cell::new(0),
            panicked: Cell::new(false),
            waker: RefCell::new(None),
        }),
        callbacks: Vec::new(),
        started: false,
        awaiter: 0,
    }
}

/// The future of [`wait`].
///
/// ```
/// use std::time::Duration;
/// use tulip::prelude::*;
/// use tulip::ReturnWhen;
///
/// let event_loop = tulip::EventLoop::builder().paused_clock(true).build()?;
/// event_loop.run_until_complete(async {
///     let slow = spawn(sleep(Duration::from_secs(60)));
///     // The timeout ends the wait, not the task.
///     let (done, pending) = wait([&slow], Some(Duration::from_secs(1)), ReturnWhen::AllCompleted).await;
///     assert!(done.is_empty() && pending.len() == 1);
///     assert!(!slow.done());
///     slow.cancel();
/// })?;
/// # Ok::<(), tulip::Error>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Wait<W> {
    tasks: Vec<W>,
    refs: Vec<TaskRef>,
    timeout: Option<Sleep>,
    return_when: ReturnWhen,
    shared: Rc<Shared>,
    callbacks: Vec<(usize, CallbackId)>,
    started: bool,
    /// The id of the task awaiting the tasks (the await graph), 0 if none.
    awaiter: u64,
}

impl<W> Unpin for Wait<W> {}

impl<W: AsTaskRef> Wait<W> {
    fn satisfied(&self) -> bool {
        let n = self.tasks.len();
        let done = self.shared.done.get();
        match self.return_when {
            ReturnWhen::FirstCompleted => done > 0 || n == 0,
            ReturnWhen::FirstException => done == n || self.shared.panicked.get(),
            ReturnWhen::AllCompleted => done == n,
        }
    }

    fn unregister(&mut self) {
        for (i, id) in self.callbacks.drain(..) {
            self.refs[i].remove_done_callback(id);
            crate::graph::unlink(&self.refs[i], self.awaiter);
        }
    }
}

impl<W: AsTaskRef> Future for Wait<W> {
    type Output = (Vec<W>, Vec<W>);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if !this.started {
            this.started = true;
            this.refs = this.tasks.iter().map(AsTaskRef::as_task_ref).collect();
            this.awaiter = crate::task::graph_hooks::current_task_id().unwrap_or(0);
            for (i, t) in this.refs.iter().enumerate() {
                if t.done() {
                    this.shared.done.set(this.shared.done.get() + 1);
                    if t.panicked() {
                        this.shared.panicked.set(true);
                    }
                } else {
                    let shared = this.shared.clone();
                    let id = t.add_done_callback(move |t| {
                        shared.done.set(shared.done.get() + 1);
                        if t.panicked() {
                            shared.panicked.set(true);
                        }
                        if let Some(w) = shared.waker.borrow_mut().take() {
                            w.wake();
                        }
                    });
                    this.callbacks.push((i, id));
                    if this.awaiter != 0 {
                        crate::graph::link_awaited(t, this.awaiter, crate::graph::AwaitVia::Wait);
                    }
                }
            }
        }
        let timed_out = match this.timeout.as_mut() {
            Some(s) => Pin::new(s).poll(cx).is_ready(),
            None => false,
        };
        if !timed_out && !this.satisfied() {
            *this.shared.waker.borrow_mut() = Some(cx.waker().clone());
            let left = this.tasks.len() - this.shared.done.get();
            crate::graph::record_raw(&crate::graph::WAIT, crate::graph::count(left));
            return Poll::Pending;
        }
        this.unregister();
        let mut done = Vec::new();
        let mut pending = Vec::new();
        for (w, r) in std::mem::take(&mut this.tasks)
            .into_iter()
            .zip(this.refs.drain(..))
        {
            if r.done() {
                done.push(w)
            } else {
                pending.push(w)
            }
        }
        Poll::Ready((done, pending))
    }
}

impl<W> Drop for Wait<W> {
    fn drop(&mut self) {
        for (i, id) in self.callbacks.drain(..) {
            self.refs[i].remove_done_callback(id);
            crate::graph::unlink(&self.refs[i], self.awaiter);
        }
    }
}
