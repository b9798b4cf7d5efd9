//! Tasks: asyncio's `Task` on async-task. A task owns a future and is polled
//! by the loop; [`Task<T>`] is the typed handle that awaits its outcome and
//! [`TaskRef`] the untyped one that `current_task()` and `all_tasks()` give.
//!
//! Cancellation follows asyncio's counting rules: [`Task::cancel`] asks
//! (incrementing [`cancelling`](Task::cancelling)), [`Task::uncancel`] takes a
//! request back, and if a request is still standing at the task's next poll,
//! its future is dropped there — destructors are Rust's `finally` — and the
//! task completes as [`Error::Cancelled`](crate::Error::Cancelled). A task cancelled before its first
//! poll never runs. A task that cancels itself is dropped as soon as its
//! current poll returns `Pending`, which is asyncio's "at the next await".
//!
//! A panic inside a task is caught and becomes its outcome
//! ([`Error::Panicked`](crate::Error::Panicked)). A panicked task whose outcome nobody takes is
//! reported to the loop's exception handler ("Task exception was never
//! retrieved"), as asyncio does.
//!
//! Dropping a [`Task`](crate::Task) detaches it: the task keeps running to completion
//! (unless a timeout drops it while awaiting it: see [`Task`](crate::Task)).
//!
//! The module follows tokio's `runtime/task/`: `header` is what every task
//! carries (its state bits and cancellation counters) and the loop's
//! registry of tasks, with [`TaskRef`]; `harness` is the future async-task
//! polls (where a standing cancellation request drops the user's future,
//! where a panic is caught, and what finishing does); `join` is the typed
//! [`Task`](crate::Task) handle; `spawn` creates tasks; `methods` is the inspection and
//! cancellation API the two handles share.

// The inspection and cancellation methods that `Task` and `TaskRef` share.
#[macro_use]
mod methods;
pub(crate) mod graph_hooks;
mod harness;
pub(crate) mod header;
mod join;
mod spawn;
#[cfg(feature = "tracing")]
mod trace;

pub(crate) use harness::{drop_cancelling_awaited, finish_emptied};
pub(crate) use header::callback_id;
pub use header::{CallbackId, TaskRef};
pub use join::Task;
pub use spawn::{TaskOptions, all_tasks, current_task, spawn};
