//! Runs the `tulip::net` examples and checks what they print:
//! `websocket_echo` (a WebSocket echo server and client on async-tungstenite)
//! and `net_echo` (the tour of `tulip::net`).
//!
//! Each example runs in its three modes: alone (its server and its client
//! on one loop), as a server that the tests talk to, and as a client of
//! that server. The WebSocket server is also talked to by an independent
//! client: Python with only its standard library, which does the opening
//! handshake and writes masked frames by hand (so the test checks the
//! bytes on the wire, not one library against itself), and sends what a
//! server must refuse: a plain HTTP request, a path that is not served, an
//! oversized frame, an unmasked frame. `net_echo`'s server is talked to by
//! `std::net` clients.
//!
//! The servers are started with `TULIP_EXAMPLE_PORT=0` and print the port
//! they got. Every scenario runs on both reactor backends (`TULIP_BACKEND`
//! set to `epoll`, then `polling`). Waits are bounded by
//! [`DEADLINE`](common::DEADLINE); a child still running when its test
//! ends is killed and reaped.

mod common;

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::{Command, Stdio};

use common::{DEADLINE, Running, client_addr_in, loopback};

const WEBSOCKET_ECHO: &str = env!("CARGO_BIN_EXE_websocket_echo");
const NET_ECHO: &str = env!("CARGO_BIN_EXE_net_echo");

/// The reactor backends every scenario runs on.
const BACKENDS: [&str; 2] = ["epoll", "polling"];

/// Runs `path` with `args` on `backend`, with `TULIP_EXAMPLE_PORT` set to
/// `port`.
fn run(path: &'static str, backend: &str, port: u16, args: &[&str]) -> Running {
    Running::spawn_with(
        path,
        Some(port),
        args,
        &[("TULIP_BACKEND", OsStr::new(backend))],
    )
}

/// Starts the server mode of `path` on `backend` on a free port (port 0:
/// no other program can take it meanwhile); its first line is
/// `<prefix>127.0.0.1:PORT<suffix>`. Returns the server and its port.
fn start(path: &'static str, backend: &str, prefix: &str, suffix: &str) -> (Running, u16) {
    let mut server = run(path, backend, 0, &["server"]);
    let line = server.next_line();
    let addr = line
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_suffix(suffix))
        .and_then(|a| a.parse::<std::net::SocketAddr>().ok())
        .unwrap_or_else(|| panic!("{path}: {line:?} is not {prefix:?}ADDRESS{suffix:?}"));
    assert!(addr.ip().is_loopback(), "{line}");
    (server, addr.port())
}

/// Runs the client mode of `path` against a port nobody listens on (that
/// of a listener just closed): it fails, saying where and why.
fn client_finds_nobody(path: &'static str) {
    let port = common::free_port(false);
    let (status, lines, stderr) = run(path, "epoll", port, &["client"]).wait();
    assert!(!status.success());
    assert!(lines.is_empty(), "{lines:?}");
    assert!(stderr.contains(&format!("127.0.0.1:{port}")), "{stderr}");
    assert!(stderr.contains("refused"), "{stderr}");
}

/// The lines of `lines` that start with `prefix`, in order, without it.
fn with_prefix(lines: &[String], prefix: &str) -> Vec<String> {
    lines
        .iter()
        .filter_map(|l| l.strip_prefix(prefix).map(str::to_string))
        .collect()
}

// ---------------------------------------------------------------------------
// websocket_echo

/// A WebSocket client in Python's standard library alone: the opening
/// handshake of RFC 6455 (with the `Sec-WebSocket-Accept` check) and
/// masked frames written by hand. `argv`: the scenario and the port. It
/// prints one line per step; an unexpected answer raises (exit 1).
const PYTHON_CLIENT: &str = r#"
import base64, hashlib, os, socket, struct, sys

scenario, port = sys.argv[1], int(sys.argv[2])
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

def connect():
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    return s

