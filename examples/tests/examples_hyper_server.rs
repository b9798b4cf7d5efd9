//! Runs `hyper_server` (hyper's hello world on `tulip::hyper`) and talks
//! to it with real clients: curl over HTTP/1.1 and HTTP/2 with prior
//! knowledge in clear text, and over HTTPS with ALPN choosing HTTP/2 or
//! HTTP/1.1 (`%{http_version}` says which was used); Python's standard
//! library (`http.client`, over `ssl` with and without ALPN); clients that
//! fail their TLS handshake, which the server outlives; and Ctrl-C
//! (SIGINT), after which the requests in flight finish and the program
//! exits with status 0.
//!
//! The server is started with `TULIP_EXAMPLE_PORT=0` (free ports, printed)
//! and its CA certificate in a temporary directory
//! (`TULIP_EXAMPLE_TLS_DIR`). Every scenario runs on both reactor
//! backends (`TULIP_BACKEND`). The curl tests are skipped, with a note,
//! where curl is not installed; the Python one where python3 is not.

mod common;

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use common::Running;
use tulip_examples::tls::TLS_DIR_ENV;

const HYPER_SERVER: &str = env!("CARGO_BIN_EXE_hyper_server");

/// The reactor backends every scenario runs on.
const BACKENDS: [&str; 2] = ["epoll", "polling"];

/// A running `hyper_server`: its URLs and its CA certificate.
struct Server {
    running: Running,
    /// `http://127.0.0.1:PORT`
    http: String,
    /// `https://127.0.0.1:PORT`
    https: String,
    /// The CA certificate the HTTPS clients trust.
    ca: PathBuf,
    /// Where the CA certificate is (removed when dropped).
    dir: tempfile::TempDir,
}

/// Starts `hyper_server` on `backend` and reads its two `listening on`
/// lines.
fn start(backend: &str) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let envs = [
        ("TULIP_BACKEND", OsStr::new(backend)),
        (TLS_DIR_ENV, dir.path().as_os_str()),
    ];
    let mut running = Running::spawn_with(HYPER_SERVER, Some(0), &[], &envs);
    let line = running.next_line();
    let http = line
        .strip_prefix("listening on ")
        .and_then(|l| l.strip_suffix(" (HTTP/1.1, HTTP/2 with prior knowledge)"))
        .unwrap_or_else(|| panic!("{line:?}"))
        .to_string();
    assert!(http.starts_with("http://127.0.0.1:"), "{line}");
    let line = running.next_line();
    let (https, ca) = line
        .strip_prefix("listening on ")
        .and_then(|l| l.split_once(" (HTTP/2 or HTTP/1.1 by ALPN), CA "))
        .unwrap_or_else(|| panic!("{line:?}"));
    assert!(https.starts_with("https://127.0.0.1:"), "{line}");
    let ca = PathBuf::from(ca);
    assert_eq!(ca, dir.path().join("hyper_server-ca.pem"));
    assert!(ca.is_file(), "{line}");
    Server {
        running,
        http,
        https: https.to_string(),
        ca,
        dir,
    }
}

impl Server {
    /// The port of a URL of this server.
    fn port(url: &str) -> u16 {
        url.rsplit(':').next().unwrap().parse().unwrap()
    }

    /// Sends SIGINT (Ctrl-C), as the shell's `kill` does.
    fn interrupt(&self) {
        let pid = self.running.pid().to_string();
        let status = Command::new("sh")
            .args(["-c", "kill -s INT \"$0\"", &pid])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -s INT {pid}: {status:?}");
    }

    /// Ctrl-C with nothing in flight: the goodbye lines, exit status 0,
    /// nothing on standard error.
    fn stop(mut self) {
        self.interrupt();
        self.running
            .expect_line("Ctrl-C: finishing the requests in flight");
        assert_eq!(self.running.success(), ["shut down"]);
    }
}

/// Whether `program --version` runs (prints why a test is skipped if not).
fn have(program: &str) -> bool {
    let found = Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("note: {program} is not installed; skipping this test");
    }
    found
}

/// curl's command line: silent but for errors, bounded, and printing the
/// HTTP version used after the body (`1.1`, `2`).
fn curl_command(args: &[&str]) -> Command {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--max-time", "30", "-w", "\n%{http_version}"])
        .args(args)
        .stdin(Stdio::null());
    cmd
}

/// Runs curl; its output, once checked that it succeeded.
fn curl(args: &[&str]) -> String {
    checked(args, curl_command(args).output().expect("run curl"))
}

