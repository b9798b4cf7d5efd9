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
//! Dropping a [`Task`] detaches it: the task keeps running to completion
//! (unless a timeout drops it while awaiting it: see [`Task`]).

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::panic::{AssertUnwindSafe, Location, catch_unwind};
use std::pin::Pin;
use std::ptr::NonNull;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker};
use std::thread::ThreadId;

use async_task::FallibleTask;
use pin_project_lite::pin_project;

use crate::error::{Error, PanicError};
use crate::event_loop::base_events::{Loop, LoopInner, Ready, schedule_runnable, with_running};
use crate::event_loop::exception_handler::ExceptionContext;

// The inspection and cancellation methods that `Task` and `TaskRef` share.
#[macro_use]
mod methods;

const DONE: u8 = 1;
const CANCELLED: u8 = 2;
const PANICKED: u8 = 4;
const RETRIEVED: u8 = 8;
const DETACHED: u8 = 16;
/// The handle's last poll returned `Pending`: someone is awaiting the task.
const AWAITED: u8 = 32;

type DoneCallback = Box<dyn FnOnce(&TaskRef)>;

/// A task's runnable: async-task's, with the [`TaskHeader`] as its metadata.
pub(crate) type Runnable = async_task::Runnable<TaskHeader>;

/// What every task carries, stored as async-task's metadata in the task's
/// one allocation (no second allocation per task). Small: the rarely used
/// parts live in a lazily allocated [`TaskExtra`].
///
/// Everything here is touched only on the loop's thread, through handles
/// that are `!Send` ([`Task`], [`TaskRef`]) or from the task's own poll.
/// The one exception is the drop: the task allocation (and this header) is
/// freed by whoever drops the last reference, which can be a waker on
/// another thread after the task completed. The `Drop` impl handles that.
pub(crate) struct TaskHeader {
    id: u64,
    state: Cell<u8>,
    must_cancel: Cell<bool>,
    cancel_requests: Cell<u32>,
    slot: Cell<usize>,
    lp: ManuallyDrop<Weak<LoopInner>>,
    owner: ThreadId,
    site: &'static Location<'static>,
    extra: ManuallyDrop<RefCell<Option<Box<TaskExtra>>>>,
    /// A waker of this very task, kept from completion until the [`Task`]
    /// handle is dropped, so that the handle can still give out
    /// [`TaskRef`]s of a finished task. (Before completion the registry
    /// holds one.) The `Task` handle's drop takes it, ending the cycle.
    self_waker: Cell<Option<Waker>>,
}

// SAFETY: async-task makes a `Runnable<M>` `Send` only if `M: Send + Sync`,
// and runnables must cross threads (a waker woken on another thread
// schedules the task through the loop's lock-free remote queue). The header
// itself is never read or written off the loop thread: the schedule
// function and the remote queue only move the runnable, which is run or
// dropped on the loop thread alone (a runnable left in the queue of a closed
// loop is leaked, never dropped elsewhere); `Task` and `TaskRef` are
// `!Send`. What remains is the header's drop when the last reference to the
// task allocation goes away on another thread, which `Drop` below makes
// safe by leaking the two fields that are not `Send`.
unsafe impl Send for TaskHeader {}
// SAFETY: see the `Send` impl: no `&TaskHeader` is ever used off the loop
// thread.
unsafe impl Sync for TaskHeader {}

impl Drop for TaskHeader {
    fn drop(&mut self) {
        if current_thread_id() == self.owner {
            // SAFETY: each field is dropped exactly once, here, and not used
            // after.
            unsafe {
                ManuallyDrop::drop(&mut self.lp);
                ManuallyDrop::drop(&mut self.extra);
            }
        }
        // Off the loop thread (the last waker of a finished task dropped
        // elsewhere): the `Weak` (non-atomic counts) and the extra (done
        // callbacks may hold `Rc`s) are leaked rather than touched here.
    }
}

fn current_thread_id() -> ThreadId {
    thread_local! {
        static ID: ThreadId = std::thread::current().id();
    }
    ID.try_with(|id| *id)
        .unwrap_or_else(|_| std::thread::current().id())
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
            lp: ManuallyDrop::new(lp),
            owner: current_thread_id(),
            site,
            self_waker: Cell::new(None),
            extra: ManuallyDrop::new(RefCell::new(name.map(|name| {
                Box::new(TaskExtra {
                    name: Some(name),
                    ..TaskExtra::default()
                })
            }))),
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

    fn loop_inner(&self) -> Option<Rc<LoopInner>> {
        self.lp.upgrade()
    }
}

