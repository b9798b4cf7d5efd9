//! The tasks of one server: every connection's task and every task hyper
//! spawned for it (HTTP/2 streams), so that a graceful shutdown can tell
//! each connection to finish, wait for all of them, and cancel what is left
//! at the deadline.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::{Future, poll_fn};
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use tulip_executor::{Loop, Task};

/// The live tasks of a server.
#[derive(Default)]
pub(crate) struct Tracker {
    next_id: Cell<u64>,
    /// Every live task, by id (a task removes itself when its future is
    /// dropped, whether it finished or was cancelled).
    tasks: RefCell<HashMap<u64, Task<()>>>,
    /// The connections waiting to hear of a shutdown, by task id.
    listeners: RefCell<HashMap<u64, Waker>>,
    shutting_down: Cell<bool>,
    /// Who waits for the last task to end.
    idle: RefCell<Option<Waker>>,
}

/// Held by a tracked task's future: dropping it (the future ended or was
/// dropped) removes the task.
pub(crate) struct TaskGuard {
    tracker: Rc<Tracker>,
    id: u64,
    /// The waker last registered with the tracker (a copy of its entry), so
    /// that a poll by the same task skips the map: one comparison per poll.
    registered: RefCell<Option<Waker>>,
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        let t = &self.tracker;
        let task = t.tasks.borrow_mut().remove(&self.id);
        let listener = t.listeners.borrow_mut().remove(&self.id);
        let idle = if t.tasks.borrow().is_empty() {
            t.idle.borrow_mut().take()
        } else {
            None
        };
        // Destructors and wake-ups after the borrows end.
        drop(task);
        drop(listener);
        if let Some(w) = idle {
            w.wake();
        }
    }
}

impl TaskGuard {
    /// Whether the server is shutting down; if not, `cx`'s task is woken
    /// when it starts to.
    pub(crate) fn poll_shutdown(&self, cx: &mut Context<'_>) -> bool {
        if self.tracker.shutting_down.get() {
            return true;
        }
        let mut registered = self.registered.borrow_mut();
        if registered.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            return false;
        }
        let old = self
            .tracker
            .listeners
            .borrow_mut()
            .insert(self.id, cx.waker().clone());
        let mine = registered.replace(cx.waker().clone());
        drop(registered);
        drop(old);
        drop(mine);
        false
    }
}

impl Tracker {
    /// Spawns `make(guard)` on `lp` as a tracked task.
    pub(crate) fn spawn<F>(self: &Rc<Self>, lp: &Loop, make: impl FnOnce(TaskGuard) -> F)
    where
        F: Future<Output = ()> + 'static,
    {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        let guard = TaskGuard {
            tracker: self.clone(),
            id,
            registered: RefCell::new(None),
        };
        // Not eager: the task first runs on a later pass, after the handle
        // is in the map (so its guard always finds it there).
        let task = lp.create_task(make(guard));
        if !task.done() {
            self.tasks.borrow_mut().insert(id, task);
        }
    }

    /// Tells every connection to shut down gracefully.
    pub(crate) fn start_shutdown(&self) {
        self.shutting_down.set(true);
        let wakers: Vec<Waker> = self
            .listeners
            .borrow_mut()
            .drain()
            .map(|(_, w)| w)
            .collect();
        for w in wakers {
            w.wake();
        }
    }

    /// How many tasks are live.
    pub(crate) fn len(&self) -> usize {
        self.tasks.borrow().len()
    }

    /// Cancels every live task: each future is dropped (closing its
    /// connection) when the loop next runs it.
    pub(crate) fn cancel_all(&self) {
        // `cancel` only flags the task and wakes it: nothing runs (and
        // nothing reaches the map) before the loop polls it again.
        for t in self.tasks.borrow().values() {
            t.cancel();
        }
    }

    /// Waits until no task is live.
    pub(crate) async fn idle(&self) {
        poll_fn(|cx| {
            if self.tasks.borrow().is_empty() {
                Poll::Ready(())
            } else {
                let old = self.idle.borrow_mut().replace(cx.waker().clone());
                drop(old);
                Poll::Pending
            }
        })
        .await
    }
}
