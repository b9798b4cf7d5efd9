//! [`SubprocessTransport`]: a running child, its pipe transports, and the
//! calls its [`SubprocessProtocol`] receives (asyncio's
//! `BaseSubprocessTransport`).
//!
//! The child is started, its exit watched at once (so it is reaped
//! whatever happens next), then each of its pipes is connected as a pipe
//! transport (`connect_write_pipe` for stdin, `connect_read_pipe` for
//! stdout and stderr) whose small protocol forwards to the transport.
//! What happens before the pipes are all connected (data, an early exit)
//! waits in order and is delivered right after `connection_made`.
//!
//! Every call to the protocol goes through one ordered queue: the
//! protocol is never called while it is inside one of its callbacks (a
//! notification raised meanwhile, such as the stdin pipe's
//! `pause_writing` during a write made inside `pipe_data_received`, is
//! delivered right after the running callback returns), and
//! `connection_lost` comes once, last, after `process_exited` and every
//! `pipe_connection_lost`.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::future::poll_fn;
use std::os::fd::OwnedFd;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::process::Command;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker};

use rustix::process::Signal;
use tulip_executor::{Error as LoopError, ExceptionContext, Loop, PanicError};
use tulip_streams::{StreamReader, StreamReaderProtocol, StreamWriter};
use tulip_transport::{
    BaseProtocol, Error as TransportError, ExtraInfo, LoopNetExt, Protocol, Transport,
};

use crate::child_watcher::{self, Child, ChildWatcherKind};
use crate::error::{Error, Result};
use crate::join::join3;
use crate::options::SubprocessOptions;
use crate::protocol::SubprocessProtocol;
use crate::spawn::{self, Defaults};

/// The protocol, as the transport holds it.
type ProtocolRc = Rc<RefCell<dyn SubprocessProtocol>>;

/// One of the child's standard streams, seen from the parent.
enum Pipe {
    /// Not a pipe (inherited, `/dev/null`, a descriptor).
    Absent,
    /// Being connected.
    Connecting,
    /// Connected.
    Open(Transport),
    /// Closed (`pipe_connection_lost` was queued).
    Lost,
    /// Connected, with a stream's protocol of its own (the high-level
    /// API): the subprocess protocol hears nothing of it.
    Stream(Transport),
}

/// A call to the protocol, waiting for its turn.
enum Event {
    Made,
    Data(i32, Vec<u8>),
    PipeLost(i32, Option<TransportError>),
    PauseWriting,
    ResumeWriting,
    Exited,
    Lost,
}

/// The shared state of a subprocess transport.
pub(crate) struct Inner {
    lp: Loop,
    this: Weak<Inner>,
    protocol: RefCell<Option<ProtocolRc>>,
    child: RefCell<Option<Rc<Child>>>,
    pid: u32,
    description: String,
    pipes: RefCell<[Pipe; 3]>,
    /// The exit was seen (`process_exited` is queued or delivered).
    exited: Cell<Option<i32>>,
    /// The pipes are connected and `connection_made` is queued: calls
    /// flow to the protocol.
    connected: Cell<bool>,
    closed: Cell<bool>,
    /// `connection_lost` is queued.
    finished: Cell<bool>,
    /// `connection_lost` was delivered: nothing more happens.
    lost: Cell<bool>,
    /// The start was cancelled or failed: the protocol hears nothing.
    abandoned: Cell<bool>,
    queue: RefCell<VecDeque<Event>>,
    /// A delivery is running (the queue is being emptied).
    delivering: Cell<bool>,
    flush_scheduled: Cell<bool>,
    exit_waiters: RefCell<Vec<Waker>>,
}

impl Inner {
    fn new(
        lp: &Loop,
        protocol: ProtocolRc,
        pid: u32,
        description: String,
        pipes: [bool; 3],
    ) -> Rc<Inner> {
        let pipe = |present: bool| {
            if present {
                Pipe::Connecting
            } else {
                Pipe::Absent
            }
        };
        Rc::new_cyclic(|this| Inner {
            lp: lp.clone(),
            this: this.clone(),
            protocol: RefCell::new(Some(protocol)),
            child: RefCell::new(None),
            pid,
            description,
            pipes: RefCell::new([pipe(pipes[0]), pipe(pipes[1]), pipe(pipes[2])]),
            exited: Cell::new(None),
            connected: Cell::new(false),
            closed: Cell::new(false),
            finished: Cell::new(false),
            lost: Cell::new(false),
            abandoned: Cell::new(false),
            queue: RefCell::new(VecDeque::new()),
            delivering: Cell::new(false),
            flush_scheduled: Cell::new(false),
            exit_waiters: RefCell::new(Vec::new()),
        })
    }

