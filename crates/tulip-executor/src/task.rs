//! Tasks: asyncio's `Task` on async-task. A task owns a future and is polled
//! by the loop; [`Task<T>`] is the typed handle that awaits its outcome and
//! [`TaskRef`] the untyped one that `current_task()` and `all_tasks()` give.
//!
//! Cancellation follows asyncio's counting rules: [`Task::cancel`] asks
//! (incrementing [`cancelling`](Task::cancelling)), [`Task::uncancel`] takes a
//! request back, and if a request is still standing at the task's next poll,
//! its future is dropped there — destructors are Rust's `finally` — and the
//! task completes as [`Error::Cancelled`]. A task cancelled before its first
//! poll never runs. A task that cancels itself is dropped as soon as its
//! current poll returns `Pending`, which is asyncio's "at the next await".
//!
//! A panic inside a task is caught and becomes its outcome
//! ([`Error::Panicked`]). A panicked task whose outcome nobody takes is
//! reported to the loop's exception handler ("Task exception was never
//! retrieved"), as asyncio does.
//!
//! Dropping a [`Task`] detaches it: the task keeps running to completion.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, Location, catch_unwind};
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker};

use async_task::FallibleTask;
use pin_project_lite::pin_project;

use crate::base_events::{Loop, LoopInner, Ready, schedule_runnable, with_running};
use crate::error::{Error, PanicError};
use crate::exception_handler::ExceptionContext;

const DONE: u8 = 1;
const CANCELLED: u8 = 2;
const PANICKED: u8 = 4;
const RETRIEVED: u8 = 8;
const DETACHED: u8 = 16;

type DoneCallback = Box<dyn FnOnce(&TaskRef)>;

/// What every task carries, kept small (it is allocated per task): the
/// rarely used parts live in a lazily allocated [`TaskExtra`].
pub(crate) struct TaskHeader {
    id: u64,
    state: Cell<u8>,
    must_cancel: Cell<bool>,
    cancel_requests: Cell<u32>,
    slot: Cell<usize>,
    waker: RefCell<Option<Waker>>,
    lp: Weak<LoopInner>,
    site: &'static Location<'static>,
    extra: RefCell<Option<Box<TaskExtra>>>,
}

/// A task's name, done callbacks and panic, allocated on first use.
#[derive(Default)]
struct TaskExtra {
    name: Option<String>,
    done_callbacks: Vec<(u64, DoneCallback)>,
    next_callback_id: u64,
    panic: Option<PanicError>,
}

impl TaskHeader {
    fn new(
        id: u64,
        lp: Weak<LoopInner>,
        site: &'static Location<'static>,
        name: Option<String>,
    ) -> TaskHeader {
        TaskHeader {
            id,
            state: Cell::new(0),
            must_cancel: Cell::new(false),
            cancel_requests: Cell::new(0),
            slot: Cell::new(usize::MAX),
            waker: RefCell::new(None),
            lp,
            site,
            extra: RefCell::new(name.map(|name| {
                Box::new(TaskExtra {
                    name: Some(name),
                    ..TaskExtra::default()
                })
            })),
        }
    }

    fn with_extra<R>(&self, f: impl FnOnce(&mut TaskExtra) -> R) -> R {
        let mut extra = self.extra.borrow_mut();
        f(extra.get_or_insert_with(Box::default))
    }

    fn name(&self) -> String {
        let extra = self.extra.borrow();
        match extra.as_ref().and_then(|e| e.name.clone()) {
            Some(name) => name,
            None => format!("Task-{}", self.id),
        }
    }

    fn panic(&self) -> Option<PanicError> {
        self.extra.borrow().as_ref().and_then(|e| e.panic.clone())
    }

    fn take_done_callbacks(&self) -> Vec<(u64, DoneCallback)> {
        match self.extra.borrow_mut().as_mut() {
            Some(e) => std::mem::take(&mut e.done_callbacks),
            None => Vec::new(),
        }
    }
}

