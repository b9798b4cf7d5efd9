//! The high-level subprocess API (asyncio's `asyncio.subprocess`):
//! [`create_subprocess_exec`], [`create_subprocess_shell`] and
//! [`create_subprocess_command`] start a child and return a [`Process`],
//! whose pipes are streams.

use std::cell::RefCell;
use std::ffi::OsStr;
use std::fmt;
use std::future::{Future, poll_fn};
use std::io;
use std::pin::Pin;
use std::process::Command;
use std::rc::Rc;
use std::task::Poll;

use futures_io::AsyncBufRead;
use tulip_executor::get_running_loop;
use tulip_streams::{StreamReader, StreamWriter};

use crate::base_subprocess::{self, PipeMode, SubprocessTransport};
use crate::error::{Error, Result};
use crate::join::join3;
use crate::options::SubprocessOptions;
use crate::protocol::SubprocessProtocol;
use crate::spawn::{self, Defaults};

/// `communicate` writes its input in pieces of this size (a pipe's
/// capacity), each once the previous one is all in the pipe: most go
/// straight from `input` into the pipe, and the transport never buffers
/// (copies) more than one piece.
const FEED_CHUNK: usize = 64 * 1024;

/// What [`Process::communicate`] read: stdout's bytes and stderr's,
/// `None` for a stream that is not a pipe.
type Outputs = (Option<Vec<u8>>, Option<Vec<u8>>);

/// A child process started by [`create_subprocess_exec`] or
/// [`create_subprocess_shell`] (asyncio's `asyncio.subprocess.Process`).
///
/// Its piped standard streams are [`stdin`](Process::stdin) (a
/// [`StreamWriter`]), [`stdout`](Process::stdout) and
/// [`stderr`](Process::stderr) ([`StreamReader`]s): public fields, so
/// that a stream can be taken and moved elsewhere. Dropping a stream
/// closes its pipe.
///
/// The child is reaped when it exits, whether or not the `Process` is
/// still around; dropping the `Process` does not kill it unless
/// [`SubprocessOptions::kill_on_drop`] was set.
///
/// ```no_run
/// use tulip::process::{Stdio, SubprocessOptions, create_subprocess_exec};
///
/// # async fn demo() -> Result<(), tulip::process::Error> {
/// let mut proc = create_subprocess_exec(
///     "ls",
///     ["-l"],
///     SubprocessOptions::new().stdout(Stdio::Pipe),
/// )
/// .await?;
/// let (stdout, _) = proc.communicate(None).await?;
/// println!("{}", String::from_utf8_lossy(&stdout.unwrap_or_default()));
/// assert_eq!(proc.returncode(), Some(0));
/// # Ok(()) }
/// ```
pub struct Process {
    /// The child's stdin, if it is a pipe (asyncio's `Process.stdin`).
    pub stdin: Option<StreamWriter>,
    /// The child's stdout, if it is a pipe (asyncio's `Process.stdout`).
    pub stdout: Option<StreamReader>,
    /// The child's stderr, if it is a pipe (asyncio's `Process.stderr`).
    pub stderr: Option<StreamReader>,
    transport: SubprocessTransport,
    kill_on_drop: bool,
}

