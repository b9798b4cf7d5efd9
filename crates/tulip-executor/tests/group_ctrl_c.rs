//! Ctrl-C during `LoopGroup::run`, on real signals: the first `SIGINT`
//! cancels every loop's main task (their destructors run, their listening
//! sockets close, the tasks they left are cancelled) and `run` returns
//! `Interrupted` for each; a second one ends the process even while the
//! loops are stuck; a run that completes leaves the default disposition.
//!
//! Ctrl-C is handled on a process's main thread only, where libtest does
//! not run tests, so this binary has no harness (see `Cargo.toml`): run
//! plainly, it starts a child run of itself per scenario ([`SCENARIO_ENV`]
//! names it), signals the child and checks what it printed and how it
//! ended. Every wait is bounded by [`DEADLINE`]; a child still running
//! when a check fails is killed and reaped.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, getpid, kill_process};
use tulip_executor::signal::SIGINT;
use tulip_executor::{Error, LoopGroup, sleep};
use tulip_test::child::{say, wait_with_deadline};

/// Names the scenario a child run plays.
const SCENARIO_ENV: &str = "TULIP_GROUP_CTRL_C_SCENARIO";

/// Far above what any step takes.
const DEADLINE: Duration = Duration::from_secs(30);

/// Longer than any check waits.
const FOREVER: Duration = Duration::from_secs(600);

/// The loops of each child's group.
const LOOPS: usize = 2;

fn main() {
    match std::env::var(SCENARIO_ENV) {
        Ok(scenario) => play(&scenario),
        Err(_) => check_all(),
    }
}

// ---------------------------------------------------------------------------
// The child side.

/// Says `"{what} dropped"` when dropped.
struct Dropped(String);

impl Drop for Dropped {
    fn drop(&mut self) {
        say(&format!("{} dropped", self.0));
    }
}

/// The results of a run, as words joined by commas.
fn outcomes<T>(results: Result<Vec<Result<T, Error>>, Error>) -> String {
    match results {
        Ok(results) => results
            .iter()
            .map(|r| match r {
                Ok(_) => "ok",
                Err(Error::Interrupted) => "interrupted",
                Err(Error::Cancelled) => "cancelled",
                Err(_) => "error",
            })
            .collect::<Vec<_>>()
            .join(","),
        Err(e) => format!("run failed: {e}"),
    }
}

fn play(scenario: &str) {
    let group = LoopGroup::builder().loops(LOOPS).build().expect("build");
    match scenario {
        // Ctrl-C cancels every main task and their leftovers; the
        // listeners the main futures own are closed.
        "cancel" => {
            let (ports_tx, ports) = mpsc::channel();
            let results = group.run(move |lp, index| {
                let ports = ports_tx.clone();
                async move {
                    let _main = Dropped(format!("main {index}"));
                    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
                    ports.send(listener.local_addr().expect("addr")).unwrap();
                    let side = Dropped(format!("task {index}"));
                    lp.create_task(async move {
                        let _side = side;
                        sleep(FOREVER).await;
                    })
                    .detach();
                    say(&format!("ready {index}"));
                    sleep(FOREVER).await;
                    drop(listener);
                }
            });
            say(&outcomes(results));
            let closed = ports
                .try_iter()
                .filter(|addr| TcpStream::connect(addr).is_err())
                .count();
            say(&format!("listeners closed: {closed}"));
            sigint_must_kill();
        }
        // The loops are stuck: the first Ctrl-C is noted, the second
        // ends the process.
        "stuck" => {
            let results = group.run(|_lp, index| async move {
                say(&format!("ready {index}"));
                thread::sleep(FOREVER);
            });
            say(&outcomes(results));
        }
        // A run that completes leaves SIGINT's default behind; the group
        // still runs.
        "completes" => {
            say(&outcomes(group.run(|_lp, index| async move { index })));
            sigint_must_kill();
        }
        other => panic!("unknown scenario {other}"),
    }
}

/// Sends this process a `SIGINT`, which must end it; says so if not.
fn sigint_must_kill() -> ! {
    kill_process(getpid(), Signal::INT).expect("kill");
    thread::sleep(Duration::from_secs(5));
    say("survived");
    std::process::exit(0);
}

// ---------------------------------------------------------------------------
// The parent side.

