//! Fallible protocol factories (`Fallible`): the factory's error comes back
//! as `Error::ProtocolFactory` from `create_connection` (plain, TLS,
//! buffered), `create_datagram_endpoint` and the pipe methods, with the
//! socket or pipe closed; on a server's accept path it is reported to the
//! loop's exception handler, that connection is closed and the server
//! goes on. No descriptor leaks.
//!
//! Every test holds one lock: the descriptor counts must not see the other
//! tests' sockets.

mod common;
mod tls_support;

use std::cell::{Cell, RefCell};
use std::fmt;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::rc::Rc;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use common::Recorder;
use tulip_executor::{ExceptionContext, Loop};
use tulip_test::{fd_count, run_with_loop, settled_fd_count, wait_until};
use tulip_transport::{
    BaseProtocol, Buffered, BufferedProtocol, ConnectOptions, DatagramOptions, DatagramProtocol,
    Error, Fallible, LoopNetExt, ServerOptions,
};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// The factory's own error type, to downcast back to.
#[derive(Debug, PartialEq)]
struct NoQuota(u32);

impl fmt::Display for NoQuota {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no quota left for client {}", self.0)
    }
}

impl std::error::Error for NoQuota {}

/// `err` is the factory's `NoQuota(n)`.
fn assert_factory_error(err: &Error, n: u32) {
    let factory = err.as_protocol_factory().expect("a protocol factory error");
    assert_eq!(factory.downcast_ref::<NoQuota>(), Some(&NoQuota(n)));
    assert_eq!(
        err.to_string(),
        format!("the protocol factory failed: no quota left for client {n}")
    );
}

/// The error of a call that must fail.
fn failed<T>(result: Result<T, Error>) -> Error {
    match result {
        Ok(_) => panic!("the factory should have failed"),
        Err(e) => e,
    }
}

/// The peer of a socket the other side closed reads EOF.
fn assert_closed_by_peer(mut peer: TcpStream) {
    peer.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(peer.read(&mut buf).unwrap(), 0, "the socket was not closed");
}

#[test]
fn create_connection_returns_the_factory_error_and_closes_the_socket() {
    let _serial = serial();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let before = fd_count();
    run_with_loop(|lp| async move {
        let factory = Fallible(|| Err::<Recorder, _>(NoQuota(1)));
        let err = failed(
            lp.create_connection(factory, "127.0.0.1", port, ConnectOptions::new())
                .await,
        );
        assert_factory_error(&err, 1);
    });
    assert_closed_by_peer(listener.accept().unwrap().0);
    let after = settled_fd_count(before);
    assert!(after <= before, "descriptors: {after} now, {before} before");
}

#[test]
fn a_fallible_factory_that_succeeds_connects() {
    let _serial = serial();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    run_with_loop(|lp| async move {
        let factory = Fallible(|| Ok::<_, NoQuota>(Recorder::default()));
        let (t, p) = lp
            .create_connection(factory, "127.0.0.1", port, ConnectOptions::new())
            .await
            .unwrap();
        assert_eq!(p.borrow().events, ["made"]);
        t.write(b"hi").unwrap();
        // Read on a worker thread: the loop runs meanwhile (on a loop with
        // completions the write goes out with its next poll).
        let buf = tulip_executor::to_thread(move || {
            let (mut peer, _) = listener.accept()?;
            peer.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
            let mut buf = [0u8; 2];
            peer.read_exact(&mut buf)?;
            Ok::<_, std::io::Error>(buf)
        })
        .await
        .unwrap()
        .unwrap();
        assert_eq!(&buf, b"hi");
        t.close();
    });
}

/// A buffered protocol the tests never get to use.
struct Unused([u8; 8]);

impl BaseProtocol for Unused {}

impl BufferedProtocol for Unused {
    fn get_buffer(&mut self, _sizehint: usize) -> &mut [u8] {
        &mut self.0
    }
    fn buffer_updated(&mut self, _nbytes: usize) {}
}

#[test]
fn a_buffered_fallible_factory_and_a_tls_connection_close_the_socket_too() {
    let _serial = serial();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let pki = tls_support::Pki::new("tulip factories CA");
    let client = pki.client();
    let before = fd_count();
    run_with_loop(|lp| async move {
        let buffered = Buffered(Fallible(|| Err::<Unused, _>(NoQuota(2))));
        let err = failed(
            lp.create_connection(buffered, "127.0.0.1", port, ConnectOptions::new())
                .await,
        );
        assert_factory_error(&err, 2);
        let tls = Fallible(|| Err::<Recorder, _>(NoQuota(3)));
        let options = ConnectOptions::new().tls(client);
        let err = failed(lp.create_connection(tls, "localhost", port, options).await);
        assert_factory_error(&err, 3);
    });
    assert_closed_by_peer(listener.accept().unwrap().0);
    assert_closed_by_peer(listener.accept().unwrap().0);
    let after = settled_fd_count(before);
    assert!(after <= before, "descriptors: {after} now, {before} before");
}

