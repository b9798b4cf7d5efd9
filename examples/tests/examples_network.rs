//! Runs the ported networking examples of the asyncio documentation
//! (transports and protocols page, "Examples") and checks what they print.
//!
//! The servers run as child processes on a free port (found by binding port
//! 0 with `std::net`, then passed in `TULIP_EXAMPLE_PORT`); the tests wait
//! for them by trying to reach them until they answer, then talk to them
//! both with the ported client examples and with plain `std::net` sockets,
//! check what both sides print, and finally kill the server (which runs
//! forever, or for an hour, as in asyncio) and reap it.
//! `existing_socket_protocol` runs on its own (a socket pair).
//! `echo_server_timeout` (the echo server with a timeout of the original
//! asyncio documentation) runs with a short timeout on the real clock, to
//! see its timer restarted by data, and with its 5 seconds on the virtual
//! clock (`TULIP_EXAMPLE_FAST=1`), to see a silent connection closed.
//!
//! Every example runs as a child process with its standard output read
//! line by line on a thread; a child still running when its test ends (or
//! fails) is killed and reaped. Waits are bounded by
//! [`DEADLINE`](common::DEADLINE), far above what any step takes, so a
//! broken example fails its test instead of hanging it. The helpers are in
//! `tests/common/mod.rs`, shared with `examples_streams.rs`.

mod common;

use std::ffi::OsStr;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, UdpSocket};
use std::thread;
use std::time::{Duration, Instant};

use common::{
    DEADLINE, Running, client_addr_in, free_port, loopback, start_server, start_server_with,
    tcp_exchange,
};
use tulip_examples::FAST_ENV;

const TCP_SERVER: &str = env!("CARGO_BIN_EXE_tcp_echo_server_protocol");
const TCP_CLIENT: &str = env!("CARGO_BIN_EXE_tcp_echo_client_protocol");
const UDP_SERVER: &str = env!("CARGO_BIN_EXE_udp_echo_server_protocol");
const UDP_CLIENT: &str = env!("CARGO_BIN_EXE_udp_echo_client_protocol");
const TIMEOUT_SERVER: &str = env!("CARGO_BIN_EXE_echo_server_timeout");

#[test]
fn tcp_echo_server_and_clients() {
    let (mut server, port, mut first) = start_server(TCP_SERVER, false, |port| {
        TcpStream::connect(loopback(port)).ok()
    });
    let echoed = |server: &mut Running, client: SocketAddr, message: &str| {
        server.expect_line(&format!("Connection from {client}"));
        server.expect_line(&format!("Data received: {message}"));
        server.expect_line(&format!("Send: {message}"));
        server.expect_line("Close the client socket");
    };

    // A plain std client: the server echoes and closes the connection.
    let me = first.local_addr().expect("getsockname");
    assert_eq!(tcp_exchange(&mut first, b"Hello World!"), b"Hello World!");
    echoed(&mut server, me, "'Hello World!'");

    // The client example.
    let out = Running::spawn(TCP_CLIENT, Some(port)).success();
    assert_eq!(
        out,
        [
            "Data sent: 'Hello World!'",
            "Data received: 'Hello World!'",
            "The server closed the connection",
        ]
    );
    let line = server.next_line();
    let client = client_addr_in(&line, "Connection from ");
    assert_ne!(client, me);
    server.expect_line("Data received: 'Hello World!'");
    server.expect_line("Send: 'Hello World!'");
    server.expect_line("Close the client socket");

    // Two connections at once: the second is served while the first is
    // still waiting for its data; messages print as Python's repr().
    let mut a = TcpStream::connect(loopback(port)).expect("connect");
    let a_addr = a.local_addr().expect("getsockname");
    server.expect_line(&format!("Connection from {a_addr}"));
    let mut b = TcpStream::connect(loopback(port)).expect("connect");
    let b_addr = b.local_addr().expect("getsockname");
    assert_eq!(tcp_exchange(&mut b, b"it's\n"), b"it's\n");
    echoed(&mut server, b_addr, "\"it's\\n\"");
    assert_eq!(tcp_exchange(&mut a, b"Bye"), b"Bye");
    server.expect_line("Data received: 'Bye'");
    server.expect_line("Send: 'Bye'");
    server.expect_line("Close the client socket");

    server.kill();
}