def recv_exact(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise EOFError(f"EOF after {len(data)} of {n} bytes")
        data += chunk
    return data

def read_head(s):
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        byte = s.recv(1)
        if not byte:
            raise EOFError(f"EOF in the HTTP head: {head!r}")
        head += byte
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    return lines[0], headers

def handshake(s, path="/", upgrade=True):
    key = base64.b64encode(os.urandom(16)).decode()
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
    if upgrade:
        request += ("Upgrade: websocket\r\nConnection: Upgrade\r\n"
                    f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n")
    s.sendall((request + "\r\n").encode())
    status, headers = read_head(s)
    return key, status, headers

def frame(opcode, payload, masked=True, length=None):
    n = len(payload) if length is None else length
    mask_bit = 0x80 if masked else 0
    out = bytes([0x80 | opcode])
    if n < 126:
        out += bytes([mask_bit | n])
    elif n < 65536:
        out += bytes([mask_bit | 126]) + struct.pack("!H", n)
    else:
        out += bytes([mask_bit | 127]) + struct.pack("!Q", n)
    if not masked:
        return out + payload
    mask = os.urandom(4)
    return out + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))

def read_frame(s):
    b0, b1 = recv_exact(s, 2)
    assert b0 & 0x80, "a final frame"
    assert not b1 & 0x80, "a server's frame is not masked"
    n = b1 & 0x7F
    if n == 126:
        n, = struct.unpack("!H", recv_exact(s, 2))
    elif n == 127:
        n, = struct.unpack("!Q", recv_exact(s, 8))
    return b0 & 0x0F, recv_exact(s, n)

def expect_eof(s):
    rest = s.recv(1)
    assert rest == b"", f"more after the close frame: {rest!r}"
    print("eof")

def expect_close(s, want_code):
    opcode, payload = read_frame(s)
    assert opcode == 8, f"a close frame, not opcode {opcode}"
    code, = struct.unpack("!H", payload[:2])
    assert code == want_code, f"close code {code}, not {want_code}: {payload!r}"
    print(f"close {code}")
    expect_eof(s)

def open_websocket():
    s = connect()
    key, status, headers = handshake(s)
    assert status == "HTTP/1.1 101 Switching Protocols", status
    want = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
    assert headers.get("sec-websocket-accept") == want, headers
    assert headers.get("upgrade", "").lower() == "websocket", headers
    print("101 accepted")
    return s

if scenario == "echo":
    s = open_websocket()
    text = "h\u00e9llo from python".encode()
    s.sendall(frame(0x1, text))
    assert read_frame(s) == (0x1, text)
    print("text echoed")
    binary = bytes(range(256)) * 2
    s.sendall(frame(0x2, binary))
    assert read_frame(s) == (0x2, binary)
    print(f"binary {len(binary)} echoed")
    s.sendall(frame(0x9, b"py"))
    assert read_frame(s) == (0xA, b"py")
    print("pong")
    s.sendall(frame(0x8, struct.pack("!H", 1000) + b"bye"))
    assert read_frame(s) == (0x8, struct.pack("!H", 1000) + b"bye")
    print("close answered")
    expect_eof(s)
elif scenario == "refused":
    s = connect()
    _, status, _ = handshake(s, upgrade=False)
    print(status)
    s.close()
    s = connect()
    _, status, _ = handshake(s, path="/elsewhere")
    print(status)
    s.close()
elif scenario == "too-big":
    s = open_websocket()
    # Only the header: a 2 MiB frame announced, the payload never sent.
    s.sendall(frame(0x2, b"", length=2 << 20))
    expect_close(s, 1009)
elif scenario == "unmasked":
    s = open_websocket()
    s.sendall(frame(0x1, b"not masked", masked=False))
    expect_close(s, 1002)
else:
    raise SystemExit(f"unknown scenario {scenario}")
"#;