    fn child(&self) -> Option<Rc<Child>> {
        self.child.borrow().clone()
    }

    fn report(&self, message: &str, err: LoopError) {
        self.lp
            .call_exception_handler(&ExceptionContext::new(message).with_error(err));
    }

    /// Queues `event` and delivers what can be delivered now.
    fn emit(&self, event: Event) {
        if self.abandoned.get() || self.lost.get() {
            return;
        }
        self.queue.borrow_mut().push_back(event);
        self.flush();
    }

    /// Data from a pipe: straight to the protocol when nothing waits
    /// before it and the protocol is free (no copy), else queued.
    fn emit_data(&self, fd: i32, data: &[u8]) {
        if self.abandoned.get() || self.lost.get() {
            return;
        }
        if self.connected.get() && !self.delivering.get() && self.queue.borrow().is_empty() {
            let proto = self.protocol.borrow().clone();
            if let Some(proto) = proto {
                if let Ok(mut p) = proto.try_borrow_mut() {
                    self.delivering.set(true);
                    let res = catch_unwind(AssertUnwindSafe(|| p.pipe_data_received(fd, data)));
                    drop(p);
                    self.delivering.set(false);
                    if let Err(payload) = res {
                        self.panicked("pipe_data_received", payload);
                    }
                    // Calls raised meanwhile.
                    self.flush();
                    return;
                }
            }
        }
        self.emit(Event::Data(fd, data.to_vec()));
    }

    fn panicked(&self, what: &str, payload: Box<dyn std::any::Any + Send>) {
        self.report(
            &format!("Exception in callback SubprocessProtocol.{what}()"),
            LoopError::Panicked(PanicError::new(payload)),
        );
    }

    /// Delivers queued calls while the protocol is free.
    fn flush(&self) {
        if !self.connected.get() || self.delivering.get() {
            return;
        }
        let Some(proto) = self.protocol.borrow().clone() else {
            return;
        };
        self.delivering.set(true);
        loop {
            let Ok(mut p) = proto.try_borrow_mut() else {
                // Borrowed outside any delivery: try again next pass.
                self.schedule_flush();
                break;
            };
            let Some(event) = self.queue.borrow_mut().pop_front() else {
                break;
            };
            let last = matches!(event, Event::Lost);
            let (what, res) = match event {
                Event::Made => match self.this.upgrade() {
                    Some(inner) => {
                        let handle = SubprocessTransport { inner };
                        (
                            "connection_made",
                            catch_unwind(AssertUnwindSafe(|| p.connection_made(handle))),
                        )
                    }
                    // Unreachable: deliveries run on a live transport.
                    None => ("connection_made", Ok(())),
                },
                Event::Data(fd, data) => (
                    "pipe_data_received",
                    catch_unwind(AssertUnwindSafe(|| p.pipe_data_received(fd, &data))),
                ),
                Event::PipeLost(fd, exc) => (
                    "pipe_connection_lost",
                    catch_unwind(AssertUnwindSafe(|| p.pipe_connection_lost(fd, exc))),
                ),
                Event::PauseWriting => (
                    "pause_writing",
                    catch_unwind(AssertUnwindSafe(|| p.pause_writing())),
                ),
                Event::ResumeWriting => (
                    "resume_writing",
                    catch_unwind(AssertUnwindSafe(|| p.resume_writing())),
                ),
                Event::Exited => (
                    "process_exited",
                    catch_unwind(AssertUnwindSafe(|| p.process_exited())),
                ),
                Event::Lost => (
                    "connection_lost",
                    catch_unwind(AssertUnwindSafe(|| p.connection_lost(None))),
                ),
            };
            drop(p);
            if let Err(payload) = res {
                self.panicked(what, payload);
            }
            if last {
                self.lost.set(true);
                self.queue.borrow_mut().clear();
                // The protocol usually holds this transport: the cycle
                // ends here.
                drop(self.protocol.borrow_mut().take());
                break;
            }
        }
        self.delivering.set(false);
    }

