//! # tulip-test
//!
//! The helpers that the integration tests of every tulip crate share, in
//! one unpublished crate (as tokio has `tokio-test`): each crate lists it
//! under `[dev-dependencies]` and its `tests/` import from it, so a helper
//! is written once. What only one crate's tests need stays in that crate's
//! `tests/common`.
//!
//! - [`auto_traits`]: compile-time checks that a type is, or is not,
//!   `Send` / `Sync` ([`send_sync!`], [`not_send!`], [`not_sync!`],
//!   [`neither_send_nor_sync!`]).
//! - [`fds`]: counting this process's open descriptors, to catch leaks
//!   ([`fd_count`], [`settled_fd_count`]), and running out of them
//!   ([`FdLimit`], [`fill_descriptor_table`], [`unconnected_tcp_socket`]).
//! - [`net`]: connected loopback TCP pairs ([`tcp_pair`], [`tcp_fds`],
//!   [`tcp_streams`]).
//! - [`wake`]: a waker that counts its wake-ups ([`Counter`]).
//! - [`heap`]: the heap in use, for tests that a burst gives memory back
//!   ([`heap_in_use`]).
//! - [`child`]: running one test of this binary in a child process of
//!   its own ([`child_test_run`](child::child_test_run), checked with
//!   [`assert_child_passed`](child::assert_child_passed)), and a program to
//!   a quiet, successful end ([`quiet_success`](child::quiet_success));
//!   a child's report lines ([`say`](child::say)).
//! - [`looping`]: running a test body on a fresh event loop with a
//!   deadline ([`run`], [`run_with_loop`], [`paused_loop`]) and waiting
//!   on the loop until a condition holds ([`wait_until`]).
//!
//! Dependencies are std, libc, rustix and `tulip-executor` only. The reactor, below
//! the executor, still uses this crate from its tests: a dev-dependency
//! may close a cycle, as each test target links the one library build.
//!
//! ```
//! use tulip_test::{fd_count, run, tcp_pair, wait_until};
//!
//! let before = fd_count();
//! run(async {
//!     let (peer, ours) = tcp_pair();
//!     drop((peer, ours));
//!     assert!(wait_until(|| true).await);
//! });
//! assert_eq!(fd_count(), before);
//! ```

pub mod auto_traits;
pub mod child;
pub mod fds;
pub mod heap;
pub mod looping;
pub mod net;
pub mod wake;

pub use fds::{FdLimit, fd_count, fill_descriptor_table, settled_fd_count, unconnected_tcp_socket};
pub use heap::heap_in_use;
pub use looping::{paused_loop, run, run_with_loop, wait_until};
pub use net::{tcp_fds, tcp_pair, tcp_streams};
pub use wake::Counter;
