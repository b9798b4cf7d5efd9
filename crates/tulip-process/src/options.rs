//! What a subprocess is started with (asyncio's keyword arguments of
//! `subprocess_exec` and `create_subprocess_exec`, which are
//! `subprocess.Popen`'s): where its standard streams go ([`Stdio`]), its
//! working directory, its environment, its process group, and for the
//! high-level API the streams' limit.
//!
//! Everything else `std::process::Command` offers (`uid`, `gid`, `arg0`,
//! or a `pre_exec` hook that calls `setsid` for a new session) is reached by
//! building the `Command` yourself and passing it whole to
//! [`LoopProcessExt::subprocess_command`](crate::LoopProcessExt::subprocess_command)
//! or [`create_subprocess_command`](crate::create_subprocess_command).

use std::ffi::{OsStr, OsString};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

/// Where one of the child's standard streams goes (asyncio's `PIPE`,
/// `DEVNULL`, `STDOUT`, `None` and a file descriptor).
///
/// ```
/// use tulip::process::{Stdio, SubprocessOptions, create_subprocess_shell};
///
/// tulip::run(async {
///     // stderr into the stdout pipe (asyncio's stderr=STDOUT); no stdin.
///     let options = SubprocessOptions::new()
///         .stdin(Stdio::DevNull)
///         .stdout(Stdio::Pipe)
///         .stderr(Stdio::Stdout);
///     let mut proc = create_subprocess_shell("echo out; echo err >&2", options).await?;
///     let (stdout, stderr) = proc.communicate(None).await?;
///     assert_eq!(stdout.as_deref(), Some(&b"out\nerr\n"[..]));
///     assert_eq!(stderr, None);
///     Ok::<(), tulip::process::Error>(())
/// })??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Stdio {
    /// A new pipe to the parent (asyncio's `subprocess.PIPE`): a pipe
    /// transport for the low-level API, a stream for [`Process`](crate::Process).
    Pipe,
    /// `/dev/null` (asyncio's `subprocess.DEVNULL`).
    DevNull,
    /// The parent's own stream (asyncio's `None`).
    Inherit,
    /// For stderr only: wherever stdout goes (asyncio's
    /// `subprocess.STDOUT`). With stdout a [`Pipe`](Stdio::Pipe), both
    /// streams arrive on that one pipe, as fd 1.
    Stdout,
    /// An open descriptor (a file, a socket, a pipe end), moved into the
    /// child.
    Fd(OwnedFd),
}

impl From<OwnedFd> for Stdio {
    fn from(fd: OwnedFd) -> Stdio {
        Stdio::Fd(fd)
    }
}

impl From<std::fs::File> for Stdio {
    fn from(file: std::fs::File) -> Stdio {
        Stdio::Fd(file.into())
    }
}

/// The options of a subprocess (asyncio's keyword arguments).
///
/// The standard streams left at `None` take the default of the function
/// called: [`Stdio::Pipe`] for the low-level `subprocess_exec` and
/// `subprocess_shell` (as asyncio's loop methods), [`Stdio::Inherit`] for
/// `create_subprocess_exec` and `create_subprocess_shell` (as asyncio's
/// functions), and whatever the `Command` was set up with for the
/// `*_command` variants.
///
/// ```
/// use tulip::process::{Stdio, SubprocessOptions};
///
/// let options = SubprocessOptions::new()
///     .stdout(Stdio::Pipe)
///     .stderr(Stdio::Stdout)
///     .cwd("/tmp")
///     .env("LANG", "C")
///     .process_group(0);
/// assert!(matches!(options.stderr, Some(Stdio::Stdout)));
/// ```
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct SubprocessOptions {
    /// The child's standard input.
    pub stdin: Option<Stdio>,
    /// The child's standard output.
    pub stdout: Option<Stdio>,
    /// The child's standard error ([`Stdio::Stdout`] is allowed here).
    pub stderr: Option<Stdio>,
    /// The child's working directory (asyncio's `cwd`); `None`: the
    /// parent's.
    pub cwd: Option<PathBuf>,
    /// Start the child with an empty environment, before
    /// [`env`](SubprocessOptions::env) is applied (asyncio's `env=`
    /// mapping replaces the whole environment: `env_clear` plus the
    /// variables).
    pub env_clear: bool,
    /// Variables to set (`Some`) or remove (`None`) in the child's
    /// environment, in order.
    pub env: Vec<(OsString, Option<OsString>)>,
    /// Put the child in process group `pgid`, `0` for a new group whose
    /// id is the child's pid (`setpgid`; `Command::process_group`). A
    /// new group lets a signal sent to the group (`kill(-pgid, sig)`)
    /// reach the child's own children too. asyncio's
    /// `start_new_session` (`setsid`) has no safe counterpart in std: set
    /// it on a [`Command`](std::process::Command) with `pre_exec`.
    pub process_group: Option<i32>,
    /// The high-level API's stream limit (asyncio's `limit`, 64 KiB by
    /// default): the longest line `readline` returns, and half what a
    /// stdout or stderr reader buffers before the pipe is paused.
    pub limit: Option<usize>,
    /// Kill the child (SIGKILL) when its [`Process`](crate::Process) is
    /// dropped while it still runs (as tokio's `kill_on_drop`). Off by
    /// default, as in asyncio: a dropped process runs on, and is still
    /// reaped when it exits.
    pub kill_on_drop: bool,
}

