//! TLS: truncation (a TCP close without close_notify, either side),
//! handshake timeouts against a silent peer (either side), flow control
//! across the layer (a reader that never reads pauses the writer; no
//! byte lost or repeated), `start_tls` on a plain connection, Unix
//! sockets and accepted sockets over TLS.

mod common;
mod tls_support;

use std::cell::RefCell;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::rc::Rc;
use std::time::Duration;

use tls_support::{Collect, Pki, Rec, tls_connect, tls_server};
use tulip_test::{run, wait_until};
use tulip_transport::{
    AcceptedSocketOptions, ConnectOptions, Error, LoopNetExt, ProtocolRef, ServerOptions,
    StartTlsOptions, TlsClientConfig, TlsError, TlsServerConfig, Transport, UnixConnectOptions,
    UnixServerOptions,
};

/// A blocking rustls client in a thread: connects, sends `data`, then
/// closes TCP without close_notify.
fn truncating_client(pki: &Pki, port: u16, data: &'static [u8]) -> std::thread::JoinHandle<()> {
    let config = pki.client().rustls_config().clone();
    std::thread::spawn(move || {
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let conn = rustls::ClientConnection::new(config, name).unwrap();
        let sock = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, sock);
        tls.write_all(data).unwrap();
        tls.flush().unwrap();
        // No close_notify: just the TCP FIN.
        tls.sock.shutdown(std::net::Shutdown::Both).unwrap();
    })
}

#[test]
fn a_peer_closing_tcp_without_close_notify_is_a_truncation_not_an_eof() {
    let pki = Pki::new("tulip test CA");
    run(async move {
        let (server, port, made) =
            tls_server(ServerOptions::new().tls(pki.server()), Rec::default).await;
        let client = truncating_client(&pki, port, b"partial message");
        tulip_executor::to_thread(move || client.join().unwrap())
            .await
            .unwrap();
        assert!(wait_until(|| made.borrow().first().is_some_and(|p| p.borrow().lost())).await);
        {
            let p = made.borrow()[0].clone();
            let p = p.borrow();
            assert_eq!(p.data, b"partial message");
            assert_eq!(p.events, ["made", "lost:err"], "no eof_received");
            let err = p.lost_error.as_ref().unwrap();
            assert_eq!(err.as_tls(), Some(&TlsError::Truncated), "{err:?}");
            assert_eq!(
                std::io::Error::from(err.clone()).kind(),
                std::io::ErrorKind::UnexpectedEof
            );
        }
        server.close();
        server.wait_closed().await;
    });
}

#[test]
fn a_server_closing_tcp_without_close_notify_truncates_the_client() {
    let pki = Pki::new("tulip test CA");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = pki.server().rustls_config().clone();
    let peer = std::thread::spawn(move || {
        let (sock, _) = listener.accept().unwrap();
        let conn = rustls::ServerConnection::new(config).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, sock);
        tls.write_all(b"cut short").unwrap();
        tls.flush().unwrap();
        tls.sock.shutdown(std::net::Shutdown::Both).unwrap();
    });
    run(async move {
        let (_t, p) = tls_connect("localhost", port, ConnectOptions::new().tls(pki.client()))
            .await
            .unwrap();
        assert!(wait_until(|| p.borrow().lost()).await);
        let p = p.borrow();
        assert_eq!(p.data, b"cut short");
        assert_eq!(p.events, ["made", "lost:err"]);
        assert!(matches!(
            p.lost_error,
            Some(Error::Tls(TlsError::Truncated))
        ));
    });
    peer.join().unwrap();
}

#[test]
fn a_silent_server_is_dropped_at_the_handshake_timeout() {
    let pki = Pki::new("tulip test CA");
    let (port, peer) = tls_support::silent_peer();
    run(async move {
        let options = ConnectOptions::new()
            .tls(pki.client())
            .ssl_handshake_timeout(Duration::from_millis(200));
        let err = tls_connect("localhost", port, options).await.unwrap_err();
        assert!(err.is_timeout(), "{err:?}");
        assert_eq!(
            err.as_tls(),
            Some(&TlsError::HandshakeTimeout(Duration::from_millis(200)))
        );
    });
    assert!(
        peer.join().unwrap().unwrap() > 0,
        "the hello was sent, then the socket closed"
    );
}

