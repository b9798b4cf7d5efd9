//! TLS between tulip peers over loopback: handshakes that succeed and
//! fail (typed certificate errors), the option checks, extra info, ALPN,
//! many clients with 1 MB each way, and closing (clean, during the
//! handshake, data after close).

mod common;
mod tls_support;

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use rustls::CertificateError;
use tls_support::{Pki, Rec, Slot, connected, tls_connect, tls_server};
use tulip_test::{run, wait_until};
use tulip_transport::{
    ConnectOptions, Error, ExtraInfo, LoopNetExt, Server, ServerOptions, TlsClientConfig, TlsError,
    TlsServerConfig,
};

async fn echo_server(tls: TlsServerConfig, options: ServerOptions) -> (Server, u16, Slot) {
    tls_server(options.tls(tls), Rec::echo).await
}

fn is_name_error(e: &TlsError) -> bool {
    matches!(
        e.certificate_error(),
        Some(CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. })
    )
}

#[test]
fn handshake_with_the_right_ca_and_name_succeeds() {
    let pki = Pki::new("tulip test CA");
    run(async move {
        let (server, port, made) = echo_server(pki.server(), ServerOptions::new()).await;
        let (t, p) = tls_connect("localhost", port, ConnectOptions::new().tls(pki.client()))
            .await
            .unwrap();
        assert_eq!(p.borrow().events, ["made"]);
        t.write(b"hello over TLS").unwrap();
        assert!(wait_until(|| p.borrow().data.len() == 14).await);
        assert_eq!(p.borrow().data, b"hello over TLS");

        let info = t.tls_info().expect("a TLS transport");
        assert!(!info.server_side);
        assert!(info.handshake_complete);
        assert_eq!(info.protocol_version.as_deref(), Some("TLSv1.3"));
        assert!(info.cipher.as_deref().unwrap().starts_with("TLS13_"));
        assert_eq!(info.server_name.as_deref(), Some("localhost"));
        assert_eq!(info.peer_certificates, vec![pki.cert_der.clone()]);
        assert_eq!(info.alpn_protocol, None);
        assert_eq!(
            t.get_extra_info("peercert"),
            Some(ExtraInfo::Bytes(pki.cert_der.clone()))
        );
        assert_eq!(
            t.get_extra_info("peercert_chain"),
            Some(ExtraInfo::List(vec![pki.cert_der.clone()]))
        );
        assert_eq!(
            t.get_extra_info("tls_version"),
            Some(ExtraInfo::Text("TLSv1.3".into()))
        );
        assert_eq!(
            t.get_extra_info("server_hostname"),
            Some(ExtraInfo::Text("localhost".into()))
        );
        assert!(matches!(
            t.get_extra_info("cipher"),
            Some(ExtraInfo::Text(_))
        ));
        assert_eq!(t.get_extra_info("compression"), None);
        assert_eq!(t.get_extra_info("ssl_object"), None);
        let peer = t.peer_addr().and_then(|a| a.as_inet()).unwrap();
        assert_eq!(peer.port(), port);
        assert!(t.fd().is_some());
        assert!(!t.can_write_eof());
        assert!(matches!(t.write_eof(), Err(Error::Unsupported(_))));

        let (server_side, st) = connected(&made, 0).await;
        let sinfo = st.tls_info().unwrap();
        assert!(sinfo.server_side);
        assert_eq!(sinfo.server_name.as_deref(), Some("localhost"));
        assert!(sinfo.peer_certificates.is_empty());
        assert_eq!(st.get_extra_info("peercert"), None);

        t.close();
        assert!(t.is_closing());
        // Writes after close are dropped quietly, as asyncio.
        t.write(b"ignored").unwrap();
        assert!(wait_until(|| p.borrow().lost() && server_side.borrow().lost()).await);
        // A clean close: close_notify both ways, no error on either side.
        assert_eq!(p.borrow().events, ["made", "lost"]);
        assert_eq!(server_side.borrow().events, ["made", "eof", "lost"]);
        assert_eq!(server_side.borrow().data, b"hello over TLS");
        assert_eq!(t.tls_info().map(|i| i.handshake_complete), Some(true));
        server.close();
        server.wait_closed().await;
    });
}