/// The registry behind `all_tasks()`: live task headers in a slab.
#[derive(Default)]
pub(crate) struct TaskRegistry {
    slots: Vec<Option<Rc<TaskHeader>>>,
    free: Vec<usize>,
    next_id: u64,
    live: usize,
}

impl TaskRegistry {
    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn insert(&mut self, header: Rc<TaskHeader>) {
        let idx = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(None);
                self.slots.len() - 1
            }
        };
        header.slot.set(idx);
        self.slots[idx] = Some(header);
        self.live += 1;
    }

    fn remove(&mut self, header: &TaskHeader) {
        let idx = header.slot.get();
        if let Some(slot) = self.slots.get_mut(idx) {
            if slot.as_ref().is_some_and(|h| std::ptr::eq(&**h, header)) {
                *slot = None;
                self.free.push(idx);
                self.live -= 1;
            }
        }
    }

    pub(crate) fn clear(&mut self) {
        self.slots.clear();
        self.free.clear();
        self.live = 0;
    }
}

thread_local! {
    static CURRENT_TASK: RefCell<Option<Rc<TaskHeader>>> = const { RefCell::new(None) };
    static TRACK_POLLS: Cell<bool> = const { Cell::new(false) };
    static LAST_POLLED: RefCell<Option<Rc<TaskHeader>>> = const { RefCell::new(None) };
}

/// Debug mode: starts recording which task a loop step polls, and returns
/// (and forgets) the description of the one recorded since the last call.
pub(crate) fn last_polled_reset() -> Option<String> {
    TRACK_POLLS.with(|t| t.set(true));
    LAST_POLLED
        .with(|l| l.borrow_mut().take())
        .map(|h| format!("{:?}", TaskRef { header: h }))
}

/// Options for [`Loop::create_task_with`] (asyncio's `name=` and
/// `eager_start=` arguments).
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct TaskOptions {
    /// The task's name; `Task-<id>` if none.
    pub name: Option<String>,
    /// Start the task at once, running it until its first suspension before
    /// `create_task_with` returns (asyncio 3.12's eager tasks). Only while
    /// the loop is running; otherwise the task is scheduled as usual.
    pub eager: bool,
}

impl TaskOptions {
    /// The default options.
    pub fn new() -> TaskOptions {
        TaskOptions::default()
    }

    /// Sets the name.
    pub fn name(mut self, name: impl Into<String>) -> TaskOptions {
        self.name = Some(name.into());
        self
    }

    /// Sets eager start.
    pub fn eager(mut self, eager: bool) -> TaskOptions {
        self.eager = eager;
        self
    }
}

pin_project! {
    /// The future async-task runs: the user's future plus cancellation,
    /// panic capture and `current_task` bookkeeping.
    struct TaskFuture<F> {
        header: Rc<TaskHeader>,
        #[pin]
        fut: Option<F>,
    }
}

