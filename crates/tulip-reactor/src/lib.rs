//! # tulip-reactor
//!
//! The OS boundary of [tulip](https://docs.rs/tulip): readiness polling,
//! file-descriptor registration and the cross-thread wake-up. It knows
//! nothing of tasks, protocols or the event loop that drives it.
//!
//! A [`Reactor`] owns one poller of a [`BackendKind`]:
//! - `Epoll` (default on Linux 5.11+): `epoll` through rustix, one
//!   `epoll_pwait2` system call per poll and nothing else when no other
//!   thread notified it; nanosecond timeouts without a timerfd;
//! - `Polling` (default elsewhere, or with `TULIP_BACKEND=polling`): the
//!   portable `polling` crate;
//! - `Uring` (`TULIP_BACKEND=uring`, Linux): io_uring, one `io_uring_enter`
//!   per poll that submits what was queued and waits; readiness through poll
//!   operations, plus completion operations ([`Reactor::submit`]: multishot
//!   receive into a provided-buffer ring, sends, accepts, datagrams) whose
//!   [`Completion`]s come out of the poll as [`Dispatch::Completion`]. Where
//!   the kernel refuses io_uring, the reactor falls back to `Epoll` with one
//!   warning.
//!
//! Descriptors are watched either through level-triggered callbacks
//! ([`Reactor::set_reader`], asyncio's `add_reader`) or through an
//! edge-triggered [`IoSource`] that wakes wakers (async I/O). A [`Notifier`]
//! wakes a reactor blocked in [`Reactor::poll`] from any thread, with at most
//! one system call between two polls however many threads call it.
//!
//! ## asyncio correspondence
//!
//! | asyncio | tulip-reactor |
//! |---|---|
//! | `selectors.DefaultSelector` | [`Reactor`] with [`BackendKind::default_kind`] |
//! | `selectors.EpollSelector` | [`BackendKind::Epoll`] |
//! | `EVENT_READ` / `EVENT_WRITE` | [`Interest::READ`] / [`Interest::WRITE`] |
//! | `selector.register` + `add_reader` | [`Reactor::set_reader`] / [`Reactor::set_writer`] |
//! | `selector.unregister` + `remove_reader` | [`Reactor::remove_reader`] / [`Reactor::remove_writer`] |
//! | `selector.select(timeout)` | [`Reactor::poll`] |
//! | `loop._write_to_self()` (self-pipe) | [`Notifier::notify`] |

mod backend;
mod completion;
mod interest;
mod nosigpipe;
mod notify;
mod portable;
mod reactor;
mod source;
mod sys;

pub use backend::{BACKEND_ENV, BackendKind};
pub use completion::{Completion, Op, OpHandler, OpId};
pub use interest::{Interest, Readiness};
pub use nosigpipe::without_sigpipe;
pub use notify::Notifier;
pub use reactor::{Dispatch, Reactor};
pub use source::IoSource;
