//! A task's header and the loop's registry of tasks: the state every task
//! carries in its async-task allocation ([`TaskHeader`]: the state bits,
//! the cancellation counters, the loop, the lazily allocated name, done
//! callbacks and panic), the untyped [`TaskRef`] that points at it, the
//! slab behind `all_tasks()`, and the thread-locals that know which task
//! is being polled.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::panic::Location;
use std::ptr::NonNull;
use std::rc::{Rc, Weak};
use std::task::Waker;
use std::thread::ThreadId;

use crate::context::Context;
use crate::error::PanicError;
use crate::event_loop::base_events::{Loop, LoopInner};

pub(super) const DONE: u8 = 1;
pub(super) const CANCELLED: u8 = 2;
pub(super) const PANICKED: u8 = 4;
pub(super) const RETRIEVED: u8 = 8;
pub(super) const DETACHED: u8 = 16;
/// The handle's last poll returned `Pending`: someone is awaiting the task.
pub(super) const AWAITED: u8 = 32;

pub(super) type DoneCallback = Box<dyn FnOnce(&TaskRef)>;

/// A task's runnable: async-task's, with the [`TaskHeader`] as its metadata.
pub(crate) type Runnable = async_task::Runnable<TaskHeader>;

/// What every task carries, stored as async-task's metadata in the task's
/// one allocation (no second allocation per task). Small: the rarely used
/// parts live in a lazily allocated [`TaskExtra`].
///
/// Everything here is touched only on the loop's thread, through handles
/// that are `!Send` ([`Task`](crate::Task), [`TaskRef`]) or from the task's own poll.
/// The one exception is the drop: the task allocation (and this header) is
/// freed by whoever drops the last reference, which can be a waker on
/// another thread after the task completed. The `Drop` impl handles that.
pub(crate) struct TaskHeader {
    pub(super) id: u64,
    pub(super) state: Cell<u8>,
    pub(super) must_cancel: Cell<bool>,
    pub(super) cancel_requests: Cell<u32>,
    pub(super) slot: Cell<usize>,
    pub(super) lp: ManuallyDrop<Weak<LoopInner>>,
    pub(super) owner: ThreadId,
    pub(super) site: &'static Location<'static>,
    pub(super) extra: ManuallyDrop<RefCell<Option<Box<TaskExtra>>>>,
    /// A waker of this very task, kept from completion until the [`Task`](crate::Task)
    /// handle is dropped, so that the handle can still give out
    /// [`TaskRef`]s of a finished task. (Before completion the registry
    /// holds one.) The `Task` handle's drop takes it, ending the cycle.
    pub(super) self_waker: Cell<Option<Waker>>,
    // ---- The await graph (issue 17; see `crate::graph`) ----------------
    // Written only where a poll returns `Pending` (a leaf future's
    // `graph::waiting_on`, a `Task` handle's poll, a combinator), cleared
    // when the task's next poll starts (`waiting`); read only when a graph
    // or a `tulip-ps` snapshot is taken. Accessors: `task/graph_hooks.rs`.
    /// What the task's last poll stopped at, if a leaf future said
    /// (16 bytes: a `&'static WaitKind` and a packed detail).
    pub(crate) waiting: Cell<Option<crate::graph::RawWait>>,
    /// The task awaiting this one and through what, packed in 8 bytes
    /// (`AwaitVia::pack`; 0: none).
    pub(crate) awaited_by: Cell<u64>,
    // ---- end of the await graph block ----------------------------------
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
pub(super) struct TaskExtra {
    pub(super) name: Option<String>,
    pub(super) done_callbacks: Vec<(u64, DoneCallback)>,
    pub(super) next_callback_id: u64,
    pub(super) panic: Option<PanicError>,
    // --- contextvars (issue 17, context) ---
    /// The context the task runs in, current while it is polled (see
    /// `TaskHeader::run_in_context`). A task whose context is empty (every
    /// task, until a variable is set) has none here and allocates nothing.
    pub(super) context: Context,
    // --- end contextvars ---
}

impl TaskHeader {
    pub(super) fn new(
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
            waiting: Cell::new(None),
            awaited_by: Cell::new(0),
            extra: ManuallyDrop::new(RefCell::new(name.map(|name| {
                Box::new(TaskExtra {
                    name: Some(name),
                    ..TaskExtra::default()
                })
            }))),
        }
    }