impl SubprocessOptions {
    /// Options with every default.
    ///
    /// ```
    /// use tulip::process::SubprocessOptions;
    /// let options = SubprocessOptions::new();
    /// assert!(options.stdout.is_none()); // the called function's default
    /// assert!(!options.kill_on_drop);
    /// ```
    pub fn new() -> SubprocessOptions {
        SubprocessOptions::default()
    }

    /// Sets [`stdin`](SubprocessOptions::stdin).
    ///
    /// ```
    /// use tulip::process::{Stdio, SubprocessOptions, create_subprocess_exec};
    /// tulip::run(async {
    ///     let options = SubprocessOptions::new().stdin(Stdio::Pipe).stdout(Stdio::Pipe);
    ///     let mut proc = create_subprocess_exec("cat", [] as [&str; 0], options).await?;
    ///     let (stdout, _) = proc.communicate(Some(b"fed to stdin")).await?;
    ///     assert_eq!(stdout.as_deref(), Some(&b"fed to stdin"[..]));
    ///     Ok::<(), tulip::process::Error>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stdin(mut self, stdin: Stdio) -> SubprocessOptions {
        self.stdin = Some(stdin);
        self
    }

    /// Sets [`stdout`](SubprocessOptions::stdout).
    ///
    /// ```
    /// use tulip::process::{Stdio, SubprocessOptions, create_subprocess_exec};
    /// tulip::run(async {
    ///     let options = SubprocessOptions::new().stdout(Stdio::Pipe);
    ///     let mut proc = create_subprocess_exec("echo", ["hello"], options).await?;
    ///     let mut stdout = proc.stdout.take().expect("a pipe");
    ///     assert_eq!(stdout.readline().await?, b"hello\n");
    ///     assert_eq!(proc.wait().await, 0);
    ///     Ok::<(), tulip::process::Error>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stdout(mut self, stdout: Stdio) -> SubprocessOptions {
        self.stdout = Some(stdout);
        self
    }

    /// Sets [`stderr`](SubprocessOptions::stderr).
    ///
    /// ```
    /// use tulip::process::{Stdio, SubprocessOptions, create_subprocess_shell};
    /// tulip::run(async {
    ///     let options = SubprocessOptions::new().stdout(Stdio::DevNull).stderr(Stdio::Pipe);
    ///     let mut proc = create_subprocess_shell("echo oops >&2; echo fine", options).await?;
    ///     let (stdout, stderr) = proc.communicate(None).await?;
    ///     assert_eq!(stdout, None); // not a pipe
    ///     assert_eq!(stderr.as_deref(), Some(&b"oops\n"[..]));
    ///     Ok::<(), tulip::process::Error>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stderr(mut self, stderr: Stdio) -> SubprocessOptions {
        self.stderr = Some(stderr);
        self
    }

    /// Sets [`cwd`](SubprocessOptions::cwd).
    ///
    /// ```
    /// use tulip::process::{Stdio, SubprocessOptions, create_subprocess_exec};
    /// tulip::run(async {
    ///     let options = SubprocessOptions::new().stdout(Stdio::Pipe).cwd("/");
    ///     let mut proc = create_subprocess_exec("pwd", [] as [&str; 0], options).await?;
    ///     let (stdout, _) = proc.communicate(None).await?;
    ///     assert_eq!(stdout.as_deref(), Some(&b"/\n"[..]));
    ///     Ok::<(), tulip::process::Error>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn cwd(mut self, dir: impl AsRef<Path>) -> SubprocessOptions {
        self.cwd = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Sets one variable of the child's environment.
    ///
    /// ```
    /// use tulip::process::{Stdio, SubprocessOptions, create_subprocess_shell};
    /// tulip::run(async {
    ///     let options = SubprocessOptions::new().stdout(Stdio::Pipe).env("GREETING", "hi");
    ///     let mut proc = create_subprocess_shell("echo $GREETING", options).await?;
    ///     let (stdout, _) = proc.communicate(None).await?;
    ///     assert_eq!(stdout.as_deref(), Some(&b"hi\n"[..]));
    ///     Ok::<(), tulip::process::Error>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> SubprocessOptions {
        self.env
            .push((key.as_ref().to_owned(), Some(value.as_ref().to_owned())));
        self
    }

    /// Sets several variables of the child's environment.
    ///
    /// ```
    /// use tulip::process::{Stdio, SubprocessOptions, create_subprocess_shell};
    /// tulip::run(async {
    ///     let vars = [("A", "1"), ("B", "2")];
    ///     let options = SubprocessOptions::new().stdout(Stdio::Pipe).envs(vars);
    ///     let mut proc = create_subprocess_shell("echo $A$B", options).await?;
    ///     let (stdout, _) = proc.communicate(None).await?;
    ///     assert_eq!(stdout.as_deref(), Some(&b"12\n"[..]));
    ///     Ok::<(), tulip::process::Error>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn envs<I, K, V>(mut self, vars: I) -> SubprocessOptions
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        for (k, v) in vars {
            self = self.env(k, v);
        }
        self
    }

    /// Removes one variable from the child's environment.
    ///
    /// ```
    /// use tulip::process::{Stdio, SubprocessOptions, create_subprocess_shell};
    /// tulip::run(async {
    ///     let options = SubprocessOptions::new()
    ///         .stdout(Stdio::Pipe)
    ///         .env("SECRET", "x")
    ///         .env_remove("SECRET"); // applied in order: removed again
    ///     let mut proc = create_subprocess_shell("echo ${SECRET-unset}", options).await?;
    ///     let (stdout, _) = proc.communicate(None).await?;
    ///     assert_eq!(stdout.as_deref(), Some(&b"unset\n"[..]));
    ///     Ok::<(), tulip::process::Error>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> SubprocessOptions {
        self.env.push((key.as_ref().to_owned(), None));
        self
    }

    /// Sets [`env_clear`](SubprocessOptions::env_clear): the child starts
    /// with only the variables set by [`env`](SubprocessOptions::env).
    ///
    /// ```
    /// use tulip::process::{Stdio, SubprocessOptions, create_subprocess_exec};
    /// tulip::run(async {
    ///     // asyncio's `env={"ONLY": "this"}`.
    ///     let options = SubprocessOptions::new().stdout(Stdio::Pipe).env_clear().env("ONLY", "this");
    ///     let mut proc = create_subprocess_exec("/usr/bin/env", [] as [&str; 0], options).await?;
    ///     let (stdout, _) = proc.communicate(None).await?;
    ///     assert_eq!(stdout.as_deref(), Some(&b"ONLY=this\n"[..]));
    ///     Ok::<(), tulip::process::Error>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn env_clear(mut self) -> SubprocessOptions {
        self.env_clear = true;
        self
    }

    /// Sets [`process_group`](SubprocessOptions::process_group).
    ///
    /// ```
    /// use tulip::process::{Stdio, SubprocessOptions, create_subprocess_exec};
    /// tulip::run(async {
    ///     // A new process group, whose id is the child's pid.
    ///     let child = create_subprocess_exec("sleep", ["60"], SubprocessOptions::new().process_group(0)).await?;
    ///     let pid = child.pid().to_string();
    ///     let ps = SubprocessOptions::new().stdout(Stdio::Pipe);
    ///     let mut ps = create_subprocess_exec("ps", ["-o", "pgid=", "-p", &pid], ps).await?;
    ///     let (stdout, _) = ps.communicate(None).await?;
    ///     assert_eq!(String::from_utf8_lossy(&stdout.unwrap()).trim(), pid);
    ///     child.kill()?;
    ///     child.wait().await;
    ///     Ok::<(), tulip::process::Error>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn process_group(mut self, pgid: i32) -> SubprocessOptions {
        self.process_group = Some(pgid);
        self
    }

    /// Sets [`limit`](SubprocessOptions::limit).
    ///
    /// ```
    /// use tulip::process::{Stdio, SubprocessOptions, create_subprocess_exec};
    /// tulip::run(async {
    ///     let options = SubprocessOptions::new().stdout(Stdio::Pipe).limit(1024);
    ///     let mut proc = create_subprocess_exec("true", [] as [&str; 0], options).await?;
    ///     assert_eq!(proc.stdout.as_ref().map(|s| s.limit()), Some(1024));
    ///     proc.wait().await;
    ///     Ok::<(), tulip::process::Error>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn limit(mut self, limit: usize) -> SubprocessOptions {
        self.limit = Some(limit);
        self
    }

    /// Sets [`kill_on_drop`](SubprocessOptions::kill_on_drop).
    ///
    /// ```
    /// use tulip::process::{SubprocessOptions, create_subprocess_exec};
    /// tulip::run(async {
    ///     let options = SubprocessOptions::new().kill_on_drop(true);
    ///     let proc = create_subprocess_exec("sleep", ["60"], options).await?;
    ///     let transport = proc.transport().clone();
    ///     drop(proc); // SIGKILL: the child does not sleep on
    ///     let reaped = async {
    ///         while transport.get_returncode().is_none() {
    ///             tulip::sleep(std::time::Duration::from_millis(5)).await;
    ///         }
    ///     };
    ///     tulip::timeout(std::time::Duration::from_secs(10)).run(reaped).await?;
    ///     assert_eq!(transport.get_returncode(), Some(-tulip::signal::SIGKILL));
    ///     Ok::<(), tulip::process::Error>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn kill_on_drop(mut self, kill: bool) -> SubprocessOptions {
        self.kill_on_drop = kill;
        self
    }
}
