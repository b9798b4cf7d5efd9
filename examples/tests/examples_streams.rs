//! Runs the ported streams examples of the asyncio documentation (streams
//! page, "Examples") and the chat server example, and checks what they
//! print and send.
//!
//! As in `examples_network.rs` (whose helpers, in `tests/common/mod.rs`,
//! these tests share), the servers run as child processes on a free port
//! passed in `TULIP_EXAMPLE_PORT`, are reached by the client examples and
//! by plain `std::net` sockets, and are killed and reaped at the end.
//! `get_http_headers` runs against small HTTP servers of this file on
//! 127.0.0.1, which also record the request they got: std sockets on a
//! thread for `http`, tulip's `start_server` with TLS on a loop of its own
//! thread for `https` (with a certificate authority made by the test);
//! `open_socket_streams` runs on its own (a socket pair).

mod common;

use std::cell::RefCell;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::rc::Rc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use tulip::RemoteLoop;
use tulip::streams::{Server, ServerOptions, StreamReader, StreamWriter};
use tulip::transport::TlsServerConfig;

use common::{DEADLINE, Running, client_addr_in, free_port, loopback, start_server, tcp_exchange};

const ECHO_SERVER: &str = env!("CARGO_BIN_EXE_tcp_echo_server_streams");
const ECHO_CLIENT: &str = env!("CARGO_BIN_EXE_tcp_echo_client_streams");
const HTTP_HEADERS: &str = env!("CARGO_BIN_EXE_get_http_headers");
const OPEN_SOCKET: &str = env!("CARGO_BIN_EXE_open_socket_streams");
const CHAT_SERVER: &str = env!("CARGO_BIN_EXE_chat_server_streams");

/// Connects to the server example on `port`, if it is up.
fn try_connect(port: u16) -> Option<TcpStream> {
    TcpStream::connect(loopback(port)).ok()
}

#[test]
fn tcp_echo_server_and_clients_streams() {
    let (mut server, port, mut first) = start_server(ECHO_SERVER, false, try_connect);
    server.expect_line(&format!("Serving on {}", loopback(port)));
    let echoed = |server: &mut Running, client: SocketAddr, message: &str| {
        server.expect_line(&format!("Received {message} from {client}"));
        server.expect_line(&format!("Send: {message}"));
        server.expect_line("Close the connection");
    };

    // A plain std client: the server echoes and closes the connection.
    let me = first.local_addr().expect("getsockname");
    assert_eq!(tcp_exchange(&mut first, b"Hello World!"), b"Hello World!");
    echoed(&mut server, me, "'Hello World!'");

    // The client example.
    let out = Running::spawn(ECHO_CLIENT, Some(port)).success();
    assert_eq!(
        out,
        [
            "Send: 'Hello World!'",
            "Received: 'Hello World!'",
            "Close the connection",
        ]
    );
    let line = server.next_line();
    let client = client_addr_in(&line, "Received 'Hello World!' from ");
    assert_ne!(client, me);
    server.expect_line("Send: 'Hello World!'");
    server.expect_line("Close the connection");

    // Two connections at once: each handler is a task of its own, so the
    // second is served while the first still waits for its data.
    let mut a = TcpStream::connect(loopback(port)).expect("connect");
    let a_addr = a.local_addr().expect("getsockname");
    let mut b = TcpStream::connect(loopback(port)).expect("connect");
    let b_addr = b.local_addr().expect("getsockname");
    assert_eq!(tcp_exchange(&mut b, b"it's\n"), b"it's\n");
    echoed(&mut server, b_addr, "\"it's\\n\"");
    assert_eq!(tcp_exchange(&mut a, b"Bye"), b"Bye");
    echoed(&mut server, a_addr, "'Bye'");

    // A client that sends nothing: read(100) returns b'' at EOF.
    let mut quiet = TcpStream::connect(loopback(port)).expect("connect");
    let quiet_addr = quiet.local_addr().expect("getsockname");
    quiet.shutdown(std::net::Shutdown::Write).expect("shutdown");
    assert_eq!(tcp_exchange(&mut quiet, b""), b"");
    echoed(&mut server, quiet_addr, "''");

    server.kill();
}

#[test]
fn tcp_echo_client_streams_without_server() {
    // Nothing listens there: as the Python client, it fails to connect.
    let port = free_port(false);
    let (status, out, stderr) = Running::spawn(ECHO_CLIENT, Some(port)).wait();
    assert!(!status.success(), "the client succeeded: {out:?}");
    assert!(out.is_empty(), "{out:?}");
    assert!(stderr.contains("Connection refused"), "{stderr}");
}