    fn schedule_flush(&self) {
        if self.flush_scheduled.replace(true) {
            return;
        }
        let Some(this) = self.this.upgrade() else {
            return;
        };
        let scheduled = self.lp.call_soon(move || {
            this.flush_scheduled.set(false);
            this.flush();
        });
        if scheduled.is_err() {
            self.flush_scheduled.set(false);
        }
    }

    /// The pipes are connected: `connection_made` goes first, then what
    /// waited.
    fn set_connected(&self) {
        self.queue.borrow_mut().push_front(Event::Made);
        self.connected.set(true);
        self.flush();
    }

    fn pipe_made(&self, fd: i32, transport: Transport) {
        if let Some(slot) = slot(fd) {
            if self.closed.get() {
                transport.close();
            }
            self.pipes.borrow_mut()[slot] = Pipe::Open(transport);
        }
    }

    fn pipe_streamed(&self, fd: i32, transport: Transport) {
        if let Some(slot) = slot(fd) {
            if self.closed.get() {
                transport.close();
            }
            self.pipes.borrow_mut()[slot] = Pipe::Stream(transport);
        }
    }

    fn pipe_lost(&self, fd: i32, exc: Option<TransportError>) {
        if let Some(slot) = slot(fd) {
            self.pipes.borrow_mut()[slot] = Pipe::Lost;
        }
        self.emit(Event::PipeLost(fd, exc));
        self.try_finish();
    }

    /// The watcher reaped the child.
    fn process_exited(&self, returncode: i32) {
        if self.exited.get().is_some() {
            return;
        }
        self.exited.set(Some(returncode));
        self.emit(Event::Exited);
        self.try_finish();
        for w in std::mem::take(&mut *self.exit_waiters.borrow_mut()) {
            w.wake();
        }
    }

    /// Queues `connection_lost` once the child has exited and every pipe
    /// is closed.
    fn try_finish(&self) {
        if self.finished.get() || self.exited.get().is_none() {
            return;
        }
        let done = self
            .pipes
            .borrow()
            .iter()
            .all(|p| matches!(p, Pipe::Absent | Pipe::Lost | Pipe::Stream(_)));
        if done {
            self.finished.set(true);
            self.emit(Event::Lost);
        }
    }

    /// The return code once the child exited, else parks the task.
    pub(crate) fn poll_wait(&self, cx: &Context<'_>) -> Poll<i32> {
        if let Some(code) = self.exited.get() {
            return Poll::Ready(code);
        }
        let mut waiters = self.exit_waiters.borrow_mut();
        if !waiters.iter().any(|w| w.will_wake(cx.waker())) {
            waiters.push(cx.waker().clone());
        }
        static PROCESS_WAIT: tulip_executor::graph::WaitKind =
            tulip_executor::graph::WaitKind::new("Process.wait");
        tulip_executor::graph::waiting_on(
            &PROCESS_WAIT,
            tulip_executor::graph::WaitDetail::Pid(self.pid),
        );
        Poll::Pending
    }

    fn close(&self) {
        if self.closed.replace(true) {
            return;
        }
        let open: Vec<Transport> = self
            .pipes
            .borrow()
            .iter()
            .filter_map(|p| match p {
                Pipe::Open(t) | Pipe::Stream(t) => Some(t.clone()),
                _ => None,
            })
            .collect();
        for t in open {
            t.close();
        }
        if self.exited.get().is_none() {
            if let Some(child) = self.child() {
                if child.returncode().is_none() {
                    log::debug!("close running child process: kill pid {}", self.pid);
                    let _ = child.send_signal(Signal::KILL.as_raw());
                }
            }
        }
    }

    /// The loop went away before the child exited: deliver nothing more,
    /// let go of the protocol and the pipe transports.
    fn loop_gone(&self) {
        self.abandoned.set(true);
        self.queue.borrow_mut().clear();
        drop(self.protocol.borrow_mut().take());
        let pipes = std::mem::replace(
            &mut *self.pipes.borrow_mut(),
            [Pipe::Lost, Pipe::Lost, Pipe::Lost],
        );
        for pipe in pipes {
            if let Pipe::Open(t) | Pipe::Stream(t) = pipe {
                t.abort();
            }
        }
    }

