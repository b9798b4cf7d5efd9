//! Runs the TLS echo examples (protocols and streams): each server as a
//! child process on a free port with its certificates in a temporary
//! directory (`TULIP_EXAMPLE_TLS_DIR`), the matching client against it,
//! and checks both sides' output; then a client that does not trust the
//! server's CA, one with no CA file, and a plain TCP client, none of which
//! disturbs the server.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use common::{DEADLINE, Running, client_addr_in, free_port, loopback};
use tulip_examples::tls::TLS_DIR_ENV;

const SERVER_PROTOCOL: &str = env!("CARGO_BIN_EXE_tls_echo_server_protocol");
const CLIENT_PROTOCOL: &str = env!("CARGO_BIN_EXE_tls_echo_client_protocol");
const SERVER_STREAMS: &str = env!("CARGO_BIN_EXE_tls_echo_server_streams");
const CLIENT_STREAMS: &str = env!("CARGO_BIN_EXE_tls_echo_client_streams");

/// Starts a TLS server example with its certificates in `dir`, on a free
/// port (another one if that port got taken meanwhile).
fn start_tls_server(server: &'static str, dir: &Path) -> (Running, u16) {
    for _attempt in 0..5 {
        let port = free_port(false);
        let envs = [(TLS_DIR_ENV, dir.as_os_str())];
        let mut running = Running::spawn_with(server, Some(port), &[], &envs);
        let start = Instant::now();
        loop {
            if TcpStream::connect(loopback(port)).is_ok() {
                return (running, port);
            }
            if let Some(stderr) = running.exited() {
                assert!(
                    stderr.contains("Address already in use"),
                    "{server}:\n{stderr}"
                );
                break;
            }
            assert!(start.elapsed() < DEADLINE, "{server} did not start");
            thread::sleep(Duration::from_millis(10));
        }
    }
    panic!("{server}: no free port in 5 attempts");
}

/// Runs a client example against `port` with the certificates of `dir`.
fn client(path: &'static str, port: u16, dir: &Path) -> Running {
    Running::spawn_with(path, Some(port), &[], &[(TLS_DIR_ENV, dir.as_os_str())])
}

/// A client that cannot verify the server: one whose CA is another, and
/// one with no CA file at all; both fail and say why.
fn untrusting_clients(path: &'static str, port: u16) {
    let elsewhere = tempfile::tempdir().unwrap();
    let (status, _, stderr) = client(path, port, elsewhere.path()).wait();
    assert!(!status.success());
    assert!(stderr.contains("ca.pem is missing"), "{stderr}");
    // Another CA.
    let ca = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let cert = params.self_signed(&ca).unwrap();
    std::fs::write(elsewhere.path().join("ca.pem"), cert.pem()).unwrap();
    let (status, _, stderr) = client(path, port, elsewhere.path()).wait();
    assert!(!status.success());
    assert!(stderr.contains("UnknownIssuer"), "{stderr}");
}

/// A plain TCP client talking to the TLS server: no echo, the server
/// drops it.
fn plain_client_is_refused(port: u16) {
    let mut plain = TcpStream::connect(loopback(port)).unwrap();
    plain.set_read_timeout(Some(DEADLINE)).unwrap();
    plain.write_all(b"Hello World!\n").unwrap();
    let mut got = Vec::new();
    let _ = plain.read_to_end(&mut got);
    assert!(!got.starts_with(b"Hello"), "no plaintext echo");
}

#[test]
fn tls_echo_server_and_client_protocol() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, port) = start_tls_server(SERVER_PROTOCOL, dir.path());
    for path in ["ca.pem", "cert.pem", "key.pem"] {
        assert!(dir.path().join(path).is_file(), "{path} made");
    }
    // The readiness probe was a plain connection that the server dropped
    // during its handshake, quietly.
    plain_client_is_refused(port);
    let out = client(CLIENT_PROTOCOL, port, dir.path()).success();
    assert_eq!(
        out,
        [
            "Data sent: 'Hello World!'",
            "Data received: 'Hello World!'",
            "The server closed the connection",
        ]
    );
    let line = server.next_line();
    client_addr_in(&line, "Connection from ");
    let tls = server.next_line();
    assert!(tls.starts_with("TLS: TLSv1.3 TLS13_"), "{tls}");
    assert!(tls.ends_with(", SNI localhost"), "{tls}");
    server.expect_line("Data received: 'Hello World!'");
    server.expect_line("Send: 'Hello World!'");
    server.expect_line("Close the client socket");
    untrusting_clients(CLIENT_PROTOCOL, port);
    // Still serving.
    let out = client(CLIENT_PROTOCOL, port, dir.path()).success();
    assert_eq!(out.len(), 3);
    for _ in 0..5 {
        server.next_line();
    }
    server.kill();
}

#[test]
fn tls_echo_server_and_client_streams() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, port) = start_tls_server(SERVER_STREAMS, dir.path());
    server.expect_line(&format!("Serving on {}", loopback(port)));
    plain_client_is_refused(port);
    let out = client(CLIENT_STREAMS, port, dir.path()).success();
    assert_eq!(
        out,
        [
            "Send: 'Hello World!'",
            "Received: 'Hello World!'",
            "Close the connection",
        ]
    );
    let line = server.next_line();
    let from = line
        .strip_suffix(" over TLSv1.3")
        .unwrap_or_else(|| panic!("{line}"));
    client_addr_in(from, "Received 'Hello World!' from ");
    server.expect_line("Send: 'Hello World!'");
    server.expect_line("Close the connection");
    untrusting_clients(CLIENT_STREAMS, port);
    server.kill();
}
