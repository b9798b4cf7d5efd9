//! The engine behind `gather` and `as_completed`: a set of tasks, each
//! polled with a waker of its own, so that a wake-up re-polls only the
//! task that completed (no quadratic cost over many children).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use crate::task::Task;

/// Indices woken since the last poll, and the waker of whoever polls the set.
struct Shared {
    woken: Mutex<Vec<usize>>,
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
            lock(&self.shared.woken).push(self.index);
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
/// completion order. Dropping the set cancels the tasks still pending,
/// unless [`detach`](TaskSet::detach) was called.
pub(crate) struct TaskSet<T> {
    tasks: Vec<Option<Task<T>>>,
    wakers: Vec<Arc<ChildWaker>>,
    shared: Arc<Shared>,
    pending: usize,
    detached: bool,
}

impl<T> TaskSet<T> {
    pub(crate) fn new(tasks: Vec<Task<T>>) -> TaskSet<T> {
        let n = tasks.len();
        let shared = Arc::new(Shared {
            // Every task is polled once at first.
            woken: Mutex::new((0..n).rev().collect()),
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
        }
    }

    /// How many tasks have not been reported yet.
    pub(crate) fn pending(&self) -> usize {
        self.pending
    }

    /// Lets the pending tasks run on when the set is dropped.
    pub(crate) fn detach(&mut self) {
        self.detached = true;
    }

    /// Cancels every task still pending.
    pub(crate) fn cancel_all(&self) {
        for t in self.tasks.iter().flatten() {
            t.cancel();
        }
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
            let Some(index) = lock(&self.shared.woken).pop() else {
                return Poll::Pending;
            };
            let child = &self.wakers[index];
            child.queued.store(false, Ordering::Release);
            let Some(task) = self.tasks[index].as_mut() else {
                continue;
            };
            let waker = Waker::from(child.clone());
            let mut ccx = Context::from_waker(&waker);
            if let Poll::Ready(out) = std::pin::Pin::new(task).poll(&mut ccx) {
                self.tasks[index] = None;
                self.pending -= 1;
                return Poll::Ready(Some((index, out)));
            }
        }
    }
}

impl<T> Drop for TaskSet<T> {
    fn drop(&mut self) {
        if !self.detached {
            self.cancel_all();
        }
    }
}
