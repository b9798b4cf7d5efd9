//! Ending connections abruptly and cleanly: `abort()` resets a TCP
//! connection (the peer sees `ECONNRESET`, never a FIN it could take for
//! the end of a complete response), plain or TLS; a TLS server's
//! `close_clients()` closes each connection with close_notify, while
//! `abort_clients()` stays abrupt.

mod common;
mod tls_support;

use std::cell::RefCell;
use std::io::{ErrorKind, Read};
use std::net::{TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::rc::Rc;

use tls_support::{Pki, Rec, Slot, connected, tls_connect, tls_server};
use tulip_test::{run, wait_until};
use tulip_transport::{
    AcceptedSocketOptions, ConnectOptions, LoopNetExt, Server, ServerOptions, Transport,
};

/// What the peer's reads end with, after the bytes it got.
fn read_until_end(mut peer: TcpStream) -> (Vec<u8>, std::io::Result<()>) {
    let mut got = Vec::new();
    let end = peer.read_to_end(&mut got).map(drop);
    (got, end)
}

#[test]
fn abort_resets_a_tcp_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let peer = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let ours = OwnedFd::from(listener.accept().unwrap().0);
    run(async move {
        let lp = tulip_executor::get_running_loop().unwrap();
        let (t, p) = lp
            .connect_accepted_socket(Rec::default, ours, AcceptedSocketOptions::default())
            .await
            .unwrap();
        // Half a response, then the server gives up on it.
        t.write(b"HTTP/1.1 200 OK\r\nContent-Le").unwrap();
        t.abort();
        assert!(wait_until(|| p.borrow().lost()).await);
        assert_eq!(p.borrow().events, ["made", "lost"]);
        let (_, end) = tulip_executor::to_thread(move || read_until_end(peer))
            .await
            .unwrap();
        let err = end.expect_err("a reset, not an EOF");
        assert_eq!(err.kind(), ErrorKind::ConnectionReset);
    });
}

/// A TLS server with recording protocols, and one client connected to it:
/// the server, the server side's protocol and transport, the client's.
async fn tls_pair(pki: &Pki) -> (Server, Slot, Transport, Rc<RefCell<Rec>>) {
    let (server, port, made) =
        tls_server(ServerOptions::new().tls(pki.server()), Rec::default).await;
    let (t, p) = tls_connect("localhost", port, ConnectOptions::new().tls(pki.client()))
        .await
        .unwrap();
    connected(&made, 0).await;
    (server, made, t, p)
}

/// Waits until the client `p` is lost, and checks it was by a reset.
async fn lost_by_reset(p: &Rc<RefCell<Rec>>) {
    assert!(wait_until(|| p.borrow().lost()).await);
    let err = p.borrow().lost_error.clone().expect("an error");
    assert_eq!(err.io_kind(), Some(ErrorKind::ConnectionReset), "{err:?}");
}

#[test]
fn abort_resets_a_tls_connection() {
    let pki = Pki::new("tulip test CA");
    run(async move {
        let (server, made, _client, p) = tls_pair(&pki).await;
        let (_, st) = connected(&made, 0).await;
        st.abort();
        lost_by_reset(&p).await;
        server.close();
        server.wait_closed().await;
    });
}

#[test]
fn close_clients_closes_tls_connections_cleanly() {
    let pki = Pki::new("tulip test CA");
    run(async move {
        let (server, made, _client, p) = tls_pair(&pki).await;
        let (server_side, _) = connected(&made, 0).await;
        server.close_clients();
        assert!(wait_until(|| p.borrow().lost() && server_side.borrow().lost()).await);
        // close_notify, then the close: no truncation error on either side.
        assert_eq!(p.borrow().events, ["made", "eof", "lost"]);
        assert_eq!(server_side.borrow().events, ["made", "lost"]);
        server.close();
        server.wait_closed().await;
    });
}

#[test]
fn abort_clients_resets_tls_connections() {
    let pki = Pki::new("tulip test CA");
    run(async move {
        let (server, _made, _client, p) = tls_pair(&pki).await;
        server.abort_clients();
        lost_by_reset(&p).await;
        server.close();
        server.wait_closed().await;
    });
}
