//! # tulip-executor
//!
//! The event loop of [tulip](https://docs.rs/tulip): asyncio's
//! `BaseEventLoop`, futures and tasks, in Rust.
//!
//! - [`EventLoop`] owns a loop and runs it ([`run_forever`](EventLoop::run_forever),
//!   [`run_until_complete`](EventLoop::run_until_complete), [`close`](EventLoop::close));
//!   [`Loop`] is the cheap `!Send` handle every API takes: callbacks
//!   ([`call_soon`](Loop::call_soon), [`call_later`](Loop::call_later),
//!   [`call_at`](Loop::call_at)), descriptors ([`add_reader`](Loop::add_reader)),
//!   tasks ([`create_task`](Loop::create_task)), futures
//!   ([`create_future`](Loop::create_future)), the thread pool
//!   ([`run_in_executor`](Loop::run_in_executor)), error handling and debug
//!   mode. [`RemoteLoop`] is the `Send + Sync` handle for other threads.
//! - [`Task`] runs a future on the loop (async-task underneath: no
//!   allocation per wake-up); [`LoopFuture`] is asyncio's settable future.
//! - [`run`] is `asyncio.run`; [`sleep`], [`yield_now`], [`to_thread`] and
//!   [`spawn`] are the free functions of asyncio's `tasks` module.
//! - The task toolkit of asyncio's `tasks`, `timeouts` and `taskgroups`
//!   modules: [`gather`] (and [`try_gather`]), [`wait`], [`wait_for`],
//!   [`timeout`] / [`timeout_at`], [`as_completed`], [`shield`],
//!   [`task_group`], [`ensure_future`] and [`run_coroutine_threadsafe`].
//!   Cancellation is Rust's drop: dropping a combinator's future cancels
//!   what it owns (its children), except [`shield`]'s.
//! - The await graph ([`graph`]): what each task waits on and who awaits
//!   it ([`capture_call_graph`]), and the live process view `tulip-ps`
//!   reads ([`EventLoopBuilder::ps`]).
//! - A loop built with a paused clock ([`EventLoopBuilder::paused_clock`])
//!   runs timer-heavy code in virtual time.
//!
//! ```
//! use std::time::Duration;
//! tulip::run(async {
//!     let lp = tulip::get_running_loop().unwrap();
//!     let task = lp.create_task(async {
//!         tulip::sleep(Duration::from_millis(1)).await;
//!         "world"
//!     });
//!     println!("hello {}", task.await.unwrap());
//! })?;
//! # Ok::<(), tulip::Error>(())
//! ```
//!
//! ## asyncio correspondence
//!
//! | asyncio | tulip-executor |
//! |---|---|
//! | `asyncio.new_event_loop()` | [`EventLoop::new`], [`new_event_loop`] |
//! | `loop.run_forever()` / `run_until_complete()` | [`EventLoop::run_forever`] / [`EventLoop::run_until_complete`] |
//! | `loop.stop()` / `close()` / `is_running()` / `is_closed()` | [`Loop::stop`] / [`EventLoop::close`] / [`Loop::is_running`] / [`Loop::is_closed`] |
//! | `loop.call_soon` / `call_later` / `call_at` / `time` | [`Loop::call_soon`] / [`Loop::call_later`] / [`Loop::call_at`] / [`Loop::time`] |
//! | `loop.call_soon_threadsafe` | [`RemoteLoop::call_soon_threadsafe`] |
//! | `Handle` / `TimerHandle` | [`Handle`] / [`TimerHandle`] |
//! | `loop.add_reader` / `remove_reader` / `add_writer` / `remove_writer` | [`Loop::add_reader`] / [`Loop::remove_reader`] / [`Loop::add_writer`] / [`Loop::remove_writer`] |
//! | `loop.create_future()` / `Future` | [`Loop::create_future`] / [`LoopFuture`] |
//! | `loop.create_task()` / `asyncio.create_task()` / `Task` | [`Loop::create_task`] / [`spawn`] / [`Task`] |
//! | `asyncio.current_task()` / `all_tasks()` | [`current_task`] / [`all_tasks`] |
//! | `loop.run_in_executor` / `asyncio.to_thread` | [`Loop::run_in_executor`] / [`to_thread`] |
//! | `loop.set_exception_handler` / `call_exception_handler` | [`Loop::set_exception_handler`] / [`Loop::call_exception_handler`] |
//! | `loop.set_debug` / `slow_callback_duration` | [`Loop::set_debug`] / [`Loop::set_slow_callback_duration`] |
//! | `asyncio.run` / `Runner` | [`run`] / [`Runner`] |
//! | `loop.add_signal_handler` / `remove_signal_handler`, `signal.SIGINT`, ... | [`Loop::add_signal_handler`] / [`Loop::remove_signal_handler`], [`signal::SIGINT`], ... |
//! | `asyncio.get_running_loop` / `get_event_loop` / `set_event_loop` | [`get_running_loop`] / [`get_event_loop`] / [`set_event_loop`] |
//! | `asyncio.sleep` | [`sleep`], [`sleep_until`], [`yield_now`] |
//! | `asyncio.gather(*aws)` / `return_exceptions=True` | [`gather`] (a `Vec` or a tuple) / [`Gather::return_exceptions`]; [`try_gather`] for `Result` outputs |
//! | `asyncio.wait(aws, timeout, return_when)` / `FIRST_COMPLETED`, `FIRST_EXCEPTION`, `ALL_COMPLETED` | [`wait`] / [`ReturnWhen`] |
//! | `asyncio.wait_for` | [`wait_for`], [`wait_for_task`] |
//! | `asyncio.timeout` / `timeout_at` / `Timeout` (`when`, `reschedule`, `expired`) | [`timeout`] / [`timeout_at`] / [`Timeout`] ([`Timeout::run`] is `async with`) |
//! | `asyncio.as_completed` | [`as_completed`] (a `Stream`, and [`AsCompleted::next`]) |
//! | `asyncio.shield` | [`shield`] |
//! | `asyncio.TaskGroup` / `ExceptionGroup` | [`task_group`], [`TaskGroup`] / [`TaskGroupError`] |
//! | `asyncio.ensure_future` / `run_coroutine_threadsafe` | [`ensure_future`] / [`run_coroutine_threadsafe`] ([`ConcurrentFuture`]) |
//! | `asyncio.capture_call_graph` / `format_call_graph` / `print_call_graph` | [`capture_call_graph`] / [`format_call_graph`] / [`print_call_graph`] ([`graph::CallGraph`]) |
//! | `python -m asyncio ps PID` / `pstree PID` | `tulip-ps PID` / `tulip-ps --tree PID`, for loops built with [`EventLoopBuilder::ps`] or run with `TULIP_PS=1` |
//! | `CancelledError`, `InvalidStateError`, `TimeoutError` | [`Error::Cancelled`], [`Error::InvalidState`], [`Error::Timeout`] |
//! | `contextvars.ContextVar` / `Context` / `copy_context()` / `Token` | [`contextvars::ContextVar`] / [`contextvars::Context`] / [`contextvars::Context::current`] / [`contextvars::Token`] |
//! | `call_soon(..., context=)`, `Handle.get_context()`, `Task.get_context()` | [`Loop::call_soon_with_context`] (and `call_later`, `call_at`, `add_reader`, `add_writer`, `call_soon_threadsafe`), [`Handle::get_context`], [`Task::get_context`] |
//! | `loop.set_task_factory` / `get_task_factory` | [`Loop::set_task_factory`] / [`Loop::get_task_factory`] ([`NewTask`]) |
//! | `KeyboardInterrupt` out of `asyncio.run`, `ValueError` of `add_signal_handler` | [`Error::Interrupted`], [`Error::InvalidSignal`] |