/// A one-shot HTTP server on 127.0.0.1: accepts one connection, reads the
/// request head, sends `response` in pieces (a short pause between them,
/// so that lines straddle reads), closes, and returns the request.
fn http_server(response: Vec<Vec<u8>>) -> (u16, JoinHandle<String>) {
    let listener = TcpListener::bind(loopback(0)).expect("bind");
    let port = listener.local_addr().expect("getsockname").port();
    let handle = thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        stream
            .set_read_timeout(Some(DEADLINE))
            .expect("SO_RCVTIMEO");
        let mut request = Vec::new();
        let mut byte = [0u8; 1];
        while !request.ends_with(b"\r\n\r\n") {
            match stream.read(&mut byte).expect("read the request") {
                0 => break,
                _ => request.push(byte[0]),
            }
        }
        for piece in response {
            stream.write_all(&piece).expect("send the response");
            thread::sleep(Duration::from_millis(20));
        }
        String::from_utf8(request).expect("an ASCII request")
    });
    (port, handle)
}

#[test]
fn get_http_headers_from_a_local_server() {
    let (port, server) = http_server(vec![
        b"HTTP/1.0 200 OK\r\nServer: te".to_vec(),
        b"st\r\nContent-Type: text/plain; charset=latin-1\r\n".to_vec(),
        // Latin-1 bytes, trailing whitespace stripped as Python does.
        b"X-Name: caf\xe9 \t\r\n\r\n".to_vec(),
    ]);
    let url = format!("http://127.0.0.1:{port}/path/page.html?q=1#top");
    let out = Running::spawn_args(HTTP_HEADERS, None, &[&url]).success();
    assert_eq!(
        out,
        [
            "HTTP header> HTTP/1.0 200 OK",
            "HTTP header> Server: test",
            "HTTP header> Content-Type: text/plain; charset=latin-1",
            "HTTP header> X-Name: café",
        ]
    );
    let request = server.join().expect("the HTTP server");
    assert_eq!(
        request,
        "HEAD /path/page.html HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"
    );
}

#[test]
fn get_http_headers_of_a_host_name_without_path() {
    // `localhost` is resolved (the server listens on 127.0.0.1 only, so
    // an IPv6 address tried first is refused and the next one is used);
    // an empty path is sent as `/`; the Host header has no port, as in the
    // original. A body after the headers is printed too, line by line
    // (the original reads until EOF).
    let (port, server) = http_server(vec![
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 10\r\n\r\nnot\r\nfound".to_vec(),
    ]);
    let url = format!("http://localhost:{port}");
    let out = Running::spawn_args(HTTP_HEADERS, None, &[&url]).success();
    assert_eq!(
        out,
        [
            "HTTP header> HTTP/1.1 404 Not Found",
            "HTTP header> Content-Length: 10",
            "HTTP header> not",
            "HTTP header> found",
        ]
    );
    let request = server.join().expect("the HTTP server");
    assert_eq!(request, "HEAD / HTTP/1.0\r\nHost: localhost\r\n\r\n");
}

#[test]
fn get_http_headers_failures() {
    let fails = |args: &[&str], why: &str| {
        let (status, out, stderr) = Running::spawn_args(HTTP_HEADERS, None, args).wait();
        assert!(!status.success(), "{args:?} succeeded: {out:?}");
        assert!(out.is_empty(), "{out:?}");
        assert!(stderr.contains(why), "{args:?}: {stderr}");
    };
    fails(&[], "usage: get_http_headers URL");
    fails(&["http://127.0.0.1:http/"], "Port could not be cast");
    fails(&["/just/a/path"], "no host name");
    let port = free_port(false).to_string();
    fails(
        &[&format!("http://127.0.0.1:{port}/")],
        "Connection refused",
    );
}

/// A certificate authority and a certificate it signed for `localhost`
/// and 127.0.0.1, the authority's PEM file in a temporary directory.
struct Pki {
    server: TlsServerConfig,
    ca_file: PathBuf,
    dir: tempfile::TempDir,
}

fn pki() -> Pki {
    let ca_key = KeyPair::generate().expect("a CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "tulip examples test CA");
    let ca = ca_params.self_signed(&ca_key).expect("the CA");
    let key = KeyPair::generate().expect("a server key");
    let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    let params = CertificateParams::new(names).expect("server parameters");
    let cert = params
        .signed_by(&key, &ca, &ca_key)
        .expect("the server certificate");
    let server = TlsServerConfig::from_pem(cert.pem().as_bytes(), key.serialize_pem().as_bytes())
        .expect("the server's TLS configuration");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).expect("write the CA file");
    Pki {
        server,
        ca_file,
        dir,
    }
}

