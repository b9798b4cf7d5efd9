//! The event loop, asyncio's `base_events` and `events` modules: the
//! [`Loop`](crate::Loop) handle and one pass of the loop (`base_events`),
//! the [`EventLoop`](crate::EventLoop) that owns and runs a loop and the
//! per-thread current loop (`events`), callback handles (`handle`), the
//! timer heap (`timers`) and its clock (`clock`), the handle other threads
//! use (`remote`), blocking work on the thread pool (`run_in_executor`),
//! debug mode (`debug`), the exception handler (`exception_handler`),
//! UNIX signal handlers (`signals`), the hook around the reactor wait
//! (`wait_hook`) and the ready queue's mark for batching embedders
//! (`ready_mark`).
//!
//! The directory is `event_loop`, asyncio's own word for it: `loop` is a
//! Rust keyword (every path would need `r#loop`).

pub(crate) mod base_events;
pub(crate) mod clock;
pub(crate) mod completion;
pub(crate) mod debug;
pub(crate) mod events;
pub(crate) mod exception_handler;
pub(crate) mod handle;
pub(crate) mod ready_mark;
pub(crate) mod remote;
pub(crate) mod run_in_executor;
#[cfg(unix)]
pub(crate) mod signals;
pub(crate) mod timers;
pub(crate) mod wait_hook;
