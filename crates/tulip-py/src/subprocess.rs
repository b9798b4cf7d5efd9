//! Subprocesses (asyncio's `subprocess_exec` and `subprocess_shell`): a
//! Python `SubprocessProtocol` driven by tulip's subprocess transport.
//!
//! [`_spawn`] starts the child through tulip (its pipes connected as
//! tulip pipe transports, its exit watched with a pidfd or SIGCHLD) with
//! a [`PySubprocessProtocol`], which calls the Python protocol's
//! `pipe_data_received` and `pipe_connection_lost` directly and hands
//! `connection_made`, `process_exited` and `connection_lost` to the
//! Python transport object (`tulipio._subprocess._SubprocessTransport`,
//! which keeps the waiters of `_wait()`). tulip delivers them in
//! asyncio's order: `connection_made`, the pipes' data and losses and
//! `process_exited` as they happen, `connection_lost` once, last.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::process::CommandExt;
use std::process::Command;

use pyo3::exceptions::{PyProcessLookupError, PyRuntimeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use tulip_process::{
    LoopProcessExt, Stdio, SubprocessOptions, SubprocessProtocol, SubprocessTransport,
};
use tulip_transport::BaseProtocol;

use crate::fd::dup_fd;
use crate::pipe::{NativeTransport, lost_exc, os_error, report, settle, transport_error};

/// asyncio's `subprocess.PIPE`, `STDOUT` and `DEVNULL`.
const PIPE: i32 = -1;
const STDOUT: i32 = -2;
const DEVNULL: i32 = -3;

/// A tulip process error as the Python exception asyncio gives for it.
fn process_error(err: &tulip_process::Error) -> PyErr {
    match err {
        tulip_process::Error::ProcessLookup => PyProcessLookupError::new_err("No such process"),
        tulip_process::Error::InvalidInput(what) => PyValueError::new_err(what.clone()),
        tulip_process::Error::Transport(err) => transport_error(err),
        other => match other.as_io() {
            Some(io) => os_error(io),
            None => PyRuntimeError::new_err(other.to_string()),
        },
    }
}

/// Where a standard stream goes, from asyncio's value for it.
fn stdio(value: Option<i32>, which: &str) -> PyResult<Stdio> {
    Ok(match value {
        None => Stdio::Inherit,
        Some(PIPE) => Stdio::Pipe,
        Some(DEVNULL) => Stdio::DevNull,
        Some(STDOUT) if which == "stderr" => Stdio::Stdout,
        Some(STDOUT) => {
            return Err(PyValueError::new_err(format!(
                "{which}=subprocess.STDOUT: only stderr can go where stdout goes"
            )));
        }
        Some(fd) => Stdio::Fd(dup_fd(fd)?),
    })
}

/// The tulip protocol of a subprocess whose protocol is Python's.
struct PySubprocessProtocol {
    /// The Python transport object (`_SubprocessTransport`), whose
    /// `_protocol` (`set_protocol` changes it) gets the calls.
    owner: Py<PyAny>,
}

impl PySubprocessProtocol {
    fn to_owner(&self, method: &str, args: impl for<'py> pyo3::call::PyCallArgs<'py>) {
        Python::attach(|py| {
            let owner = self.owner.bind(py);
            if let Err(err) = owner.call_method1(method, args) {
                report(py, err, &format!("Exception in subprocess {method}"), owner);
            }
        });
    }

    fn to_protocol(&self, method: &str, args: impl for<'py> pyo3::call::PyCallArgs<'py>) {
        Python::attach(|py| {
            let called = self
                .owner
                .bind(py)
                .getattr(intern!(py, "_protocol"))
                .and_then(|protocol| protocol.call_method1(method, args));
            if let Err(err) = called {
                report(
                    py,
                    err,
                    &format!("Exception in protocol.{method}()"),
                    self.owner.bind(py),
                );
            }
        });
    }
}

impl BaseProtocol for PySubprocessProtocol {
    fn connection_lost(&mut self, exc: Option<tulip_transport::Error>) {
        let exc = Python::attach(|py| lost_exc(py, exc.as_ref()));
        self.to_owner("_connection_lost", (exc,));
    }

    fn pause_writing(&mut self) {
        self.to_protocol("pause_writing", ());
    }

    fn resume_writing(&mut self) {
        self.to_protocol("resume_writing", ());
    }
}

impl SubprocessProtocol for PySubprocessProtocol {
    fn connection_made(&mut self, transport: SubprocessTransport) {
        Python::attach(|py| {
            let owner = self.owner.bind(py);
            let made = Py::new(py, NativeSubprocess { transport })
                .and_then(|native| owner.call_method1(intern!(py, "_connection_made"), (native,)));
            if let Err(err) = made {
                report(py, err, "Exception in protocol.connection_made()", owner);
            }
        });
    }

    fn pipe_data_received(&mut self, fd: i32, data: &[u8]) {
        let data = Python::attach(|py| PyBytes::new(py, data).unbind());
        self.to_protocol("pipe_data_received", (fd, data));
    }

    fn pipe_connection_lost(&mut self, fd: i32, exc: Option<tulip_transport::Error>) {
        let exc = Python::attach(|py| lost_exc(py, exc.as_ref()));
        self.to_protocol("pipe_connection_lost", (fd, exc));
    }

    fn process_exited(&mut self) {
        self.to_owner("_process_exited", ());
    }
}

/// A running child seen from Python (the native half of
/// `tulipio._subprocess._SubprocessTransport`).
#[pyclass(unsendable, module = "tulipio._tulipio", name = "_NativeSubprocess")]
pub struct NativeSubprocess {
    transport: SubprocessTransport,
}

#[pymethods]
impl NativeSubprocess {
    /// The child's pid.
    fn get_pid(&self) -> u32 {
        self.transport.get_pid()
    }

    /// The return code once the child exited (negative: killed by that
    /// signal), else `None`.
    fn get_returncode(&self) -> Option<i32> {
        self.transport.get_returncode()
    }

    /// The tulip pipe transport of the child's `fd` (0, 1 or 2), if open.
    fn get_pipe_transport(&self, fd: i32) -> Option<NativeTransport> {
        self.transport
            .get_pipe_transport(fd)
            .map(NativeTransport::new)
    }

    /// Sends signal `signum` to the child.
    fn send_signal(&self, signum: i32) -> PyResult<()> {
        self.transport
            .send_signal(signum)
            .map_err(|e| process_error(&e))
    }

    /// Kills the child if it still runs and closes its pipes.
    fn close(&self) {
        self.transport.close();
    }

    /// Whether `close` was called.
    fn is_closing(&self) -> bool {
        self.transport.is_closing()
    }
}

/// What `_spawn` starts: the program, its arguments and `Popen`'s
/// keyword arguments tulipio supports (a dict from Python).
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
pub struct SpawnArgs {
    /// `argv`, `argv[0]` first (bytes).
    argv: Vec<Vec<u8>>,
    /// The program to run instead of `argv[0]` (`executable=`).
    executable: Option<Vec<u8>>,
    stdin: Option<i32>,
    stdout: Option<i32>,
    stderr: Option<i32>,
    cwd: Option<Vec<u8>>,
    /// The whole environment, or `None` for the parent's.
    env: Option<Vec<(Vec<u8>, Vec<u8>)>>,
    start_new_session: bool,
    process_group: Option<i32>,
    pass_fds: Vec<i32>,
    umask: i32,
    uid: Option<u32>,
    gid: Option<u32>,
}

/// The `Command` and the options of `args`.
fn command(args: SpawnArgs) -> PyResult<(Command, SubprocessOptions)> {
    let mut argv = args.argv.into_iter().map(OsString::from_vec);
    let program = argv
        .next()
        .ok_or_else(|| PyValueError::new_err("subprocess: the program is missing"))?;
    let mut cmd = match args.executable {
        Some(executable) => {
            let mut cmd = Command::new(OsString::from_vec(executable));
            cmd.arg0(&program);
            cmd
        }
        None => Command::new(&program),
    };
    cmd.args(argv);
    let mut options = SubprocessOptions::new()
        .stdin(stdio(args.stdin, "stdin")?)
        .stdout(stdio(args.stdout, "stdout")?)
        .stderr(stdio(args.stderr, "stderr")?);
    if let Some(cwd) = args.cwd {
        options = options.cwd(OsString::from_vec(cwd));
    }
    if let Some(env) = args.env {
        options = options.env_clear();
        for (key, value) in env {
            options = options.env(OsString::from_vec(key), OsString::from_vec(value));
        }
    }
    if let Some(pgid) = args.process_group {
        options = options.process_group(pgid);
    }
    if let Some(uid) = args.uid {
        cmd.uid(uid);
    }
    if let Some(gid) = args.gid {
        cmd.gid(gid);
    }
    let (new_session, umask, pass_fds) = (args.start_new_session, args.umask, args.pass_fds);
    if new_session || umask >= 0 || !pass_fds.is_empty() {
        let hook = move || {
            // Only async-signal-safe calls between fork and exec.
            if new_session {
                // SAFETY: `setsid` takes no pointers and is async-signal-safe.
                if unsafe { libc::setsid() } < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            if umask >= 0 {
                // SAFETY: `umask` takes a mode number and cannot fail.
                unsafe { libc::umask(umask as libc::mode_t) };
            }
            for &fd in &pass_fds {
                // SAFETY: `fcntl(F_SETFD)` on a number only changes that
                // descriptor's close-on-exec flag (`EBADF` if not open).
                if unsafe { libc::fcntl(fd, libc::F_SETFD, 0) } < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        };
        // SAFETY: the hook runs in the forked child before `exec`; it
        // allocates nothing, takes no lock and makes only the
        // async-signal-safe calls `setsid`, `umask` and `fcntl`.
        unsafe { cmd.pre_exec(hook) };
    }
    Ok((cmd, options))
}

/// Starts a child as `args` says, its protocol the Python transport
/// object `owner`'s `_protocol`; `waiter` (an asyncio future) gets
/// `None` once `connection_made` ran, or the error (`FileNotFoundError`
/// for a missing program, ...).
#[pyfunction]
pub fn _spawn(args: SpawnArgs, owner: Py<PyAny>, waiter: Py<PyAny>) -> PyResult<()> {
    let (cmd, options) = command(args)?;
    let lp = tulip_executor::get_running_loop().map_err(|_| {
        PyRuntimeError::new_err("subprocess_exec/shell needs the running tulipio loop")
    })?;
    let mut adapter = Some(PySubprocessProtocol { owner });
    let task_lp = lp.clone();
    drop(lp.create_task(async move {
        let factory = move || {
            adapter
                .take()
                .ok_or("the subprocess protocol was made already")
        };
        let factory = tulip_transport::Fallible(factory);
        let started = task_lp.subprocess_command(factory, cmd, options).await;
        let outcome = started.as_ref().map(drop).map_err(process_error);
        if !settle(&waiter, outcome) {
            // The waiter was cancelled: kill the child, close its pipes.
            if let Ok((transport, _)) = &started {
                transport.close();
            }
        }
    }));
    Ok(())
}
