//! Context variables: asyncio's `contextvars`, and the task factory
//! (asyncio's `loop.set_task_factory`), the two hooks asyncio gives into
//! how tasks are made and what they see.
//!
//! - `map`: the persistent map a context holds (O(1) copies).
//! - `current`: [`Context`] and the thread's current context.
//! - `var`: [`ContextVar`], [`Token`], [`TokenError`].
//! - `scheduling`: where the loop captures and enters contexts — the
//!   `*_with_context` variants of `call_soon`, `call_later`, `call_at`,
//!   `add_reader`, `add_writer` and `call_soon_threadsafe`,
//!   [`Handle::context`](crate::Handle::context), and the helpers the
//!   task harness, the callback cells and `run_in_executor` call.
//! - `factory`: [`Loop::set_task_factory`](crate::Loop::set_task_factory),
//!   [`NewTask`], [`TaskBody`], [`TaskFactory`].
//!
//! asyncio's rules hold: a task runs in a copy of the context current when
//! it was created (or the one given in
//! [`TaskOptions::context`](crate::TaskOptions::context)); a callback runs
//! in a copy of the one current when it was scheduled (or the one given);
//! `run_in_executor` and `to_thread` run their function in a copy on the
//! worker thread.
//!
//! Cost: until the first `ContextVar::set` of the process every context is
//! empty, and the hot paths (task creation and poll, `call_soon` and the
//! run of its callback, `call_soon_threadsafe`) read one process-wide flag
//! instead of copying or entering anything; a callback then carries no
//! context slot and a task no context at all (a task keeps a non-empty one
//! in its lazily allocated extra part, so the task header did not grow).
//! Once variables are in use, a copy is one reference-count increment of
//! the map's root.

mod current;
mod factory;
mod map;
mod scheduling;
mod var;

pub use current::Context;
pub(crate) use current::{in_use, run_fast_or_in, swap_current};
pub use factory::{NewTask, TaskBody, TaskFactory};
pub(crate) use factory::{create_through_factory, has_task_factory};
pub(crate) use scheduling::{copy_of_cell, run_in_blank, run_in_cell};
pub use var::{ContextVar, Token, TokenError};
