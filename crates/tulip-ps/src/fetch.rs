//! Finding a process's loops and asking each for its snapshot: the
//! sockets `<pid>-<n>.sock` in the directories loops use, one `snapshot`
//! request each, one JSON line back (bounded by a timeout).

use std::fmt;
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::snapshot::{Snapshot, parse};

/// How long a loop has to answer (a blocked loop never does).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// Why `tulip-ps` could not show a process.
#[derive(Debug)]
pub(crate) enum PsError {
    /// No process has this id.
    NoProcess(u32),
    /// The process is another user's: its loops' sockets are private.
    OtherUser(u32),
    /// The process runs but no loop of it answers.
    NotEnabled {
        pid: u32,
        dirs: Vec<PathBuf>,
        stale: usize,
    },
    /// A socket or directory that cannot be used (with its path).
    Io(String),
}

impl fmt::Display for PsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PsError::NoProcess(pid) => write!(f, "no such process: {pid}"),
            PsError::OtherUser(pid) => write!(
                f,
                "permission denied: process {pid} belongs to another user \
                 (a loop answers only its own user)"
            ),
            PsError::NotEnabled { pid, dirs, stale } => {
                let dirs: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
                write!(
                    f,
                    "process {pid} has no tulip loop answering tulip-ps: run it with \
                     TULIP_PS=1 (or build its loop with EventLoopBuilder::ps(true)); \
                     looked in {}",
                    dirs.join(", ")
                )?;
                if *stale > 0 {
                    write!(f, " (found {stale} socket(s) of closed loops)")?;
                }
                Ok(())
            }
            PsError::Io(msg) => f.write_str(msg),
        }
    }
}

/// The directories to look in: `explicit` alone if given, else where the
/// loops of a process with this environment put their sockets, then the
/// other usual places (the target may have another environment).
pub(crate) fn socket_dirs(explicit: Option<PathBuf>) -> Vec<PathBuf> {
    if let Some(d) = explicit {
        return vec![d];
    }
    let mut dirs = vec![tulip_executor::graph::ps_socket_dir()];
    if std::env::var_os(tulip_executor::graph::PS_DIR_ENV).is_none() {
        let uid = rustix::process::getuid().as_raw();
        let tmp = PathBuf::from(format!("/tmp/tulip-ps-{uid}"));
        let run = PathBuf::from(format!("/run/user/{uid}/tulip-ps"));
        for d in [run, tmp] {
            if !dirs.contains(&d) {
                dirs.push(d);
            }
        }
    }
    dirs
}

/// Whether `pid` exists and may be signalled (is ours).
pub(crate) fn check_process(pid: u32) -> Result<(), PsError> {
    let Some(p) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return Err(PsError::NoProcess(pid));
    };
    match rustix::process::test_kill_process(p) {
        Ok(()) => Ok(()),
        Err(rustix::io::Errno::SRCH) => Err(PsError::NoProcess(pid)),
        Err(rustix::io::Errno::PERM) => Err(PsError::OtherUser(pid)),
        Err(e) => Err(PsError::Io(format!("checking process {pid}: {e}"))),
    }
}

/// The sockets of `pid` in `dir`, by loop number.
fn sockets_in(dir: &Path, pid: u32) -> Result<Vec<(u64, PathBuf)>, PsError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(PsError::Io(format!("{}: {e}", dir.display()))),
    };
    let prefix = format!("{pid}-");
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(n) = name
            .strip_prefix(&prefix)
            .and_then(|rest| rest.strip_suffix(".sock"))
            .and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        found.push((n, entry.path()));
    }
    found.sort();
    Ok(found)
}

/// Asks the loop at `path` for its snapshot; `Ok(None)` for a socket no
/// loop listens on any more.
fn ask(path: &Path) -> Result<Option<Snapshot>, PsError> {
    let io_err = |e: io::Error| PsError::Io(format!("{}: {e}", path.display()));
    let stream = match UnixStream::connect(path) {
        Ok(s) => s,
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::ConnectionRefused | io::ErrorKind::NotFound
            ) =>
        {
            return Ok(None);
        }
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            return Err(PsError::Io(format!(
                "permission denied: {} (another user's loop?)",
                path.display()
            )));
        }
        Err(e) => return Err(io_err(e)),
    };
    stream
        .set_read_timeout(Some(ANSWER_TIMEOUT))
        .map_err(io_err)?;
    stream
        .set_write_timeout(Some(ANSWER_TIMEOUT))
        .map_err(io_err)?;
    (&stream).write_all(b"snapshot\n").map_err(io_err)?;
    let mut line = String::new();
    match BufReader::new(&stream).read_line(&mut line) {
        Ok(0) => Err(PsError::Io(format!(
            "{}: the loop closed the connection without an answer",
            path.display()
        ))),
        Ok(_) => parse(line.trim_end())
            .map(Some)
            .map_err(|e| PsError::Io(format!("{}: {e}", path.display()))),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            Err(PsError::Io(format!(
                "{}: the loop did not answer within {}s (is it blocked in a long callback?)",
                path.display(),
                ANSWER_TIMEOUT.as_secs()
            )))
        }
        Err(e) => Err(io_err(e)),
    }
}

/// The snapshot of every loop of `pid` answering in `dirs`.
pub(crate) fn fetch(pid: u32, dirs: &[PathBuf]) -> Result<Vec<Snapshot>, PsError> {
    check_process(pid)?;
    let mut snapshots = Vec::new();
    let mut stale = 0;
    for dir in dirs {
        for (_, path) in sockets_in(dir, pid)? {
            match ask(&path)? {
                Some(s) => snapshots.push(s),
                None => stale += 1,
            }
        }
    }
    if snapshots.is_empty() {
        return Err(PsError::NotEnabled {
            pid,
            dirs: dirs.to_vec(),
            stale,
        });
    }
    snapshots.sort_by_key(|s| s.loop_no);
    Ok(snapshots)
}