    pub(super) fn with_extra<R>(&self, f: impl FnOnce(&mut TaskExtra) -> R) -> R {
        let mut extra = self.extra.borrow_mut();
        f(extra.get_or_insert_with(Box::default))
    }

    pub(super) fn name(&self) -> String {
        let extra = self.extra.borrow();
        match extra.as_ref().and_then(|e| e.name.clone()) {
            Some(name) => name,
            None => format!("Task-{}", self.id),
        }
    }

    pub(super) fn panic(&self) -> Option<PanicError> {
        self.extra.borrow().as_ref().and_then(|e| e.panic.clone())
    }

    pub(super) fn take_done_callbacks(&self) -> Vec<(u64, DoneCallback)> {
        match self.extra.borrow_mut().as_mut() {
            Some(e) => std::mem::take(&mut e.done_callbacks),
            None => Vec::new(),
        }
    }

    pub(super) fn loop_inner(&self) -> Option<Rc<LoopInner>> {
        self.lp.upgrade()
    }
}

// --- contextvars (issue 17, context): the task's context ---
impl TaskHeader {
    /// Sets the task's context at its creation (allocating the task's
    /// extra part only for a context that is not blank).
    #[inline]
    pub(super) fn set_context(&self, context: Context) {
        if !context.is_blank() {
            self.with_extra(|e| e.context = context);
        }
    }

    /// The task's context, identity included, for entering it.
    fn shared_context(&self) -> Context {
        let extra = self.extra.borrow();
        extra
            .as_ref()
            .map(|e| e.context.share())
            .unwrap_or_default()
    }

    /// Stores what the task's context is after a poll.
    fn store_context(&self, after: Context) {
        let mut extra = self.extra.borrow_mut();
        let before = match extra.as_mut() {
            Some(e) => std::mem::replace(&mut e.context, after),
            None if after.is_blank() => return,
            None => {
                *extra = Some(Box::new(TaskExtra {
                    context: after,
                    ..TaskExtra::default()
                }));
                return;
            }
        };
        drop(extra);
        // Values' destructors may look at the task: dropped unborrowed.
        drop(before);
    }

    /// Runs `f` (a poll, a drop of the future) with the task's context as
    /// the thread's current one; the task keeps what `f` sets. The task
    /// keeps an identical copy meanwhile, for `get_context` from another
    /// task. Before any variable was set, nothing is swapped.
    #[inline]
    pub(super) fn run_in_context<R>(&self, f: impl FnOnce() -> R) -> R {
        crate::context::run_fast_or_in(
            || self.shared_context(),
            |after| self.store_context(after),
            f,
        )
    }

    /// Makes the task's context the thread's current one for a poll;
    /// returns the one it replaced, for [`leave_context`](Self::leave_context).
    /// The task keeps an identical copy meanwhile, for `get_context` from
    /// another task.
    #[inline(never)]
    pub(super) fn enter_context(&self) -> Context {
        crate::context::swap_current(self.shared_context())
    }

    /// Ends a poll: the task keeps what it set, the thread gets `previous` back.
    #[inline(never)]
    pub(super) fn leave_context(&self, previous: Context) {
        self.store_context(crate::context::swap_current(previous));
    }

    /// The poll that set the process's first variable ran without its
    /// (then empty) context swapped in: what it set is in the thread's
    /// current context, and becomes the task's.
    #[cold]
    pub(super) fn adopt_first_set(&self) {
        self.store_context(crate::context::swap_current(Context::new()));
    }