impl<F: Future> Future for TaskFuture<F> {
    type Output = Result<F::Output, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let header: &Rc<TaskHeader> = this.header;
        if header.must_cancel.get() {
            drop_future(header, this.fut.as_mut());
            return Poll::Ready(finish(header, Err(Error::Cancelled)));
        }
        if TRACK_POLLS.with(Cell::get) {
            LAST_POLLED.with(|l| *l.borrow_mut() = Some(header.clone()));
        }
        let previous = CURRENT_TASK.with(|c| c.replace(Some(header.clone())));
        let res = catch_unwind(AssertUnwindSafe(|| {
            this.fut.as_mut().as_pin_mut().map(|f| f.poll(cx))
        }));
        CURRENT_TASK.with(|c| *c.borrow_mut() = previous);
        match res {
            Ok(Some(Poll::Ready(v))) => {
                this.fut.set(None);
                // Cancelled during its last step (asyncio's `_must_cancel`
                // at StopIteration): the task ends cancelled, its value dropped.
                if header.must_cancel.get() {
                    drop(v);
                    return Poll::Ready(finish(header, Err(Error::Cancelled)));
                }
                Poll::Ready(finish(header, Ok(v)))
            }
            Ok(Some(Poll::Pending)) => {
                if header.must_cancel.get() {
                    drop_future(header, this.fut.as_mut());
                    Poll::Ready(finish(header, Err(Error::Cancelled)))
                } else {
                    // Kept for `cancel()`, which must wake a suspended task.
                    // Taken only once the task suspends: a task that
                    // completes in its first poll never pays for the clone.
                    let mut w = header.waker.borrow_mut();
                    if w.is_none() {
                        *w = Some(cx.waker().clone());
                    }
                    Poll::Pending
                }
            }
            // Polled after completion: async-task never does this.
            Ok(None) => Poll::Ready(Err(Error::InvalidState("task polled after completion"))),
            Err(payload) => {
                drop_future(header, this.fut.as_mut());
                Poll::Ready(finish(
                    header,
                    Err(Error::Panicked(PanicError::new(payload))),
                ))
            }
        }
    }
}

/// Drops the task's future in place; a panicking destructor is reported.
fn drop_future<F>(header: &Rc<TaskHeader>, fut: Pin<&mut Option<F>>) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(|| {
        let mut fut = fut;
        fut.set(None);
    })) {
        if let Some(inner) = header.lp.upgrade() {
            Loop::from_inner(inner).call_exception_handler(
                &ExceptionContext::new("panic while dropping a task's future")
                    .with_error(Error::Panicked(PanicError::new(payload)))
                    .with_task(TaskRef {
                        header: header.clone(),
                    }),
            );
        }
    }
}

/// Marks the task done, unregisters it and schedules its done callbacks.
fn finish<T>(header: &Rc<TaskHeader>, outcome: Result<T, Error>) -> Result<T, Error> {
    let mut state = header.state.get() | DONE;
    match &outcome {
        Err(Error::Cancelled) => state |= CANCELLED,
        Err(Error::Panicked(p)) => {
            state |= PANICKED;
            header.with_extra(|e| e.panic = Some(p.clone()));
        }
        _ => {}
    }
    header.state.set(state);
    header.waker.borrow_mut().take();
    if let Some(inner) = header.lp.upgrade() {
        inner.tasks.borrow_mut().remove(header);
        let lp = Loop::from_inner(inner);
        let callbacks = header.take_done_callbacks();
        for (_, cb) in callbacks {
            let task = TaskRef {
                header: header.clone(),
            };
            let _ = lp.call_soon(move || cb(&task));
        }
        if state & PANICKED != 0 && state & DETACHED != 0 {
            report_never_retrieved(&lp, header);
        }
    }
    outcome
}

fn report_never_retrieved(lp: &Loop, header: &Rc<TaskHeader>) {
    let Some(p) = header.panic() else {
        return;
    };
    header.state.set(header.state.get() | RETRIEVED);
    let mut ctx = ExceptionContext::new("Task exception was never retrieved")
        .with_error(Error::Panicked(p))
        .with_task(TaskRef {
            header: header.clone(),
        });
    ctx.source_location = Some(header.site);
    lp.call_exception_handler(&ctx);
}

enum Inner<T> {
    Running(FallibleTask<Result<T, Error>>),
    /// Could not be spawned (closed loop, no running loop).
    Failed(Box<Error>),
    /// The outcome was taken.
    Taken,
}