    /// The start was cancelled or failed: kill the child (the watcher
    /// still reaps it), close what is open, tell the protocol nothing.
    fn abandon(&self) {
        self.abandoned.set(true);
        self.queue.borrow_mut().clear();
        self.close();
        drop(self.protocol.borrow_mut().take());
    }
}

/// The index of the child's standard stream `fd`.
fn slot(fd: i32) -> Option<usize> {
    usize::try_from(fd).ok().filter(|&i| i < 3)
}

/// The protocol of one pipe transport: forwards to the subprocess
/// transport (asyncio's `ReadSubprocessPipeProto` and
/// `WriteSubprocessPipeProto`).
struct PipeProto {
    inner: Rc<Inner>,
    fd: i32,
}

impl BaseProtocol for PipeProto {
    fn connection_lost(&mut self, exc: Option<TransportError>) {
        self.inner.pipe_lost(self.fd, exc);
    }

    fn pause_writing(&mut self) {
        self.inner.emit(Event::PauseWriting);
    }

    fn resume_writing(&mut self) {
        self.inner.emit(Event::ResumeWriting);
    }
}

impl Protocol for PipeProto {
    fn connection_made(&mut self, transport: Transport) {
        self.inner.pipe_made(self.fd, transport);
    }

    fn data_received(&mut self, data: &[u8]) {
        self.inner.emit_data(self.fd, data);
    }

    fn eof_received(&mut self) -> bool {
        false
    }
}

/// Held by the exit callback: dropped without having run, the loop went
/// away with the child still running (it is reaped in the background),
/// so nothing will ever be delivered: the state is let go, which ends the
/// cycles through the protocol and the pipe transports (and closes the
/// pipes).
struct LoopGoneGuard(Option<Rc<Inner>>);

impl Drop for LoopGoneGuard {
    fn drop(&mut self) {
        if let Some(inner) = self.0.take() {
            inner.loop_gone();
        }
    }
}

/// Abandons a start that did not complete (cancelled or failed).
struct AbandonOnDrop(Option<Rc<Inner>>);

impl AbandonOnDrop {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for AbandonOnDrop {
    fn drop(&mut self) {
        if let Some(inner) = self.0.take() {
            inner.abandon();
        }
    }
}

/// How the pipes of a child are connected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PipeMode {
    /// Each pipe's protocol forwards to the subprocess protocol
    /// (`pipe_data_received`, `pipe_connection_lost`, the stdin pipe's
    /// `pause_writing`): the low-level API.
    Forward,
    /// Each pipe's protocol is a [`StreamReaderProtocol`] with this limit,
    /// whose stream is handed back: reads land in the reader's buffer
    /// with no copy, and the streams keep their own flow control. The
    /// subprocess protocol hears only `connection_made`, `process_exited`
    /// and `connection_lost` (the high-level API).
    Streams(usize),
}

/// The streams on a child's pipes (in [`PipeMode::Streams`]).
#[derive(Default)]
pub(crate) struct PipeStreams {
    pub(crate) stdin: Option<StreamWriter>,
    pub(crate) stdout: Option<StreamReader>,
    pub(crate) stderr: Option<StreamReader>,
}

/// Connects the pipe of the child's `fd`; in [`PipeMode::Streams`], puts
/// the pipe's stream into `streams`.
async fn connect_pipe(
    lp: &Loop,
    inner: &Rc<Inner>,
    fd: i32,
    pipe: Option<OwnedFd>,
    mode: PipeMode,
) -> Result<PipeStreams> {
    let mut streams = PipeStreams::default();
    let Some(pipe) = pipe else {
        return Ok(streams);
    };
    match mode {
        PipeMode::Forward => {
            let inner = inner.clone();
            let factory = move || PipeProto {
                inner: inner.clone(),
                fd,
            };
            if fd == 0 {
                lp.connect_write_pipe(factory, pipe).await?;
            } else {
                lp.connect_read_pipe(factory, pipe).await?;
            }
        }
        PipeMode::Streams(limit) => {
            let factory = StreamReaderProtocol::factory(limit)?;
            let (transport, proto) = if fd == 0 {
                lp.connect_write_pipe(factory, pipe).await?
            } else {
                lp.connect_read_pipe(factory, pipe).await?
            };
            inner.pipe_streamed(fd, transport);
            // Each stream alone keeps its pipe open: dropping it closes
            // the pipe.
            let (reader, writer) = StreamReaderProtocol::into_streams(proto)?;
            match fd {
                0 => streams.stdin = Some(writer),
                1 => streams.stdout = Some(reader),
                _ => streams.stderr = Some(reader),
            }
        }
    }
    Ok(streams)
}

