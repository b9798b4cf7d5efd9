//! Ctrl-C in `tulip::run` and `Runner::run`, as in asyncio's
//! `Runner`: the first `SIGINT` cancels the main future and the run returns
//! `Error::Interrupted`; a second one ends the process, even while the loop
//! is stuck; a handler set by the main future wins, and when the main
//! future removes it the runner's comes back; nothing is set off the main
//! thread; after the run the default disposition is back.
//!
//! The handling only happens on a process's main thread, and libtest runs
//! tests on threads of their own, so this binary has no harness (see
//! `Cargo.toml`): run plainly, it runs each scenario in a child run of
//! itself ([`SCENARIO_ENV`] names the scenario), sends the child real
//! signals, and checks what the child printed and how it ended. A child
//! still running when a check fails is killed and reaped. Every wait is
//! bounded by [`DEADLINE`].

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, getpid, kill_process};
use tulip_executor::signal::SIGINT;
use tulip_executor::{Error, Runner, get_running_loop, run, sleep};
use tulip_test::child::{say, wait_with_deadline};

/// Names the scenario a child run plays.
const SCENARIO_ENV: &str = "TULIP_CTRL_C_SCENARIO";

/// Far above what any step takes.
const DEADLINE: Duration = Duration::from_secs(30);

/// Longer than any test waits: a main future that "runs forever".
const FOREVER: Duration = Duration::from_secs(600);

fn main() {
    match std::env::var(SCENARIO_ENV) {
        Ok(scenario) => play(&scenario),
        Err(_) => check_all(),
    }
}

// ---------------------------------------------------------------------------
// The child side: each scenario prints what happens, line by line.

/// How a run ended, as one word.
fn outcome<T: std::fmt::Debug>(out: Result<T, Error>) -> String {
    match out {
        Err(Error::Interrupted) => String::from("interrupted"),
        Err(Error::Cancelled) => String::from("cancelled"),
        other => format!("{other:?}"),
    }
}

/// Prints "main dropped" when the main future is dropped (its `finally`).
struct Finally;

impl Drop for Finally {
    fn drop(&mut self) {
        say("main dropped");
    }
}

/// Sends this process a `SIGINT`, which must end it; says so if it does not.
fn sigint_must_kill() -> ! {
    kill_process(getpid(), Signal::INT).expect("kill");
    thread::sleep(Duration::from_secs(5));
    say("survived");
    std::process::exit(0);
}

/// What main does first in the scenarios `cancel/...` and `stuck/...`:
/// set a SIGINT handler of its own and then remove it (`removed`) or
/// cancel its handle (`cancelled`), which gives Ctrl-C back to the runner.
fn set_and_drop_a_handler(how: &str) {
    if how.is_empty() {
        return;
    }
    let lp = get_running_loop().expect("running loop");
    let handle = lp
        .add_signal_handler(SIGINT, || say("user handler"))
        .expect("add_signal_handler");
    match how {
        "removed" => assert!(lp.remove_signal_handler(SIGINT), "removed"),
        "cancelled" => assert!(handle.cancel(), "cancelled"),
        other => panic!("unknown variant {other}"),
    }
}