/// A task: a future scheduled on the loop, and the handle to its outcome.
/// Awaiting it yields `Ok(output)`, `Err(Error::Cancelled)` or
/// `Err(Error::Panicked(..))`.
///
/// Dropping the handle detaches the task (it runs to completion).
///
/// ```
/// let event_loop = tulip_executor::EventLoop::new()?;
/// let lp = event_loop.handle();
/// let answer = event_loop.run_until_complete(async move {
///     let task = lp.create_task(async { 6 * 7 });
///     task.await
/// })?;
/// assert_eq!(answer?, 42);
/// # Ok::<(), tulip_executor::Error>(())
/// ```
///
/// A `Task` cannot leave its thread:
///
/// ```compile_fail
/// fn assert_send<T: Send>(_: T) {}
/// let event_loop = tulip_executor::EventLoop::new().unwrap();
/// assert_send(event_loop.handle().create_task(async {}));
/// ```
#[must_use = "a Task is awaited for its outcome; drop it (or call detach) to let it run detached"]
pub struct Task<T> {
    header: Rc<TaskHeader>,
    inner: Inner<T>,
}

/// An untyped reference to a task, for inspection and cancellation
/// (what [`current_task`] and [`all_tasks`] return).
#[derive(Clone)]
pub struct TaskRef {
    header: Rc<TaskHeader>,
}

/// Identifies a done callback, for [`Task::remove_done_callback`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CallbackId(u64);

impl Loop {
    /// Wraps `future` in a [`Task`] and schedules it (asyncio's
    /// `create_task`). On a closed loop the task is already done with
    /// [`Error::LoopClosed`].
    #[track_caller]
    pub fn create_task<F>(&self, future: F) -> Task<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        self.create_task_with(future, TaskOptions::default())
    }

    /// [`create_task`](Loop::create_task) with a name or eager start.
    ///
    /// ```
    /// use tulip_executor::TaskOptions;
    /// let event_loop = tulip_executor::EventLoop::new()?;
    /// let lp = event_loop.handle();
    /// event_loop.run_until_complete(async move {
    ///     let task = lp.create_task_with(async { 1 }, TaskOptions::new().name("worker").eager(true));
    ///     assert_eq!(task.get_name(), "worker");
    ///     assert!(task.done()); // ran to completion inside create_task_with
    /// })?;
    /// # Ok::<(), tulip_executor::Error>(())
    /// ```
    #[track_caller]
    pub fn create_task_with<F>(&self, future: F, options: TaskOptions) -> Task<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let site = Location::caller();
        let inner = &self.inner;
        let id = inner.tasks.borrow_mut().next_id();
        let header = Rc::new(TaskHeader::new(id, self.downgrade(), site, options.name));
        if inner.closed.get() {
            header.state.set(DONE);
            return Task {
                header,
                inner: Inner::Failed(Box::new(Error::LoopClosed)),
            };
        }
        inner.tasks.borrow_mut().insert(header.clone());
        let wrapped = TaskFuture {
            header: header.clone(),
            fut: Some(future),
        };
        let remote = inner.remote.clone();
        let (runnable, task) = async_task::Builder::new()
            .spawn_local(move |()| wrapped, move |r| schedule_runnable(&remote, r));
        if options.eager
            && self.is_running()
            && with_running(|l| Rc::ptr_eq(l, inner)).unwrap_or(false)
        {
            runnable.run();
        } else {
            inner.ready.borrow_mut().push_back(Ready::Task(runnable));
        }
        Task {
            header,
            inner: Inner::Running(task.fallible()),
        }
    }

    /// The tasks of this loop that are not done yet (asyncio's `all_tasks`).
    pub fn all_tasks(&self) -> Vec<TaskRef> {
        all_task_refs(self)
    }
}

pub(crate) fn all_task_refs(lp: &Loop) -> Vec<TaskRef> {
    let reg = lp.inner.tasks.borrow();
    let mut out = Vec::with_capacity(reg.live);
    for h in reg.slots.iter().flatten() {
        if h.state.get() & DONE == 0 {
            out.push(TaskRef { header: h.clone() });
        }
    }
    out
}