/// Runs the Python client's `scenario` against `port`; its output lines.
fn python(scenario: &str, port: u16) -> Vec<String> {
    let mut child = Command::new("python3")
        .args(["-c", PYTHON_CLIENT, scenario, &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs (.ci/run installs it)");
    let start = std::time::Instant::now();
    while child.try_wait().expect("waitpid").is_none() {
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            panic!("the Python client ({scenario}) did not finish within {DEADLINE:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let out = child.wait_with_output().expect("python3's output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the Python client ({scenario}) failed: {}\n{stdout}{stderr}",
        out.status
    );
    stdout.lines().map(str::to_string).collect()
}

/// The server's lines for one connection: `ADDR: <what>`; checks that the
/// address is a loopback client's and that every line has the same one.
fn connection_lines(server: &mut Running, count: usize) -> Vec<String> {
    let first = server.next_line();
    let (addr, what) = first.split_once(": ").expect("ADDR: ...");
    client_addr_in(addr, "");
    let mut lines = vec![what.to_string()];
    for _ in 1..count {
        let line = server.next_line();
        let rest = line
            .strip_prefix(&format!("{addr}: "))
            .unwrap_or_else(|| panic!("{line:?} is not about {addr}"));
        lines.push(rest.to_string());
    }
    lines
}

/// The client's lines of a full exchange, after `Connected to URL (...)`.
const WEBSOCKET_CLIENT_LINES: [&str; 9] = [
    "> text \"Hello, WebSocket!\"",
    "< text \"Hello, WebSocket!\"",
    "> binary 6 bytes [00 01 7f 80 fe ff]",
    "< binary 6 bytes [00 01 7f 80 fe ff]",
    "> ping \"tulip\"",
    "< pong \"tulip\"",
    "> close 1000 \"done\"",
    "< close 1000 \"done\"",
    "Closed cleanly",
];

/// The server's lines for the example's own client.
const WEBSOCKET_SERVER_LINES: [&str; 6] = [
    "connected to /",
    "text \"Hello, WebSocket!\"",
    "binary 6 bytes [00 01 7f 80 fe ff]",
    "ping \"tulip\"",
    "close 1000 \"done\"",
    "disconnected",
];

#[test]
fn websocket_echo_alone_runs_its_server_and_client() {
    for backend in BACKENDS {
        let lines = run(WEBSOCKET_ECHO, backend, 0, &[]).success();
        let url = lines[0]
            .strip_prefix("Serving on ")
            .unwrap_or_else(|| panic!("{backend}: {lines:?}"));
        assert!(url.starts_with("ws://127.0.0.1:"), "{url}");
        // The client's lines, in order.
        let client: Vec<&String> = lines
            .iter()
            .filter(|l| l.starts_with('<') || l.starts_with('>') || l.starts_with("Closed"))
            .collect();
        assert_eq!(client, WEBSOCKET_CLIENT_LINES, "{backend}: {lines:#?}");
        assert!(
            lines.contains(&format!("Connected to {url} (101 Switching Protocols)")),
            "{backend}: {lines:#?}"
        );
        // The server's lines for the one connection, in order.
        let peer = lines
            .iter()
            .find_map(|l| l.strip_suffix(": connected to /"))
            .unwrap_or_else(|| panic!("{backend}: no connection in {lines:#?}"));
        let server = with_prefix(&lines, &format!("{peer}: "));
        assert_eq!(server, WEBSOCKET_SERVER_LINES, "{backend}: {lines:#?}");
        assert_eq!(lines.len(), 2 + client.len() + server.len(), "{lines:#?}");
    }
}

#[test]
fn websocket_server_talks_to_its_own_client_and_to_python() {
    for backend in BACKENDS {
        let (mut server, port) = start(WEBSOCKET_ECHO, backend, "Serving on ws://", "/");

        // The example's client mode, as another process.
        let lines = run(WEBSOCKET_ECHO, backend, port, &["client"]).success();
        let url = format!("ws://127.0.0.1:{port}/");
        assert_eq!(
            lines[0],
            format!("Connected to {url} (101 Switching Protocols)")
        );
        assert_eq!(lines[1..], WEBSOCKET_CLIENT_LINES, "{backend}");
        assert_eq!(connection_lines(&mut server, 6), WEBSOCKET_SERVER_LINES);

        // A client given the URL, on the IPv4 name.
        let named = format!("ws://localhost:{port}/");
        let lines = run(WEBSOCKET_ECHO, backend, 1, &["client", &named]).success();
        assert_eq!(lines.last().map(String::as_str), Some("Closed cleanly"));
        assert_eq!(connection_lines(&mut server, 6), WEBSOCKET_SERVER_LINES);

        // Python's client: text (UTF-8), binary (a 16-bit length), a ping,
        // and the closing handshake, checked byte by byte.
        assert_eq!(
            python("echo", port),
            [
                "101 accepted",
                "text echoed",
                "binary 512 echoed",
                "pong",
                "close answered",
                "eof"
            ]
        );
        let bytes = (0..=255u8)
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(
            connection_lines(&mut server, 6),
            [
                "connected to /".to_string(),
                "text \"héllo from python\"".to_string(),
                format!("binary 512 bytes [{bytes} ...]"),
                "ping \"py\"".to_string(),
                "close 1000 \"bye\"".to_string(),
                "disconnected".to_string(),
            ]
        );
        server.kill();
    }
}

#[test]
fn websocket_server_refuses_what_is_not_a_websocket_handshake() {
    for backend in BACKENDS {
        let (mut server, port) = start(WEBSOCKET_ECHO, backend, "Serving on ws://", "/");
        assert_eq!(
            python("refused", port),
            ["HTTP/1.1 400 Bad Request", "HTTP/1.1 404 Not Found"]
        );
        let lines = connection_lines(&mut server, 1);
        assert!(
            lines[0].starts_with("not a WebSocket handshake: "),
            "{lines:?}"
        );
        assert!(lines[0].contains("Connection: upgrade"), "{lines:?}");
        assert_eq!(
            connection_lines(&mut server, 1),
            ["refused /elsewhere (404 Not Found)"]
        );

        // A connection that says nothing and goes away.
        drop(TcpStream::connect(loopback(port)).expect("connect"));
        let lines = connection_lines(&mut server, 1);
        assert!(
            lines[0].starts_with("not a WebSocket handshake"),
            "{lines:?}"
        );

        // The server still serves.
        run(WEBSOCKET_ECHO, backend, port, &["client"]).success();
        assert_eq!(connection_lines(&mut server, 6), WEBSOCKET_SERVER_LINES);
        server.kill();
    }
}

#[test]
fn websocket_server_fails_an_oversized_or_unmasked_frame_with_its_close_code() {
    for backend in BACKENDS {
        let (mut server, port) = start(WEBSOCKET_ECHO, backend, "Serving on ws://", "/");
        assert_eq!(
            python("too-big", port),
            ["101 accepted", "close 1009", "eof"]
        );
        let lines = connection_lines(&mut server, 3);
        assert_eq!(lines[0], "connected to /");
        assert!(lines[1].contains("Space limit exceeded"), "{lines:?}");
        assert_eq!(lines[2], "disconnected");

        assert_eq!(
            python("unmasked", port),
            ["101 accepted", "close 1002", "eof"]
        );
        let lines = connection_lines(&mut server, 3);
        assert!(lines[1].contains("unmasked"), "{lines:?}");
        assert_eq!(lines[2], "disconnected");
        server.kill();
    }
}

#[test]
fn websocket_client_says_why_it_cannot_connect() {
    client_finds_nobody(WEBSOCKET_ECHO);

    for (url, why) in [
        (
            "wss://127.0.0.1:1/",
            "wss:// (TLS) is not part of this example",
        ),
        ("http://127.0.0.1:1/", "not a ws:// URL"),
        ("not a url", "not a url: not a WebSocket URL"),
    ] {
        let (status, _, stderr) = run(WEBSOCKET_ECHO, "epoll", 1, &["client", url]).wait();
        assert!(!status.success(), "{url}");
        assert!(stderr.contains(why), "{url}: {stderr}");
    }

    let (status, _, stderr) = run(WEBSOCKET_ECHO, "epoll", 1, &["serve"]).wait();
    assert!(!status.success());
    assert!(stderr.contains("usage: websocket_echo"), "{stderr}");
}

// ---------------------------------------------------------------------------
// net_echo

#[test]
fn net_echo_alone_serves_three_clients_at_once() {
    for backend in BACKENDS {
        let lines = run(NET_ECHO, backend, 0, &[]).success();
        assert!(lines[0].starts_with("Serving on 127.0.0.1:"), "{lines:?}");
        assert_eq!(
            lines[lines.len() - 3..],
            [
                "Client 1 received \"Hello, tulip::net!\"",
                "Client 2 received \"a second client\"",
                "Client 3 received 1048576 bytes, all echoed",
            ],
            "{backend}"
        );
        let server = &lines[1..lines.len() - 3];
        assert_eq!(server.len(), 6, "{server:?}");
        let mut echoed: Vec<&str> = server
            .iter()
            .filter_map(|l| l.split_once(": echoed ").map(|(_, n)| n))
            .collect();
        echoed.sort_unstable();
        assert_eq!(
            echoed,
            ["1048576 bytes", "15 bytes", "18 bytes"],
            "{server:?}"
        );
        let connected = server.iter().filter(|l| l.ends_with(": connected"));
        assert_eq!(connected.count(), 3, "{server:?}");
    }
}

#[test]
fn net_echo_server_echoes_its_client_and_std_clients() {
    for backend in BACKENDS {
        let (mut server, port) = start(NET_ECHO, backend, "Serving on ", "");

        let lines = run(NET_ECHO, backend, port, &["client"]).success();
        assert_eq!(lines, ["Client received \"Hello, tulip::net!\""]);
        let message = "with a message of its own";
        let lines = run(NET_ECHO, backend, port, &["client", message]).success();
        assert_eq!(lines, [format!("Client received {message:?}")]);
        assert_eq!(
            connection_lines(&mut server, 2),
            ["connected", "echoed 18 bytes"]
        );
        assert_eq!(
            connection_lines(&mut server, 2),
            ["connected", "echoed 25 bytes"]
        );

        // A std client: bytes echoed as they come, EOF after its own EOF.
        let mut stream = TcpStream::connect(loopback(port)).expect("connect");
        stream
            .set_read_timeout(Some(DEADLINE))
            .expect("SO_RCVTIMEO");
        stream.write_all(b"ping").expect("send");
        let mut buf = [0; 4];
        stream.read_exact(&mut buf).expect("the echo");
        assert_eq!(&buf, b"ping");
        let big: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
        let writer = {
            let mut stream = stream.try_clone().expect("dup");
            let big = big.clone();
            std::thread::spawn(move || {
                stream.write_all(&big).expect("send 300 kB");
                stream.shutdown(Shutdown::Write).expect("EOF");
            })
        };
        let mut echoed = Vec::new();
        stream.read_to_end(&mut echoed).expect("the echo, then EOF");
        writer.join().expect("the writer");
        assert!(
            echoed == big,
            "{} bytes echoed of {}",
            echoed.len(),
            big.len()
        );
        assert_eq!(
            connection_lines(&mut server, 2),
            ["connected", "echoed 300004 bytes"]
        );

        // A client that resets the connection (closing it with the echo
        // unread makes the kernel send a reset) does not disturb the server.
        let mut reset = TcpStream::connect(loopback(port)).expect("connect");
        reset.set_read_timeout(Some(DEADLINE)).expect("SO_RCVTIMEO");
        reset.write_all(b"unread").expect("send");
        let mut buf = [0; 1];
        reset.peek(&mut buf).expect("the echo has come");
        drop(reset);
        let lines = connection_lines(&mut server, 2);
        assert_eq!(lines[0], "connected");
        assert!(lines[1].contains("reset"), "{lines:?}");
        run(NET_ECHO, backend, port, &["client"]).success();
        assert_eq!(
            connection_lines(&mut server, 2),
            ["connected", "echoed 18 bytes"]
        );
        server.kill();
    }
}

#[test]
fn net_echo_client_says_why_it_cannot_connect() {
    client_finds_nobody(NET_ECHO);

    let (status, _, stderr) = run(NET_ECHO, "epoll", 1, &["client", "a", "b"]).wait();
    assert!(!status.success());
    assert!(stderr.contains("usage: net_echo"), "{stderr}");
}
