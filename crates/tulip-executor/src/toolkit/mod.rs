//! The task toolkit, asyncio's `tasks`, `timeouts` and `taskgroups`
//! functions built on tasks: [`gather`](crate::gather) and
//! [`as_completed`](crate::as_completed) over a shared set of child tasks
//! (`task_set`), [`wait`](crate::wait), [`wait_for`](crate::wait_for) and
//! [`timeout`](crate::timeout), [`shield`](crate::shield),
//! [`task_group`](crate::task_group), and the bridges between threads
//! ([`ensure_future`](crate::ensure_future),
//! [`run_coroutine_threadsafe`](crate::run_coroutine_threadsafe)).
//!
//! Everything here uses the loop and tasks only through their crate-wide
//! API; nothing in the loop or the task module imports the toolkit.

pub(crate) mod as_completed;
pub(crate) mod gather;
pub(crate) mod shield;
pub(crate) mod task_set;
pub(crate) mod taskgroups;
pub(crate) mod threadsafe;
pub(crate) mod timeouts;
pub(crate) mod wait;
