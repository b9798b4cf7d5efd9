//! The task side of the await graph: the few accessors of the header's
//! await-graph block (see [`crate::graph`]) that the graph module, the
//! task handles and the toolkit use. Everything here is a `Cell` load or
//! store on the loop's thread.

use std::cell::Cell;

use super::header::{CURRENT_TASK, TaskHeader, TaskRef};
use crate::graph::{AwaitVia, RawWait, TASK, task_id};

/// Runs `f` with the header of the task being polled on this thread, if any.
#[inline]
pub(crate) fn with_current_header(f: impl FnOnce(&TaskHeader)) {
    if let Some(h) = CURRENT_TASK.with(Cell::get) {
        // SAFETY: `CURRENT_TASK` is set by the task's own poll (the harness)
        // to its header, and reset before that poll returns; the header
        // lives in the task allocation, which outlives its polls.
        f(unsafe { h.as_ref() });
    }
}

/// The id of the task being polled on this thread, if any.
pub(crate) fn current_task_id() -> Option<u64> {
    let mut id = None;
    with_current_header(|h| id = Some(h.id));
    id
}

#[inline]
pub(crate) fn set_waiting(h: &TaskHeader, w: RawWait) {
    h.waiting.set(Some(w));
}

/// Forgets what the task waited on (its next poll starts).
#[inline]
pub(crate) fn clear_waiting(h: &TaskHeader) {
    h.waiting.set(None);
}

pub(crate) fn waiting(t: &TaskRef) -> Option<RawWait> {
    t.header().waiting.get()
}

/// The id of the task awaiting `t` (0: none), and how.
pub(crate) fn awaited_by(t: &TaskRef) -> (u64, AwaitVia) {
    AwaitVia::unpack(t.header().awaited_by.get())
}

pub(crate) fn set_awaited_by(t: &TaskRef, parent: u64, via: AwaitVia) {
    t.header().awaited_by.set(via.pack(parent));
}

pub(crate) fn clear_awaited_by_if(t: &TaskRef, parent: u64) {
    let h = t.header();
    if AwaitVia::unpack(h.awaited_by.get()).0 == parent {
        h.awaited_by.set(0);
    }
}

/// A [`Task`](crate::Task) handle's poll returned `Pending`: the task
/// being polled awaits it (and waits on it, unless a combinator around the
/// handle says more afterwards).
#[inline]
pub(crate) fn note_task_await(awaited: &TaskHeader) {
    with_current_header(|cur| {
        if std::ptr::eq(cur, awaited) {
            return;
        }
        // A link to this very task is kept as it is (a task group's, or a
        // combinator's): it says more than `Await`.
        if AwaitVia::unpack(awaited.awaited_by.get()).0 != cur.id {
            awaited.awaited_by.set(AwaitVia::Await.pack(cur.id));
        }
        cur.waiting.set(Some(RawWait {
            kind: &TASK,
            detail: task_id(awaited.id),
        }));
    });
}

/// After a combinator polled `child`'s handle to `Pending`: the link the
/// handle's poll made is through `via`.
#[inline]
pub(crate) fn note_via(child: &TaskHeader, via: AwaitVia) {
    let (parent, _) = AwaitVia::unpack(child.awaited_by.get());
    if parent != 0 {
        child.awaited_by.set(via.pack(parent));
    }
}

/// A task handle is dropped: whoever awaited through it gives up, unless
/// the link is a task group's (the group still waits for its child).
pub(crate) fn note_handle_dropped(h: &TaskHeader) {
    let (parent, via) = AwaitVia::unpack(h.awaited_by.get());
    if parent != 0 && via != AwaitVia::TaskGroup {
        h.awaited_by.set(0);
    }
}
