//! The future async-task runs for a task ([`TaskFuture`]): the user's
//! future plus cancellation at the next poll, panic capture and
//! `current_task` bookkeeping, and what finishing a task does (unregister
//! it, schedule its done callbacks, report a panic nobody retrieved).

use std::cell::Cell;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use super::header::{
    CANCEL_AWAITED, CANCELLED, CURRENT_TASK, DETACHED, DONE, LAST_POLLED, PANICKED, RETRIEVED,
    TRACK_POLLS, TaskHeader, TaskRef, registered,
};
use crate::error::{Error, PanicError};
use crate::event_loop::base_events::Loop;
use crate::event_loop::exception_handler::ExceptionContext;

pin_project! {
    /// The future async-task runs: the user's future plus cancellation,
    /// panic capture and `current_task` bookkeeping.
    pub(super) struct TaskFuture<F> {
        // The task's own header: async-task's metadata, in the same
        // allocation as this future.
        pub(super) header: NonNull<TaskHeader>,
        // Set for a task that could not start (closed loop, no loop): it
        // completes with this error at its only poll.
        pub(super) fail: Option<Box<Error>>,
        #[pin]
        pub(super) fut: Option<F>,
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
        super::graph_hooks::clear_waiting(header);
        let previous = CURRENT_TASK.with(|c| c.replace(Some(*this.header)));
        // contextvars: the task's context is current during its poll
        // (nothing to swap before the first variable is set).
        let res = if crate::context::in_use() {
            let previous = header.enter_context();
            let res = catch_unwind(AssertUnwindSafe(|| {
                this.fut.as_mut().as_pin_mut().map(|f| f.poll(cx))
            }));
            header.leave_context(previous);
            res
        } else {
            let res = catch_unwind(AssertUnwindSafe(|| {
                this.fut.as_mut().as_pin_mut().map(|f| f.poll(cx))
            }));
            if crate::context::in_use() {
                header.adopt_first_set();
            }
            res
        };
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
    // contextvars: destructors run in the task's context too.
    let dropped = header.run_in_context(|| {
        catch_unwind(AssertUnwindSafe(|| {
            let mut fut = fut;
            fut.set(None);
        }))
    });
    if let Err(payload) = dropped {
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
/// [`Task`](crate::Task) handle dropped inside it while being awaited cancels its task
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
/// [`all_tasks`](crate::all_tasks), and its done callbacks are scheduled before this returns,
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

pub(super) fn report_never_retrieved(lp: &Loop, task: &TaskRef) {
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