#[test]
fn a_silent_client_is_dropped_at_the_server_handshake_timeout() {
    let pki = Pki::new("tulip test CA");
    run(async move {
        let options = ServerOptions::new()
            .tls(pki.server())
            .ssl_handshake_timeout(Duration::from_millis(200));
        let (server, port, made) = tls_server(options, Rec::default).await;
        let silent = tulip_executor::to_thread(move || {
            let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            let mut buf = [0u8; 16];
            // EOF (or a reset) once the server gives up.
            s.read(&mut buf).map_err(|e| e.kind())
        });
        let got = silent.await.unwrap();
        assert!(
            matches!(got, Ok(0) | Err(std::io::ErrorKind::ConnectionReset)),
            "{got:?}"
        );
        assert!(made.borrow()[0].borrow().events.is_empty());
        server.close();
        server.wait_closed().await;
    });
}

#[test]
fn a_reader_that_never_reads_pauses_the_tls_writer_and_loses_nothing() {
    const TOTAL: usize = 8 << 20;
    let pki = Pki::new("tulip test CA");
    run(async move {
        let (server, port, made) = tls_server(ServerOptions::new().tls(pki.server()), || Rec {
            pause_on_connect: true,
            ..Rec::default()
        })
        .await;
        let (t, p) = tls_connect("localhost", port, ConnectOptions::new().tls(pki.client()))
            .await
            .unwrap();
        let payload: Vec<u8> = (0..TOTAL).map(|i| (i % 251) as u8).collect();
        let mut sent = 0;
        // Write until the layer says stop: the socket underneath filled up
        // because the server stopped reading.
        while sent < TOTAL && !p.borrow().paused() {
            t.write(&payload[sent..sent + 64 * 1024]).unwrap();
            sent += 64 * 1024;
            tulip_executor::sleep(Duration::from_millis(1)).await;
        }
        assert!(p.borrow().paused(), "the writer was never paused");
        assert!(sent < TOTAL, "a paused reader held {sent} bytes");
        assert!(t.get_write_buffer_size() > 0);
        let sp = made.borrow()[0].clone();
        let st = sp.borrow().transport.clone().unwrap();
        assert!(!st.is_reading());
        tulip_executor::sleep(Duration::from_millis(50)).await;
        assert!(sp.borrow().data.is_empty(), "no plaintext while paused");
        // Reading again: everything arrives, in order, and the writer
        // resumes.
        st.resume_reading();
        assert!(st.is_reading());
        assert!(wait_until(|| !p.borrow().paused()).await);
        t.write(&payload[sent..]).unwrap();
        assert!(wait_until(|| sp.borrow().data.len() == TOTAL).await);
        assert!(sp.borrow().data == payload);
        // Pausing and resuming in bursts on the receiving side keeps the
        // byte stream intact too.
        let echo: Vec<u8> = payload.iter().rev().copied().take(1 << 20).collect();
        st.write(&echo).unwrap();
        let mut rounds = 0;
        while p.borrow().data.len() < echo.len() {
            t.pause_reading();
            tulip_executor::sleep(Duration::from_millis(2)).await;
            t.resume_reading();
            tulip_executor::sleep(Duration::from_millis(2)).await;
            rounds += 1;
            assert!(rounds < 5000);
        }
        assert!(p.borrow().data == echo);
        t.close();
        assert!(wait_until(|| p.borrow().lost() && sp.borrow().lost()).await);
        assert_eq!(
            p.borrow().lost_error.as_ref().map(ToString::to_string),
            None
        );
        server.close();
        server.wait_closed().await;
    });
}