#[test]
fn tcp_echo_client_without_server() {
    // Nothing listens there: as the Python client, it fails to connect.
    let port = free_port(false);
    let (status, out, stderr) = Running::spawn(TCP_CLIENT, Some(port)).wait();
    assert!(!status.success(), "the client succeeded: {out:?}");
    assert!(out.is_empty(), "{out:?}");
    assert!(stderr.contains("Connection refused"), "{stderr}");
}

/// The datagram the tests send to find out whether the UDP server is up.
const PROBE: &[u8] = b"ready?";

/// Receives on `sock` until `want` comes back from the server at `port`,
/// skipping the answers to earlier probes.
fn udp_reply(sock: &UdpSocket, port: u16, want: &[u8]) {
    let start = Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        match sock.recv_from(&mut buf) {
            Ok((n, from)) if from == loopback(port) && &buf[..n] == want => return,
            Ok((n, from)) if from == loopback(port) && &buf[..n] == PROBE => {}
            Ok((n, from)) => panic!("unexpected {:?} from {from}", &buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => panic!("recvfrom: {e}"),
        }
        assert!(start.elapsed() < DEADLINE, "no echo within {DEADLINE:?}");
    }
}

/// The next line of the UDP server, skipping what it printed for probes
/// from `prober`.
fn udp_server_line(server: &mut Running, prober: SocketAddr) -> String {
    loop {
        let line = server.next_line();
        if line != format!("Received 'ready?' from {prober}") {
            return line;
        }
        server.expect_line(&format!("Send 'ready?' to {prober}"));
    }
}

#[test]
fn udp_echo_server_and_clients() {
    let sock = UdpSocket::bind(loopback(0)).expect("bind");
    sock.set_read_timeout(Some(Duration::from_millis(50)))
        .expect("SO_RCVTIMEO");
    let me = sock.local_addr().expect("getsockname");
    let (mut server, port, ()) = start_server(UDP_SERVER, true, |port| {
        // Before the server binds the port, the probe is dropped.
        sock.send_to(PROBE, loopback(port)).expect("sendto");
        let mut buf = [0u8; 16];
        match sock.recv_from(&mut buf) {
            Ok((n, from)) if from == loopback(port) && &buf[..n] == PROBE => Some(()),
            _ => None,
        }
    });
    server.expect_line("Starting UDP server");

    // A plain std client.
    sock.set_read_timeout(Some(DEADLINE)).expect("SO_RCVTIMEO");
    for (message, repr) in [
        (&b"Hello World!"[..], "'Hello World!'"),
        (b"it's\n", "\"it's\\n\""),
    ] {
        sock.send_to(message, loopback(port)).expect("sendto");
        udp_reply(&sock, port, message);
        let line = udp_server_line(&mut server, me);
        assert_eq!(line, format!("Received {repr} from {me}"));
        server.expect_line(&format!("Send {repr} to {me}"));
    }

    // The client example.
    let out = Running::spawn(UDP_CLIENT, Some(port)).success();
    assert_eq!(
        out,
        [
            "Send: Hello World!",
            "Received: Hello World!",
            "Close the socket",
            "Connection closed",
        ]
    );
    let line = udp_server_line(&mut server, me);
    let client = client_addr_in(&line, "Received 'Hello World!' from ");
    assert_ne!(client, me);
    server.expect_line(&format!("Send 'Hello World!' to {client}"));

    server.kill();
}

#[test]
fn udp_echo_client_without_server() {
    // Nothing listens there: as in Python, the kernel reports the datagram
    // undeliverable to error_received, and the client keeps waiting.
    let port = free_port(true);
    let mut client = Running::spawn(UDP_CLIENT, Some(port));
    client.expect_line("Send: Hello World!");
    let line = client.next_line();
    assert!(
        line.starts_with("Error received: ") && line.contains("Connection refused"),
        "{line:?}"
    );
    client.kill();
}