/// A registry with more slots than this compacts when mostly free.
const MIN_SLOTS_TO_COMPACT: usize = 1024;

/// The registry behind `all_tasks()`: a reference to every live task, in a
/// slab (the header records its slot).
#[derive(Default)]
pub(crate) struct TaskRegistry {
    slots: Vec<Option<TaskRef>>,
    free: Vec<usize>,
    next_id: u64,
    live: usize,
}

impl TaskRegistry {
    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn insert(&mut self, task: TaskRef) {
        let idx = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(None);
                self.slots.len() - 1
            }
        };
        task.header().slot.set(idx);
        self.slots[idx] = Some(task);
        self.live += 1;
    }

    fn get(&self, header: &TaskHeader) -> Option<&TaskRef> {
        let slot = self.slots.get(header.slot.get())?.as_ref()?;
        std::ptr::eq(slot.header(), header).then_some(slot)
    }

    fn remove(&mut self, header: &TaskHeader) -> Option<TaskRef> {
        let idx = header.slot.get();
        let slot = self.slots.get_mut(idx)?;
        if !slot
            .as_ref()
            .is_some_and(|t| std::ptr::eq(t.header(), header))
        {
            return None;
        }
        let task = slot.take();
        self.free.push(idx);
        self.live -= 1;
        if self.slots.len() > MIN_SLOTS_TO_COMPACT && self.live * 4 < self.slots.len() {
            self.compact();
        }
        task
    }

    /// Moves the live tasks to the front, telling each its new slot, and
    /// gives the rest of the memory back (after a burst of tasks). Runs
    /// once three quarters of the slots are free: amortized O(1) a removal.
    fn compact(&mut self) {
        let mut live = Vec::with_capacity(self.live.max(MIN_SLOTS_TO_COMPACT));
        for task in std::mem::take(&mut self.slots).into_iter().flatten() {
            task.header().slot.set(live.len());
            live.push(Some(task));
        }
        self.slots = live;
        self.free = Vec::new();
    }

    pub(crate) fn clear(&mut self) -> Vec<TaskRef> {
        self.free.clear();
        self.live = 0;
        std::mem::take(&mut self.slots)
            .into_iter()
            .flatten()
            .collect()
    }
}

thread_local! {
    /// The header of the task being polled on this thread (set only for the
    /// duration of its poll).
    static CURRENT_TASK: Cell<Option<NonNull<TaskHeader>>> = const { Cell::new(None) };
    static TRACK_POLLS: Cell<bool> = const { Cell::new(false) };
    /// Set while a timeout drops the future it timed out
    /// ([`drop_cancelling_awaited`]): awaited tasks whose handles are
    /// dropped meanwhile are cancelled and collected here.
    static CANCEL_AWAITED: RefCell<Option<Vec<TaskRef>>> = const { RefCell::new(None) };
    static LAST_POLLED: RefCell<Option<TaskRef>> = const { RefCell::new(None) };
}

/// Debug mode: starts recording which task a loop step polls, and returns
/// (and forgets) the description of the one recorded since the last call.
pub(crate) fn last_polled_reset() -> Option<String> {
    TRACK_POLLS.with(|t| t.set(true));
    LAST_POLLED
        .with(|l| l.borrow_mut().take())
        .map(|t| format!("{t:?}"))
}

/// The registry's reference to the task of `header` (`None` once it is done).
fn registered(header: &TaskHeader) -> Option<TaskRef> {
    header.loop_inner()?.tasks.borrow().get(header).cloned()
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
        // The task's own header: async-task's metadata, in the same
        // allocation as this future.
        header: NonNull<TaskHeader>,
        // Set for a task that could not start (closed loop, no loop): it
        // completes with this error at its only poll.
        fail: Option<Box<Error>>,
        #[pin]
        fut: Option<F>,
    }
    impl<F> PinnedDrop for TaskFuture<F> {
        // async-task drops the future without polling it when the task was
        // closed (`Task::abort`) or its runnable is dropped unrun (a closing
        // loop): finish it as cancelled, so that it leaves the registry and
        // its done callbacks run.
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            // SAFETY: as in `poll`: the header outlives the future.
            let header: &TaskHeader = unsafe { this.header.as_ref() };
            if header.state.get() & DONE == 0 {
                drop_future(header, this.fut);
                let _ = finish::<()>(header, Err(Error::Cancelled));
            }
        }
    }
}

