//! The engine behind `gather` and `as_completed`: a set of tasks, each
//! polled with a waker of its own, so that a wake-up re-polls only the
//! task that completed (no quadratic cost over many children).
//!
//! Children woken in the same pass are reported in the order they were
//! woken (a FIFO), so `as_completed` yields them in completion order and a
//! fail-fast `gather` returns the first failure of the pass.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use crate::error::{Error, PanicError};
use crate::event_loop::exception_handler::ExceptionContext;
use crate::graph::{AwaitVia, WaitKind, count, record_raw};
use crate::task::{Task, finish_emptied, spawn};

/// A child's future in a cell of its own, shared by its task and by the
/// [`TaskSet`] that owns it, so that the set can drop the future at once
/// (aborting the task cannot: async-task drops a closed task's future only
/// when the loop runs it once more). One allocation per child: the cell
/// holds the future itself, not a box of it.
pub(crate) trait ChildSlot<T>: EmptySlot {
    /// Polls the future; `Pending` once the slot was emptied (the task is
    /// aborted and will not be polled again). A finished future is dropped.
    fn poll_child(&self, cx: &mut Context<'_>) -> Poll<T>;
}

/// The output-free side of a [`ChildSlot`], for owners of children of
/// different types (a task group).
pub(crate) trait EmptySlot {
    /// Drops the future now, in place; false if it is being polled right
    /// now (the owner is dropped from inside that very child).
    fn empty(&self) -> bool;
}

struct SlotCell<F> {
    fut: RefCell<Option<F>>,
}

impl<F: Future> ChildSlot<F::Output> for SlotCell<F> {
    fn poll_child(&self, cx: &mut Context<'_>) -> Poll<F::Output> {
        let Ok(mut guard) = self.fut.try_borrow_mut() else {
            return Poll::Pending;
        };
        // SAFETY: the future lives in this cell, inside an `Rc` allocation
        // that never moves its contents, and it leaves the cell only by
        // being dropped in place (`set(None)` here and in `empty`), never by
        // being moved out: it stays pinned from its first poll to its drop.
        let mut pinned = unsafe { Pin::new_unchecked(&mut *guard) };
        let Some(fut) = pinned.as_mut().as_pin_mut() else {
            return Poll::Pending;
        };
        let out = fut.poll(cx);
        if out.is_ready() {
            pinned.set(None);
        }
        out
    }
}

impl<F: Future> EmptySlot for SlotCell<F> {
    fn empty(&self) -> bool {
        let Ok(mut guard) = self.fut.try_borrow_mut() else {
            return false;
        };
        // SAFETY: as in `poll_child`: dropped in place, never moved.
        unsafe { Pin::new_unchecked(&mut *guard) }.set(None);
        true
    }
}

/// The task future of a [`TaskSet`] child: polls the future in its slot.
struct Slotted<T> {
    slot: Rc<dyn ChildSlot<T>>,
}

impl<T> Future for Slotted<T> {
    type Output = T;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        self.slot.poll_child(cx)
    }
}

/// Puts `fut` in a new slot.
pub(crate) fn new_slot<F>(fut: F) -> Rc<dyn ChildSlot<F::Output>>
where
    F: Future + 'static,
{
    Rc::new(SlotCell {
        fut: RefCell::new(Some(fut)),
    })
}

/// Spawns `fut` as a child of a [`TaskSet`].
#[track_caller]
pub(crate) fn spawn_child<F>(fut: F) -> Child<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let slot = new_slot(fut);
    let task = spawn(Slotted { slot: slot.clone() });
    Child { task, slot }
}

/// Spawns each of `futures` as a child of a [`TaskSet`], in order, each
/// created at the caller's site (a loop, not a closure, keeps it).
#[track_caller]
pub(crate) fn spawn_children<F>(futures: impl IntoIterator<Item = F>) -> Vec<Child<F::Output>>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let mut children = Vec::new();
    for f in futures {
        children.push(spawn_child(f));
    }
    children
}

/// A child of a [`TaskSet`]: its task and the slot of its future. Public
/// only to appear in the (sealed) gather input traits; it cannot be named
/// or built outside the crate.
pub struct Child<T> {
    task: Task<T>,
    slot: Rc<dyn ChildSlot<T>>,
}

/// Empties a child's slot, reporting a panicking destructor to the running
/// loop's exception handler, and then finishes the child's task in place
/// ([`finish_emptied`]): it is done when this returns. A child whose poll is
/// on the stack (its slot is busy) ends when that poll returns instead.
pub(crate) fn empty_slot(slot: &dyn EmptySlot, task: crate::TaskRef) {
    let emptied = match catch_unwind(AssertUnwindSafe(|| slot.empty())) {
        Ok(emptied) => emptied,
        Err(payload) => {
            let ctx = ExceptionContext::new("panic while dropping a task's future")
                .with_error(Error::Panicked(PanicError::new(payload)))
                .with_task(task.clone());
            if let Ok(lp) = crate::get_running_loop() {
                lp.call_exception_handler(&ctx);
            }
            true
        }
    };
    if emptied {
        finish_emptied(&task);
    }
}

