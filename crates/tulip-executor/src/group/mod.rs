//! [`LoopGroup`]: one event loop per core. A group is N threads, each
//! running its own [`EventLoop`](crate::EventLoop) (so each keeps its `Rc`
//! world); the group itself holds only the loops' [`RemoteLoop`]s
//! (`Send + Sync`) and the threads' join handles: nothing `Rc` crosses a
//! thread. [`LoopGroup::run`] runs one main future per loop and returns
//! each loop's result; [`run_per_core`] is the one-line form.
//!
//! - [`LoopGroupBuilder`]: the number of loops, CPU pinning, thread names,
//!   a per-loop initialiser, the reactor backend and the [`PanicPolicy`].
//! - Ctrl-C during [`LoopGroup::run`] is handled as [`Runner`](crate::Runner)
//!   handles it: the first cancels every loop's main task (their
//!   destructors run, servers close) and stops the group; a second ends the
//!   process.
//! - A panic in one loop's main task goes to that loop's exception
//!   handler; the other loops keep serving ([`PanicPolicy::KeepServing`])
//!   or the group stops ([`PanicPolicy::StopGroup`]).
//!
//! [`RemoteLoop`]: crate::RemoteLoop

mod builder;
mod loop_group;
mod thread;

pub use builder::{LoopGroupBuilder, PanicPolicy};
pub use loop_group::{GroupStop, LoopGroup, run_per_core};
