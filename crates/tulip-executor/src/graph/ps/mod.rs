//! The live process view (`python -m asyncio ps PID` / `pstree PID` in
//! tulip): a loop built with [`EventLoopBuilder::ps`](crate::EventLoopBuilder::ps),
//! or with `TULIP_PS=1` in the environment, listens on a Unix socket private
//! to its user and answers each connection with a snapshot of its tasks
//! and their await links, which the `tulip-ps` command prints.
//!
//! - Where: `$TULIP_PS_DIR` if set, else `$XDG_RUNTIME_DIR/tulip-ps`, else
//!   `/tmp/tulip-ps-<uid>`: a directory made with mode `0700` and refused
//!   if it is another user's or open to others; the socket is
//!   `<pid>-<n>.sock` (`n` counts the process's loops), mode `0600`,
//!   removed when the loop closes.
//! - The protocol: the client sends one line, `snapshot`; the loop answers
//!   one line of JSON (see `snapshot.rs`) and closes. The snapshot is taken
//!   on the loop's own thread, when it accepts the connection (a loop that
//!   is blocked does not answer: the client says so). Reading the request
//!   and writing the answer happen on a short-lived thread with timeouts,
//!   so a slow client never stalls the loop.
//! - A loop that does not enable it has no socket, no thread and no cost.

mod snapshot;

use std::cell::RefCell;
use std::fs::{self, DirBuilder};
use std::io::{self, BufRead, BufReader, Read as _, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use crate::error::Error;
use crate::event_loop::base_events::Loop;
use crate::sys::ids::user_id;

/// The environment variable that turns the live process view on for new
/// loops (`1`), as [`EventLoopBuilder::ps`](crate::EventLoopBuilder::ps) does.
pub const PS_ENV: &str = "TULIP_PS";

/// The environment variable that overrides the directory of the sockets
/// (see [`ps_socket_dir`]).
pub const PS_DIR_ENV: &str = "TULIP_PS_DIR";

/// How long the answering thread waits for the request or for the client
/// to take the answer.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// The longest request line read.
const MAX_REQUEST: u64 = 256;

/// The most connections answered at once in a process (each on a thread
/// of its own); more are closed at once (a client sees EOF).
const MAX_ANSWERING: usize = 16;

/// Connections being answered now.
static ANSWERING: AtomicUsize = AtomicUsize::new(0);

/// Counts the loops of this process that enabled the view (the `n` of
/// `<pid>-<n>.sock`).
static NEXT_LOOP: AtomicU64 = AtomicU64::new(1);

/// Whether `TULIP_PS` asks for the view.
pub(crate) fn env_enabled() -> bool {
    std::env::var(PS_ENV).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// The directory where this process's loops put their sockets (and where
/// `tulip-ps` looks first): `$TULIP_PS_DIR` if set, else
/// `$XDG_RUNTIME_DIR/tulip-ps` if that variable names an absolute path,
/// else `/tmp/tulip-ps-<uid>`.
///
/// ```
/// let dir = tulip::graph::ps_socket_dir();
/// assert!(dir.is_absolute() || std::env::var_os("TULIP_PS_DIR").is_some());
/// ```
pub fn ps_socket_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(PS_DIR_ENV).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(run) = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from) {
        if run.is_absolute() {
            return run.join("tulip-ps");
        }
    }
    PathBuf::from(format!("/tmp/tulip-ps-{}", user_id()))
}

/// Makes `dir` (mode `0700`) or checks that the existing one is a
/// directory of this user that nobody else can enter.
fn private_dir(dir: &Path) -> io::Result<()> {
    match DirBuilder::new().recursive(true).mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    let md = fs::symlink_metadata(dir)?;
    if !md.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "exists and is not a directory",
        ));
    }
    let me = user_id();
    if md.uid() != me {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("belongs to uid {}, not to this user (uid {me})", md.uid()),
        ));
    }
    if md.mode() & 0o077 != 0 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "is open to other users (mode {:o}; it must be 0700)",
                md.mode() & 0o777
            ),
        ));
    }
    Ok(())
}

fn ps_error(what: &str, path: &Path, e: io::Error) -> Error {
    Error::from(io::Error::new(
        e.kind(),
        format!("tulip-ps: {what} {}: {e}", path.display()),
    ))
}