thread_local! {
    /// The HTTPS server of this thread, for [`HttpsServer::stop`].
    static HTTPS_SERVER: RefCell<Option<Server>> = const { RefCell::new(None) };
}

/// An HTTPS server on 127.0.0.1: tulip's `start_server` with TLS on a
/// loop of its own thread, answering every request with a fixed response
/// and recording it.
struct HttpsServer {
    port: u16,
    remote: RemoteLoop,
    thread: JoinHandle<Vec<String>>,
}

impl HttpsServer {
    fn start(tls: TlsServerConfig, response: &'static [u8]) -> HttpsServer {
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = thread::spawn(move || {
            let served = tulip::run(async move {
                let requests: Rc<RefCell<Vec<String>>> = Rc::default();
                let seen = requests.clone();
                let handler = async move |mut reader: StreamReader, writer: StreamWriter| {
                    let mut request = Vec::new();
                    loop {
                        let line = reader.readline().await?;
                        request.extend_from_slice(&line);
                        if line.is_empty() || line == b"\r\n" {
                            break;
                        }
                    }
                    seen.borrow_mut()
                        .push(String::from_utf8_lossy(&request).into_owned());
                    writer.write(response)?;
                    writer.close();
                    writer.wait_closed().await
                };
                let options = ServerOptions::new().tls(tls);
                let server = tulip::streams::start_server(handler, "127.0.0.1", 0, options)
                    .await
                    .expect("the HTTPS server");
                let port = server.sockets()[0]
                    .inet_addr()
                    .expect("an IP address")
                    .port();
                let lp = tulip::get_running_loop().expect("a running loop");
                tx.send((port, lp.remote())).expect("the test waits");
                HTTPS_SERVER.set(Some(server.clone()));
                server.serve_forever().await.expect("serve_forever");
                requests.take()
            });
            served.expect("the HTTPS server's loop")
        });
        let (port, remote) = rx.recv_timeout(DEADLINE).expect("the HTTPS server starts");
        HttpsServer {
            port,
            remote,
            thread,
        }
    }

    /// Closes the server; returns the requests it got.
    fn stop(self) -> Vec<String> {
        self.remote
            .call_soon_threadsafe(|| {
                if let Some(server) = HTTPS_SERVER.take() {
                    server.close();
                }
            })
            .expect("the server's loop runs");
        self.thread.join().expect("the HTTPS server thread")
    }
}

#[test]
fn get_http_headers_over_https() {
    // ssl=True: the server's certificate is checked for the URL's host
    // name against the trusted authorities, here the test's own CA named
    // by SSL_CERT_FILE (as Python's default context would).
    let pki = pki();
    let server = HttpsServer::start(
        pki.server.clone(),
        b"HTTP/1.1 200 OK\r\nServer: tulip over TLS\r\n\r\n",
    );
    let url = format!("https://localhost:{}/secure/page", server.port);
    let ca_file = pki.ca_file.as_os_str();
    let out =
        Running::spawn_with(HTTP_HEADERS, None, &[&url], &[("SSL_CERT_FILE", ca_file)]).success();
    assert_eq!(
        out,
        [
            "HTTP header> HTTP/1.1 200 OK",
            "HTTP header> Server: tulip over TLS",
        ]
    );

    // Without the CA, the certificate is refused and nothing is sent.
    let empty = pki.dir.path().join("empty.pem");
    std::fs::write(&empty, "").expect("write an empty CA file");
    let (status, out, stderr) = Running::spawn_with(
        HTTP_HEADERS,
        None,
        &[&url],
        &[("SSL_CERT_FILE", empty.as_os_str())],
    )
    .wait();
    assert!(!status.success(), "an unknown CA was trusted: {out:?}");
    assert!(out.is_empty(), "{out:?}");
    assert!(stderr.to_lowercase().contains("certificate"), "{stderr}");

    let requests = server.stop();
    assert_eq!(
        requests,
        ["HEAD /secure/page HTTP/1.0\r\nHost: localhost\r\n\r\n"]
    );
}

#[test]
fn open_socket_streams() {
    let out = Running::spawn(OPEN_SOCKET, None).success();
    assert_eq!(out, ["Received: abc"]);
}

/// A chat client: a std socket and its lines.
struct ChatClient {
    addr: SocketAddr,
    stream: TcpStream,
    lines: BufReader<TcpStream>,
}