/// Spawns `future` on the running loop (asyncio's `asyncio.create_task`).
/// Outside a running loop the task is done with [`Error::NoRunningLoop`].
#[track_caller]
#[doc(alias = "spawn_local")]
pub fn spawn<F>(future: F) -> Task<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    match crate::get_running_loop() {
        Ok(lp) => lp.create_task(future),
        Err(e) => {
            let header = Rc::new(TaskHeader::new(0, Weak::new(), Location::caller(), None));
            header.state.set(DONE);
            Task {
                header,
                inner: Inner::Failed(Box::new(e)),
            }
        }
    }
}

/// The task whose future is being polled on this thread (asyncio's
/// `current_task`), `None` outside a task.
pub fn current_task() -> Option<TaskRef> {
    CURRENT_TASK
        .with(|c| c.borrow().clone())
        .map(|header| TaskRef { header })
}

/// The running loop's tasks that are not done (asyncio's `all_tasks`);
/// empty outside a running loop.
pub fn all_tasks() -> Vec<TaskRef> {
    crate::get_running_loop()
        .map(|lp| all_task_refs(&lp))
        .unwrap_or_default()
}

macro_rules! task_methods {
    () => {
        /// The task's id, unique within its loop.
        pub fn id(&self) -> u64 {
            self.header.id
        }

        /// The task's name (`Task-<id>` unless set).
        pub fn get_name(&self) -> String {
            self.header.name()
        }

        /// Renames the task.
        pub fn set_name(&self, name: impl Into<String>) {
            let name = name.into();
            self.header.with_extra(|e| e.name = Some(name));
        }

        /// Asks the task to cancel (asyncio's `Task.cancel`): at its next
        /// poll its future is dropped and it completes as cancelled. Returns
        /// false if the task is already done. Each call counts (see
        /// [`cancelling`](Self::cancelling)).
        pub fn cancel(&self) -> bool {
            let h = &self.header;
            if h.state.get() & DONE != 0 {
                return false;
            }
            h.cancel_requests
                .set(h.cancel_requests.get().saturating_add(1));
            h.must_cancel.set(true);
            // Not polled yet: it is in the ready queue. Running now: its
            // poll sees the flag on the way out.
            if let Some(w) = h.waker.borrow().as_ref() {
                w.wake_by_ref();
            }
            true
        }

        /// The number of cancellation requests standing (asyncio 3.11's
        /// `cancelling`).
        pub fn cancelling(&self) -> u32 {
            self.header.cancel_requests.get()
        }

        /// Takes one cancellation request back and returns how many remain
        /// (asyncio 3.11's `uncancel`); at zero a pending cancellation that
        /// has not been delivered yet is withdrawn.
        pub fn uncancel(&self) -> u32 {
            let h = &self.header;
            let n = h.cancel_requests.get();
            if n > 0 {
                h.cancel_requests.set(n - 1);
                if n == 1 {
                    h.must_cancel.set(false);
                }
            }
            h.cancel_requests.get()
        }

        /// Whether the task is done (finished, cancelled or panicked).
        pub fn done(&self) -> bool {
            self.header.state.get() & DONE != 0
        }

        /// Whether the task completed as cancelled.
        pub fn cancelled(&self) -> bool {
            self.header.state.get() & CANCELLED != 0
        }

        /// Whether the task completed with a panic.
        pub fn panicked(&self) -> bool {
            self.header.state.get() & PANICKED != 0
        }

        /// Where the task was created.
        pub fn source_location(&self) -> &'static Location<'static> {
            self.header.site
        }

        /// Adds a callback run (on the loop, via `call_soon`) once the task
        /// is done; right away (next pass) if it already is.
        pub fn add_done_callback(&self, callback: impl FnOnce(&TaskRef) + 'static) -> CallbackId {
            let h = &self.header;
            let id = h.with_extra(|e| {
                e.next_callback_id += 1;
                e.next_callback_id
            });
            if h.state.get() & DONE != 0 {
                if let Some(inner) = h.lp.upgrade() {
                    let task = TaskRef { header: h.clone() };
                    let _ = Loop::from_inner(inner).call_soon(move || callback(&task));
                }
            } else {
                h.with_extra(|e| e.done_callbacks.push((id, Box::new(callback))));
            }
            CallbackId(id)
        }

        /// Removes a done callback that has not been scheduled yet; returns
        /// whether it was found.
        pub fn remove_done_callback(&self, id: CallbackId) -> bool {
            let mut extra = self.header.extra.borrow_mut();
            let Some(e) = extra.as_mut() else {
                return false;
            };
            let before = e.done_callbacks.len();
            e.done_callbacks.retain(|(i, _)| *i != id.0);
            e.done_callbacks.len() != before
        }

        /// The loop the task runs on (`None` once that loop is gone).
        pub fn get_loop(&self) -> Option<Loop> {
            self.header.lp.upgrade().map(Loop::from_inner)
        }
    };
}