#[test]
fn an_ip_address_is_verified_against_the_ip_names_of_the_certificate() {
    let pki = Pki::new("tulip test CA");
    run(async move {
        let (server, port, _made) = echo_server(pki.server(), ServerOptions::new()).await;
        let (t, _p) = tls_connect("127.0.0.1", port, ConnectOptions::new().tls(pki.client()))
            .await
            .unwrap();
        assert_eq!(
            t.tls_info().unwrap().server_name.as_deref(),
            Some("127.0.0.1")
        );
        t.abort();
        server.close();
    });
}

#[test]
fn a_wrong_name_fails_with_a_certificate_error_and_the_server_goes_on() {
    let pki = Pki::new("tulip test CA");
    run(async move {
        let (server, port, made) = echo_server(pki.server(), ServerOptions::new()).await;
        let err = tls_connect(
            "127.0.0.1",
            port,
            ConnectOptions::new()
                .tls(pki.client())
                .server_hostname("example.com"),
        )
        .await
        .unwrap_err();
        let tls = err.as_tls().expect("a TLS error");
        assert!(is_name_error(tls), "{err:?}");
        assert!(tls.is_certificate_error());
        assert_eq!(
            std::io::Error::from(err.clone()).kind(),
            std::io::ErrorKind::InvalidData
        );
        // The server's protocol was made but never connected.
        assert!(wait_until(|| made.borrow().len() == 1).await);
        tulip_executor::sleep(Duration::from_millis(50)).await;
        assert!(made.borrow()[0].borrow().events.is_empty());
        // The server goes on serving.
        let (t, _p) = tls_connect("localhost", port, ConnectOptions::new().tls(pki.client()))
            .await
            .unwrap();
        t.close();
        server.close();
        server.wait_closed().await;
    });
}

#[test]
fn an_unknown_ca_fails_with_a_certificate_error() {
    let pki = Pki::new("tulip test CA");
    let other = Pki::new("someone else's CA");
    run(async move {
        let (server, port, _made) = echo_server(pki.server(), ServerOptions::new()).await;
        for client in [other.client(), TlsClientConfig::new().unwrap()] {
            let err = tls_connect("localhost", port, ConnectOptions::new().tls(client))
                .await
                .unwrap_err();
            let tls = err.as_tls().expect("a TLS error");
            assert_eq!(
                tls.certificate_error(),
                Some(&CertificateError::UnknownIssuer),
                "{err}"
            );
        }
        server.close();
        server.wait_closed().await;
    });
}

#[test]
fn verification_is_off_only_with_the_dangerous_configuration() {
    let pki = Pki::new("tulip test CA");
    run(async move {
        let (server, port, _made) = echo_server(pki.server(), ServerOptions::new()).await;
        let options = ConnectOptions::new()
            .tls(TlsClientConfig::dangerous_no_certificate_verification())
            .server_hostname("not.the.name.example");
        let (t, p) = tls_connect("127.0.0.1", port, options).await.unwrap();
        t.write(b"ping").unwrap();
        assert!(wait_until(|| p.borrow().data == b"ping").await);
        t.close();
        // An empty server_hostname is an error, never "no verification".
        let err = tls_connect(
            "127.0.0.1",
            port,
            ConnectOptions::new().tls(pki.client()).server_hostname(""),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, Error::InvalidInput(_)), "{err:?}");
        server.close();
        server.wait_closed().await;
    });
}