impl ChatClient {
    fn new(stream: TcpStream) -> ChatClient {
        stream
            .set_read_timeout(Some(DEADLINE))
            .expect("SO_RCVTIMEO");
        let addr = stream.local_addr().expect("getsockname");
        let lines = BufReader::new(stream.try_clone().expect("dup"));
        ChatClient {
            addr,
            stream,
            lines,
        }
    }

    fn connect(port: u16) -> ChatClient {
        ChatClient::new(TcpStream::connect(loopback(port)).expect("connect"))
    }

    fn send(&mut self, data: &[u8]) {
        self.stream.write_all(data).expect("send");
    }

    /// The next line the server relayed.
    fn line(&mut self) -> String {
        let mut line = String::new();
        let n = self.lines.read_line(&mut line).expect("a relayed line");
        assert_ne!(n, 0, "{}: the server closed the connection", self.addr);
        line
    }
}

#[test]
fn chat_server_relays_lines_to_every_other_client() {
    let (mut server, port, first) = start_server(CHAT_SERVER, false, try_connect);
    server.expect_line(&format!("Serving on {}", loopback(port)));
    let mut clients = vec![ChatClient::new(first)];
    server.expect_line(&format!("{} joined", clients[0].addr));
    for _ in 1..10 {
        let client = ChatClient::connect(port);
        server.expect_line(&format!("{} joined", client.addr));
        clients.push(client);
    }

    // A line reaches every other client, not its sender.
    clients[0].send(b"hello\n");
    let from0 = format!("{}: hello\n", clients[0].addr);
    for client in &mut clients[1..] {
        assert_eq!(client.line(), from0);
    }
    clients[1].send(b"hi from one\n");
    let from1 = format!("{}: hi from one\n", clients[1].addr);
    // The sender of the first line gets this one first: not its own.
    assert_eq!(clients[0].line(), from1);
    for client in &mut clients[2..] {
        assert_eq!(client.line(), from1);
    }

    // Several lines in one write, and a line in pieces, arrive whole and
    // in order.
    clients[2].send(b"one\ntwo\nthr");
    thread::sleep(Duration::from_millis(20));
    clients[2].send(b"ee\n");
    let a2 = clients[2].addr;
    for (i, client) in clients.iter_mut().enumerate().filter(|(i, _)| *i != 2) {
        for word in ["one", "two", "three"] {
            assert_eq!(client.line(), format!("{a2}: {word}\n"), "client {i}");
        }
    }

    // A line over the 64 KiB limit: its sender is disconnected (readline
    // fails, as Python's raises ValueError); the others stay.
    let long = vec![b'x'; 100 * 1024];
    let too_long = clients.remove(3);
    let mut long_sender = too_long.stream.try_clone().expect("dup");
    let sending = thread::spawn(move || {
        // The server may close (and so reset) the connection before
        // everything is sent.
        let _ = long_sender.write_all(&long);
    });
    let line = server.next_line();
    assert!(
        line.starts_with(&format!("{}: ", too_long.addr)) && line.contains("limit"),
        "{line:?}"
    );
    server.expect_line(&format!("{} left", too_long.addr));
    sending.join().expect("the sender thread");
    drop(too_long);
    clients[0].send(b"after the long line\n");
    let from0 = format!("{}: after the long line\n", clients[0].addr);
    for client in &mut clients[1..] {
        assert_eq!(client.line(), from0);
    }

    // A client leaves after a last line without a newline: it is relayed
    // with one, and the others go on.
    let mut leaving = clients.pop().expect("ten clients");
    leaving.send(b"bye");
    leaving
        .stream
        .shutdown(std::net::Shutdown::Write)
        .expect("shutdown");
    let bye = format!("{}: bye\n", leaving.addr);
    for client in &mut clients {
        assert_eq!(client.line(), bye);
    }
    server.expect_line(&format!("{} left", leaving.addr));
    let mut rest = String::new();
    leaving
        .lines
        .read_to_string(&mut rest)
        .expect("the server closes");
    assert_eq!(rest, "", "a client gets nothing back of its own");

    clients[4].send(b"still here\n");
    let from4 = format!("{}: still here\n", clients[4].addr);
    for (i, client) in clients.iter_mut().enumerate().filter(|(i, _)| *i != 4) {
        assert_eq!(client.line(), from4, "client {i}");
    }

    // Everyone leaves by closing the connection.
    for client in clients {
        let addr = client.addr;
        drop(client);
        server.expect_line(&format!("{addr} left"));
    }
    server.kill();
}
