//! # tulip-process
//!
//! asyncio's subprocesses for tulip: the low-level
//! [`SubprocessTransport`] and [`SubprocessProtocol`] started by the
//! loop's [`subprocess_exec`](LoopProcessExt::subprocess_exec) and
//! [`subprocess_shell`](LoopProcessExt::subprocess_shell), and the
//! high-level [`create_subprocess_exec`] and [`create_subprocess_shell`],
//! whose [`Process`] has streams on its pipes, `wait` and `communicate`.
//!
//! ```no_run
//! use tulip::process::{Stdio, SubprocessOptions, create_subprocess_shell};
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     tulip::run(async {
//!         let mut proc = create_subprocess_shell(
//!             "ls /zzz",
//!             SubprocessOptions::new().stdout(Stdio::Pipe).stderr(Stdio::Pipe),
//!         )
//!         .await?;
//!         let (stdout, stderr) = proc.communicate(None).await?;
//!         println!("exited with {:?}", proc.returncode());
//!         println!("stderr: {}", String::from_utf8_lossy(&stderr.unwrap_or_default()));
//!         # let _ = stdout;
//!         Ok::<(), tulip::process::Error>(())
//!     })??;
//!     Ok(())
//! }
//! ```
//!
//! - **Spawning** goes through `std::process::Command`, so children start
//!   as std starts them: default signal dispositions (the SIGPIPE Rust
//!   ignores is restored), a clean signal mask, only the descriptors asked
//!   for. A missing program is an `io::ErrorKind::NotFound` error, and the
//!   pipes made for it are closed.
//! - **Every child is reaped.** Exits are watched with a pidfd per child
//!   where the kernel has it (Linux 5.3+), else with a SIGCHLD handler
//!   ([`child_watcher_kind`], [`CHILD_WATCHER_ENV`]). A child whose
//!   handles were all dropped is still watched until it exits; a child
//!   still running when its loop is closed is reaped by a background
//!   thread.
//! - **No stray signals.** A signal for a child that was reaped is
//!   [`Error::ProcessLookup`] and is not sent (its pid may be another
//!   process's by then); with a pidfd, signals go through
//!   `pidfd_send_signal`.
//! - **No deadlock in [`Process::communicate`]**: stdin is fed while
//!   stdout and stderr are read, on one task.
//!
//! ## Differences from asyncio
//!
//! - Signals are numbers (`libc::SIGTERM`, ...) checked against the
//!   named signals: an unknown one is [`Error::InvalidInput`].
//! - Signalling a child that exited is always [`Error::ProcessLookup`]
//!   (asyncio ignores it until the transport is closed, then raises).
//! - `communicate(input)` without a stdin pipe is
//!   [`Error::InvalidInput`] (asyncio drops the input).
//! - Dropping a [`Process`]'s stream closes its pipe; dropping the
//!   `Process` kills the child only with
//!   [`SubprocessOptions::kill_on_drop`].
//! - `get_extra_info("subprocess")` is the command line as text (asyncio
//!   gives its `Popen` object).
//! - A new session (`start_new_session`) needs `setsid` in a `pre_exec`
//!   hook, which std only offers as `unsafe`: build the `Command` yourself
//!   and pass it to [`LoopProcessExt::subprocess_command`] or
//!   [`create_subprocess_command`]. A new process group is
//!   [`SubprocessOptions::process_group`].
//!
//! ## asyncio correspondence
//!
//! | asyncio | tulip-process |
//! |---|---|
//! | `loop.subprocess_exec(factory, program, *args, **kwargs)` | [`LoopProcessExt::subprocess_exec`]`(factory, program, args, options)` |
//! | `loop.subprocess_shell(factory, cmd, **kwargs)` | [`LoopProcessExt::subprocess_shell`] |
//! | `SubprocessProtocol` (`pipe_data_received`, `pipe_connection_lost`, `process_exited`) | [`SubprocessProtocol`] |
//! | `SubprocessTransport` (`get_pid`, `get_returncode`, `get_pipe_transport`, `send_signal`, `terminate`, `kill`, `close`, `is_closing`, `get_extra_info`) | [`SubprocessTransport`] (same names) |
//! | `asyncio.create_subprocess_exec` / `create_subprocess_shell` | [`create_subprocess_exec`] / [`create_subprocess_shell`] |
//! | `asyncio.subprocess.Process` (`pid`, `returncode`, `stdin`, `stdout`, `stderr`) | [`Process`] ([`Process::pid`], [`Process::returncode`], the `stdin`, `stdout`, `stderr` fields) |
//! | `Process.wait`, `communicate`, `send_signal`, `terminate`, `kill` | the same names on [`Process`] |
//! | `subprocess.PIPE`, `DEVNULL`, `STDOUT`, `None`, a file descriptor | [`Stdio::Pipe`], [`Stdio::DevNull`], [`Stdio::Stdout`], [`Stdio::Inherit`], [`Stdio::Fd`] |
//! | `cwd=`, `env=`, `process_group=`, `limit=` | [`SubprocessOptions`] |
//! | `ProcessLookupError` | [`Error::ProcessLookup`] |
//! | `PidfdChildWatcher`, `ThreadedChildWatcher` / `SafeChildWatcher` | [`ChildWatcherKind::Pidfd`], [`ChildWatcherKind::Sigchld`] (as `SafeChildWatcher`, it owns the loop's SIGCHLD handler while it has children: a loop's own SIGCHLD handler replaces it meanwhile) |

#![forbid(unsafe_code)]

mod base_subprocess;
mod child_watcher;
mod error;
mod join;
mod loop_ext;
mod options;
mod protocol;
mod spawn;
mod subprocess;
mod sys;

pub use base_subprocess::SubprocessTransport;
pub use child_watcher::{CHILD_WATCHER_ENV, ChildWatcherKind, child_watcher_kind};
pub use error::{Error, Result};
pub use loop_ext::{LoopProcessExt, SubprocessConnection};
pub use options::{Stdio, SubprocessOptions};
pub use protocol::{SubprocessProtocol, SubprocessProtocolFactory};
pub use subprocess::{
    Process, create_subprocess_command, create_subprocess_exec, create_subprocess_shell,
};