impl Process {
    /// The child's process id (asyncio's `pid`).
    ///
    /// ```
    /// use tulip::process::{SubprocessOptions, create_subprocess_exec};
    /// tulip::run(async {
    ///     let proc = create_subprocess_exec("true", [] as [&str; 0], SubprocessOptions::new()).await?;
    ///     assert!(proc.pid() > 0);
    ///     assert_eq!(proc.transport().get_pid(), proc.pid());
    ///     proc.wait().await;
    ///     Ok::<(), tulip::process::Error>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pid(&self) -> u32 {
        self.transport.get_pid()
    }

    /// The return code once the child has exited (asyncio's
    /// `returncode`): its exit status, or minus the signal that killed it
    /// (`-15` for SIGTERM); `None` while it runs.
    ///
    /// ```
    /// use tulip::process::{SubprocessOptions, create_subprocess_exec};
    /// tulip::run(async {
    ///     let proc = create_subprocess_exec("sh", ["-c", "exit 3"], SubprocessOptions::new()).await?;
    ///     assert_eq!(proc.wait().await, 3);
    ///     assert_eq!(proc.returncode(), Some(3));
    ///     Ok::<(), tulip::process::Error>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn returncode(&self) -> Option<i32> {
        self.transport.get_returncode()
    }

    /// The transport underneath.
    ///
    /// ```
    /// use tulip::process::{SubprocessOptions, create_subprocess_exec};
    /// tulip::run(async {
    ///     let proc = create_subprocess_exec("true", [] as [&str; 0], SubprocessOptions::new()).await?;
    ///     let transport = proc.transport();
    ///     assert_eq!(transport.get_pid(), proc.pid());
    ///     proc.wait().await;
    ///     assert_eq!(transport.get_returncode(), Some(0));
    ///     Ok::<(), tulip::process::Error>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn transport(&self) -> &SubprocessTransport {
        &self.transport
    }

    /// Waits for the child to exit and returns its return code (asyncio's
    /// `wait`). It does not wait for the pipes: a grandchild holding the
    /// child's stdout open does not delay it.
    ///
    /// As in asyncio, a child writing more to a stdout or stderr pipe than
    /// the reader buffers (twice the limit) blocks until the pipe is
    /// read: read the streams, or use
    /// [`communicate`](Process::communicate).
    ///
    /// The future does not borrow the `Process`, so the waits of several
    /// children can be gathered (asyncio's
    /// `gather(*(p.wait() for p in procs))`):
    ///
    /// ```
    /// use tulip::process::{SubprocessOptions, create_subprocess_shell};
    ///
    /// tulip::run(async {
    ///     let mut procs = Vec::new();
    ///     for cmd in ["sleep 0.1", "exit 3"] {
    ///         procs.push(create_subprocess_shell(cmd, SubprocessOptions::new()).await?);
    ///     }
    ///     let codes = tulip::gather(procs.iter().map(|p| p.wait()).collect::<Vec<_>>()).await?;
    ///     assert_eq!(codes, [0, 3]);
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only waits.
    pub fn wait(&self) -> impl Future<Output = i32> + use<> {
        let transport = self.transport.clone();
        async move { transport.wait().await }
    }

    /// Writes `input` to stdin and closes it, reads stdout and stderr to
    /// the end, all at once, then waits for the child to exit (asyncio's
    /// `communicate`). Returns what stdout and stderr gave, `None` for a
    /// stream that is not a pipe. The three go on together, so no size of
    /// input or output can deadlock; a child that exits (or closes its
    /// stdin) before taking all of `input` is no error (BrokenPipe and
    /// ConnectionReset are ignored, as asyncio does).
    ///
    /// The three streams are taken from the `Process` when `communicate`
    /// is called ([`stdin`](Process::stdin), [`stdout`](Process::stdout)
    /// and [`stderr`](Process::stderr) are `None` afterwards: stdin is
    /// closed, the readers are used up), so the future borrows only
    /// `input`, not the `Process`, and several children can be
    /// communicated with at once (asyncio's
    /// `gather(*(p.communicate() for p in procs))`):
    ///
    /// ```
    /// use tulip::process::{Stdio, SubprocessOptions, create_subprocess_shell};
    ///
    /// tulip::run(async {
    ///     let mut procs = Vec::new();
    ///     for cmd in ["echo one", "echo two"] {
    ///         let options = SubprocessOptions::new().stdout(Stdio::Pipe);
    ///         procs.push(create_subprocess_shell(cmd, options).await?);
    ///     }
    ///     let outputs =
    ///         tulip::try_gather(procs.iter_mut().map(|p| p.communicate(None)).collect::<Vec<_>>())
    ///             .await?;
    ///     assert_eq!(outputs[1].0.as_deref(), Some(&b"two\n"[..]));
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// Errors: [`Error::InvalidInput`] for `input` without a stdin pipe
    /// (asyncio ignores the input then; nothing is taken); an error of a
    /// pipe.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: cancelled midway, part of `input` may have been
    /// written and the output read so far is lost (as in asyncio), and the
    /// pipes are closed with the streams (asyncio leaves them to the
    /// `Process`).
    pub fn communicate<'a>(
        &mut self,
        input: Option<&'a [u8]>,
    ) -> impl Future<Output = Result<Outputs>> + use<'a> {
        let streams = if input.is_some() && self.stdin.is_none() {
            None
        } else {
            Some((self.stdin.take(), self.stdout.take(), self.stderr.take()))
        };
        let transport = self.transport.clone();
        async move {
            let Some((stdin, stdout, stderr)) = streams else {
                return Err(Error::InvalidInput(String::from(
                    "communicate(input) needs stdin=Stdio::Pipe",
                )));
            };
            let (fed, out, err) = join3(
                async move {
                    match stdin {
                        Some(writer) => feed_stdin(writer, input).await,
                        None => Ok(()),
                    }
                },
                read_to_end(stdout),
                read_to_end(stderr),
            )
            .await;
            fed?;
            let (out, err) = (out?, err?);
            transport.wait().await;
            Ok((out, err))
        }
    }

    /// Sends signal `signum` to the child (asyncio's `send_signal`).
    ///
    /// Errors: [`Error::ProcessLookup`] once it has exited (nothing is
    /// sent); [`Error::InvalidInput`] for an unknown signal.
    ///
    /// ```
    /// use tulip::process::{SubprocessOptions, create_subprocess_exec};
    ///
    /// tulip::run(async {
    ///     let proc = create_subprocess_exec("sleep", ["60"], SubprocessOptions::new()).await?;
    ///     proc.send_signal(tulip::signal::SIGTERM)?;
    ///     // Killed by a signal: the return code is minus its number, as in asyncio.
    ///     assert_eq!(proc.wait().await, -tulip::signal::SIGTERM);
    ///     assert_eq!(proc.returncode(), Some(-tulip::signal::SIGTERM));
    ///     Ok::<(), tulip::process::Error>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn send_signal(&self, signum: i32) -> Result<()> {
        self.transport.send_signal(signum)
    }

    /// Sends SIGTERM (asyncio's `terminate`).
    ///
    /// ```
    /// use tulip::process::{SubprocessOptions, create_subprocess_exec};
    /// tulip::run(async {
    ///     let proc = create_subprocess_exec("sleep", ["60"], SubprocessOptions::new()).await?;
    ///     proc.terminate()?;
    ///     assert_eq!(proc.wait().await, -tulip::signal::SIGTERM);
    ///     Ok::<(), tulip::process::Error>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn terminate(&self) -> Result<()> {
        self.transport.terminate()
    }

    /// Sends SIGKILL (asyncio's `kill`).
    ///
    /// ```
    /// use tulip::process::{Error, SubprocessOptions, create_subprocess_exec};
    /// tulip::run(async {
    ///     let proc = create_subprocess_exec("sleep", ["60"], SubprocessOptions::new()).await?;
    ///     proc.kill()?;
    ///     assert_eq!(proc.wait().await, -tulip::signal::SIGKILL);
    ///     // Once it has exited, there is nobody to signal.
    ///     assert!(matches!(proc.kill(), Err(Error::ProcessLookup)));
    ///     Ok::<(), tulip::process::Error>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn kill(&self) -> Result<()> {
        self.transport.kill()
    }
}