pub mod channel;
mod context;
mod error;
mod event_loop;
mod futures;
mod futures_util;
pub mod graph;
mod group;
mod runners;
mod sleep;
mod sys;
mod task;
mod thread_pool;
mod toolkit;

pub use context::{NewTask, TaskBody, TaskFactory};
pub use error::{Error, PanicError, Result};
pub use event_loop::base_events::{Loop, POLL_INTERVAL, get_running_loop};
pub use event_loop::debug::{DEBUG_ENV, DEFAULT_SLOW_CALLBACK_DURATION};
pub use event_loop::events::{
    EventLoop, EventLoopBuilder, LoopFactory, get_event_loop, new_event_loop, set_event_loop,
    set_event_loop_factory,
};
pub use event_loop::exception_handler::{ExceptionContext, ExceptionHandler};
pub use event_loop::handle::{Handle, TimerHandle};
pub use event_loop::ready_mark::ReadyMark;
pub use event_loop::remote::{RemoteLoop, RemoteTask};
pub use event_loop::run_in_executor::{ExecutorFuture, to_thread};
#[cfg(unix)]
pub use event_loop::signals::signal;
pub use event_loop::wait_hook::AroundWait;
pub use futures::{LoopFuture, WaitDone};
pub use graph::{capture_call_graph, format_call_graph, print_call_graph};
pub use group::{GroupStop, LoopGroup, LoopGroupBuilder, PanicPolicy, run_per_core};
pub use runners::{Runner, run};
pub use sleep::{Sleep, YieldNow, sleep, sleep_until, yield_now};
pub use task::{CallbackId, Task, TaskOptions, TaskRef, all_tasks, current_task, spawn};
pub use thread_pool::{Executor, Job, ThreadPool};
pub use toolkit::as_completed::{AsCompleted, Next, as_completed};
pub use toolkit::gather::{
    Gather, GatherInput, GatherOutcomes, TryGather, TryGatherInput, TryOutput, gather, try_gather,
};
pub use toolkit::shield::{Shield, shield};
pub use toolkit::taskgroups::{TaskGroup, TaskGroupError, TaskGroupScope, task_group};
pub use toolkit::threadsafe::{ConcurrentFuture, ensure_future, run_coroutine_threadsafe};
pub use toolkit::timeouts::{
    Timeout, TimeoutScope, WaitForTask, timeout, timeout_at, wait_for, wait_for_task,
};
pub use toolkit::wait::{AsTaskRef, ReturnWhen, Wait, wait};
pub use tulip_reactor::{BackendKind, IoSource};