#[test]
fn write_buffer_limits_are_the_socket_transports() {
    let pki = Pki::new("tulip test CA");
    run(async move {
        let (server, port, _made) =
            tls_server(ServerOptions::new().tls(pki.server()), Rec::echo).await;
        let (t, _p) = tls_connect("localhost", port, ConnectOptions::new().tls(pki.client()))
            .await
            .unwrap();
        assert_eq!(t.get_write_buffer_limits(), (16 * 1024, 64 * 1024));
        t.set_write_buffer_limits(Some(1000), None).unwrap();
        assert_eq!(t.get_write_buffer_limits(), (250, 1000));
        assert!(matches!(
            t.set_write_buffer_limits(Some(1), Some(2)),
            Err(Error::InvalidInput(_))
        ));
        t.close();
        server.close();
        server.wait_closed().await;
    });
}

/// Runs `f` with a connected pair of plain tulip transports.
async fn plain_pair() -> (
    (tulip_transport::Transport, Rc<RefCell<Rec>>),
    (tulip_transport::Transport, Rc<RefCell<Rec>>),
) {
    let lp = tulip_executor::get_running_loop().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let a = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (b, _) = listener.accept().unwrap();
    let left = lp
        .connect_accepted_socket(Rec::default, a.into(), AcceptedSocketOptions::new())
        .await
        .unwrap();
    let right = lp
        .connect_accepted_socket(Rec::default, b.into(), AcceptedSocketOptions::new())
        .await
        .unwrap();
    (left, right)
}

type Side<'a> = (&'a Transport, &'a Rc<RefCell<Rec>>);

/// `start_tls` on both ends of a plain pair at once: the client's result
/// and the server's.
async fn upgrade_both(
    (ct, cp): Side<'_>,
    (st, sp): Side<'_>,
    client: TlsClientConfig,
    server: TlsServerConfig,
) -> (Result<Transport, Error>, Result<Transport, Error>) {
    let lp = tulip_executor::get_running_loop().unwrap();
    let (st, sp) = (st.clone(), sp.clone());
    let server_side = tulip_executor::spawn(async move {
        let lp = tulip_executor::get_running_loop().unwrap();
        lp.start_tls(&st, ProtocolRef::plain(sp), server, StartTlsOptions::new())
            .await
    });
    let options = StartTlsOptions::new().server_hostname("localhost");
    let client_side = lp
        .start_tls(ct, ProtocolRef::plain(cp.clone()), client, options)
        .await;
    (client_side, server_side.await.unwrap())
}

#[test]
fn start_tls_upgrades_a_plain_connection() {
    let pki = Pki::new("tulip test CA");
    run(async move {
        let lp = tulip_executor::get_running_loop().unwrap();
        let ((ct, cp), (st, sp)) = plain_pair().await;
        ct.write(b"STARTTLS\r\n").unwrap();
        assert!(wait_until(|| sp.borrow().data == b"STARTTLS\r\n").await);
        st.write(b"220 go ahead\r\n").unwrap();
        assert!(wait_until(|| cp.borrow().data == b"220 go ahead\r\n").await);

        // Both sides upgrade at once.
        let (client_tls, server_tls) =
            upgrade_both((&ct, &cp), (&st, &sp), pki.client(), pki.server()).await;
        let (client_tls, server_tls) = (client_tls.unwrap(), server_tls.unwrap());
        assert!(ct.tls_info().is_none());
        assert_eq!(
            client_tls.tls_info().unwrap().server_name.as_deref(),
            Some("localhost")
        );
        assert!(server_tls.tls_info().unwrap().server_side);
        cp.borrow_mut().data.clear();
        sp.borrow_mut().data.clear();
        client_tls.write(b"EHLO secure").unwrap();
        server_tls.write(b"250 ok").unwrap();
        assert!(
            wait_until(|| sp.borrow().data == b"EHLO secure" && cp.borrow().data == b"250 ok")
                .await
        );
        // The protocols got no second connection_made.
        assert_eq!(cp.borrow().events, ["made"]);
        client_tls.close();
        assert!(wait_until(|| cp.borrow().lost() && sp.borrow().lost()).await);
        assert_eq!(cp.borrow().events, ["made", "lost"]);
        assert_eq!(sp.borrow().events, ["made", "eof", "lost"]);

        // Misuse is refused before anything happens.
        let ((ct, cp), (_st, _sp)) = plain_pair().await;
        let no_name = lp
            .start_tls(
                &ct,
                ProtocolRef::plain(cp.clone()),
                pki.client(),
                StartTlsOptions::new(),
            )
            .await
            .unwrap_err();
        assert!(matches!(no_name, Error::InvalidInput(_)));
        let server_named = lp
            .start_tls(
                &ct,
                ProtocolRef::plain(cp.clone()),
                pki.server(),
                StartTlsOptions::new().server_hostname("localhost"),
            )
            .await
            .unwrap_err();
        assert!(matches!(server_named, Error::InvalidInput(_)));
        ct.close();
        assert!(wait_until(|| cp.borrow().lost()).await);
        let closed = lp
            .start_tls(
                &ct,
                ProtocolRef::plain(cp.clone()),
                pki.client(),
                StartTlsOptions::new().server_hostname("localhost"),
            )
            .await
            .unwrap_err();
        assert!(matches!(closed, Error::Closed));
    });
}