/// `communicate`'s read of stdout or stderr: all of it, `None` when the
/// stream is not a pipe.
async fn read_to_end(reader: Option<StreamReader>) -> Result<Option<Vec<u8>>> {
    match reader {
        Some(mut reader) => read_all(&mut reader).await.map(Some),
        None => Ok(None),
    }
}

/// Reads `reader` to EOF into a vector of its own, chunk by chunk from
/// the reader's buffer (`AsyncBufRead`): the reader's buffer stays small
/// (it is the size of what the pipe gives at once) and the vector grows by
/// reallocation, with no zero-filling of memory the next read overwrites.
async fn read_all(reader: &mut StreamReader) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    poll_fn(|cx| {
        loop {
            let mut r = Pin::new(&mut *reader);
            match r.as_mut().poll_fill_buf(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(Error::from(e))),
                Poll::Ready(Ok([])) => return Poll::Ready(Ok(std::mem::take(&mut out))),
                Poll::Ready(Ok(buf)) => {
                    out.extend_from_slice(buf);
                    let n = buf.len();
                    r.consume(n);
                }
            }
        }
    })
    .await
}

/// Whether a write error only says the child is not reading any more.
fn is_broken_pipe(e: &tulip_streams::Error) -> bool {
    matches!(
        e.io_kind(),
        Some(io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset)
    )
}

