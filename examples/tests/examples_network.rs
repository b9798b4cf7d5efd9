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
//!
//! Every example runs as a child process with its standard output read
//! line by line on a thread; a child still running when its test ends (or
//! fails) is killed and reaped. Waits are bounded by [`DEADLINE`], far above
//! what any step takes, so a broken example fails its test instead of
//! hanging it.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use tulip_examples::PORT_ENV;

const TCP_SERVER: &str = env!("CARGO_BIN_EXE_tcp_echo_server_protocol");
const TCP_CLIENT: &str = env!("CARGO_BIN_EXE_tcp_echo_client_protocol");
const UDP_SERVER: &str = env!("CARGO_BIN_EXE_udp_echo_server_protocol");
const UDP_CLIENT: &str = env!("CARGO_BIN_EXE_udp_echo_client_protocol");

/// The longest any step may take: starting a program, a reply, an exit.
const DEADLINE: Duration = Duration::from_secs(30);

/// An example running as a child process. Killed and reaped when dropped.
struct Running {
    path: &'static str,
    child: Child,
    /// The lines of its standard output, as they come.
    lines: Receiver<String>,
    /// All of its standard error, once it closes it.
    stderr: Option<JoinHandle<String>>,
}

impl Running {
    /// Starts the example binary at `path`, on `port` if given (else
    /// on its default port).
    fn spawn(path: &'static str, port: Option<u16>) -> Running {
        let mut cmd = Command::new(path);
        match port {
            Some(port) => cmd.env(PORT_ENV, port.to_string()),
            None => cmd.env_remove(PORT_ENV),
        };
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {path}: {e}"));
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut stderr = child.stderr.take().expect("stderr is piped");
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let line = line.expect("the output is UTF-8");
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        Running {
            path,
            child,
            lines,
            stderr: Some(stderr),
        }
    }

    /// The next line of its output. Panics (with its standard error) if
    /// the program ends first, or prints nothing within [`DEADLINE`].
    fn next_line(&mut self) -> String {
        match self.lines.recv_timeout(DEADLINE) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => {
                panic!("{} printed nothing within {DEADLINE:?}", self.path)
            }
            Err(RecvTimeoutError::Disconnected) => {
                let status = self.child.wait().expect("waitpid");
                let stderr = self.take_stderr();
                panic!("{} ended ({status}) early:\n{stderr}", self.path)
            }
        }
    }

    /// Checks that the next line of its output is `want`.
    fn expect_line(&mut self, want: &str) {
        assert_eq!(self.next_line(), want, "from {}", self.path);
    }

    /// Whether the program has exited; if it has, its standard error.
    fn exited(&mut self) -> Option<String> {
        let status = self.child.try_wait().expect("waitpid");
        status.map(|_| self.take_stderr())
    }

    /// Kills the program and reaps it; checks that it is gone (no zombie
    /// left), that it printed nothing more and wrote nothing to standard
    /// error.
    fn kill(mut self) {
        let pid = self.child.id();
        self.child.kill().expect("kill");
        self.child.wait().expect("waitpid");
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "{} (pid {pid}) is still there after being reaped",
            self.path
        );
        let rest: Vec<String> = self.lines.iter().collect();
        assert!(rest.is_empty(), "{} also printed {rest:?}", self.path);
        let stderr = self.take_stderr();
        assert!(
            stderr.is_empty(),
            "{} wrote to stderr:\n{stderr}",
            self.path
        );
    }

    /// Waits for the program to exit by itself; returns its exit status, the
    /// rest of its output lines and its standard error.
    fn wait(mut self) -> (ExitStatus, Vec<String>, String) {
        let start = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("waitpid") {
                break status;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "{} did not exit within {DEADLINE:?}",
                self.path
            );
            thread::sleep(Duration::from_millis(10));
        };
        let lines = self.lines.iter().collect();
        (status, lines, self.take_stderr())
    }

    /// Runs to the end; returns the output lines after checking that the
    /// program exited successfully and wrote nothing to standard error.
    fn success(self) -> Vec<String> {
        let path = self.path;
        let (status, lines, stderr) = self.wait();
        assert!(status.success(), "{path} failed: {status}\n{stderr}");
        assert!(stderr.is_empty(), "{path} wrote to stderr:\n{stderr}");
        lines
    }

    /// Its standard error; the program must have exited (or been killed).
    fn take_stderr(&mut self) -> String {
        self.stderr
            .take()
            .map(|t| t.join().expect("the stderr reader"))
            .unwrap_or_default()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // No-ops when the program has already been reaped.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port that was free a moment ago: the kernel's pick for port 0.
fn free_port(udp: bool) -> u16 {
    let any = (Ipv4Addr::LOCALHOST, 0);
    let addr = if udp {
        UdpSocket::bind(any).and_then(|s| s.local_addr())
    } else {
        TcpListener::bind(any).and_then(|s| s.local_addr())
    };
    addr.expect("binding port 0").port()
}

/// Starts the server example at `server` on a free port and calls `ready`
/// until it returns `Some` (the server answers) or the server exits. The
/// free port can be taken by another program between the moment it is
/// picked and the moment the server binds it: then the server fails with
/// "Address already in use" and this tries another port.
fn start_server<T>(
    server: &'static str,
    udp: bool,
    mut ready: impl FnMut(u16) -> Option<T>,
) -> (Running, u16, T) {
    for _attempt in 0..5 {
        let port = free_port(udp);
        let mut running = Running::spawn(server, Some(port));
        let start = Instant::now();
        loop {
            if let Some(got) = ready(port) {
                return (running, port, got);
            }
            if let Some(stderr) = running.exited() {
                assert!(
                    stderr.contains("Address already in use") || stderr.contains("AddrInUse"),
                    "{server} failed:\n{stderr}"
                );
                break;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "{server} did not answer on port {port} within {DEADLINE:?}"
            );
            thread::sleep(Duration::from_millis(10));
        }
    }
    panic!("{server}: no free port in 5 attempts");
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// Sends `message` on `stream`, then reads until the server closes the
/// connection; returns what came back.
fn tcp_exchange(stream: &mut TcpStream, message: &[u8]) -> Vec<u8> {
    stream
        .set_read_timeout(Some(DEADLINE))
        .expect("SO_RCVTIMEO");
    stream.write_all(message).expect("send to the server");
    let mut echo = Vec::new();
    stream.read_to_end(&mut echo).expect("read the echo");
    echo
}

/// Parses a line `<prefix><address>` of a server; checks that the address
/// is a loopback one (a client of these tests) and returns it.
fn client_addr_in(line: &str, prefix: &str) -> SocketAddr {
    let addr = line
        .strip_prefix(prefix)
        .and_then(|a| a.parse::<SocketAddr>().ok())
        .unwrap_or_else(|| panic!("{line:?} is not {prefix:?} followed by an address"));
    assert!(addr.ip().is_loopback(), "{line:?}");
    assert_ne!(addr.port(), 0, "{line:?}");
    addr
}

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