/// A loop's listening socket; dropping it removes the socket file.
pub(crate) struct PsServer {
    path: PathBuf,
    /// The `n` of `<pid>-<n>.sock`.
    number: u64,
    listener: Rc<UnixListener>,
}

impl PsServer {
    /// Binds the loop's socket and answers on it from the loop.
    pub(crate) fn start(lp: &Loop) -> Result<PsServer, Error> {
        let dir = ps_socket_dir();
        private_dir(&dir).map_err(|e| ps_error("socket directory", &dir, e))?;
        let n = NEXT_LOOP.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!("{}-{n}.sock", std::process::id()));
        // A file left by an earlier process of the same pid.
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(ps_error("stale socket", &path, e)),
        }
        let listener = UnixListener::bind(&path).map_err(|e| ps_error("socket", &path, e))?;
        let server = PsServer {
            path,
            number: n,
            listener: Rc::new(listener),
        };
        fs::set_permissions(&server.path, fs::Permissions::from_mode(0o600))
            .map_err(|e| ps_error("socket", &server.path, e))?;
        server
            .listener
            .set_nonblocking(true)
            .map_err(|e| ps_error("socket", &server.path, e))?;
        let listener = server.listener.clone();
        let weak = lp.downgrade();
        lp.add_reader(&*server.listener, move || {
            let Some(inner) = weak.upgrade() else { return };
            let lp = Loop::from_inner(inner);
            // Level-triggered: one connection a call is enough.
            if let Ok((stream, _)) = listener.accept() {
                answer(stream, snapshot::json(&lp));
            }
        })?;
        Ok(server)
    }
}

impl Drop for PsServer {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Reads the request and writes `snapshot` (or an error line) on a thread
/// of its own, with timeouts; at most [`MAX_ANSWERING`] at once.
fn answer(stream: UnixStream, snapshot: String) {
    if ANSWERING.fetch_add(1, Ordering::AcqRel) >= MAX_ANSWERING {
        ANSWERING.fetch_sub(1, Ordering::AcqRel);
        return;
    }
    let spawned = std::thread::Builder::new()
        .name(String::from("tulip-ps"))
        .spawn(move || {
            let _ = serve(stream, &snapshot);
            ANSWERING.fetch_sub(1, Ordering::AcqRel);
        });
    // No thread to be had: the connection is dropped, the client sees EOF.
    if spawned.is_err() {
        ANSWERING.fetch_sub(1, Ordering::AcqRel);
    }
}

fn serve(stream: UnixStream, snapshot: &str) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut line = String::new();
    BufReader::new((&stream).take(MAX_REQUEST)).read_line(&mut line)?;
    let mut out = &stream;
    match line.trim() {
        "snapshot" => {
            out.write_all(snapshot.as_bytes())?;
            out.write_all(b"\n")
        }
        other => {
            let mut msg = String::from("{\"error\":");
            snapshot::push_str(
                &mut msg,
                &format!("unknown request '{other}' (expected 'snapshot')"),
            );
            msg.push_str("}\n");
            out.write_all(msg.as_bytes())
        }
    }
}

impl Loop {
    /// The socket this loop answers `tulip-ps` on, if it was built with
    /// [`EventLoopBuilder::ps`](crate::EventLoopBuilder::ps) (or `TULIP_PS=1`)
    /// and is not closed.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # // SAFETY: a doc test runs alone in its process, on one thread.
    /// # unsafe { std::env::set_var("TULIP_PS_DIR", dir.path().join("ps")) };
    /// let event_loop = tulip::EventLoop::builder().ps(true).build()?;
    /// let path = event_loop.ps_socket_path().unwrap();
    /// assert!(path.exists());
    /// event_loop.close()?;
    /// assert!(!path.exists()); // removed on close
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn ps_socket_path(&self) -> Option<PathBuf> {
        self.inner.ps.borrow().as_ref().map(|s| s.path.clone())
    }
}

/// The number of `lp` among the process's loops (0: view not enabled).
pub(crate) fn loop_number(lp: &Loop) -> u64 {
    lp.inner.ps.borrow().as_ref().map_or(0, |s| s.number)
}

/// The loop's view, for its `ps` field.
pub(crate) type PsSlot = RefCell<Option<PsServer>>;