/// asyncio's `_feed_stdin`: write, drain, close; a child that stopped
/// reading is no error.
async fn feed_stdin(writer: StreamWriter, input: Option<&[u8]>) -> Result<()> {
    if let Some(data) = input {
        // Water marks at 0: `drain` waits until the transport's buffer is
        // empty. (The writer is closed below: nothing else writes to it.)
        writer
            .transport()
            .set_write_buffer_limits(Some(0), Some(0))?;
        for chunk in data.chunks(FEED_CHUNK) {
            writer.write(chunk)?;
            match writer.drain().await {
                Ok(()) => {}
                Err(e) if is_broken_pipe(&e) => break,
                Err(e) => return Err(e.into()),
            }
        }
    }
    writer.close();
    Ok(())
}

impl Drop for Process {
    fn drop(&mut self) {
        if self.kill_on_drop && self.returncode().is_none() {
            let _ = self.transport.kill();
        }
    }
}

impl fmt::Debug for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Process")
            .field("pid", &self.pid())
            .field("returncode", &self.returncode())
            .field("stdin", &self.stdin.is_some())
            .field("stdout", &self.stdout.is_some())
            .field("stderr", &self.stderr.is_some())
            .finish()
    }
}

/// Starts `program` with `args` and returns its [`Process`] (asyncio's
/// `create_subprocess_exec`). The standard streams are inherited unless
/// the options make them pipes, as in asyncio.
///
/// ```no_run
/// use tulip::process::{Stdio, SubprocessOptions, create_subprocess_exec};
///
/// # async fn demo() -> Result<(), tulip::process::Error> {
/// let mut proc =
///     create_subprocess_exec("date", ["+%Y"], SubprocessOptions::new().stdout(Stdio::Pipe)).await?;
/// let line = proc.stdout.as_mut().unwrap().readline().await?;
/// proc.wait().await;
/// # Ok(()) }
/// ```
///
/// Options ([`SubprocessOptions`]): `stdin`, `stdout`, `stderr` as
/// [`Stdio::Pipe`](crate::Stdio::Pipe) (a stream on the [`Process`]), `Inherit`, `DevNull`, a
/// file descriptor of yours, or `Stdout` for stderr; `cwd`, `env` and
/// `env_clear`, `process_group`, `limit` for the pipes' readers,
/// `kill_on_drop`.
///
/// Errors: as [`LoopProcessExt::subprocess_exec`](crate::LoopProcessExt::subprocess_exec)
/// (a program that cannot be started is [`Error::Io`](crate::Error::Io)
/// with the OS error, `NotFound` for a missing one); a zero limit; no
/// running loop.
///
/// # Cancel safety
///
/// Cancelled (dropped) before it returns, the child that was already
/// started is killed and reaped: nothing is left running. After it
/// returns, the [`Process`] owns the child, which is always reaped.
pub async fn create_subprocess_exec<I, S>(
    program: impl AsRef<OsStr>,
    args: I,
    options: SubprocessOptions,
) -> Result<Process>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    create(
        spawn::exec_command(program, args),
        options,
        Defaults::Inherit,
    )
    .await
}