fn play(scenario: &str) {
    let (base, variant) = scenario.split_once('/').unwrap_or((scenario, ""));
    let variant = variant.to_owned();
    match base {
        // The first Ctrl-C cancels main; the default is back after the run.
        "cancel" => {
            let out = run(async move {
                let _finally = Finally;
                set_and_drop_a_handler(&variant);
                say("ready");
                sleep(FOREVER).await;
                "finished"
            });
            say(&outcome(out));
            sigint_must_kill();
        }
        // A loop stuck in main: the first Ctrl-C cannot be dispatched, the
        // second ends the process.
        "stuck" => {
            let out = run(async move {
                set_and_drop_a_handler(&variant);
                say("ready");
                thread::sleep(FOREVER);
            });
            say(&outcome(out));
        }
        // main sets its own SIGINT handler: it replaces the runner's.
        "user_handler" => {
            let out = run(async {
                let lp = get_running_loop().expect("running loop");
                let done = lp.create_future::<()>();
                let d = done.clone();
                lp.add_signal_handler(SIGINT, move || {
                    say("user handler");
                    let _ = d.set_result(());
                })
                .expect("add_signal_handler");
                say("ready");
                done.await.expect("done");
                "finished"
            });
            say(&outcome(out));
            // Closing the loop removed the user's handler.
            sigint_must_kill();
        }
        // Off the main thread nothing is set: Ctrl-C ends the process.
        "not_main_thread" => {
            let worker = thread::spawn(|| {
                run(async {
                    say("ready");
                    sleep(FOREVER).await;
                })
            });
            let out = worker.join().expect("worker");
            say(&outcome(out));
        }
        // A runner, interrupted twice: the handler is set again for the
        // second run; after close the default is back.
        "runner_twice" => {
            let runner = Runner::new().expect("runner");
            for n in 0..2 {
                let out = runner.run(async {
                    say("ready");
                    sleep(FOREVER).await;
                });
                say(&format!("run {n}: {}", outcome(out)));
            }
            runner.close().expect("close");
            sigint_must_kill();
        }
        // A run that completes leaves the default disposition behind.
        "completes" => {
            let out = run(async { 42 });
            say(&outcome(out));
            sigint_must_kill();
        }
        other => panic!("unknown scenario {other}"),
    }
}

// ---------------------------------------------------------------------------
// The parent side.

