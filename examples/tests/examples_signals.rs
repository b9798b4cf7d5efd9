//! Runs the ported signal example of the asyncio documentation ("Set
//! signal handlers for SIGINT and SIGTERM") as a child process, sends it
//! each signal for real (with the shell's `kill`), and checks what it
//! prints and that it exits cleanly.

mod common;

use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use common::{DEADLINE, Running};

const SIGNAL_HANDLER: &str = env!("CARGO_BIN_EXE_signal_handler");

/// Sends `signal` (a name `kill -s` knows) to process `pid`.
fn send(signal: &str, pid: u32) {
    let status = Command::new("sh")
        .args(["-c", "kill -s \"$0\" \"$1\"", signal])
        .arg(pid.to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -s {signal} {pid}: {status:?}");
}

/// Waits until process `pid` catches `SIGTERM` (`SigCgt` in its `/proc`
/// status); where `/proc` does not tell, waits a moment.
fn wait_until_catching_sigterm(pid: u32) {
    let bit = 1u64 << 14;
    let end = Instant::now() + DEADLINE;
    loop {
        let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
            thread::sleep(Duration::from_millis(500));
            return;
        };
        let caught = status
            .lines()
            .find_map(|l| l.strip_prefix("SigCgt:"))
            .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
            .unwrap_or(0);
        if caught & bit != 0 {
            return;
        }
        assert!(Instant::now() < end, "SIGTERM is never caught");
        thread::sleep(Duration::from_millis(1));
    }
}

/// Starts the example, checks its two opening lines, sends `SIG<signal>`
/// and checks the answer and the clean exit.
fn exits_on(signal: &str) {
    let mut example = Running::spawn(SIGNAL_HANDLER, None);
    example.expect_line("Event loop running for 1 hour, press Ctrl+C to interrupt.");
    let pid = example.pid();
    example.expect_line(&format!("pid {pid}: send SIGINT or SIGTERM to exit."));
    // The handlers are set once the loop runs `main` (until then SIGTERM
    // would end the process, and SIGINT would go to `tulip::run`'s own
    // Ctrl-C handling). The example says nothing at that point, so look at
    // what it catches: `main` sets the SIGINT handler first, then the
    // SIGTERM one, in one go.
    wait_until_catching_sigterm(pid);
    send(signal, pid);
    example.expect_line(&format!("got signal SIG{signal}: exit"));
    let rest = example.success();
    assert!(rest.is_empty(), "then printed {rest:?}");
}

#[test]
fn sigint_stops_the_loop() {
    exits_on("INT");
}

#[test]
fn sigterm_stops_the_loop() {
    exits_on("TERM");
}