/// Context variables: asyncio's `contextvars` module. A
/// [`ContextVar`](contextvars::ContextVar) is a typed key whose value
/// belongs to the current [`Context`](contextvars::Context): each task runs
/// in a copy of the context current when it was created, each callback in
/// a copy of the one current when it was scheduled, and `run_in_executor` /
/// [`to_thread`] carry it to the worker thread. Copies
/// are O(1) (a persistent map), and a program that never sets a variable
/// pays nothing for them.
///
/// The module keeps asyncio's name, and `Context` stays out of the crate
/// root, where it would meet `std::task::Context` in every `poll`.
///
/// ```
/// use std::time::Duration;
/// use tulip::contextvars::ContextVar;
/// use tulip::prelude::*;
///
/// static REQUEST_ID: ContextVar<u32> = ContextVar::new("request_id");
///
/// tulip::run(async {
///     REQUEST_ID.set(7);
///     let child = spawn(async {
///         sleep(Duration::from_millis(1)).await;
///         REQUEST_ID.get() // a copy of the parent's context at spawn
///     });
///     let on_worker = to_thread(|| REQUEST_ID.get());
///     assert_eq!(child.await?, Some(7));
///     assert_eq!(on_worker.await?, Some(7));
///     Ok::<(), tulip::Error>(())
/// })??;
/// # Ok::<(), tulip::Error>(())
/// ```
pub mod contextvars {
    pub use crate::context::{Context, ContextVar, Token, TokenError};
}