/// Starts `cmd` with `options` and connects its pipes as `mode` says;
/// `protocol` hears about it from `connection_made` on, which has run
/// when this returns.
///
/// Cancelled (dropped) before that, the child is killed and reaped and
/// every pipe closed; the protocol hears nothing.
pub(crate) async fn start(
    lp: &Loop,
    protocol: ProtocolRc,
    cmd: Command,
    options: SubprocessOptions,
    defaults: Defaults,
    mode: PipeMode,
) -> Result<(SubprocessTransport, PipeStreams)> {
    if lp.is_closed() {
        return Err(Error::Loop(LoopError::LoopClosed));
    }
    if let PipeMode::Streams(0) = mode {
        return Err(Error::InvalidInput(String::from("Limit cannot be <= 0")));
    }
    let spawned = spawn::spawn(cmd, options, defaults)?;
    let [stdin, stdout, stderr] = spawned.pipes;
    let present = [stdin.is_some(), stdout.is_some(), stderr.is_some()];
    let inner = Inner::new(
        lp,
        protocol,
        spawned.child.id(),
        spawned.description,
        present,
    );
    let on_exit = {
        let mut guard = LoopGoneGuard(Some(inner.clone()));
        Box::new(move |code| {
            if let Some(inner) = guard.0.take() {
                inner.process_exited(code);
            }
        })
    };
    let child = child_watcher::watch(lp, spawned.child, on_exit)?;
    *inner.child.borrow_mut() = Some(child);
    let guard = AbandonOnDrop(Some(inner.clone()));

    let (a, b, c) = join3(
        connect_pipe(lp, &inner, 0, stdin, mode),
        connect_pipe(lp, &inner, 1, stdout, mode),
        connect_pipe(lp, &inner, 2, stderr, mode),
    )
    .await;
    let streams = PipeStreams {
        stdin: a?.stdin,
        stdout: b?.stdout,
        stderr: c?.stderr,
    };
    guard.disarm();
    inner.set_connected();
    Ok((SubprocessTransport { inner }, streams))
}

/// A running subprocess and its pipes (asyncio's `SubprocessTransport`).
/// A cheap, clonable handle.
///
/// Made by [`LoopProcessExt::subprocess_exec`](crate::LoopProcessExt::subprocess_exec)
/// and its siblings. The child is watched until it exits and is then
/// reaped, whether or not handles remain; dropping every handle neither
/// kills it nor closes its pipes (call [`close`](SubprocessTransport::close)
/// for that).
///
/// ```no_run
/// use tulip::process::{LoopProcessExt, SubprocessOptions, SubprocessProtocol};
/// use tulip::transport::BaseProtocol;
///
/// struct Quiet;
/// impl BaseProtocol for Quiet {}
/// impl SubprocessProtocol for Quiet {}
///
/// # async fn demo() -> Result<(), tulip::process::Error> {
/// let lp = tulip::get_running_loop()?;
/// let (transport, _protocol) = lp
///     .subprocess_exec(|| Quiet, "sleep", ["10"], SubprocessOptions::new())
///     .await?;
/// println!("started pid {}", transport.get_pid());
/// transport.terminate()?;
/// # Ok(()) }
/// ```
///
/// It stays on its loop's thread:
///
/// ```compile_fail
/// fn is_send<T: Send>() {}
/// is_send::<tulip::process::SubprocessTransport>();
/// ```
#[derive(Clone)]
pub struct SubprocessTransport {
    inner: Rc<Inner>,
}