impl<F: Future> Future for TaskFuture<F> {
    type Output = Result<F::Output, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        // SAFETY: the header is the metadata of the task this future belongs
        // to. async-task places it before creating the future and drops it
        // only when the task allocation is freed, after the future; so it
        // outlives every poll.
        let header: &TaskHeader = unsafe { this.header.as_ref() };
        if let Some(e) = this.fail.take() {
            this.fut.set(None);
            return Poll::Ready(finish(header, Err(*e)));
        }
        if header.state.get() & DONE != 0 {
            // Finished in place by its owner ([`finish_emptied`]): this last
            // run only releases what is left.
            drop_future(header, this.fut.as_mut());
            return Poll::Ready(Err(Error::Cancelled));
        }
        if header.must_cancel.get() {
            drop_future(header, this.fut.as_mut());
            return Poll::Ready(finish(header, Err(Error::Cancelled)));
        }
        if TRACK_POLLS.with(Cell::get) {
            let task = registered(header);
            LAST_POLLED.with(|l| *l.borrow_mut() = task);
        }
        let previous = CURRENT_TASK.with(|c| c.replace(Some(*this.header)));
        let res = catch_unwind(AssertUnwindSafe(|| {
            this.fut.as_mut().as_pin_mut().map(|f| f.poll(cx))
        }));
        CURRENT_TASK.with(|c| c.set(previous));
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
fn drop_future<F>(header: &TaskHeader, fut: Pin<&mut Option<F>>) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(|| {
        let mut fut = fut;
        fut.set(None);
    })) {
        if let Some(inner) = header.loop_inner() {
            let mut ctx = ExceptionContext::new("panic while dropping a task's future")
                .with_error(Error::Panicked(PanicError::new(payload)));
            ctx.task = registered(header);
            Loop::from_inner(inner).call_exception_handler(&ctx);
        }
    }
}

/// Marks the task done, unregisters it and schedules its done callbacks.
fn finish<T>(header: &TaskHeader, outcome: Result<T, Error>) -> Result<T, Error> {
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
    if let Some(inner) = header.loop_inner() {
        let task = inner.tasks.borrow_mut().remove(header);
        let lp = Loop::from_inner(inner);
        if let Some(task) = task {
            for (_, cb) in header.take_done_callbacks() {
                let task = task.clone();
                let _ = lp.call_soon(move || cb(&task));
            }
            if state & PANICKED != 0 && state & DETACHED != 0 && state & RETRIEVED == 0 {
                report_never_retrieved(&lp, &task);
            }
            if state & DETACHED == 0 {
                header.self_waker.set(Some(task.waker));
            }
        }
    }
    outcome
}

/// Runs `drop_it` (which drops a future a timeout gave up on) so that every
/// [`Task`] handle dropped inside it while being awaited cancels its task
/// instead of detaching it: asyncio's cancellation of an awaiting
/// coroutine reaches the task it awaits. Returns those tasks, for the
/// timeout to wait until they are done.
/// Nested (a scope dropped while an outer one expires), the tasks are also
/// handed to the outer collector, so the outer scope waits for them too.
pub(crate) fn drop_cancelling_awaited(drop_it: impl FnOnce()) -> Vec<TaskRef> {
    let outer = CANCEL_AWAITED.with(|c| c.borrow_mut().replace(Vec::new()));
    drop_it();
    CANCEL_AWAITED.with(|c| {
        let mut c = c.borrow_mut();
        let mine = std::mem::replace(&mut *c, outer).unwrap_or_default();
        if let Some(outer) = c.as_mut() {
            outer.extend(mine.iter().cloned());
        }
        mine
    })
}

/// Finishes `task` as cancelled right now, for an owner that has already
/// dropped the task's future itself (a task group or gather emptying a
/// child's slot): the task is [`done`](TaskRef::done), out of
/// [`all_tasks`], and its done callbacks are scheduled before this returns,
/// rather than when the loop next reaches it. Its runnable, if queued, only
/// releases the task's remains when it runs.
pub(crate) fn finish_emptied(task: &TaskRef) {
    let h = task.header();
    if h.state.get() & DONE != 0 {
        return;
    }
    if !h.must_cancel.get() {
        task.cancel();
    }
    let _ = finish::<()>(h, Err(Error::Cancelled));
}