/// A child run of this binary playing one scenario; killed and reaped on
/// drop if still running.
struct Scenario {
    name: &'static str,
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Scenario {
    fn start(name: &'static str) -> Scenario {
        let exe = std::env::current_exe().expect("this binary");
        let mut child = Command::new(exe)
            .env(SCENARIO_ENV, name)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn the child");
        let stdout = child.stdout.take().expect("piped");
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Scenario {
            name,
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for the next line and checks it.
    fn expect(&mut self, want: &str) {
        let line = self.lines.recv_timeout(DEADLINE).unwrap_or_else(|e| {
            panic!(
                "{}: no line {want:?} ({e}); before: {:?}",
                self.name, self.seen
            )
        });
        assert_eq!(line, want, "{}: after {:?}", self.name, self.seen);
        self.seen.push(line);
    }

    fn pid(&self) -> Pid {
        Pid::from_child(&self.child)
    }

    fn sigint(&self) {
        kill_process(self.pid(), Signal::INT).expect("kill the child");
    }

    /// Whether the child catches `SIGINT` now (`/proc`'s `SigCgt`), where
    /// `/proc` tells.
    fn catches_sigint(&self) -> Option<bool> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        let mask = status.lines().find_map(|l| l.strip_prefix("SigCgt:"))?;
        let mask = u64::from_str_radix(mask.trim(), 16).ok()?;
        Some(mask & (1 << (SIGINT - 1)) != 0)
    }

    /// Waits until the child's handling of `SIGINT` is `catching`; where
    /// `/proc` does not tell, waits a moment instead.
    fn wait_catching(&self, catching: bool) {
        let end = Instant::now() + DEADLINE;
        loop {
            match self.catches_sigint() {
                Some(now) if now == catching => return,
                Some(_) => {}
                None => {
                    thread::sleep(Duration::from_millis(500));
                    return;
                }
            }
            assert!(
                Instant::now() < end,
                "{}: SIGINT caught is not {catching}",
                self.name
            );
            thread::sleep(Duration::from_millis(1));
        }
    }

    /// Waits for the end; checks nothing more was printed.
    fn wait_end(mut self) -> ExitStatus {
        let status = wait_with_deadline(&mut self.child, DEADLINE, self.name);
        let rest: Vec<String> = self.lines.try_iter().collect();
        assert!(rest.is_empty(), "{}: then printed {rest:?}", self.name);
        status
    }

    fn expect_killed_by_sigint(self) {
        let name = self.name;
        let status = self.wait_end();
        assert_eq!(status.signal(), Some(SIGINT), "{name}: {status:?}");
    }
}

impl Drop for Scenario {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The first Ctrl-C cancels main, whose destructors run; the run returns
/// `Interrupted`; afterwards SIGINT ends the process again.
fn first_sigint_cancels_the_main_future() {
    sigint_cancels_main("cancel");
}

fn sigint_cancels_main(scenario: &'static str) {
    let mut s = Scenario::start(scenario);
    s.expect("ready");
    s.wait_catching(true);
    s.sigint();
    s.expect("main dropped");
    s.expect("interrupted");
    s.expect_killed_by_sigint();
}

/// While the loop is stuck in a callback, the first Ctrl-C is only
/// noted; the kernel gives the default back at once, and the second ends
/// the process.
fn second_sigint_ends_the_process() {
    second_sigint_ends("stuck");
}

fn second_sigint_ends(scenario: &'static str) {
    let mut s = Scenario::start(scenario);
    s.expect("ready");
    s.wait_catching(true);
    s.sigint();
    s.wait_catching(false);
    s.sigint();
    s.expect_killed_by_sigint();
}

/// A handler set by main replaces the runner's: Ctrl-C runs it, main ends
/// normally; closing the loop gives the default back.
fn a_handler_of_main_wins() {
    let mut s = Scenario::start("user_handler");
    s.expect("ready");
    s.sigint();
    s.expect("user handler");
    s.expect("Ok(\"finished\")");
    s.expect_killed_by_sigint();
}

/// main removes the SIGINT handler it had set: the runner's is back, so
/// Ctrl-C cancels main (its destructors run) instead of killing the
/// process; after the run the default is back.
fn removing_a_handler_of_main_gives_ctrl_c_back_to_the_runner() {
    sigint_cancels_main("cancel/removed");
}

/// main cancels the handle of its SIGINT handler: the Ctrl-C that finds
/// it cancelled goes to the runner's handler, which comes back.
fn a_cancelled_handler_of_main_gives_ctrl_c_back_to_the_runner() {
    sigint_cancels_main("cancel/cancelled");
}

/// The runner's handler that came back keeps its second-Ctrl-C rule.
fn after_a_removed_handler_the_second_sigint_ends_the_process() {
    second_sigint_ends("stuck/removed");
}

/// No handler off the main thread: the first Ctrl-C ends the process.
fn nothing_is_set_off_the_main_thread() {
    let mut s = Scenario::start("not_main_thread");
    s.expect("ready");
    assert_ne!(s.catches_sigint(), Some(true), "no SIGINT handler");
    s.sigint();
    s.expect_killed_by_sigint();
}

/// Each `Runner::run` sets the handler again; close leaves the default.
fn a_runner_is_interrupted_run_after_run() {
    let mut s = Scenario::start("runner_twice");
    for n in 0..2 {
        s.expect("ready");
        s.wait_catching(true);
        s.sigint();
        s.expect(&format!("run {n}: interrupted"));
    }
    s.expect_killed_by_sigint();
}

/// A run that completes removes its handler.
fn a_completed_run_leaves_the_default() {
    let mut s = Scenario::start("completes");
    s.expect("Ok(42)");
    s.expect_killed_by_sigint();
}

fn check_all() {
    let checks: [(&str, fn()); 9] = [
        (
            "first_sigint_cancels_the_main_future",
            first_sigint_cancels_the_main_future,
        ),
        (
            "second_sigint_ends_the_process",
            second_sigint_ends_the_process,
        ),
        ("a_handler_of_main_wins", a_handler_of_main_wins),
        (
            "removing_a_handler_of_main_gives_ctrl_c_back_to_the_runner",
            removing_a_handler_of_main_gives_ctrl_c_back_to_the_runner,
        ),
        (
            "a_cancelled_handler_of_main_gives_ctrl_c_back_to_the_runner",
            a_cancelled_handler_of_main_gives_ctrl_c_back_to_the_runner,
        ),
        (
            "after_a_removed_handler_the_second_sigint_ends_the_process",
            after_a_removed_handler_the_second_sigint_ends_the_process,
        ),
        (
            "nothing_is_set_off_the_main_thread",
            nothing_is_set_off_the_main_thread,
        ),
        (
            "a_runner_is_interrupted_run_after_run",
            a_runner_is_interrupted_run_after_run,
        ),
        (
            "a_completed_run_leaves_the_default",
            a_completed_run_leaves_the_default,
        ),
    ];
    println!("\nrunning {} checks", checks.len());
    for (name, check) in checks {
        check();
        println!("check {name} ... ok");
    }
    println!("\nrun_ctrl_c: {} passed, 0 failed\n", checks.len());
}