/// What a task polling a set waits on.
static GATHER: WaitKind = WaitKind::new("gather");
pub(crate) static AS_COMPLETED: WaitKind = WaitKind::new("as_completed");

/// Indices woken since the last poll (oldest first), and the waker of
/// whoever polls the set.
struct Shared {
    woken: Mutex<VecDeque<usize>>,
    parent: Mutex<Option<Waker>>,
}

struct ChildWaker {
    index: usize,
    queued: AtomicBool,
    shared: Arc<Shared>,
}

impl Wake for ChildWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            lock(&self.shared.woken).push_back(self.index);
            if let Some(w) = lock(&self.shared.parent).as_ref() {
                w.wake_by_ref();
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Tasks polled each with its own waker; yields `(index, outcome)` in
/// completion order. Dropping the set drops the futures of the children
/// still pending right there and finishes their tasks as cancelled (their
/// destructors have run and they are done when the drop returns); unless
/// [`detach`](TaskSet::detach) was called: then they run on, their
/// outcomes marked retrieved (a later panic is not reported).
pub(crate) struct TaskSet<T> {
    tasks: Vec<Option<Child<T>>>,
    wakers: Vec<Arc<ChildWaker>>,
    shared: Arc<Shared>,
    pending: usize,
    detached: bool,
    /// How the task polling the set awaits the children (the await graph).
    via: AwaitVia,
    /// What that task waits on meanwhile.
    kind: &'static WaitKind,
}

impl<T> TaskSet<T> {
    pub(crate) fn new(tasks: Vec<Child<T>>, via: AwaitVia) -> TaskSet<T> {
        let n = tasks.len();
        let shared = Arc::new(Shared {
            // Every task is polled once at first, in input order.
            woken: Mutex::new((0..n).collect()),
            parent: Mutex::new(None),
        });
        let wakers = (0..n)
            .map(|index| {
                Arc::new(ChildWaker {
                    index,
                    queued: AtomicBool::new(true),
                    shared: shared.clone(),
                })
            })
            .collect();
        TaskSet {
            tasks: tasks.into_iter().map(Some).collect(),
            wakers,
            shared,
            pending: n,
            detached: false,
            via,
            kind: match via {
                AwaitVia::AsCompleted => &AS_COMPLETED,
                _ => &GATHER,
            },
        }
    }

    /// How many tasks have not been reported yet.
    pub(crate) fn pending(&self) -> usize {
        self.pending
    }

    /// Lets the pending tasks run on when the set is dropped (asyncio's
    /// gather after its first failure): nobody will read their outcomes,
    /// so they are marked retrieved.
    pub(crate) fn detach(&mut self) {
        self.detached = true;
    }

    /// The next task to complete, `None` when all were reported.
    pub(crate) fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<(usize, Result<T, crate::Error>)>> {
        if self.pending == 0 {
            return Poll::Ready(None);
        }
        {
            let mut parent = lock(&self.shared.parent);
            match parent.as_ref() {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => *parent = Some(cx.waker().clone()),
            }
        }
        loop {
            let Some(index) = lock(&self.shared.woken).pop_front() else {
                record_raw(self.kind, count(self.pending));
                return Poll::Pending;
            };
            let child = &self.wakers[index];
            child.queued.store(false, Ordering::Release);
            let Some(c) = self.tasks[index].as_mut() else {
                continue;
            };
            let waker = Waker::from(child.clone());
            let mut ccx = Context::from_waker(&waker);
            if let Poll::Ready(out) = Pin::new(&mut c.task).poll(&mut ccx) {
                self.tasks[index] = None;
                self.pending -= 1;
                return Poll::Ready(Some((index, out)));
            }
            c.task.note_awaited_via(self.via);
        }
    }
}

impl<T> Drop for TaskSet<T> {
    fn drop(&mut self) {
        // Taken out first: a child's destructors run inside this loop (in
        // `empty_slot`), and must not find the set half torn down.
        let tasks = std::mem::take(&mut self.tasks);
        for Child { task, slot } in tasks.into_iter().flatten() {
            if self.detached {
                task.mark_retrieved();
                task.detach();
            } else {
                let tref = task.task_ref();
                task.abort();
                empty_slot(&*slot as &dyn EmptySlot, tref);
            }
        }
    }
}