#[test]
fn tls_options_are_checked_before_connecting() {
    let pki = Pki::new("tulip test CA");
    run(async move {
        let lp = tulip_executor::get_running_loop().unwrap();
        let cases = vec![
            ConnectOptions::new().server_hostname("localhost"),
            ConnectOptions::new().ssl_handshake_timeout(Duration::from_secs(1)),
            ConnectOptions::new().ssl_shutdown_timeout(Duration::from_secs(1)),
            ConnectOptions::new()
                .tls(pki.client())
                .ssl_handshake_timeout(Duration::ZERO),
            ConnectOptions::new()
                .tls(pki.client())
                .server_hostname("bad name!"),
        ];
        for options in cases {
            // Port 9 (discard) on loopback: nothing listens; the options
            // are refused before any connection attempt.
            let err = tls_connect("127.0.0.1", 9, options).await.unwrap_err();
            assert!(matches!(err, Error::InvalidInput(_)), "{err:?}");
        }
        // An existing socket and tls without a name: no host to verify.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let sock = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let err = tls_connect(
            "",
            0,
            ConnectOptions::new().sock(sock.into()).tls(pki.client()),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, Error::InvalidInput(_)), "{err:?}");
        let err = lp
            .create_server(
                Rec::default,
                "127.0.0.1",
                0,
                ServerOptions::new().ssl_handshake_timeout(Duration::from_secs(1)),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidInput(_)), "{err:?}");
        assert!(matches!(
            TlsServerConfig::from_pem(b"not pem", b"nor this"),
            Err(Error::InvalidInput(_))
        ));
        assert!(matches!(
            TlsClientConfig::with_ca_pem(b""),
            Err(Error::InvalidInput(_))
        ));
        // A key that does not match the certificate.
        let other = Pki::new("other");
        assert!(matches!(
            TlsServerConfig::from_pem(pki.cert_pem.as_bytes(), other.key_pem.as_bytes()),
            Err(Error::Tls(_))
        ));
    });
}

#[test]
fn alpn_is_negotiated_and_a_mismatch_is_refused() {
    let pki = Pki::new("tulip test CA");
    run(async move {
        let tls = pki.server().alpn_protocols(&[b"h2", b"http/1.1"]);
        let (server, port, made) = echo_server(tls, ServerOptions::new()).await;
        let client = pki.client().alpn_protocols(&[b"http/1.1", b"spdy/3"]);
        let (t, _p) = tls_connect("localhost", port, ConnectOptions::new().tls(client))
            .await
            .unwrap();
        assert_eq!(
            t.tls_info().unwrap().alpn_protocol.as_deref(),
            Some(&b"http/1.1"[..])
        );
        assert_eq!(
            t.get_extra_info("alpn_protocol"),
            Some(ExtraInfo::Bytes(b"http/1.1".to_vec()))
        );
        let (_sp, st) = connected(&made, 0).await;
        assert_eq!(
            st.tls_info().unwrap().alpn_protocol.as_deref(),
            Some(&b"http/1.1"[..])
        );
        t.close();

        let client = pki.client().alpn_protocols(&[b"spdy/3"]);
        let err = tls_connect("localhost", port, ConnectOptions::new().tls(client))
            .await
            .unwrap_err();
        assert_eq!(
            err.as_tls().and_then(TlsError::rustls_error),
            Some(&rustls::Error::AlertReceived(
                rustls::AlertDescription::NoApplicationProtocol
            )),
            "{err:?}"
        );
        server.close();
        server.wait_closed().await;
    });
}

