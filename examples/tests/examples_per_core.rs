//! Runs the per-core examples as child processes on loopback:
//! `echo_per_core` and `http_per_core` in both listening modes (200
//! connections served, then a real SIGINT: every loop stops and the
//! program exits 0, counting the connections each loop served), and
//! `fan_out` (the answer gathered from the worker loops).

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::Command;
use std::thread;

use common::{DEADLINE, Running, free_port, loopback};

const ECHO_PER_CORE: &str = env!("CARGO_BIN_EXE_echo_per_core");
const HTTP_PER_CORE: &str = env!("CARGO_BIN_EXE_http_per_core");
const FAN_OUT: &str = env!("CARGO_BIN_EXE_fan_out");

/// Connections each server test makes.
const CONNECTIONS: usize = 200;
/// Client threads making them.
const CLIENTS: usize = 4;

/// Starts a per-core server example with two loops in `balance` mode;
/// returns it once both loops listen, with its port.
fn start(path: &'static str, name: &str, balance: &str) -> (Running, u16) {
    let port = free_port(false);
    let args = ["--balance", balance, "--loops", "2"];
    let mut server = Running::spawn_args(path, Some(port), &args);
    let banner = server.next_line();
    assert!(
        banner.starts_with(&format!("{name}: 2 loops, {balance}, ")),
        "{banner:?}"
    );
    let mut listening = [server.next_line(), server.next_line()];
    listening.sort();
    assert_eq!(listening, ["loop 0 listening", "loop 1 listening"]);
    (server, port)
}

/// Runs `client(port, n)` for connections 0..CONNECTIONS over
/// [`CLIENTS`] threads.
fn connect_all(port: u16, client: fn(u16, usize)) {
    let threads: Vec<_> = (0..CLIENTS)
        .map(|t| {
            thread::spawn(move || {
                (t..CONNECTIONS)
                    .step_by(CLIENTS)
                    .for_each(|n| client(port, n))
            })
        })
        .collect();
    for t in threads {
        t.join().expect("a client thread");
    }
}

/// Sends SIGINT (Ctrl-C) to the example; checks that it exits 0 having
/// served `total` connections, each loop some of them; returns the
/// per-loop counts.
fn interrupt(server: Running, total: usize) -> Vec<u64> {
    let status = Command::new("kill")
        .args(["-s", "INT", &server.pid().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
    let (status, lines, stderr) = server.wait();
    assert!(status.success(), "{status}\n{stderr}\n{lines:?}");
    assert!(stderr.is_empty(), "{stderr}");
    assert_eq!(
        lines.last().map(String::as_str),
        Some(format!("{total} connections served").as_str()),
        "{lines:?}"
    );
    let counts: Vec<u64> = (0..2)
        .map(|i| {
            let prefix = format!("loop {i} served ");
            let line = lines
                .iter()
                .find_map(|l| l.strip_prefix(&prefix))
                .unwrap_or_else(|| panic!("{lines:?}"));
            line.trim_end_matches(" connections")
                .parse()
                .expect("a count")
        })
        .collect();
    assert_eq!(counts.iter().sum::<u64>(), total as u64, "{lines:?}");
    counts
}

/// One echo client: a message, EOF, the whole echo back, then the close.
fn echo_client(port: u16, n: usize) {
    let mut stream = TcpStream::connect(loopback(port)).expect("connect");
    stream
        .set_read_timeout(Some(DEADLINE))
        .expect("SO_RCVTIMEO");
    let message = format!("message {n} ").repeat(100);
    stream.write_all(message.as_bytes()).expect("send");
    stream.shutdown(Shutdown::Write).expect("EOF");
    let mut echo = String::new();
    stream
        .read_to_string(&mut echo)
        .expect("the echo, then the close");
    assert_eq!(echo, message);
}

/// One HTTP client: two keep-alive requests on one connection, the second
/// asking to close.
fn http_client(port: u16, _n: usize) {
    let mut stream = TcpStream::connect(loopback(port)).expect("connect");
    stream
        .set_read_timeout(Some(DEADLINE))
        .expect("SO_RCVTIMEO");
    let requests = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n\
                    GET /again HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    stream.write_all(requests.as_bytes()).expect("send");
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .expect("two answers, then the close");
    assert_eq!(answer.matches("HTTP/1.1 200 OK\r\n").count(), 2, "{answer}");
    assert!(
        answer.ends_with("Connection: close\r\n\r\nHello, World!"),
        "{answer}"
    );
}

fn echo_serves(balance: &str) -> Vec<u64> {
    let (server, port) = start(ECHO_PER_CORE, "echo_per_core", balance);
    connect_all(port, echo_client);
    interrupt(server, CONNECTIONS)
}

#[test]
fn echo_per_core_with_reuse_port_serves_every_connection_and_stops_on_ctrl_c() {
    echo_serves("reuse-port");
}

#[test]
fn echo_per_core_with_the_acceptor_balances_and_stops_on_ctrl_c() {
    let counts = echo_serves("acceptor");
    // One connection at a time per client thread: the least-loaded loop
    // gets each, so both loops serve a fair share.
    assert!(
        counts.iter().all(|&c| c >= CONNECTIONS as u64 / 4),
        "{counts:?}"
    );
}

fn http_serves(balance: &str) {
    let (server, port) = start(HTTP_PER_CORE, "http_per_core", balance);
    connect_all(port, http_client);
    // And a real client.
    let curl = Command::new("curl")
        .args([
            "-s",
            "--max-time",
            "30",
            &format!("http://127.0.0.1:{port}/"),
        ])
        .output();
    let served = match curl {
        Ok(out) => {
            assert!(out.status.success(), "curl: {out:?}");
            assert_eq!(out.stdout, b"Hello, World!");
            CONNECTIONS + 1
        }
        Err(_) => CONNECTIONS, // no curl on this machine
    };
    interrupt(server, served);
}

#[test]
fn http_per_core_with_reuse_port_serves_every_connection_and_stops_on_ctrl_c() {
    http_serves("reuse-port");
}

#[test]
fn http_per_core_with_the_acceptor_serves_every_connection_and_stops_on_ctrl_c() {
    http_serves("acceptor");
}

#[test]
fn http_per_core_answers_a_malformed_request_400() {
    let (server, port) = start(HTTP_PER_CORE, "http_per_core", "acceptor");
    let mut stream = TcpStream::connect(loopback(port)).expect("connect");
    stream
        .set_read_timeout(Some(DEADLINE))
        .expect("SO_RCVTIMEO");
    stream.write_all(b"NONSENSE\r\n\r\n").expect("send");
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .expect("an answer, then the close");
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{answer}"
    );
    interrupt(server, 1);
}

#[test]
fn a_bad_balance_mode_is_refused() {
    let server = Running::spawn_args(
        ECHO_PER_CORE,
        Some(free_port(false)),
        &["--balance", "hash"],
    );
    let (status, lines, stderr) = server.wait();
    assert!(!status.success() && lines.is_empty(), "{status} {lines:?}");
    assert!(stderr.contains("--balance hash"), "{stderr}");
}

#[test]
fn fan_out_gathers_the_answers_of_the_worker_loops() {
    let lines = Running::spawn_args(FAN_OUT, None, &["--loops", "3"]).success();
    assert_eq!(
        lines,
        [
            "fan_out: 3 loops, 100 jobs of 1000 numbers",
            "loop 1 did 50 jobs",
            "loop 2 did 50 jobs",
            "longest Collatz chain below 100000: 77031 (350 steps)",
        ]
    );
}
