//! # tulip
//!
//! Python's asyncio, rebuilt as a Rust library: a single-threaded event loop
//! with callbacks, timers and I/O readiness, futures and tasks, with Rust's
//! types and speed.
//!
//! This facade re-exports every layer: the loop, futures and tasks of
//! [`tulip-executor`](tulip_executor) at the crate root, the OS boundary of
//! [`tulip-reactor`](tulip_reactor) as [`reactor`], the locks and queues of
//! [`tulip-sync`](tulip_sync) as [`sync`], and the names most code needs in
//! [`prelude`].
//!
//! ```
//! use std::time::Duration;
//! use tulip::prelude::*;
//!
//! fn main() -> Result<(), tulip::Error> {
//!     tulip::run(async {
//!         let lp = get_running_loop()?;
//!         lp.call_soon(|| println!("Hello World"))?;
//!         let task = spawn(async {
//!             sleep(Duration::from_millis(10)).await;
//!             42
//!         });
//!         assert_eq!(task.await?, 42);
//!         Ok(())
//!     })?
//! }
//! ```
//!
//! ## Coming from asyncio
//!
//! Every name is asyncio's: [`Loop::call_soon`], [`Loop::call_later`],
//! [`Loop::add_reader`], [`Loop::create_task`], [`run`], [`sleep`]. asyncio's
//! settable `Future` is [`LoopFuture`] (Rust's prelude already has a
//! `Future`). Keyword arguments become option structs with `Default`
//! ([`TaskOptions`]). Exceptions become [`Error`] values. The full list is in
//! `docs/asyncio-mapping.md`.
//!
//! ## Coming from tokio or smol
//!
//! One loop per thread, `!Send` handles, `Rc` instead of `Arc`: scale out
//! with one loop per core. [`run`] is `block_on`; [`spawn`] is `spawn_local`;
//! a dropped [`Task`] keeps running (it detaches, as tokio's `JoinHandle`).
//!
//! ## asyncio correspondence
//!
//! | asyncio module | tulip |
//! |---|---|
//! | `asyncio.base_events`, `events` | [`EventLoop`], [`Loop`], [`RemoteLoop`], [`Handle`], [`TimerHandle`] |
//! | `asyncio.futures` | [`LoopFuture`] |
//! | `asyncio.tasks` | [`Task`], [`spawn`], [`sleep`], [`gather`], [`wait`], [`wait_for`], [`as_completed`], [`shield`], [`current_task`], [`all_tasks`], [`to_thread`], [`run_coroutine_threadsafe`] |
//! | `asyncio.timeouts` | [`timeout`], [`timeout_at`], [`Timeout`] |
//! | `asyncio.taskgroups` | [`task_group`], [`TaskGroup`], [`TaskGroupError`] |
//! | `asyncio.runners` | [`run`], [`Runner`] |
//! | `asyncio.exceptions` | [`Error`] |
//! | `asyncio.locks`, `asyncio.queues` | [`sync`] |
//! | `asyncio.protocols`, `transports`, `selector_events`, `unix_events` (networking) | [`transport`] |
//! | `asyncio.streams` | [`streams`] |
//! | `asyncio.subprocess`, `base_subprocess`, `unix_events` (child watchers) | [`process`] |
//! | `selectors` | [`reactor`] |

pub use tulip_executor::*;

/// The OS boundary: readiness polling, descriptor registration, the
/// cross-thread notifier (re-export of `tulip-reactor`).
pub mod reactor {
    pub use tulip_reactor::*;
}

/// asyncio's synchronization primitives and queues (re-export of
/// `tulip-sync`): `Lock`, `Event`, `Condition`, `Semaphore`,
/// `BoundedSemaphore`, `Barrier`, `Queue`, `PriorityQueue`, `LifoQueue`.
pub mod sync {
    pub use tulip_sync::*;
}

/// asyncio's transports and protocols, servers, socket operations and DNS
/// (re-export of `tulip-transport`). The loop methods
/// (`lp.create_connection`, `lp.create_server`, ...) come from
/// [`LoopNetExt`](transport::LoopNetExt), which is in the [`prelude`].
/// The rustls crate the TLS is built on is `tulip::transport::rustls`:
///
/// ```
/// use tulip::transport::TlsError;
/// use tulip::transport::rustls::CertificateError;
///
/// fn expired(e: &TlsError) -> bool {
///     matches!(e.certificate_error(), Some(CertificateError::Expired))
/// }
/// # assert!(!expired(&TlsError::Truncated));
/// ```
pub mod transport {
    pub use tulip_transport::*;
}

/// asyncio's streams: `StreamReader`, `StreamWriter`, `open_connection`,
/// `start_server` and their Unix-socket twins (re-export of
/// `tulip-streams`).
pub mod streams {
    pub use tulip_streams::*;
}

/// asyncio's subprocesses: `SubprocessTransport` and `SubprocessProtocol`
/// (the loop methods `lp.subprocess_exec` and `lp.subprocess_shell` come
/// from [`LoopProcessExt`](process::LoopProcessExt), in the [`prelude`]),
/// `create_subprocess_exec`, `create_subprocess_shell` and `Process`
/// (re-export of `tulip-process`).
pub mod process {
    pub use tulip_process::*;
}

/// The names most tulip code uses: `use tulip::prelude::*;`.
pub mod prelude {
    pub use tulip_executor::{
        Error, EventLoop, Handle, Loop, LoopFuture, RemoteLoop, Task, TaskOptions, TaskRef,
        TimerHandle, current_task, get_running_loop, run, sleep, sleep_until, spawn, to_thread,
        yield_now,
    };
    pub use tulip_process::{
        LoopProcessExt, SubprocessProtocol, SubprocessTransport, create_subprocess_exec,
        create_subprocess_shell,
    };
    pub use tulip_streams::{StreamReader, StreamWriter, open_connection, start_server};
    pub use tulip_transport::{
        BaseProtocol, Buffered, BufferedProtocol, DatagramProtocol, DatagramTransport, Fallible,
        LoopNetExt, Protocol, Transport,
    };
}