/// Runs `cmd` with the shell (`/bin/sh -c cmd`) and returns its
/// [`Process`] (asyncio's `create_subprocess_shell`). Quote what goes
/// into `cmd` yourself. The standard streams are inherited unless the
/// options make them pipes, as in asyncio.
///
/// ```
/// use tulip::process::{Stdio, SubprocessOptions, create_subprocess_shell};
///
/// tulip::run(async {
///     let options = SubprocessOptions::new().stdout(Stdio::Pipe);
///     let mut proc = create_subprocess_shell("echo hello | tr a-z A-Z", options).await?;
///     let (stdout, _stderr) = proc.communicate(None).await?;
///     assert_eq!(stdout.as_deref(), Some(&b"HELLO\n"[..]));
///     assert_eq!(proc.returncode(), Some(0));
///     Ok::<(), tulip::process::Error>(())
/// })??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Errors: as [`create_subprocess_exec`] (the shell itself is what starts,
/// so a missing command is not an error here: the shell reports it and
/// exits with 127).
///
/// # Cancel safety
///
/// Cancelled (dropped) before it returns, the child that was already
/// started is killed and reaped with its transport; after it returns, the
/// [`Process`] owns the child, which is never left a zombie.
pub async fn create_subprocess_shell(
    cmd: impl AsRef<OsStr>,
    options: SubprocessOptions,
) -> Result<Process> {
    create(spawn::shell_command(cmd), options, Defaults::Inherit).await
}

/// Starts a `Command` built by hand (for `uid`, `gid`, `arg0`, a
/// `pre_exec` hook, ...) and returns its [`Process`]. Its standard streams
/// stay as set on it (`Stdio::piped()` ones become streams) unless the
/// options set them.
///
/// ```
/// use std::os::unix::process::CommandExt;
/// use std::process::{Command, Stdio};
/// use tulip::process::{SubprocessOptions, create_subprocess_command};
///
/// tulip::run(async {
///     let mut command = Command::new("sh");
///     // The child sees another argv[0], which the options cannot set.
///     command.arg0("renamed").args(["-c", "echo $0"]).stdout(Stdio::piped());
///     let mut proc = create_subprocess_command(command, SubprocessOptions::new()).await?;
///     let line = proc.stdout.as_mut().expect("a piped stdout").readline().await?;
///     assert_eq!(line, b"renamed\n");
///     assert_eq!(proc.wait().await, 0);
///     Ok::<(), tulip::process::Error>(())
/// })??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Errors and cancel safety: as [`create_subprocess_exec`].
pub async fn create_subprocess_command(
    command: Command,
    options: SubprocessOptions,
) -> Result<Process> {
    create(command, options, Defaults::Command).await
}

/// The protocol under a [`Process`]: the streams have protocols of their
/// own, so it has nothing to do.
struct Streams;

impl tulip_transport::BaseProtocol for Streams {}

impl SubprocessProtocol for Streams {}

async fn create(cmd: Command, options: SubprocessOptions, defaults: Defaults) -> Result<Process> {
    let limit = options.limit.unwrap_or(tulip_streams::DEFAULT_LIMIT);
    let kill_on_drop = options.kill_on_drop;
    let lp = get_running_loop()?;
    let protocol = Rc::new(RefCell::new(Streams));
    let (transport, streams) = base_subprocess::start(
        &lp,
        protocol,
        cmd,
        options,
        defaults,
        PipeMode::Streams(limit),
    )
    .await?;
    Ok(Process {
        stdin: streams.stdin,
        stdout: streams.stdout,
        stderr: streams.stderr,
        transport,
        kill_on_drop,
    })
}