fn checked(args: &[&str], out: Output) -> String {
    assert!(
        out.status.success(),
        "curl {args:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn curl_speaks_http1_1_and_http2_in_clear_text_and_over_tls() {
    if !have("curl") {
        return;
    }
    for backend in BACKENDS {
        let mut server = start(backend);
        let (http, https) = (format!("{}/", server.http), format!("{}/", server.https));
        let ca = server.ca.to_str().unwrap().to_string();
        for (args, version, seen) in [
            (vec!["--http1.1", &http], "1.1", "HTTP/1.1"),
            (vec!["--http2-prior-knowledge", &http], "2", "HTTP/2.0"),
            // ALPN h2 (curl offers h2 and http/1.1; the server prefers h2).
            (vec!["--http2", "--cacert", &ca, &https], "2", "HTTP/2.0"),
            // ALPN http/1.1 (curl offers only that).
            (
                vec!["--http1.1", "--cacert", &ca, &https],
                "1.1",
                "HTTP/1.1",
            ),
        ] {
            let out = curl(&args);
            assert_eq!(
                out,
                format!("Hello, World!\n{version}"),
                "{backend}: {args:?}"
            );
            server.running.expect_line(&format!("GET / {seen}"));
        }
        // A route that is not there.
        let out = curl(&["--http2", "--cacert", &ca, &format!("{https}nowhere")]);
        assert_eq!(out, "no route for /nowhere\n2", "{backend}");
        server.running.expect_line("GET /nowhere HTTP/2.0");
        server.stop();
    }
}

#[test]
fn failed_tls_handshakes_leave_the_server_serving() {
    if !have("curl") {
        return;
    }
    for backend in BACKENDS {
        let mut server = start(backend);
        let https = format!("{}/", server.https);
        let ca = server.ca.to_str().unwrap().to_string();
        // Trusting another CA: curl refuses the certificate (exit status
        // 60).
        let other = server.dir.path().join("other-ca.pem");
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        std::fs::write(&other, params.self_signed(&key).unwrap().pem()).unwrap();
        let other = other.to_str().unwrap();
        let out = curl_command(&["--http2", "--cacert", other, &https])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(60), "{backend}: {out:?}");
        // Plain HTTP on the HTTPS port: no HTTP answer.
        let plain = https.replacen("https://", "http://", 1);
        let out = curl_command(&["--http1.1", &plain]).output().unwrap();
        assert!(!out.status.success(), "{backend}: {out:?}");
        assert!(!String::from_utf8_lossy(&out.stdout).contains("Hello"));
        // Still serving.
        assert_eq!(
            curl(&["--http2", "--cacert", &ca, &https]),
            "Hello, World!\n2"
        );
        server.running.expect_line("GET / HTTP/2.0");
        server.stop();
    }
}

/// Python's standard library as the client: `http.client` in clear
/// text, then over `ssl` trusting the CA (`argv`: the two ports and the
/// CA file), once offering ALPN `http/1.1` and once offering no ALPN
/// (the server tells HTTP/1.1 by the first bytes). One line per request:
/// the scheme, the status, the body, the HTTP version, the ALPN protocol.
const PYTHON_CLIENT: &str = r#"
import http.client, ssl, sys

http_port, https_port, cafile = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]

def get(conn, scheme):
    conn.request("GET", "/")
    r = conn.getresponse()
    body = r.read().decode()
    alpn = conn.sock.selected_alpn_protocol() if scheme == "https" else None
    print(scheme, r.status, body, r.version, alpn)
    conn.close()

get(http.client.HTTPConnection("127.0.0.1", http_port, timeout=30), "http")
for alpn in (["http/1.1"], None):
    ctx = ssl.create_default_context(cafile=cafile)
    if alpn:
        ctx.set_alpn_protocols(alpn)
    conn = http.client.HTTPSConnection("127.0.0.1", https_port, context=ctx, timeout=30)
    get(conn, "https")
"#;

#[test]
fn python_http_client_in_clear_text_and_over_ssl() {
    if !have("python3") {
        return;
    }
    for backend in BACKENDS {
        let mut server = start(backend);
        let out = Command::new("python3")
            .args(["-c", PYTHON_CLIENT])
            .arg(Server::port(&server.http).to_string())
            .arg(Server::port(&server.https).to_string())
            .arg(&server.ca)
            .stdin(Stdio::null())
            .output()
            .expect("run python3");
        assert!(
            out.status.success(),
            "{backend}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            "http 200 Hello, World! 11 None\n\
             https 200 Hello, World! 11 http/1.1\n\
             https 200 Hello, World! 11 None\n",
            "{backend}"
        );
        for _ in 0..3 {
            server.running.expect_line("GET / HTTP/1.1");
        }
        server.stop();
    }
}

#[test]
fn ctrl_c_lets_the_requests_in_flight_finish_then_exits_0() {
    if !have("curl") {
        return;
    }
    for backend in BACKENDS {
        let mut server = start(backend);
        let ca = server.ca.to_str().unwrap().to_string();
        let slow_h2 = format!("{}/slow/1000", server.https);
        let slow_h1 = format!("{}/slow/1000", server.http);
        let h2_args = ["--http2", "--cacert", ca.as_str(), slow_h2.as_str()];
        let h1_args = ["--http1.1", slow_h1.as_str()];
        let spawn = |args: &[&str]| {
            curl_command(args)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("run curl")
        };
        let (h2, h1) = (spawn(&h2_args), spawn(&h1_args));
        // Both requests are in the handlers.
        let mut seen = [server.running.next_line(), server.running.next_line()];
        seen.sort();
        assert_eq!(
            seen,
            ["GET /slow/1000 HTTP/1.1", "GET /slow/1000 HTTP/2.0"],
            "{backend}"
        );
        server.interrupt();
        server
            .running
            .expect_line("Ctrl-C: finishing the requests in flight");
        // Each gets its whole answer.
        let h2 = checked(&h2_args, h2.wait_with_output().unwrap());
        assert_eq!(h2, "Hello, World!\n2", "{backend}");
        let h1 = checked(&h1_args, h1.wait_with_output().unwrap());
        assert_eq!(h1, "Hello, World!\n1.1", "{backend}");
        // Then the program ends, with status 0.
        assert_eq!(server.running.success(), ["shut down"], "{backend}");
    }
}