fn report_never_retrieved(lp: &Loop, task: &TaskRef) {
    let header = task.header();
    let Some(p) = header.panic() else {
        return;
    };
    header.state.set(header.state.get() | RETRIEVED);
    let mut ctx = ExceptionContext::new("Task exception was never retrieved")
        .with_error(Error::Panicked(p))
        .with_task(task.clone());
    ctx.source_location = Some(header.site);
    lp.call_exception_handler(&ctx);
}

/// A task: a future scheduled on the loop, and the handle to its outcome.
/// Awaiting it yields `Ok(output)`, `Err(Error::Cancelled)` or
/// `Err(Error::Panicked(..))`.
///
/// Dropping the handle detaches the task (it runs to completion), except
/// when a timeout ([`wait_for`](crate::wait_for),
/// [`Timeout::run`](crate::Timeout::run)) drops it while it is being
/// awaited: then the task is cancelled, as asyncio's cancellation reaches
/// the task an expired `wait_for` awaits.
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
    /// async-task's handle; `None` only while dropping. Kept after the
    /// outcome was taken (the `RETRIEVED` flag says so), for the header.
    task: Option<FallibleTask<Result<T, Error>, TaskHeader>>,
    /// The task's header (async-task's metadata, which the handle keeps
    /// alive).
    header: NonNull<TaskHeader>,
    /// `!Send` and `!Sync`: the task is the loop thread's.
    _not_send: PhantomData<Rc<()>>,
}

/// An untyped reference to a task, for inspection and cancellation
/// (what [`current_task`] and [`all_tasks`] return).
#[derive(Clone)]
pub struct TaskRef {
    /// A waker of the task: it keeps the task's allocation (and so its
    /// header) alive, and wakes the task for `cancel()`.
    waker: Waker,
    header: NonNull<TaskHeader>,
    /// `!Send` and `!Sync`: the header is the loop thread's.
    _not_send: PhantomData<Rc<()>>,
}

impl TaskRef {
    fn new(runnable: &Runnable) -> TaskRef {
        TaskRef {
            waker: runnable.waker(),
            header: NonNull::from(runnable.metadata()),
            _not_send: PhantomData,
        }
    }

    fn header(&self) -> &TaskHeader {
        // SAFETY: `header` points at the metadata of the task `waker`
        // belongs to; a waker keeps the task allocation, metadata included,
        // alive, and the metadata never moves.
        unsafe { self.header.as_ref() }
    }
}

/// Identifies a done callback, for [`Task::remove_done_callback`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CallbackId(u64);

impl Loop {
    /// Wraps `future` in a [`Task`] and schedules it (asyncio's
    /// `create_task`). The loop need not be running: the task starts when
    /// it runs. On a closed loop the task is already done with
    /// [`Error::LoopClosed`] (no panic: a closed loop can be reached from
    /// destructors that [`close`](crate::EventLoop::close) itself runs).
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
        if inner.closed.get() {
            return spawn_failed(Error::LoopClosed, self.downgrade(), site);
        }
        let id = inner.tasks.borrow_mut().next_id();
        let header = TaskHeader::new(id, self.downgrade(), site, options.name);
        let remote = inner.remote.clone();
        let (runnable, task) = async_task::Builder::new().metadata(header).spawn_local(
            move |header: &TaskHeader| TaskFuture {
                header: NonNull::from(header),
                fail: None,
                fut: Some(future),
            },
            async_task::WithInfo(move |r, info: async_task::ScheduleInfo| {
                schedule_runnable(&remote, r, info.woken_while_running)
            }),
        );
        inner.tasks.borrow_mut().insert(TaskRef::new(&runnable));
        if options.eager
            && self.is_running()
            && with_running(|l| Rc::ptr_eq(l, inner)).unwrap_or(false)
        {
            runnable.run();
        } else {
            inner.ready.borrow_mut().push(Ready::Task(runnable));
        }
        Task {
            header: NonNull::from(task.metadata()),
            task: Some(task.fallible()),
            _not_send: PhantomData,
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
    for t in reg.slots.iter().flatten() {
        if t.header().state.get() & DONE == 0 {
            out.push(t.clone());
        }
    }
    out
}

/// A task that could not start: done at once with `error`.
fn spawn_failed<T: 'static>(
    error: Error,
    lp: Weak<LoopInner>,
    site: &'static Location<'static>,
) -> Task<T> {
    let header = TaskHeader::new(0, lp, site, None);
    let (runnable, task) = async_task::Builder::new().metadata(header).spawn_local(
        move |header: &TaskHeader| TaskFuture {
            header: NonNull::from(header),
            fail: Some(Box::new(error)),
            fut: None::<std::future::Pending<T>>,
        },
        // Never called: the task completes in the `run` below, and waking a
        // completed task schedules nothing.
        |_r: Runnable| {},
    );
    runnable.metadata().self_waker.set(Some(runnable.waker()));
    runnable.run();
    Task {
        header: NonNull::from(task.metadata()),
        task: Some(task.fallible()),
        _not_send: PhantomData,
    }
}

