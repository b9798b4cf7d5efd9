//! What the example tests share: running an example as a child process
//! ([`Running`]: its output read line by line on a thread, killed and
//! reaped when dropped), free ports, starting a server example and waiting
//! until it answers, and small loopback helpers.
//!
//! Waits are bounded by [`DEADLINE`], far above what any step takes, so a
//! broken example fails its test instead of hanging it.
//!
//! Each test binary uses part of this module; the rest is dead code there.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use tulip_examples::PORT_ENV;

/// The longest any step may take: starting a program, a reply, an exit.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// An example running as a child process. Killed and reaped when dropped.
pub struct Running {
    path: &'static str,
    child: Child,
    /// The lines of its standard output, as they come.
    lines: Receiver<String>,
    /// All of its standard error, once it closes it.
    stderr: Option<JoinHandle<String>>,
}

impl Running {
    /// Starts the example binary at `path`, on `port` if given (else
    /// on its default port).
    pub fn spawn(path: &'static str, port: Option<u16>) -> Running {
        Running::spawn_args(path, port, &[])
    }

    /// [`spawn`](Running::spawn) with command-line arguments.
    pub fn spawn_args(path: &'static str, port: Option<u16>, args: &[&str]) -> Running {
        Running::spawn_with(path, port, args, &[])
    }

    /// [`spawn_args`](Running::spawn_args) with environment variables
    /// set as well.
    pub fn spawn_with(
        path: &'static str,
        port: Option<u16>,
        args: &[&str],
        envs: &[(&str, &std::ffi::OsStr)],
    ) -> Running {
        let mut cmd = Command::new(path);
        cmd.args(args).envs(envs.iter().copied());
        match port {
            Some(port) => cmd.env(PORT_ENV, port.to_string()),
            None => cmd.env_remove(PORT_ENV),
        };
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {path}: {e}"));
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut stderr = child.stderr.take().expect("stderr is piped");
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let line = line.expect("the output is UTF-8");
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        Running {
            path,
            child,
            lines,
            stderr: Some(stderr),
        }
    }

    /// The program's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The next line of its output. Panics (with its standard error) if
    /// the program ends first, or prints nothing within [`DEADLINE`].
    pub fn next_line(&mut self) -> String {
        match self.lines.recv_timeout(DEADLINE) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => {
                panic!("{} printed nothing within {DEADLINE:?}", self.path)
            }
            Err(RecvTimeoutError::Disconnected) => {
                let status = self.child.wait().expect("waitpid");
                let stderr = self.take_stderr();
                panic!("{} ended ({status}) early:\n{stderr}", self.path)
            }
        }
    }

    /// Checks that the next line of its output is `want`.
    pub fn expect_line(&mut self, want: &str) {
        assert_eq!(self.next_line(), want, "from {}", self.path);
    }

    /// Whether the program has exited; if it has, its standard error.
    pub fn exited(&mut self) -> Option<String> {
        let status = self.child.try_wait().expect("waitpid");
        status.map(|_| self.take_stderr())
    }

    /// Kills the program and reaps it; checks that it is gone (no zombie
    /// left), that it printed nothing more and wrote nothing to standard
    /// error.
    pub fn kill(mut self) {
        let pid = self.child.id();
        self.child.kill().expect("kill");
        self.child.wait().expect("waitpid");
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "{} (pid {pid}) is still there after being reaped",
            self.path
        );
        let rest: Vec<String> = self.lines.iter().collect();
        assert!(rest.is_empty(), "{} also printed {rest:?}", self.path);
        let stderr = self.take_stderr();
        assert!(
            stderr.is_empty(),
            "{} wrote to stderr:\n{stderr}",
            self.path
        );
    }

    /// Waits for the program to exit by itself; returns its exit status, the
    /// rest of its output lines and its standard error.
    pub fn wait(mut self) -> (ExitStatus, Vec<String>, String) {
        let start = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("waitpid") {
                break status;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "{} did not exit within {DEADLINE:?}",
                self.path
            );
            thread::sleep(Duration::from_millis(10));
        };
        let lines = self.lines.iter().collect();
        (status, lines, self.take_stderr())
    }

    /// Runs to the end; returns the output lines after checking that the
    /// program exited successfully and wrote nothing to standard error.
    pub fn success(self) -> Vec<String> {
        let path = self.path;
        let (status, lines, stderr) = self.wait();
        assert!(status.success(), "{path} failed: {status}\n{stderr}");
        assert!(stderr.is_empty(), "{path} wrote to stderr:\n{stderr}");
        lines
    }

    /// Its standard error; the program must have exited (or been killed).
    pub fn take_stderr(&mut self) -> String {
        self.stderr
            .take()
            .map(|t| t.join().expect("the stderr reader"))
            .unwrap_or_default()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // No-ops when the program has already been reaped.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port that was free a moment ago: the kernel's pick for port 0.
pub fn free_port(udp: bool) -> u16 {
    let any = (Ipv4Addr::LOCALHOST, 0);
    let addr = if udp {
        UdpSocket::bind(any).and_then(|s| s.local_addr())
    } else {
        TcpListener::bind(any).and_then(|s| s.local_addr())
    };
    addr.expect("binding port 0").port()
}

/// Starts the server example at `server` on a free port and calls `ready`
/// until it returns `Some` (the server answers) or the server exits. The
/// free port can be taken by another program between the moment it is
/// picked and the moment the server binds it: then the server fails with
/// "Address already in use" and this tries another port.
pub fn start_server<T>(
    server: &'static str,
    udp: bool,
    ready: impl FnMut(u16) -> Option<T>,
) -> (Running, u16, T) {
    start_server_with(server, udp, &[], &[], ready)
}

/// [`start_server`] with command-line arguments and environment variables
/// for the server.
pub fn start_server_with<T>(
    server: &'static str,
    udp: bool,
    args: &[&str],
    envs: &[(&str, &std::ffi::OsStr)],
    mut ready: impl FnMut(u16) -> Option<T>,
) -> (Running, u16, T) {
    for _attempt in 0..5 {
        let port = free_port(udp);
        let mut running = Running::spawn_with(server, Some(port), args, envs);
        let start = Instant::now();
        loop {
            if let Some(got) = ready(port) {
                return (running, port, got);
            }
            if let Some(stderr) = running.exited() {
                assert!(
                    stderr.contains("Address already in use") || stderr.contains("AddrInUse"),
                    "{server} failed:\n{stderr}"
                );
                break;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "{server} did not answer on port {port} within {DEADLINE:?}"
            );
            thread::sleep(Duration::from_millis(10));
        }
    }
    panic!("{server}: no free port in 5 attempts");
}

pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// Sends `message` on `stream`, then reads until the server closes the
/// connection; returns what came back.
pub fn tcp_exchange(stream: &mut TcpStream, message: &[u8]) -> Vec<u8> {
    stream
        .set_read_timeout(Some(DEADLINE))
        .expect("SO_RCVTIMEO");
    stream.write_all(message).expect("send to the server");
    let mut echo = Vec::new();
    stream.read_to_end(&mut echo).expect("read the echo");
    echo
}

/// Parses a line `<prefix><address>` of a server; checks that the address
/// is a loopback one (a client of these tests) and returns it.
pub fn client_addr_in(line: &str, prefix: &str) -> SocketAddr {
    let addr = line
        .strip_prefix(prefix)
        .and_then(|a| a.parse::<SocketAddr>().ok())
        .unwrap_or_else(|| panic!("{line:?} is not {prefix:?} followed by an address"));
    assert!(addr.ip().is_loopback(), "{line:?}");
    assert_ne!(addr.port(), 0, "{line:?}");
    addr
}
