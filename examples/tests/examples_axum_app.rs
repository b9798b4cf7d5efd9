//! Runs the `axum_app` example (an axum Router served by
//! `tulip::hyper::serve`) and talks to it with real clients over loopback:
//! `curl --http1.1`, `curl --http2-prior-knowledge` and a Python client
//! with only its standard library (`http.client` and `json`). They check
//! the JSON round trip (`POST /notes`, then `GET`), the path parameter
//! (`/notes/{id}`), that the shared state one request changes is what the
//! next request sees (across connections, protocols and clients), the
//! `404` of a missing note and of an unknown path, the refusal of a bad
//! body and a bad id, and the graceful Ctrl-C: SIGINT closes an idle
//! keep-alive connection, prints `shut down` and exits 0.
//!
//! The server is started with `TULIP_EXAMPLE_PORT=0` and prints the port
//! it got. Every scenario runs on both reactor backends (`TULIP_BACKEND`
//! set to `epoll`, then `polling`). curl and python3 are test requirements
//! (`.ci/run` installs curl). Waits are bounded by
//! [`DEADLINE`](common::DEADLINE).

mod common;

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;

use common::{DEADLINE, Running};

const AXUM_APP: &str = env!("CARGO_BIN_EXE_axum_app");

/// The reactor backends every scenario runs on.
const BACKENDS: [&str; 2] = ["epoll", "polling"];

/// Starts the example on `backend` on a free port; returns it and its
/// address, read from its first line.
fn start(backend: &str) -> (Running, SocketAddr) {
    let mut server = Running::spawn_with(
        AXUM_APP,
        Some(0),
        &[],
        &[("TULIP_BACKEND", OsStr::new(backend))],
    );
    let line = server.next_line();
    let addr = line
        .strip_prefix("serving on http://")
        .and_then(|a| a.parse::<SocketAddr>().ok())
        .unwrap_or_else(|| panic!("{line:?} is not `serving on http://ADDRESS`"));
    assert!(addr.ip().is_loopback(), "{line}");
    (server, addr)
}

/// What curl got: the body, the status code and the HTTP version.
#[derive(Debug, PartialEq, Eq)]
struct Reply {
    body: String,
    status: u16,
    version: String,
}

/// Runs curl with `args` for `path` on the server at `addr`.
fn curl(addr: SocketAddr, args: &[&str], path: &str) -> Reply {
    let out = Command::new("curl")
        .args(["--silent", "--show-error", "--max-time"])
        .arg(DEADLINE.as_secs().to_string())
        .args(args)
        .args(["--write-out", "\n%{http_code} %{http_version}"])
        .arg(format!("http://{addr}{path}"))
        .output()
        .expect("curl runs (install curl to run these tests)");
    assert!(out.status.success(), "curl {args:?} {path}: {out:?}");
    let text = String::from_utf8(out.stdout).expect("UTF-8 from curl");
    let (body, meta) = text.rsplit_once('\n').expect("curl's --write-out line");
    let (status, version) = meta.split_once(' ').expect("status and version");
    Reply {
        body: body.to_string(),
        status: status.parse().expect("a status code"),
        version: version.to_string(),
    }
}

/// `POST /notes` with the JSON `body`, by curl with `protocol` (`--http1.1`
/// or `--http2-prior-knowledge`).
fn post_note(addr: SocketAddr, protocol: &str, body: &str) -> Reply {
    curl(
        addr,
        &[
            protocol,
            "-H",
            "content-type: application/json",
            "--data",
            body,
        ],
        "/notes",
    )
}

/// A reply of `status` over HTTP/`version` with `body`.
fn reply(body: &str, status: u16, version: &str) -> Reply {
    Reply {
        body: body.to_string(),
        status,
        version: version.to_string(),
    }
}