/// Spawns `future` on the running loop (asyncio's `asyncio.create_task`).
///
/// ```
/// use tulip_executor::spawn;
/// tulip_executor::run(async {
///     let task = spawn(async { 6 * 7 });
///     assert_eq!(task.await.unwrap(), 42);
/// })?;
/// # Ok::<(), tulip_executor::Error>(())
/// ```
///
/// # Panics
///
/// Outside a running loop (asyncio raises `RuntimeError: no running event
/// loop` at the call; tokio's `spawn` panics the same way): there is no
/// loop to run the task, which is a bug in the calling code, not a
/// condition to handle. Call it from inside [`run`](crate::run) or a task,
/// or use [`Loop::create_task`] on a loop handle, which works before the
/// loop runs.
///
/// ```should_panic
/// let _task = tulip_executor::spawn(async {}); // no running loop: panics here
/// ```
#[track_caller]
#[doc(alias = "spawn_local")]
pub fn spawn<F>(future: F) -> Task<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    match crate::get_running_loop() {
        Ok(lp) => lp.create_task(future),
        Err(_) => panic_no_running_loop(),
    }
}

/// The panic of [`spawn`] (and of the toolkit functions that spawn at the
/// call) outside a running loop, kept out of line.
#[cold]
#[track_caller]
fn panic_no_running_loop() -> ! {
    panic!(
        "tulip::spawn called outside a running event loop: call it from inside \
         tulip::run(..) or a task on the loop, or use Loop::create_task on a loop handle"
    )
}

/// The task whose future is being polled on this thread (asyncio's
/// `current_task`), `None` outside a task.
pub fn current_task() -> Option<TaskRef> {
    let header = CURRENT_TASK.with(Cell::get)?;
    // SAFETY: `CURRENT_TASK` is set only while that task's future is being
    // polled (and restored right after), so its allocation is alive.
    registered(unsafe { header.as_ref() })
}

/// The running loop's tasks that are not done (asyncio's `all_tasks`);
/// empty outside a running loop.
pub fn all_tasks() -> Vec<TaskRef> {
    crate::get_running_loop()
        .map(|lp| all_task_refs(&lp))
        .unwrap_or_default()
}

impl<T> Task<T> {
    task_methods!();

    /// Wakes the task through the registry's waker (no clone); a task no
    /// longer registered is done and needs no wake-up.
    fn wake(&self) {
        let h = self.h();
        if let Some(inner) = h.loop_inner() {
            if let Some(t) = inner.tasks.borrow().get(h) {
                t.waker.wake_by_ref();
            }
        }
    }

    fn h(&self) -> &TaskHeader {
        // SAFETY: the async-task handle in `self.task` keeps the task
        // allocation (with its metadata, the header) alive; it is released
        // only at the end of `drop`, after the last use of the header.
        unsafe { self.header.as_ref() }
    }

    /// A reference to this task: the registry's while it runs, else one made
    /// from the waker kept since completion.
    fn tref_clone(&self) -> Option<TaskRef> {
        let h = self.h();
        if let Some(t) = registered(h) {
            return Some(t);
        }
        let waker = h.self_waker.take()?;
        let t = TaskRef {
            waker: waker.clone(),
            header: NonNull::from(h),
            _not_send: PhantomData,
        };
        h.self_waker.set(Some(waker));
        Some(t)
    }

