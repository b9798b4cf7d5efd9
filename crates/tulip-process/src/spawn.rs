//! Starting a child through `std::process::Command` (the well-kept
//! fork/exec or `posix_spawn` path): the options applied, the standard
//! streams wired to new pipes, `/dev/null`, the parent's streams or given
//! descriptors, and the parent's ends of the pipes handed back.
//!
//! std starts every child with the default signal dispositions (it resets
//! the SIGPIPE that Rust programs ignore, and clears the signal mask), so
//! a child writing into a closed pipe dies of SIGPIPE as it would under a
//! shell.
//!
//! Pipes are made with `O_CLOEXEC`; the child's ends live in the
//! `Command`, which is dropped right after the spawn, so the parent keeps
//! only its own ends. If the spawn fails (a missing program is
//! `ErrorKind::NotFound`), every descriptor made for it is closed.

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::Command;

use rustix::pipe::{PipeFlags, pipe_with};

use crate::error::{Error, Result};
use crate::options::{Stdio, SubprocessOptions};

/// A child just started, with the parent's ends of its pipes.
pub(crate) struct Spawned {
    /// std's handle (its own stdio fields are empty).
    pub(crate) child: std::process::Child,
    /// The write end of the child's stdin pipe, the read ends of its
    /// stdout and stderr pipes.
    pub(crate) pipes: [Option<OwnedFd>; 3],
    /// The command line, for `get_extra_info("subprocess")` and `Debug`.
    pub(crate) description: String,
}

/// What the standard streams left unset in the options become.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Defaults {
    /// Pipes (asyncio's loop methods).
    Pipe,
    /// The parent's streams (asyncio's `create_subprocess_*`).
    Inherit,
    /// Whatever the `Command` was set up with.
    Command,
}

impl Defaults {
    fn fill(self, stdio: Option<Stdio>) -> Option<Stdio> {
        match (stdio, self) {
            (Some(s), _) => Some(s),
            (None, Defaults::Pipe) => Some(Stdio::Pipe),
            (None, Defaults::Inherit) => Some(Stdio::Inherit),
            (None, Defaults::Command) => None,
        }
    }
}

/// Where the child's end of one standard stream goes.
enum Target {
    Null,
    Inherit,
    Fd(OwnedFd),
}

impl Target {
    fn into_std(self) -> std::process::Stdio {
        match self {
            Target::Null => std::process::Stdio::null(),
            Target::Inherit => std::process::Stdio::inherit(),
            Target::Fd(fd) => std::process::Stdio::from(fd),
        }
    }
}

/// The child's side of `stdio` for stream `fd`; a pipe's parent end goes
/// to `parent`.
fn target(stdio: Stdio, fd: usize, parent: &mut Option<OwnedFd>) -> Result<Target> {
    Ok(match stdio {
        Stdio::Pipe => {
            let (read, write) = pipe_with(PipeFlags::CLOEXEC)?;
            if fd == 0 {
                *parent = Some(write);
                Target::Fd(read)
            } else {
                *parent = Some(read);
                Target::Fd(write)
            }
        }
        Stdio::DevNull => Target::Null,
        Stdio::Inherit => Target::Inherit,
        Stdio::Fd(f) => Target::Fd(f),
        Stdio::Stdout => {
            return Err(Error::InvalidInput(String::from(
                "Stdio::Stdout is only valid for stderr",
            )));
        }
    })
}

/// stderr's side when it goes where stdout goes.
fn same_as_stdout(stdout: Option<&Target>) -> Result<Target> {
    Ok(match stdout {
        Some(Target::Null) => Target::Null,
        Some(Target::Fd(fd)) => Target::Fd(fd.try_clone()?),
        Some(Target::Inherit) => Target::Fd(std::io::stdout().as_fd().try_clone_to_owned()?),
        None => {
            return Err(Error::InvalidInput(String::from(
                "stderr=Stdio::Stdout needs stdout set in the options",
            )));
        }
    })
}

/// Applies `options` to `cmd` and starts it.
pub(crate) fn spawn(
    mut cmd: Command,
    options: SubprocessOptions,
    defaults: Defaults,
) -> Result<Spawned> {
    let SubprocessOptions {
        stdin,
        stdout,
        stderr,
        cwd,
        env_clear,
        env,
        process_group,
        ..
    } = options;
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    if env_clear {
        cmd.env_clear();
    }
    for (key, value) in env {
        match value {
            Some(v) => cmd.env(key, v),
            None => cmd.env_remove(key),
        };
    }
    if let Some(pgid) = process_group {
        cmd.process_group(pgid);
    }

    let mut pipes: [Option<OwnedFd>; 3] = [None, None, None];
    let stdin = defaults
        .fill(stdin)
        .map(|s| target(s, 0, &mut pipes[0]))
        .transpose()?;
    let stdout = defaults
        .fill(stdout)
        .map(|s| target(s, 1, &mut pipes[1]))
        .transpose()?;
    let stderr = match defaults.fill(stderr) {
        Some(Stdio::Stdout) => Some(same_as_stdout(stdout.as_ref())?),
        Some(s) => Some(target(s, 2, &mut pipes[2])?),
        None => None,
    };
    if let Some(t) = stdin {
        cmd.stdin(t.into_std());
    }
    if let Some(t) = stdout {
        cmd.stdout(t.into_std());
    }
    if let Some(t) = stderr {
        cmd.stderr(t.into_std());
    }

    // The program and its arguments (std's `Debug` would add the
    // environment changes, which may hold secrets).
    let description = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| format!("{a:?}"))
        .collect::<Vec<_>>()
        .join(" ");
    let spawned = cmd.spawn();
    // The child's ends of the pipes live in `cmd`: close them now.
    drop(cmd);
    let mut child = spawned?;
    // A `Command` passed whole may ask std for pipes itself.
    if let Some(s) = child.stdin.take() {
        pipes[0] = Some(s.into());
    }
    if let Some(s) = child.stdout.take() {
        pipes[1] = Some(s.into());
    }
    if let Some(s) = child.stderr.take() {
        pipes[2] = Some(s.into());
    }
    Ok(Spawned {
        child,
        pipes,
        description,
    })
}

/// The `Command` of `subprocess_exec`: `program` with `args`.
pub(crate) fn exec_command<I, S>(program: impl AsRef<std::ffi::OsStr>, args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut cmd = Command::new(program);
    cmd.args(args);
    cmd
}

/// The `Command` of `subprocess_shell`: `/bin/sh -c cmd`, as asyncio's
/// `shell=True`.
pub(crate) fn shell_command(cmd: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut c = Command::new("/bin/sh");
    c.arg("-c").arg(cmd);
    c
}