#[test]
fn a_failed_start_tls_closes_the_connection_and_tells_the_protocol() {
    let pki = Pki::new("tulip test CA");
    let other = Pki::new("another CA");
    run(async move {
        let ((ct, cp), (st, sp)) = plain_pair().await;
        let (err, server_err) =
            upgrade_both((&ct, &cp), (&st, &sp), other.client(), pki.server()).await;
        let (err, server_err) = (err.unwrap_err(), server_err.unwrap_err());
        assert!(
            err.as_tls().is_some_and(TlsError::is_certificate_error),
            "{err:?}"
        );
        assert!(
            server_err
                .as_tls()
                .is_some_and(TlsError::is_certificate_error),
            "the server learns why: {server_err:?}"
        );
        assert!(wait_until(|| cp.borrow().lost() && sp.borrow().lost()).await);
        assert!(matches!(cp.borrow().lost_error, Some(Error::Tls(_))));
    });
}

#[test]
fn unix_sockets_and_accepted_sockets_speak_tls() {
    let pki = Pki::new("tulip test CA");
    run(async move {
        let lp = tulip_executor::get_running_loop().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tls.sock");
        let (factory, _made) = Collect::new(Rec::echo);
        let server = lp
            .create_unix_server(
                factory,
                Some(&path),
                UnixServerOptions::new().tls(pki.server()),
            )
            .await
            .unwrap();
        let err = lp
            .create_unix_connection(
                Rec::default,
                Some(&path),
                UnixConnectOptions::new().tls(pki.client()),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::InvalidInput(_)),
            "a path is no host name"
        );
        let options = UnixConnectOptions::new()
            .tls(pki.client())
            .server_hostname("localhost");
        let (t, p) = lp
            .create_unix_connection(Rec::default, Some(&path), options)
            .await
            .unwrap();
        t.write(b"over a unix socket").unwrap();
        assert!(wait_until(|| p.borrow().data == b"over a unix socket").await);
        t.close();
        server.close();
        server.wait_closed().await;

        // connect_accepted_socket with tls is the server side.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let accept = tulip_executor::to_thread(move || listener.accept().map(|(s, _)| s));
        let client = tulip_executor::spawn({
            let client = pki.client();
            async move { tls_connect("localhost", addr.port(), ConnectOptions::new().tls(client)).await }
        });
        let sock = accept.await.unwrap().unwrap();
        let (st, sp) = lp
            .connect_accepted_socket(
                Rec::echo,
                sock.into(),
                AcceptedSocketOptions::new().tls(pki.server()),
            )
            .await
            .unwrap();
        assert!(st.tls_info().unwrap().server_side);
        let (ct, cp) = client.await.unwrap().unwrap();
        ct.write(b"accepted").unwrap();
        assert!(wait_until(|| cp.borrow().data == b"accepted").await);
        assert_eq!(sp.borrow().data, b"accepted");
        ct.close();
        assert!(wait_until(|| sp.borrow().lost()).await);
    });
}