impl<T> Task<T> {
    task_methods!();

    /// An untyped reference to this task.
    pub fn task_ref(&self) -> TaskRef {
        TaskRef {
            header: self.header.clone(),
        }
    }

    /// The outcome of a done task, without waiting (asyncio's `result()`):
    /// [`Error::InvalidState`] if the task is not done or its outcome was
    /// already taken.
    pub fn result(&mut self) -> Result<T, Error> {
        if !self.done() {
            return Err(Error::InvalidState("Result is not set."));
        }
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        match Pin::new(&mut *self).poll(&mut cx) {
            Poll::Ready(r) => r,
            Poll::Pending => Err(Error::InvalidState("Result is not set.")),
        }
    }

    /// Lets the task run on without this handle (what dropping it does).
    pub fn detach(self) {
        drop(self);
    }
}

impl<T> Future for Task<T> {
    type Output = Result<T, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T, Error>> {
        let this = &mut *self;
        let out = match &mut this.inner {
            Inner::Running(t) => match Pin::new(t).poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(r)) => r,
                // The future was dropped without an outcome (loop closed).
                Poll::Ready(None) => Err(Error::Cancelled),
            },
            Inner::Failed(e) => Err((**e).clone()),
            Inner::Taken => {
                return Poll::Ready(Err(Error::InvalidState("task outcome already taken")));
            }
        };
        this.inner = Inner::Taken;
        this.header.state.set(this.header.state.get() | RETRIEVED);
        Poll::Ready(out)
    }
}

impl<T> Drop for Task<T> {
    fn drop(&mut self) {
        let h = &self.header;
        h.state.set(h.state.get() | DETACHED);
        if let Inner::Running(t) = std::mem::replace(&mut self.inner, Inner::Taken) {
            t.detach();
        }
        let s = h.state.get();
        if s & PANICKED != 0 && s & RETRIEVED == 0 {
            if let Some(inner) = h.lp.upgrade() {
                report_never_retrieved(&Loop::from_inner(inner), h);
            }
        }
    }
}

impl TaskRef {
    task_methods!();

    /// Whether `self` and `other` refer to the same task.
    pub fn same_task(&self, other: &TaskRef) -> bool {
        Rc::ptr_eq(&self.header, &other.header)
    }
}

fn describe(h: &TaskHeader, f: &mut fmt::Formatter<'_>, kind: &str) -> fmt::Result {
    let name = h.name();
    let s = h.state.get();
    let state = if s & CANCELLED != 0 {
        "cancelled"
    } else if s & PANICKED != 0 {
        "panicked"
    } else if s & DONE != 0 {
        "finished"
    } else if h.must_cancel.get() {
        "cancelling"
    } else {
        "pending"
    };
    write!(f, "<{kind} {state} name='{name}' created at {}>", h.site)
}

impl fmt::Debug for TaskRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        describe(&self.header, f, "Task")
    }
}

impl<T> fmt::Debug for Task<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        describe(&self.header, f, "Task")
    }
}

pub(crate) fn callback_id(id: u64) -> CallbackId {
    CallbackId(id)
}
