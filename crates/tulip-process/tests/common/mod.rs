//! Helpers of the subprocess tests alone: a cancellation right after the
//! start, a quiet protocol, looking at our children in `/proc` (zombies, a
//! child found by its command line), and re-running a test binary under
//! the SIGCHLD child watcher. What every crate's tests share (a loop with
//! a deadline, waiting for a condition, counting descriptors) comes from
//! `tulip-test`.

#![allow(dead_code)]

use std::future::Future;
use std::pin::pin;
use std::process::Command;
use std::task::Poll;

use tulip_process::SubprocessProtocol;
use tulip_transport::BaseProtocol;

/// Polls `fut` once (it must be pending) and drops it: a cancellation
/// right after the start.
pub async fn poll_once_and_drop<F: Future>(fut: F) {
    let mut fut = pin!(fut);
    std::future::poll_fn(|cx| {
        assert!(fut.as_mut().poll(cx).is_pending());
        Poll::Ready(())
    })
    .await;
}

/// A subprocess protocol that does nothing.
#[derive(Debug)]
pub struct Quiet;
impl BaseProtocol for Quiet {}
impl SubprocessProtocol for Quiet {}

/// `(state, ppid, pgrp)` of process `pid` from `/proc/<pid>/stat`, if it
/// exists.
pub fn proc_stat(pid: u32) -> Option<(char, u32, u32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces.
    let rest = &text[text.rfind(')')? + 2..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some((state, ppid, pgrp))
}

/// Whether `pid` is a child of this process (alive or a zombie).
pub fn is_our_child(pid: u32) -> bool {
    proc_stat(pid).is_some_and(|(_, ppid, _)| ppid == std::process::id())
}

/// Whether `pid` is a zombie child of this process (exited, not reaped).
pub fn is_our_zombie(pid: u32) -> bool {
    proc_stat(pid).is_some_and(|(state, ppid, _)| state == 'Z' && ppid == std::process::id())
}

/// The pids of our children whose command line contains `needle` (its
/// arguments joined by spaces).
pub fn children_with_cmdline(needle: &str) -> Vec<u32> {
    let me = std::process::id();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| proc_stat(pid).is_some_and(|(_, ppid, _)| ppid == me))
        .filter(|&pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                let line: Vec<u8> = c.split(|&b| b == 0).collect::<Vec<_>>().join(&b' ');
                String::from_utf8_lossy(&line).contains(needle)
            })
        })
        .collect()
}

/// The environment variable a re-run sets, so that it does not re-run
/// again.
const RERUN_ENV: &str = "TULIP_PROCESS_TEST_RERUN";

/// Whether this run is the SIGCHLD re-run of [`rerun_under_sigchld`].
pub fn is_rerun() -> bool {
    std::env::var_os(RERUN_ENV).is_some()
}

/// Runs this test binary again, every test but `driver`, with
/// `TULIP_CHILD_WATCHER=sigchld`, and asserts it passed. Returns at once
/// inside such a re-run.
pub fn rerun_under_sigchld(driver: &str) {
    if is_rerun() {
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args(["--skip", driver, "--test-threads", "2"])
        .env("TULIP_CHILD_WATCHER", "sigchld")
        .env(RERUN_ENV, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the tests failed under the SIGCHLD watcher:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("test result: ok"), "{stdout}");
}