#[test]
fn existing_socket_protocol() {
    let out = Running::spawn(env!("CARGO_BIN_EXE_existing_socket_protocol"), None).success();
    assert_eq!(out, ["Received: abc"]);
}

/// Connects to `echo_server_timeout` on `port` (`None` until it listens).
fn timeout_server_client(port: u16) -> Option<TcpStream> {
    let stream = TcpStream::connect(loopback(port)).ok()?;
    stream
        .set_read_timeout(Some(DEADLINE))
        .expect("SO_RCVTIMEO");
    Some(stream)
}

/// Sends `message` and checks that `Re: <message>` comes back.
fn re_exchange(stream: &mut TcpStream, message: &str) {
    stream
        .write_all(message.as_bytes())
        .expect("send to the server");
    let want = format!("Re: {message}");
    let mut reply = vec![0; want.len()];
    stream.read_exact(&mut reply).expect("read the reply");
    assert_eq!(String::from_utf8_lossy(&reply), want);
}

/// Reads until the server closes the connection; checks nothing else came.
fn expect_eof(stream: &mut TcpStream) {
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).expect("read until EOF");
    assert!(rest.is_empty(), "then {rest:?}");
}

#[test]
fn echo_server_timeout_replies_and_restarts_its_timer_on_data() {
    // A short timeout on the real clock: the test waits for it.
    const TIMEOUT: Duration = Duration::from_millis(1500);
    // Timers may fire up to the clock's resolution early.
    const EARLY: Duration = Duration::from_millis(50);
    let (mut server, port, mut a) =
        start_server_with(TIMEOUT_SERVER, false, &["--timeout", "1.5"], &[], |port| {
            timeout_server_client(port)
        });
    server.expect_line("connection made");
    re_exchange(&mut a, "one");
    let one = Instant::now();
    server.expect_line("data received:  one");

    // A client that closes first: its timer is cancelled (it would fire
    // before the first client's, and print).
    let mut b = timeout_server_client(port).expect("connect");
    server.expect_line("connection made");
    re_exchange(&mut b, "bye\nbye");
    server.expect_line("data received:  bye");
    server.expect_line("bye");
    b.shutdown(Shutdown::Write).expect("shutdown");
    expect_eof(&mut b);
    server.expect_line("connection lost: None");

    // Data restarts the timer: the close comes TIMEOUT after the last
    // data, not after the first.
    thread::sleep(Duration::from_millis(500).saturating_sub(one.elapsed()));
    let two = Instant::now();
    re_exchange(&mut a, "two");
    server.expect_line("data received:  two");
    expect_eof(&mut a);
    let silent = two.elapsed();
    assert!(
        silent + EARLY >= TIMEOUT,
        "closed {silent:?} after the last data"
    );
    assert!(one.elapsed() >= Duration::from_millis(500) + TIMEOUT - EARLY);
    server.expect_line("connection timeout, closing.");
    server.expect_line("connection lost: None");
    server.kill();
}

#[test]
fn echo_server_timeout_closes_a_silent_connection_after_5_virtual_seconds() {
    let fast: [(&str, &OsStr); 1] = [(FAST_ENV, OsStr::new("1"))];
    let started = Instant::now();
    let (mut server, _port, mut silent) =
        start_server_with(TIMEOUT_SERVER, false, &[], &fast, timeout_server_client);
    expect_eof(&mut silent);
    // The 5 seconds went by on the virtual clock, not on the wall.
    assert!(started.elapsed() < Duration::from_secs(5), "{started:?}");
    server.expect_line("connection made");
    server.expect_line("connection timeout, closing.");
    server.expect_line("connection lost: None");
    server.kill();
}

#[test]
fn echo_server_timeout_rejects_a_bad_timeout() {
    let args = ["--timeout", "soon"];
    let (status, out, stderr) = Running::spawn_args(TIMEOUT_SERVER, None, &args).wait();
    assert!(!status.success(), "it ran: {out:?}");
    assert!(out.is_empty(), "{out:?}");
    assert!(
        stderr.contains(r#"--timeout \"soon\" is not a number of seconds"#),
        "{stderr}"
    );
}