#[test]
fn json_round_trip_over_http1_and_http2() {
    for backend in BACKENDS {
        let (server, addr) = start(backend);
        let (h1, h2) = ("--http1.1", "--http2-prior-knowledge");
        assert_eq!(
            post_note(addr, h1, r#"{"text":"buy milk"}"#),
            reply(r#"{"id":1,"text":"buy milk"}"#, 201, "1.1"),
            "on {backend}"
        );
        // What HTTP/1.1 stored, HTTP/2 reads (the path parameter picks it).
        assert_eq!(
            curl(addr, &[h2], "/notes/1"),
            reply(r#"{"id":1,"text":"buy milk"}"#, 200, "2"),
            "on {backend}"
        );
        assert_eq!(
            post_note(addr, h2, r#"{"text":"ünïcode ✓"}"#),
            reply(r#"{"id":2,"text":"ünïcode ✓"}"#, 201, "2"),
            "on {backend}"
        );
        assert_eq!(
            curl(addr, &[h1], "/notes"),
            reply(
                r#"[{"id":1,"text":"buy milk"},{"id":2,"text":"ünïcode ✓"}]"#,
                200,
                "1.1"
            ),
            "on {backend}"
        );
        assert_eq!(
            curl(addr, &[h2], "/notes/3"),
            reply(r#"{"error":"no note 3"}"#, 404, "2"),
            "on {backend}"
        );
        server.kill();
    }
}

#[test]
fn bad_requests_are_refused() {
    for backend in BACKENDS {
        let (server, addr) = start(backend);
        for protocol in ["--http1.1", "--http2-prior-knowledge"] {
            // Not JSON; JSON without `text`.
            assert_eq!(post_note(addr, protocol, "nope").status, 400, "{backend}");
            assert_eq!(post_note(addr, protocol, r#"{"txt":"a"}"#).status, 422);
            // An id that is not a number; a path nobody serves; a method
            // `/notes/{id}` does not take.
            assert_eq!(curl(addr, &[protocol], "/notes/first").status, 400);
            assert_eq!(curl(addr, &[protocol], "/nowhere").status, 404);
            let delete = curl(addr, &[protocol, "-X", "DELETE"], "/notes/1");
            assert_eq!(delete.status, 405, "{delete:?} on {backend}");
        }
        // A body not declared as JSON. HTTP/1.1 only: axum answers from the
        // headers, before the body is read, and over HTTP/2 hyper then
        // resets the stream whose body is still coming, which curl reports
        // as an error now and then (whatever the runtime: axum::serve on
        // tokio does the same).
        let plain = curl(addr, &["--http1.1", "--data", r#"{"text":"a"}"#], "/notes");
        assert_eq!(plain.status, 415, "{plain:?} on {backend}");
        // None of them stored anything.
        assert_eq!(curl(addr, &["--http1.1"], "/notes").body, "[]");
        server.kill();
    }
}

/// The Python client: on one keep-alive connection, creates a note, reads
/// it back by id, reads the list, and asks for a missing note; prints one
/// line per answer (`STATUS JSON`, the JSON re-encoded by Python).
const PYTHON_CLIENT: &str = r#"
import http.client, json, sys
conn = http.client.HTTPConnection(sys.argv[1], int(sys.argv[2]), timeout=30)
def ask(method, path, body=None):
    headers = {"Content-Type": "application/json"} if body is not None else {}
    conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
    r = conn.getresponse()
    data = json.loads(r.read())
    print(r.status, r.getheader("Content-Type"), json.dumps(data, sort_keys=True))
ask("POST", "/notes", {"text": "from python"})
ask("GET", "/notes/1")
ask("GET", "/notes")
ask("GET", "/notes/99")
conn.close()
"#;

#[test]
fn python_client_round_trip_and_shared_state() {
    for backend in BACKENDS {
        let (server, addr) = start(backend);
        let out = Command::new("python3")
            .args(["-c", PYTHON_CLIENT])
            .arg(addr.ip().to_string())
            .arg(addr.port().to_string())
            .output()
            .expect("python3 runs (install python3 to run these tests)");
        assert!(out.status.success(), "the Python client failed: {out:?}");
        let lines = String::from_utf8(out.stdout).expect("UTF-8 from python");
        let json = "application/json";
        assert_eq!(
            lines.lines().collect::<Vec<_>>(),
            [
                format!(r#"201 {json} {{"id": 1, "text": "from python"}}"#),
                format!(r#"200 {json} {{"id": 1, "text": "from python"}}"#),
                format!(r#"200 {json} [{{"id": 1, "text": "from python"}}]"#),
                format!(r#"404 {json} {{"error": "no note 99"}}"#),
            ],
            "on {backend}"
        );
        // Another client, on another connection and protocol, sees the
        // note Python stored.
        assert_eq!(
            curl(addr, &["--http2-prior-knowledge"], "/notes/1"),
            reply(r#"{"id":1,"text":"from python"}"#, 200, "2"),
            "on {backend}"
        );
        server.kill();
    }
}

/// Sends SIGINT to process `pid` (with the shell's `kill`).
fn interrupt(pid: u32) {
    let status = Command::new("sh")
        .args(["-c", "kill -s INT \"$0\""])
        .arg(pid.to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -s INT {pid}: {status:?}");
}

#[test]
fn ctrl_c_shuts_down_gracefully() {
    for backend in BACKENDS {
        let (mut server, addr) = start(backend);
        // A keep-alive connection, idle after one request.
        let mut idle = TcpStream::connect(addr).expect("connect");
        idle.set_read_timeout(Some(DEADLINE))
            .expect("a read timeout");
        idle.write_all(b"GET / HTTP/1.1\r\nHost: tulip\r\n\r\n")
            .expect("send a request");
        let mut answer = [0; 1024];
        let n = idle.read(&mut answer).expect("read the answer");
        let head = String::from_utf8_lossy(&answer[..n]);
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(head.ends_with("GET /notes/{id}\n"), "{head}");

        interrupt(server.pid());
        // The graceful shutdown closes the idle connection...
        let n = idle.read(&mut answer).expect("read EOF");
        assert_eq!(
            n,
            0,
            "after SIGINT: {:?}",
            String::from_utf8_lossy(&answer[..n])
        );
        // ...and the server says so and exits 0.
        server.expect_line("shut down");
        let rest = server.success();
        assert!(rest.is_empty(), "then printed {rest:?} on {backend}");
        // Nobody listens any more.
        assert!(TcpStream::connect(addr).is_err(), "still accepting");
    }
}
