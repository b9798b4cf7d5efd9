//! Runs the `hyper_client` example: its demonstration (two hyper servers
//! on loopback, HTTP/1.1 with a pooled connection and HTTP/2 over TLS with
//! a private CA); against Python's `http.server` over plain TCP and over
//! TLS with a CA file the test makes; and its failures (a refused
//! connection, a certificate it does not trust), which name the address
//! or the host.

mod common;

use std::path::Path;

use common::{Running, free_port};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};

const HYPER_CLIENT: &str = env!("CARGO_BIN_EXE_hyper_client");

/// The port in a line that says `port N`.
fn port_in(line: &str) -> u16 {
    line.split_whitespace()
        .skip_while(|w| *w != "port")
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"))
}

/// Python's `http.server` module serving `dir` on 127.0.0.1: the process
/// and its port.
fn python_http_server(dir: &Path) -> (Running, u16) {
    let dir = dir.to_str().unwrap();
    let args = [
        "-u",
        "-m",
        "http.server",
        "--bind",
        "127.0.0.1",
        "--directory",
        dir,
        "0",
    ];
    let mut python = Running::spawn_args("python3", None, &args);
    let port = port_in(&python.next_line());
    (python, port)
}

/// Python's `http.server` over TLS (its `ssl` module), serving `dir`
/// with `cert.pem` and `key.pem` of that directory.
const PYTHON_HTTPS: &str = r#"
import http.server, os, ssl, sys
os.chdir(sys.argv[1])
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain("cert.pem", "key.pem")
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
server.socket = context.wrap_socket(server.socket, server_side=True)
print("serving HTTPS on port", server.server_address[1])
server.serve_forever()
"#;

/// A directory with `hello.txt`, and a CA (`ca.pem`) with a certificate it
/// signed for `localhost` (`cert.pem`, `key.pem`).
fn site_with_certificates() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hello.txt"), "hello from python\n").unwrap();
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "hyper_client test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    std::fs::write(dir.path().join("ca.pem"), ca.pem()).unwrap();
    std::fs::write(dir.path().join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(dir.path().join("key.pem"), key.serialize_pem()).unwrap();
    dir
}

#[test]
fn the_demonstration_gets_over_http11_and_http2() {
    let out = Running::spawn(HYPER_CLIENT, None).success();
    assert_eq!(out.len(), 5, "{out:#?}");
    let expected = [
        ("http://127.0.0.1:", "/", "HTTP/1.1", 26),
        ("http://127.0.0.1:", "/again", "HTTP/1.1", 31),
        ("https://localhost:", "/", "HTTP/2.0", 26),
        ("https://localhost:", "/again", "HTTP/2.0", 31),
    ];
    for (line, (base, path, version, len)) in out.iter().zip(expected) {
        assert!(line.starts_with(&format!("GET {base}")), "{line}");
        assert!(
            line.ends_with(&format!(
                "{path} -> 200 OK, {version}, {len} bytes: Hello from {path} over {version}"
            )),
            "{line}"
        );
    }
    // The two HTTP/1.1 GETs shared one pooled connection.
    assert!(out[4].starts_with("idle HTTP/1.1 connections kept for http://127.0.0.1:"));
    assert!(out[4].ends_with(": 1"), "{}", out[4]);
}

#[test]
fn gets_from_python_http_server() {
    let site = site_with_certificates();
    let (_python, port) = python_http_server(site.path());
    let url = format!("http://127.0.0.1:{port}/hello.txt");
    let missing = format!("http://127.0.0.1:{port}/missing");
    let out = Running::spawn_args(HYPER_CLIENT, None, &[&url, &missing]).success();
    assert_eq!(
        out[0],
        format!("GET {url} -> 200 OK, HTTP/1.0, 18 bytes: hello from python")
    );
    assert!(
        out[1].starts_with(&format!("GET {missing} -> 404 Not Found, HTTP/1.0")),
        "{}",
        out[1]
    );
}

#[test]
fn gets_over_https_from_python_with_a_ca_file() {
    let site = site_with_certificates();
    let dir = site.path().to_str().unwrap();
    let mut python = Running::spawn_args("python3", None, &["-u", "-c", PYTHON_HTTPS, dir]);
    let port = port_in(&python.next_line());
    let url = format!("https://localhost:{port}/hello.txt");
    let ca = site.path().join("ca.pem");
    let ca = ca.to_str().unwrap();
    let out = Running::spawn_args(HYPER_CLIENT, None, &["--cafile", ca, &url]).success();
    assert_eq!(
        out,
        [format!(
            "GET {url} -> 200 OK, HTTP/1.0, 18 bytes: hello from python"
        )]
    );

    // Without the CA file the certificate is not trusted: a TLS error
    // naming the host, and exit status 1.
    let (status, out, stderr) = Running::spawn_args(HYPER_CLIENT, None, &[&url]).wait();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(out.is_empty(), "{out:?}");
    assert!(stderr.contains("TLS handshake"), "{stderr}");
    assert!(stderr.contains(&format!("localhost:{port}")), "{stderr}");
}

#[test]
fn a_refused_connection_fails_naming_the_address() {
    let port = free_port(false);
    let url = format!("http://127.0.0.1:{port}/");
    let (status, out, stderr) = Running::spawn_args(HYPER_CLIENT, None, &[&url]).wait();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(out.is_empty(), "{out:?}");
    assert!(stderr.contains(&format!("127.0.0.1:{port}")), "{stderr}");
    assert!(stderr.contains("Connection refused"), "{stderr}");
}