    /// An untyped reference to this task.
    pub fn task_ref(&self) -> TaskRef {
        match self.tref_clone() {
            Some(t) => t,
            None => unreachable!("a live task is registered; a finished one keeps its waker"),
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

    /// Marks the outcome as retrieved without taking it: a panic that ends
    /// the task later is not reported as "never retrieved" (for combinators
    /// that stop caring about a child, as asyncio's `gather` does, or
    /// `shield`). Nobody awaits the task any more either: a timeout that
    /// drops this handle detaches the task rather than cancelling it.
    pub(crate) fn mark_retrieved(&self) {
        let h = self.h();
        h.state.set((h.state.get() | RETRIEVED) & !AWAITED);
    }

    /// Cancels the task and drops this handle *without* detaching, so that
    /// the task's outcome is neither kept nor reported. async-task marks the
    /// task closed and schedules it: its future is dropped when the loop
    /// reaches it (a combinator that needs the future gone *now* keeps the
    /// future in a slot it can empty itself, as `TaskSet` does).
    pub(crate) fn abort(mut self) {
        let h = self.h();
        if h.state.get() & DONE == 0 {
            h.cancel_requests
                .set(h.cancel_requests.get().saturating_add(1));
            h.must_cancel.set(true);
        }
        // No handle is left: like a detached task, it must not keep a
        // waker of itself when it finishes (that would be a cycle keeping
        // its allocation alive).
        h.state.set(h.state.get() | RETRIEVED | DETACHED);
        let kept = h.self_waker.take();
        // Dropping async-task's handle (rather than detaching it) cancels
        // the task; `TaskFuture`'s drop finishes it as cancelled.
        drop(self.task.take());
        drop(kept);
    }
}

impl<T> Future for Task<T> {
    type Output = Result<T, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T, Error>> {
        let this = &mut *self;
        // SAFETY: as in `h`: the handle below keeps the header alive.
        let h = unsafe { this.header.as_ref() };
        let Some(task) = this.task.as_mut() else {
            return Poll::Ready(Err(Error::InvalidState("task outcome already taken")));
        };
        if h.state.get() & RETRIEVED != 0 {
            return Poll::Ready(Err(Error::InvalidState("task outcome already taken")));
        }
        if h.state.get() & CANCELLED != 0 {
            // Cancelled is the whole outcome, and a task finished in place
            // ([`finish_emptied`]) has it before async-task ran it again.
            h.state.set(h.state.get() | RETRIEVED);
            return Poll::Ready(Err(Error::Cancelled));
        }
        let out = match Pin::new(&mut *task).poll(cx) {
            Poll::Pending => {
                h.state.set(h.state.get() | AWAITED);
                return Poll::Pending;
            }
            Poll::Ready(Some(r)) => r,
            // The future was dropped without an outcome (loop closed).
            Poll::Ready(None) => Err(Error::Cancelled),
        };
        h.state.set(h.state.get() | RETRIEVED);
        Poll::Ready(out)
    }
}

impl<T> Drop for Task<T> {
    fn drop(&mut self) {
        if self.task.is_none() {
            return;
        }
        let h = self.h();
        if h.state.get() & (AWAITED | DONE) == AWAITED {
            let _ = CANCEL_AWAITED.try_with(|c| {
                if let Some(cancelled) = c.borrow_mut().as_mut() {
                    if let Some(t) = self.tref_clone() {
                        t.cancel();
                        cancelled.push(t);
                    }
                }
            });
        }
        h.state.set(h.state.get() | DETACHED);
        let s = h.state.get();
        if s & PANICKED != 0 && s & RETRIEVED == 0 {
            if let (Some(inner), Some(t)) = (h.loop_inner(), self.tref_clone()) {
                report_never_retrieved(&Loop::from_inner(inner), &t);
            }
        }
        // Release the waker kept since completion only after the handle is
        // gone: it may be what keeps the task allocation alive.
        let kept = h.self_waker.take();
        if let Some(task) = self.task.take() {
            task.detach();
        }
        drop(kept);
    }
}

impl TaskRef {
    task_methods!();

    fn wake(&self) {
        self.waker.wake_by_ref();
    }

    fn h(&self) -> &TaskHeader {
        self.header()
    }

    fn tref_clone(&self) -> Option<TaskRef> {
        Some(self.clone())
    }

    /// Whether `self` and `other` refer to the same task.
    pub fn same_task(&self, other: &TaskRef) -> bool {
        self.header == other.header
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
        describe(self.header(), f, "Task")
    }
}

impl<T> fmt::Debug for Task<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        describe(self.h(), f, "Task")
    }
}

pub(crate) fn callback_id(id: u64) -> CallbackId {
    CallbackId(id)
}
