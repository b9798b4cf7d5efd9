//! The await graph of a running loop (asyncio 3.14's
//! `asyncio.capture_call_graph`, `format_call_graph` and `print_call_graph`):
//! for a task, what it waits on and who awaits it, through tasks awaiting
//! tasks and the task toolkit ([`gather`](crate::gather), [`wait`](crate::wait),
//! [`wait_for_task`](crate::wait_for_task), [`shield`](crate::shield),
//! [`TaskGroup`](crate::TaskGroup), [`as_completed`](crate::as_completed)).
//!
//! # What is recorded, and when
//!
//! Nothing is walked while the program runs: each task carries 24 bytes
//! for the graph in its header, written only where a poll returns
//! `Pending` and read only when a graph (or a `tulip-ps` snapshot) is
//! taken.
//!
//! - **What a task waits on** ([`WaitingOn`], 16 bytes): one of tulip's
//!   own leaf futures returning `Pending` stores a pointer to a static
//!   [`WaitKind`] naming it (`"sleep"`, `"Queue.get"`, `"Lock.acquire"`,
//!   `"socket read"`, ...) and a small [`WaitDetail`] packed in a `u64` (a
//!   deadline, a descriptor, a pid, a task id, a count) into the task being
//!   polled: one thread-local read and one `Cell` store. The record is
//!   cleared when the task's next poll starts (one store per poll), so a
//!   task awaiting a foreign future (a channel of another crate) shows
//!   nothing rather than something stale. Your own leaf futures can say
//!   what they are with [`waiting_on`].
//! - **Who awaits a task** ([`AwaitVia`], 8 bytes: the awaiting task's id
//!   and the combinator): a [`Task`](crate::Task) handle polled to
//!   `Pending` from inside another task stores that task's id in the
//!   awaited task's header, and the combinator that polled it (gather,
//!   shield, ...) says which it is; a [`TaskGroup`](crate::TaskGroup) child
//!   is linked to the group's task when it is created, as asyncio links it.
//!   Dropping the handle (the awaiter gave up) removes the link.
//!
//! Capturing reads the loop's task registry once, builds the links, and
//! walks up (who awaits) and down (what is awaited) from the task; a task met
//! again on the same path is a cycle, reported and not followed.
//!
//! ```
//! use std::time::Duration;
//! use tulip::prelude::*;
//!
//! tulip::run(async {
//!     let worker = spawn(async { sleep(Duration::from_secs(3600)).await });
//!     let worker_id = worker.id();
//!     let waiter = spawn(async move { worker.await });
//!     yield_now().await; // let both start
//!     let graph = tulip::capture_call_graph(&waiter);
//!     // The waiter awaits the worker, which sleeps.
//!     let child = &graph.awaits[0];
//!     assert_eq!(child.task.id, worker_id);
//!     assert_eq!(child.task.waiting_on.unwrap().what, "sleep");
//!     println!("{graph}");
//!     waiter.cancel();
//! })?;
//! # Ok::<(), tulip::Error>(())
//! ```

mod capture;
mod format;
#[cfg(unix)]
pub(crate) mod ps;
mod record;

pub use capture::{CallGraph, TaskInfo, TaskState, capture_call_graph};
pub use format::{format_call_graph, print_call_graph};
#[cfg(unix)]
pub use ps::{PS_DIR_ENV, PS_ENV, ps_socket_dir};
pub use record::{AwaitVia, WaitDetail, WaitKind, WaitingOn, waiting_on};
pub(crate) use record::{
    RawWait, SLEEP, TASK, TASK_GROUP, WAIT, count, link_awaited, record_raw, task_id, unlink, until,
};