/// Serves with a factory that refuses the first client, and checks that
/// the refusal is reported once to the exception handler, that client's
/// socket is closed, and (without TLS) the next client is served.
async fn serve_refusing_the_first(lp: Loop, options: ServerOptions, tls: bool) {
    let reports: Rc<RefCell<Vec<(String, String)>>> = Rc::default();
    let r = reports.clone();
    lp.set_exception_handler(move |_: &Loop, ctx: &ExceptionContext| {
        let error = ctx
            .error
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        r.borrow_mut().push((ctx.message.clone(), error));
    });
    let calls = Rc::new(Cell::new(0u32));
    let c = calls.clone();
    let factory = Fallible(move || {
        c.set(c.get() + 1);
        match c.get() {
            1 => Err(NoQuota(1)),
            _ => Ok(Recorder::echo()),
        }
    });
    let server = lp
        .create_server(factory, "127.0.0.1", 0, options)
        .await
        .unwrap();
    let addr = server.sockets()[0].inet_addr().unwrap();

    let first = tulip_executor::to_thread(move || {
        let s = TcpStream::connect(addr).unwrap();
        assert_closed_by_peer(s);
    });
    first.await.unwrap();
    assert!(wait_until(|| !reports.borrow().is_empty()).await);
    assert_eq!(
        *reports.borrow(),
        [(
            String::from("Error on transport creation for incoming connection"),
            String::from("the protocol factory failed: no quota left for client 1"),
        )]
    );
    assert!(server.is_serving());
    if !tls {
        let second = tulip_executor::to_thread(move || {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(b"second").unwrap();
            let mut buf = [0u8; 6];
            s.read_exact(&mut buf).unwrap();
            buf
        });
        assert_eq!(&second.await.unwrap(), b"second");
        assert_eq!(calls.get(), 2);
    }
    server.close();
    server.wait_closed().await;
}

#[test]
fn the_accept_path_reports_the_factory_error_closes_that_socket_and_goes_on() {
    let _serial = serial();
    let before = fd_count();
    run_with_loop(|lp| serve_refusing_the_first(lp, ServerOptions::new(), false));
    let after = settled_fd_count(before);
    assert!(after <= before, "descriptors: {after} now, {before} before");
}

#[test]
fn a_tls_server_reports_the_factory_error_and_closes_that_socket() {
    let _serial = serial();
    let pki = tls_support::Pki::new("tulip factories CA");
    let options = ServerOptions::new().tls(pki.server());
    let before = fd_count();
    run_with_loop(|lp| serve_refusing_the_first(lp, options, true));
    let after = settled_fd_count(before);
    assert!(after <= before, "descriptors: {after} now, {before} before");
}

/// A datagram protocol the tests never get to use.
struct Quiet;

impl BaseProtocol for Quiet {}

impl DatagramProtocol for Quiet {}

#[test]
fn create_datagram_endpoint_returns_the_factory_error_and_closes_the_socket() {
    let _serial = serial();
    let before = fd_count();
    let probe = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = probe.local_addr().unwrap();
    drop(probe);
    run_with_loop(|lp| async move {
        let factory = Fallible(|| Err::<Quiet, _>(NoQuota(4)));
        let options = DatagramOptions::new().local_addr(addr);
        let err = failed(lp.create_datagram_endpoint(factory, options).await);
        assert_factory_error(&err, 4);
    });
    let after = settled_fd_count(before);
    assert!(after <= before, "descriptors: {after} now, {before} before");
    // The port is free again: the socket bound to it was closed.
    UdpSocket::bind(addr).expect("the endpoint's socket was closed");
}

#[test]
fn the_pipe_methods_return_the_factory_error_and_close_the_pipe() {
    let _serial = serial();
    let before = fd_count();
    let (read_end, write_end) = rustix::pipe::pipe().unwrap();
    let (read_end2, write_end2) = rustix::pipe::pipe().unwrap();
    let keep_write = write_end;
    let keep_read = read_end2;
    run_with_loop(|lp| async move {
        let factory = Fallible(|| Err::<Recorder, _>(NoQuota(5)));
        let err = failed(lp.connect_read_pipe(factory, read_end).await);
        assert_factory_error(&err, 5);
        let factory = Fallible(|| Err::<Recorder, _>(NoQuota(6)));
        let err = failed(lp.connect_write_pipe(factory, write_end2).await);
        assert_factory_error(&err, 6);
    });
    // The read end is closed: a write has no reader (EPIPE; Rust ignores
    // SIGPIPE in test binaries).
    let mut writer = std::fs::File::from(keep_write);
    let err = writer.write_all(b"x").unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe);
    // The write end is closed: the reader sees EOF.
    let mut reader = std::fs::File::from(keep_read);
    let mut buf = [0u8; 4];
    assert_eq!(reader.read(&mut buf).unwrap(), 0);
    drop((writer, reader));
    let after = settled_fd_count(before);
    assert!(after <= before, "descriptors: {after} now, {before} before");
}