/// A child run playing one scenario; killed and reaped on drop.
struct ChildRun {
    name: &'static str,
    child: Child,
    lines: Receiver<String>,
}

impl ChildRun {
    fn start(name: &'static str) -> ChildRun {
        let mut child = Command::new(std::env::current_exe().expect("this binary"))
            .env(SCENARIO_ENV, name)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn the child");
        let stdout = child.stdout.take().expect("piped");
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        ChildRun { name, child, lines }
    }

    fn line(&self) -> String {
        self.lines
            .recv_timeout(DEADLINE)
            .unwrap_or_else(|e| panic!("{}: no line ({e})", self.name))
    }

    /// The next `want.len()` lines, in any order, are `want`.
    fn expect_set(&self, want: &[&str]) {
        let got: BTreeSet<String> = (0..want.len()).map(|_| self.line()).collect();
        let want: BTreeSet<String> = want.iter().map(|s| s.to_string()).collect();
        assert_eq!(got, want, "{}", self.name);
    }

    fn expect(&self, want: &str) {
        assert_eq!(self.line(), want, "{}", self.name);
    }

    fn pid(&self) -> Pid {
        Pid::from_child(&self.child)
    }

    fn sigint(&self) {
        kill_process(self.pid(), Signal::INT).expect("kill the child");
    }

    /// Waits until the child catches `SIGINT` (`catching`) or not, as
    /// `/proc` tells; where it does not, waits a moment.
    fn wait_catching(&self, catching: bool) {
        let end = Instant::now() + DEADLINE;
        loop {
            let path = format!("/proc/{}/status", self.pid());
            let Ok(status) = std::fs::read_to_string(path) else {
                thread::sleep(Duration::from_millis(500));
                return;
            };
            let caught = status
                .lines()
                .find_map(|l| l.strip_prefix("SigCgt:"))
                .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
                .map(|mask| mask & (1 << (SIGINT - 1)) != 0);
            match caught {
                Some(now) if now == catching => return,
                None => return,
                Some(_) => {}
            }
            assert!(
                Instant::now() < end,
                "{}: SIGINT caught is not {catching}",
                self.name
            );
            thread::sleep(Duration::from_millis(1));
        }
    }

    /// Waits for the end: killed by `SIGINT`, nothing more printed.
    fn expect_killed_by_sigint(mut self) {
        let status = wait_with_deadline(&mut self.child, DEADLINE, self.name);
        let rest: Vec<String> = self.lines.try_iter().collect();
        assert!(rest.is_empty(), "{}: then printed {rest:?}", self.name);
        assert_eq!(status.signal(), Some(SIGINT), "{}: {status:?}", self.name);
    }
}

impl Drop for ChildRun {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The first Ctrl-C cancels every loop's main task: their destructors
/// and the tasks they left are dropped, their listeners closed; `run`
/// returns `Interrupted` per loop; then SIGINT ends the process again.
fn first_sigint_cancels_every_main_task() {
    let s = ChildRun::start("cancel");
    s.expect_set(&["ready 0", "ready 1"]);
    s.wait_catching(true);
    s.sigint();
    s.expect_set(&[
        "main 0 dropped",
        "main 1 dropped",
        "task 0 dropped",
        "task 1 dropped",
    ]);
    s.expect("interrupted,interrupted");
    s.expect("listeners closed: 2");
    s.expect_killed_by_sigint();
}

/// While the loops are stuck, the first Ctrl-C cannot reach their main
/// tasks; the default disposition is back at once and the second ends
/// the process.
fn second_sigint_ends_the_process() {
    let s = ChildRun::start("stuck");
    s.expect_set(&["ready 0", "ready 1"]);
    s.wait_catching(true);
    s.sigint();
    s.wait_catching(false);
    s.sigint();
    s.expect_killed_by_sigint();
}

/// A run that completes removes its handler.
fn a_completed_run_leaves_the_default() {
    let s = ChildRun::start("completes");
    s.expect("ok,ok");
    s.expect_killed_by_sigint();
}

fn check_all() {
    let checks: [(&str, fn()); 3] = [
        (
            "first_sigint_cancels_every_main_task",
            first_sigint_cancels_every_main_task,
        ),
        (
            "second_sigint_ends_the_process",
            second_sigint_ends_the_process,
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
    println!("\ngroup_ctrl_c: {} passed, 0 failed\n", checks.len());
}
