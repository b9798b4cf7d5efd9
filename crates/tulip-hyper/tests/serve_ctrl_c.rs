//! Ctrl-C with `serve` under `tulip::run`: by itself it cancels the main
//! future, which drops the server and closes every connection at once;
//! with the documented recipe (a `SIGINT` handler that sets the shutdown
//! signal and removes itself) the first Ctrl-C shuts down gracefully, an
//! in-flight request finishing, and a second one falls back to the runner.
//!
//! The runner handles Ctrl-C on a process's main thread only, and libtest
//! runs tests on threads of their own, so this binary has no harness (see
//! `Cargo.toml`): run plainly, it runs each scenario in a child run of
//! itself ([`SCENARIO_ENV`] names it), and checks what the child printed.
//! Every wait is bounded by [`DEADLINE`].

mod common;

use std::future::IntoFuture;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

use common::{App, Stats};
use rustix::process::{Signal, getpid, kill_process};
use tulip::net::TcpListener;
use tulip::prelude::*;
use tulip::signal::SIGINT;
use tulip_test::child::{say, wait_with_deadline};

/// Names the scenario a child run plays.
const SCENARIO_ENV: &str = "TULIP_HYPER_CTRL_C_SCENARIO";

/// Far above what any step takes.
const DEADLINE: Duration = Duration::from_secs(30);

fn main() {
    match std::env::var(SCENARIO_ENV) {
        Ok(scenario) => play(&scenario),
        Err(_) => check_all(),
    }
}

/// Sends this process a `SIGINT`.
fn ctrl_c() {
    kill_process(getpid(), Signal::INT).expect("kill");
}

/// A client on a thread of its own: `GET path`, and what came back.
fn client(port: u16, path: &'static str) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut reply = String::new();
        match stream.read_to_string(&mut reply) {
            Ok(_) if reply.is_empty() => say("client: closed without a response"),
            Ok(_) => say(&format!(
                "client: {}",
                reply.lines().last().unwrap_or_default()
            )),
            Err(e) => say(&format!("client: error {e}")),
        }
    })
}

/// Waits on the loop until a handler is running.
async fn until_in_flight(stats: &Stats) {
    let start = Instant::now();
    while stats.in_flight.get() == 0 {
        assert!(start.elapsed() < DEADLINE, "the request never arrived");
        sleep(Duration::from_millis(5)).await;
    }
}

/// The child side: each scenario prints what happens, line by line.
fn play(scenario: &str) {
    let graceful = scenario != "plain";
    let twice = scenario == "twice";
    let slow = if twice { "/slow/600000" } else { "/slow/300" };
    let mut client_thread = None;
    let out = tulip::run(async move {
        let lp = get_running_loop().unwrap();
        let listener = TcpListener::bind("127.0.0.1", 0).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let app = App::default();
        let stats: Rc<Stats> = app.stats.clone();
        let server = tulip::hyper::serve(listener, app);
        let handle = client(port, slow);
        let served = if graceful {
            // The recipe of `Serve::with_graceful_shutdown`.
            let ctrl_c_seen = lp.create_future::<()>();
            let (fired, handlers) = (ctrl_c_seen.clone(), lp.clone());
            lp.add_signal_handler(SIGINT, move || {
                let _ = fired.set_result(());
                handlers.remove_signal_handler(SIGINT);
            })
            .unwrap();
            let server = spawn(server.with_graceful_shutdown(ctrl_c_seen).into_future());
            until_in_flight(&stats).await;
            ctrl_c();
            if twice {
                sleep(Duration::from_millis(100)).await;
                say("second ctrl-c");
                ctrl_c();
            }
            server.await.unwrap()
        } else {
            let server = spawn(server.into_future());
            until_in_flight(&stats).await;
            ctrl_c();
            server.await.unwrap()
        };
        say(&format!("serve returned {served:?}"));
        (handle, stats.dropped.get())
    });
    match out {
        Ok((handle, dropped)) => {
            client_thread = Some(handle);
            say(&format!("run returned, {dropped} handler(s) dropped"));
        }
        Err(Error::Interrupted) => say("run interrupted"),
        Err(e) => say(&format!("run failed: {e}")),
    }
    if let Some(handle) = client_thread {
        handle.join().unwrap();
    } else {
        // The client sees its connection closed: give it the time to say so.
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Runs `scenario` in a child; what it printed.
fn child(scenario: &str) -> String {
    let exe = std::env::current_exe().expect("the test binary");
    let mut child = Command::new(exe)
        .env(SCENARIO_ENV, scenario)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the child");
    let status = wait_with_deadline(&mut child, DEADLINE, scenario);
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(status.success(), "{scenario}: {status:?}\n{out}");
    out
}

fn check(scenario: &str, expected: &[&str]) {
    let out = child(scenario);
    for line in expected {
        assert!(
            out.lines().any(|l| l == *line),
            "{scenario}: no line {line:?} in\n{out}"
        );
    }
    println!("test {scenario} ... ok");
}

fn check_all() {
    // By itself, Ctrl-C cancels main: the server and its connections are
    // dropped, the request in flight with them.
    check(
        "plain",
        &["run interrupted", "client: closed without a response"],
    );
    // The recipe: a graceful shutdown, the request in flight finishes.
    check(
        "graceful",
        &[
            "serve returned Ok(())",
            "run returned, 0 handler(s) dropped",
            "client: slept 300 ms",
        ],
    );
    // A second Ctrl-C during the graceful shutdown falls back to the
    // runner's: main is cancelled.
    check(
        "twice",
        &[
            "second ctrl-c",
            "run interrupted",
            "client: closed without a response",
        ],
    );
    println!("3 passed, 0 failed");
}