impl SubprocessTransport {
    /// The child's process id (asyncio's `get_pid`).
    ///
    /// ```
    /// use tulip::process::{SubprocessOptions, create_subprocess_exec};
    /// tulip::run(async {
    ///     let proc = create_subprocess_exec("true", [] as [&str; 0], SubprocessOptions::new()).await?;
    ///     assert_eq!(proc.transport().get_pid(), proc.pid());
    ///     proc.wait().await;
    ///     Ok::<(), tulip::process::Error>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_pid(&self) -> u32 {
        self.inner.pid
    }

    /// The child's return code once it has exited (asyncio's
    /// `get_returncode`): its exit status, or minus the number of the
    /// signal that killed it (`-9` for SIGKILL); `None` while it runs.
    ///
    /// ```
    /// use tulip::process::{SubprocessOptions, create_subprocess_exec};
    /// tulip::run(async {
    ///     let proc = create_subprocess_exec("sleep", ["60"], SubprocessOptions::new()).await?;
    ///     let transport = proc.transport();
    ///     assert_eq!(transport.get_returncode(), None); // still running
    ///     transport.kill()?;
    ///     proc.wait().await;
    ///     assert_eq!(transport.get_returncode(), Some(-tulip::signal::SIGKILL));
    ///     Ok::<(), tulip::process::Error>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_returncode(&self) -> Option<i32> {
        self.inner.exited.get()
    }

    /// The transport of the pipe to the child's `fd` (0: stdin, a write
    /// transport; 1: stdout and 2: stderr, read transports), or `None`
    /// when that stream is not a pipe or the pipe is closed (asyncio's
    /// `get_pipe_transport`).
    ///
    /// ```
    /// use tulip::process::{Stdio, SubprocessOptions, create_subprocess_exec};
    /// tulip::run(async {
    ///     let options = SubprocessOptions::new().stdin(Stdio::Pipe).stdout(Stdio::DevNull);
    ///     let mut proc = create_subprocess_exec("cat", [] as [&str; 0], options).await?;
    ///     let transport = proc.transport().clone();
    ///     assert!(transport.get_pipe_transport(0).is_some()); // stdin is a pipe
    ///     assert!(transport.get_pipe_transport(1).is_none()); // stdout is not
    ///     proc.communicate(None).await?; // closes stdin: cat exits
    ///     assert!(transport.get_pipe_transport(0).is_none());
    ///     Ok::<(), tulip::process::Error>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_pipe_transport(&self, fd: i32) -> Option<Transport> {
        let slot = slot(fd)?;
        match &self.inner.pipes.borrow()[slot] {
            Pipe::Open(t) => Some(t.clone()),
            Pipe::Stream(t) if !t.is_closing() => Some(t.clone()),
            _ => None,
        }
    }

    /// Sends signal `signum` (`libc::SIGUSR1`, say) to the child (asyncio's
    /// `send_signal`).
    ///
    /// Errors: [`Error::ProcessLookup`] once the child has exited and was
    /// reaped (nothing is sent: its pid may be another process's now);
    /// [`Error::InvalidInput`] for an unknown signal number.
    ///
    /// ```
    /// use tulip::process::{Error, SubprocessOptions, create_subprocess_exec};
    /// tulip::run(async {
    ///     let proc = create_subprocess_exec("sleep", ["60"], SubprocessOptions::new()).await?;
    ///     proc.transport().send_signal(tulip::signal::SIGINT)?;
    ///     assert_eq!(proc.wait().await, -tulip::signal::SIGINT);
    ///     assert!(matches!(proc.transport().send_signal(tulip::signal::SIGINT), Err(Error::ProcessLookup)));
    ///     Ok::<(), tulip::process::Error>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn send_signal(&self, signum: i32) -> Result<()> {
        match self.inner.child() {
            Some(child) => child.send_signal(signum),
            None => Err(Error::ProcessLookup),
        }
    }

    /// Sends SIGTERM (asyncio's `terminate`); as
    /// [`send_signal`](SubprocessTransport::send_signal).
    ///
    /// ```
    /// use tulip::process::{SubprocessOptions, create_subprocess_exec};
    /// tulip::run(async {
    ///     let proc = create_subprocess_exec("sleep", ["60"], SubprocessOptions::new()).await?;
    ///     proc.transport().terminate()?;
    ///     assert_eq!(proc.wait().await, -tulip::signal::SIGTERM);
    ///     Ok::<(), tulip::process::Error>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn terminate(&self) -> Result<()> {
        self.send_signal(Signal::TERM.as_raw())
    }

    /// Sends SIGKILL (asyncio's `kill`); as
    /// [`send_signal`](SubprocessTransport::send_signal).
    ///
    /// ```
    /// use tulip::process::{SubprocessOptions, create_subprocess_exec};
    /// tulip::run(async {
    ///     let proc = create_subprocess_exec("sleep", ["60"], SubprocessOptions::new()).await?;
    ///     proc.transport().kill()?;
    ///     assert_eq!(proc.wait().await, -tulip::signal::SIGKILL);
    ///     Ok::<(), tulip::process::Error>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn kill(&self) -> Result<()> {
        self.send_signal(Signal::KILL.as_raw())
    }

    /// Closes the pipes and kills the child if it still runs (asyncio's
    /// `close`). The protocol still hears `pipe_connection_lost`,
    /// `process_exited` and `connection_lost`. Idempotent.
    ///
    /// ```
    /// use tulip::process::{SubprocessOptions, create_subprocess_exec};
    /// tulip::run(async {
    ///     let proc = create_subprocess_exec("sleep", ["60"], SubprocessOptions::new()).await?;
    ///     let transport = proc.transport();
    ///     transport.close(); // the child still ran: it is killed
    ///     assert!(transport.is_closing());
    ///     assert_eq!(proc.wait().await, -tulip::signal::SIGKILL);
    ///     Ok::<(), tulip::process::Error>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn close(&self) {
        self.inner.close();
    }

    /// Whether [`close`](SubprocessTransport::close) was called.
    ///
    /// ```
    /// use tulip::process::{SubprocessOptions, create_subprocess_exec};
    /// tulip::run(async {
    ///     let proc = create_subprocess_exec("true", [] as [&str; 0], SubprocessOptions::new()).await?;
    ///     assert!(!proc.transport().is_closing());
    ///     proc.wait().await;
    ///     proc.transport().close();
    ///     assert!(proc.transport().is_closing());
    ///     Ok::<(), tulip::process::Error>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_closing(&self) -> bool {
        self.inner.closed.get()
    }

    /// asyncio's `get_extra_info(name)`: `"subprocess"` (the command
    /// line, as text: asyncio gives its `Popen` object) and `"pid"` (as
    /// text); `None` for other names.
    ///
    /// ```
    /// use tulip::process::{SubprocessOptions, create_subprocess_exec};
    /// use tulip::transport::ExtraInfo;
    /// tulip::run(async {
    ///     let proc = create_subprocess_exec("true", [] as [&str; 0], SubprocessOptions::new()).await?;
    ///     let pid = proc.transport().get_extra_info("pid");
    ///     assert!(matches!(pid, Some(ExtraInfo::Text(text)) if text == proc.pid().to_string()));
    ///     assert!(proc.transport().get_extra_info("subprocess").is_some());
    ///     assert!(proc.transport().get_extra_info("peername").is_none());
    ///     proc.wait().await;
    ///     Ok::<(), tulip::process::Error>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_extra_info(&self, name: &str) -> Option<ExtraInfo> {
        match name {
            "subprocess" => Some(ExtraInfo::Text(self.inner.description.clone())),
            "pid" => Some(ExtraInfo::Text(self.inner.pid.to_string())),
            _ => None,
        }
    }

    /// Which child watcher watches this child.
    ///
    /// ```
    /// use tulip::process::{ChildWatcherKind, SubprocessOptions, create_subprocess_exec};
    /// tulip::run(async {
    ///     let proc = create_subprocess_exec("true", [] as [&str; 0], SubprocessOptions::new()).await?;
    ///     let kind = proc.transport().child_watcher();
    ///     assert!(matches!(kind, ChildWatcherKind::Pidfd | ChildWatcherKind::Sigchld));
    ///     proc.wait().await;
    ///     Ok::<(), tulip::process::Error>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn child_watcher(&self) -> ChildWatcherKind {
        self.inner
            .child()
            .map_or_else(child_watcher::child_watcher_kind, |c| c.kind())
    }

    /// Waits until the child has exited and returns its return code. It
    /// does not wait for the pipes.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only waits.
    pub(crate) async fn wait(&self) -> i32 {
        poll_fn(|cx| self.inner.poll_wait(cx)).await
    }
}

impl fmt::Debug for SubprocessTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubprocessTransport")
            .field("pid", &self.inner.pid)
            .field("returncode", &self.inner.exited.get())
            .field("closing", &self.inner.closed.get())
            .finish()
    }
}