#[test]
fn twenty_five_clients_send_one_megabyte_each_way() {
    const CLIENTS: usize = 25;
    const SIZE: usize = 1 << 20;
    let pki = Pki::new("tulip test CA");
    run(async move {
        let (server, port, made) = echo_server(pki.server(), ServerOptions::new()).await;
        let mut tasks = Vec::new();
        for i in 0..CLIENTS {
            let client = pki.client();
            tasks.push(tulip_executor::spawn(async move {
                let (t, p) = tls_connect("localhost", port, ConnectOptions::new().tls(client))
                    .await
                    .unwrap();
                let payload: Vec<u8> = (0..SIZE).map(|j| (j * 31 + i) as u8).collect();
                // Uneven pieces, so records and reads never line up.
                for piece in payload.chunks(7919) {
                    t.write(piece).unwrap();
                }
                assert!(wait_until(|| p.borrow().data.len() >= SIZE).await);
                assert!(p.borrow().data == payload, "client {i}: the echo differs");
                t.close();
                assert!(wait_until(|| p.borrow().lost()).await);
                assert_eq!(
                    p.borrow().lost_error.as_ref().map(ToString::to_string),
                    None
                );
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        assert!(wait_until(|| made.borrow().iter().all(|p| p.borrow().lost())).await);
        for p in made.borrow().iter() {
            assert_eq!(p.borrow().data.len(), SIZE);
            assert_eq!(p.borrow().events_but_flow(), ["made", "eof", "lost"]);
        }
        server.close();
        server.wait_closed().await;
    });
}

#[test]
fn a_peer_closing_during_the_handshake_fails_the_handshake_only() {
    let pki = Pki::new("tulip test CA");
    run(async move {
        // Clients that close at once, or send garbage, do not disturb the
        // server.
        let (server, port, made) = echo_server(pki.server(), ServerOptions::new()).await;
        let raw = tulip_executor::to_thread(move || {
            drop(TcpStream::connect(("127.0.0.1", port)).unwrap());
            let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            std::io::Write::write_all(&mut s, b"GET / HTTP/1.0\r\n\r\n").unwrap();
            let mut rest = Vec::new();
            let _ = s.read_to_end(&mut rest);
        });
        raw.await.unwrap();
        assert!(wait_until(|| made.borrow().len() == 2).await);
        let (t, p) = tls_connect("localhost", port, ConnectOptions::new().tls(pki.client()))
            .await
            .unwrap();
        t.write(b"still serving").unwrap();
        assert!(wait_until(|| p.borrow().data == b"still serving").await);
        t.close();
        for p in made.borrow().iter().take(2) {
            assert!(p.borrow().events.is_empty(), "{:?}", p.borrow().events);
        }
        server.close();
        server.wait_closed().await;

        // A server that accepts and closes: the client's handshake fails
        // with a reset, it does not hang.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let closer = std::thread::spawn(move || drop(listener.accept().unwrap()));
        let err = tls_connect("localhost", port, ConnectOptions::new().tls(pki.client()))
            .await
            .unwrap_err();
        closer.join().unwrap();
        assert_eq!(
            err.io_kind(),
            Some(std::io::ErrorKind::ConnectionReset),
            "{err:?}"
        );
    });
}

#[test]
fn a_cancelled_handshake_closes_the_connection() {
    let pki = Pki::new("tulip test CA");
    let (port, peer) = tls_support::silent_peer();
    run(async move {
        let attempt = tls_connect("localhost", port, ConnectOptions::new().tls(pki.client()));
        let res = tulip_executor::wait_for(attempt, Duration::from_millis(300)).await;
        assert!(res.is_err(), "the handshake cannot finish");
    });
    // The socket was aborted: the peer saw the hello, then the end.
    let got = peer.join().unwrap().unwrap();
    assert!(got > 0);
}

#[test]
fn data_after_close_is_neither_delivered_nor_sent() {
    let pki = Pki::new("tulip test CA");
    run(async move {
        let (server, port, made) =
            tls_server(ServerOptions::new().tls(pki.server()), Rec::default).await;
        let (t, p) = tls_connect("localhost", port, ConnectOptions::new().tls(pki.client()))
            .await
            .unwrap();
        let (sp, st) = connected(&made, 0).await;
        t.write(b"before").unwrap();
        t.close();
        t.write(b"after").unwrap();
        assert!(t.writelines(&[b"and", b"this"]).is_ok());
        // The server talks on; the closing client discards it.
        st.write(b"late data").unwrap();
        assert!(wait_until(|| p.borrow().lost() && sp.borrow().lost()).await);
        assert!(p.borrow().data.is_empty());
        assert_eq!(p.borrow().events, ["made", "lost"]);
        assert_eq!(sp.borrow().data, b"before");
        assert_eq!(sp.borrow().events, ["made", "eof", "lost"]);
        // After the loss too.
        t.write(b"later").unwrap();
        t.close();
        server.close();
        server.wait_closed().await;
    });
}