    /// A copy of the task's context (`Task::get_context`): the thread's
    /// current one if the task is the one being polled.
    pub(super) fn context_copy(&self) -> Context {
        let polled = CURRENT_TASK.with(Cell::get);
        if polled.is_some_and(|p| std::ptr::eq(p.as_ptr(), self)) {
            return Context::current();
        }
        self.shared_context().copy()
    }
}
// --- end contextvars ---

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
    pub(super) fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub(super) fn insert(&mut self, task: TaskRef) {
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

    pub(super) fn get(&self, header: &TaskHeader) -> Option<&TaskRef> {
        let slot = self.slots.get(header.slot.get())?.as_ref()?;
        std::ptr::eq(slot.header(), header).then_some(slot)
    }

    pub(super) fn remove(&mut self, header: &TaskHeader) -> Option<TaskRef> {
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
    pub(super) static CURRENT_TASK: Cell<Option<NonNull<TaskHeader>>> = const { Cell::new(None) };
    pub(super) static TRACK_POLLS: Cell<bool> = const { Cell::new(false) };
    /// Set while a timeout drops the future it timed out
    /// ([`drop_cancelling_awaited`]): awaited tasks whose handles are
    /// dropped meanwhile are cancelled and collected here.
    pub(super) static CANCEL_AWAITED: RefCell<Option<Vec<TaskRef>>> = const { RefCell::new(None) };
    pub(super) static LAST_POLLED: RefCell<Option<TaskRef>> = const { RefCell::new(None) };
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
pub(super) fn registered(header: &TaskHeader) -> Option<TaskRef> {
    header.loop_inner()?.tasks.borrow().get(header).cloned()
}

/// An untyped reference to a task, for inspection and cancellation
/// (what [`current_task`](crate::current_task) and [`all_tasks`](crate::all_tasks) return).
///
/// ```
/// use tulip::prelude::*;
///
/// tulip::run(async {
///     let _a = spawn(async { 1 });
///     let _b = spawn(async { "two" });
///     // Tasks of different output types, one type of reference.
///     let names: Vec<String> = all_tasks().iter().map(TaskRef::get_name).collect();
///     assert_eq!(names.len(), 3);
/// })?;
/// # Ok::<(), tulip::Error>(())
/// ```
#[derive(Clone)]
pub struct TaskRef {
    /// A waker of the task: it keeps the task's allocation (and so its
    /// header) alive, and wakes the task for `cancel()`.
    pub(super) waker: Waker,
    pub(super) header: NonNull<TaskHeader>,
    /// `!Send` and `!Sync`: the header is the loop thread's.
    pub(super) _not_send: PhantomData<Rc<()>>,
}

impl TaskRef {
    pub(super) fn new(runnable: &Runnable) -> TaskRef {
        TaskRef {
            waker: runnable.waker(),
            header: NonNull::from(runnable.metadata()),
            _not_send: PhantomData,
        }
    }

    pub(super) fn header(&self) -> &TaskHeader {
        // SAFETY: `header` points at the metadata of the task `waker`
        // belongs to; a waker keeps the task allocation, metadata included,
        // alive, and the metadata never moves.
        unsafe { self.header.as_ref() }
    }
}

/// Identifies a done callback, for [`Task::remove_done_callback`](crate::Task::remove_done_callback).
///
/// ```
/// tulip::run(async {
///     let task = tulip::spawn(async {});
///     let id: tulip::CallbackId = task.add_done_callback(|_| ());
///     assert!(task.remove_done_callback(id));
/// })?;
/// # Ok::<(), tulip::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CallbackId(pub(super) u64);

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
    ///
    /// ```
    /// tulip::run(async {
    ///     let a = tulip::spawn(async {});
    ///     let b = tulip::spawn(async {});
    ///     assert!(a.task_ref().same_task(&a.task_ref()));
    ///     assert!(!a.task_ref().same_task(&b.task_ref()));
    /// })?;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn same_task(&self, other: &TaskRef) -> bool {
        self.header == other.header
    }
}

pub(super) fn describe(h: &TaskHeader, f: &mut fmt::Formatter<'_>, kind: &str) -> fmt::Result {
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

pub(crate) fn callback_id(id: u64) -> CallbackId {
    CallbackId(id)
}
