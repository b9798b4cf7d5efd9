//! Runs the ported networking examples of the asyncio documentation
//! (transports and protocols page, "Examples") and checks what they print.
//!
//! `existing_socket_protocol` runs on its own (a socket pair).
//!
//! Every example runs as a child process with its standard output read
//! line by line on a thread; a child still running when its test ends (or
//! fails) is killed and reaped. Waits are bounded by [`DEADLINE`], far above
//! what any step takes, so a broken example fails its test instead of
//! hanging it.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// The longest any step may take: starting a program, a reply, an exit.
const DEADLINE: Duration = Duration::from_secs(30);

/// An example running as a child process. Killed and reaped when dropped.
struct Running {
    path: &'static str,
    child: Child,
    /// The lines of its standard output, as they come.
    lines: Receiver<String>,
    /// All of its standard error, once it closes it.
    stderr: Option<JoinHandle<String>>,
}

impl Running {
    /// Starts the example binary at `path`.
    fn spawn(path: &'static str) -> Running {
        let mut child = Command::new(path)
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

    /// Waits for the program to exit by itself; returns its exit status, the
    /// rest of its output lines and its standard error.
    fn wait(mut self) -> (ExitStatus, Vec<String>, String) {
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
    fn success(self) -> Vec<String> {
        let path = self.path;
        let (status, lines, stderr) = self.wait();
        assert!(status.success(), "{path} failed: {status}\n{stderr}");
        assert!(stderr.is_empty(), "{path} wrote to stderr:\n{stderr}");
        lines
    }

    /// Its standard error; the program must have exited (or been killed).
    fn take_stderr(&mut self) -> String {
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

#[test]
fn existing_socket_protocol() {
    let out = Running::spawn(env!("CARGO_BIN_EXE_existing_socket_protocol")).success();
    assert_eq!(out, ["Received: abc"]);
}
