//! `tulip::net::TlsStream` over loopback: a client and a server of ours
//! over TCP and Unix sockets (echo, ALPN, session information), refused
//! certificates, close_notify against truncation, a mebibyte each way
//! through full socket buffers, the handshake timeout, the tokio and
//! hyper traits, and real peers: `openssl s_server` for our client,
//! Python's `ssl` module for our server (each skipped with a note when
//! the tool is missing).

mod common;
mod tls_support;

use std::io::{self, IoSlice};
use std::process::{Command, Stdio};
use std::time::Duration;

use rustls::CertificateError;
use tls_support::{Pki, silent_peer};
use tulip::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tulip_executor::spawn;
use tulip_test::run;
use tulip_transport::net::{
    TcpListener, TcpStream, TlsStream, TlsStreamOptions, UnixListener, UnixStream,
};
use tulip_transport::{Error, TlsClientConfig, TlsError, TlsServerConfig};

/// A connected TCP pair on 127.0.0.1: (client, served).
async fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1", 0).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let client = TcpStream::connect("127.0.0.1", port).await.unwrap();
    let (served, _) = listener.accept().await.unwrap();
    (client, served)
}

/// Both sides' handshakes over `client` and `served`.
async fn handshake<S>(
    client: S,
    served: S,
    host: &str,
    client_tls: TlsClientConfig,
    server_tls: TlsServerConfig,
) -> (
    tulip_transport::Result<TlsStream<S>>,
    tulip_transport::Result<TlsStream<S>>,
)
where
    S: futures_io::AsyncRead + futures_io::AsyncWrite + Unpin + 'static,
{
    let server = spawn(async move { TlsStream::accept(served, &server_tls).await });
    let client = TlsStream::connect(client, host, &client_tls).await;
    (client, server.await.unwrap())
}

/// Both sides of a good session over TCP.
async fn tls_tcp_pair(pki: &Pki) -> (TlsStream<TcpStream>, TlsStream<TcpStream>) {
    let (client, served) = tcp_pair().await;
    let (c, s) = handshake(client, served, "localhost", pki.client(), pki.server()).await;
    (c.unwrap(), s.unwrap())
}

/// The TLS error inside an `io::Error` from a TlsStream's traits.
fn tls_of(e: &io::Error) -> Option<&TlsError> {
    e.get_ref()?.downcast_ref::<Error>()?.as_tls()
}

/// Echoes everything the stream reads until the peer's close_notify,
/// then closes: the count echoed.
async fn echo<S>(mut tls: TlsStream<S>) -> io::Result<usize>
where
    S: futures_io::AsyncRead + futures_io::AsyncWrite + Unpin,
{
    let mut buf = vec![0; 8192];
    let mut total = 0;
    loop {
        let n = tls.read(&mut buf).await?;
        if n == 0 {
            tls.close().await?;
            return Ok(total);
        }
        tls.write_all(&buf[..n]).await?;
        total += n;
    }
}

#[test]
fn a_client_and_a_server_echo_over_tcp() {
    let pki = Pki::new("tulip test CA");
    run(async move {
        let (mut client, served) = tls_tcp_pair(&pki).await;
        let info = client.tls_info();
        assert!(!info.server_side && info.handshake_complete);
        assert_eq!(info.protocol_version.as_deref(), Some("TLSv1.3"));
        assert!(info.cipher.as_deref().unwrap().starts_with("TLS13_"));
        assert_eq!(info.server_name.as_deref(), Some("localhost"));
        assert_eq!(info.peer_certificates, vec![pki.cert_der.clone()]);
        assert_eq!(info.alpn_protocol, None);
        let sinfo = served.tls_info();
        assert!(sinfo.server_side);
        assert_eq!(sinfo.server_name.as_deref(), Some("localhost"));
        assert!(sinfo.peer_certificates.is_empty());
        assert_eq!(served.server_name(), Some("localhost"));

        let echoing = spawn(echo(served));
        client.write_all(b"hello over TLS").await.unwrap();
        let mut buf = [0; 14];
        client.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"hello over TLS");
        // Vectored writes go through rustls as one.
        let bufs = [IoSlice::new(b"one "), IoSlice::new(b"two")];
        let n = client.write_vectored(&bufs).await.unwrap();
        assert_eq!(n, 7);
        let mut buf = [0; 7];
        client.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"one two");
        // Lines straight from rustls' buffer (AsyncBufRead).
        client.write_all(b"first\nsecond\n").await.unwrap();
        let mut line = String::new();
        client.read_line(&mut line).await.unwrap();
        assert_eq!(line, "first\n");
        line.clear();
        client.read_line(&mut line).await.unwrap();
        assert_eq!(line, "second\n");
        // Our close_notify ends the echo; its close_notify is our EOF.
        client.close().await.unwrap();
        assert_eq!(echoing.await.unwrap().unwrap(), 34);
        let mut rest = Vec::new();
        assert_eq!(client.read_to_end(&mut rest).await.unwrap(), 0);
        // Writing after close is refused, not lost silently.
        let err = client.write(b"late").await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
    });
}

#[test]
fn a_client_and_a_server_echo_over_unix_sockets() {
    let pki = Pki::new("tulip test CA");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tls.sock");
    run(async move {
        let listener = UnixListener::bind(&path).unwrap();
        let client = UnixStream::connect(&path).await.unwrap();
        let (served, _) = listener.accept().await.unwrap();
        let (c, s) = handshake(client, served, "localhost", pki.client(), pki.server()).await;
        let (mut client, served) = (c.unwrap(), s.unwrap());
        assert_eq!(served.server_name(), Some("localhost"));
        let echoing = spawn(echo(served));
        client.write_all(b"over a Unix socket").await.unwrap();
        let mut buf = [0; 18];
        client.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"over a Unix socket");
        client.close().await.unwrap();
        assert_eq!(echoing.await.unwrap().unwrap(), 18);

        // A socket pair does as well.
        let (a, b) = UnixStream::pair().unwrap();
        let (c, s) = handshake(a, b, "localhost", pki.client(), pki.server()).await;
        let (mut client, mut served) = (c.unwrap(), s.unwrap());
        served.write_all(b"server speaks first").await.unwrap();
        let mut buf = [0; 19];
        client.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"server speaks first");
    });
}

#[test]
fn alpn_h2_is_negotiated_on_both_sides() {
    let pki = Pki::new("tulip test CA");
    run(async move {
        let (client, served) = tcp_pair().await;
        let client_tls = pki.client().alpn_protocols(&[b"h2", b"http/1.1"]);
        let server_tls = pki.server().alpn_protocols(&[b"h2"]);
        let (c, s) = handshake(client, served, "localhost", client_tls, server_tls).await;
        let (client, served) = (c.unwrap(), s.unwrap());
        assert_eq!(client.alpn_protocol(), Some(&b"h2"[..]));
        assert_eq!(served.alpn_protocol(), Some(&b"h2"[..]));
        assert_eq!(client.tls_info().alpn_protocol.as_deref(), Some(&b"h2"[..]));
        assert_eq!(served.tls_info().alpn_protocol.as_deref(), Some(&b"h2"[..]));

        // No protocol in common: the server refuses with an alert.
        let (client, served) = tcp_pair().await;
        let client_tls = pki.client().alpn_protocols(&[b"http/1.1"]);
        let server_tls = pki.server().alpn_protocols(&[b"h2"]);
        let (c, s) = handshake(client, served, "localhost", client_tls, server_tls).await;
        let server_err = s.unwrap_err();
        assert!(
            matches!(
                server_err.as_tls().and_then(TlsError::rustls_error),
                Some(rustls::Error::NoApplicationProtocol)
            ),
            "{server_err:?}"
        );
        let client_err = c.unwrap_err();
        assert!(
            matches!(
                client_err.as_tls().and_then(TlsError::rustls_error),
                Some(rustls::Error::AlertReceived(
                    rustls::AlertDescription::NoApplicationProtocol
                ))
            ),
            "{client_err:?}"
        );
    });
}

#[test]
fn an_ip_address_is_verified_against_the_certificate_and_sends_no_sni() {
    let pki = Pki::new("tulip test CA");
    run(async move {
        let (client, served) = tcp_pair().await;
        let (c, s) = handshake(client, served, "127.0.0.1", pki.client(), pki.server()).await;
        let (client, served) = (c.unwrap(), s.unwrap());
        assert_eq!(client.server_name(), Some("127.0.0.1"));
        assert_eq!(served.server_name(), None);
        // IPv6, bracketed as in a URL.
        let (client, served) = tcp_pair().await;
        let (c, _s) = handshake(client, served, "[::1]", pki.client(), pki.server()).await;
        assert!(c.unwrap().tls_info().handshake_complete);
    });
}

#[test]
fn a_certificate_of_an_unknown_ca_or_for_another_name_is_rejected() {
    let pki = Pki::new("tulip test CA");
    let other = Pki::new("someone else's CA");
    run(async move {
        // Unknown issuer: a typed certificate error on our side, an
        // alert on the server's.
        let (client, served) = tcp_pair().await;
        let (c, s) = handshake(client, served, "localhost", other.client(), pki.server()).await;
        let err = c.unwrap_err();
        let tls = err.as_tls().expect("a TLS error");
        assert_eq!(
            tls.certificate_error(),
            Some(&CertificateError::UnknownIssuer),
            "{err}"
        );
        assert!(tls.is_certificate_error());
        assert_eq!(
            io::Error::from(err.clone()).kind(),
            io::ErrorKind::InvalidData
        );
        let server_err = s.unwrap_err();
        assert!(
            server_err.as_tls().unwrap().is_certificate_error(),
            "{server_err:?}"
        );

        // Not valid for the name asked for: the error names it.
        let (client, served) = tcp_pair().await;
        let (c, _s) = handshake(client, served, "wrong.example", pki.client(), pki.server()).await;
        let err = c.unwrap_err();
        let tls = err.as_tls().expect("a TLS error");
        assert!(
            matches!(
                tls.certificate_error(),
                Some(CertificateError::NotValidForNameContext { .. })
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("wrong.example"), "{err}");

        // The system's trust store knows nothing of our test CA.
        let (client, served) = tcp_pair().await;
        let system = TlsClientConfig::new().unwrap();
        let (c, _s) = handshake(client, served, "localhost", system, pki.server()).await;
        assert_eq!(
            c.unwrap_err()
                .as_tls()
                .and_then(TlsError::certificate_error),
            Some(&CertificateError::UnknownIssuer)
        );
    });
}

#[test]
fn bad_arguments_are_refused_before_any_io() {
    let pki = Pki::new("tulip test CA");
    run(async move {
        let (client, _served) = tcp_pair().await;
        let err = TlsStream::connect(client, "", &pki.client())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidInput(_)), "{err}");
        let (client, _served) = tcp_pair().await;
        let err = TlsStream::connect(client, "not a name!", &pki.client())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("not a name!"), "{err}");
        let (client, _served) = tcp_pair().await;
        let zero = TlsStreamOptions::new().ssl_handshake_timeout(Duration::ZERO);
        let err = TlsStream::connect_with(client, "localhost", &pki.client(), zero)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("ssl_handshake_timeout"), "{err}");
    });
}

#[test]
fn close_notify_is_eof_and_a_bare_close_is_a_truncation() {
    let pki = Pki::new("tulip test CA");
    run(async move {
        // The server says its last words and closes properly.
        let (mut client, mut served) = tls_tcp_pair(&pki).await;
        served.write_all(b"goodbye").await.unwrap();
        served.close().await.unwrap();
        let mut got = Vec::new();
        client.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"goodbye");
        // EOF again, not an error.
        assert_eq!(client.read(&mut [0; 8]).await.unwrap(), 0);

        // The server's TCP ends without a close_notify: the data before
        // it arrived, then UnexpectedEof (TlsError::Truncated), never
        // a clean EOF.
        let (mut client, mut served) = tls_tcp_pair(&pki).await;
        served.write_all(b"cut sh").await.unwrap();
        served.flush().await.unwrap();
        let mut buf = [0; 6];
        client.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"cut sh");
        let bare = served.into_inner();
        bare.shutdown(std::net::Shutdown::Write).unwrap();
        let err = client.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(tls_of(&err), Some(&TlsError::Truncated), "{err:?}");
        // And again on the next read.
        let err = client.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        drop(bare);

        // Dropping the stream without closing: the peer sees truncation.
        let (client, mut served) = tls_tcp_pair(&pki).await;
        drop(client);
        let err = served.read(&mut [0; 8]).await.unwrap_err();
        assert!(
            matches!(
                err.kind(),
                io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset
            ),
            "{err:?}"
        );
    });
}

#[test]
fn a_last_record_and_the_end_arriving_together_are_both_seen() {
    let pki = Pki::new("tulip test CA");
    run(async move {
        let (mut client, mut served) = tls_tcp_pair(&pki).await;
        served.write_all(b"last").await.unwrap();
        served.flush().await.unwrap();
        let bare = served.into_inner();
        bare.shutdown(std::net::Shutdown::Write).unwrap();
        // Both are in the client's socket before it reads.
        tulip_executor::sleep(Duration::from_millis(50)).await;
        let mut buf = [0; 4];
        client.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"last");
        let read = tulip_executor::wait_for(client.read(&mut buf), Duration::from_secs(5)).await;
        let err = read.expect("the end is seen").unwrap_err();
        assert_eq!(tls_of(&err), Some(&TlsError::Truncated), "{err:?}");
    });
}

/// A mebibyte with a pattern that shows a lost, repeated or reordered
/// chunk.
fn mebibyte(seed: u8) -> Vec<u8> {
    (0..1u32 << 20)
        .map(|i| (i.wrapping_mul(31) as u8) ^ (i >> 11) as u8 ^ seed)
        .collect()
}

#[test]
fn a_mebibyte_each_way_through_full_socket_buffers() {
    let pki = Pki::new("tulip test CA");
    run(async move {
        let (mut client, mut served) = tls_tcp_pair(&pki).await;
        let up = mebibyte(1);
        let down = mebibyte(2);
        // Client to server: one write_all of 1 MiB, far more than the
        // socket and rustls buffers take at once.
        let receiver = spawn(async move {
            let mut got = vec![0; 1 << 20];
            served.read_exact(&mut got).await.map(|()| (served, got))
        });
        client.write_all(&up).await.unwrap();
        client.flush().await.unwrap();
        let (mut served, got) = receiver.await.unwrap().unwrap();
        assert!(got == up, "the upload differs");

        // Server to client, with writes counted: several are partial.
        let expected = down.clone();
        let sender = spawn(async move {
            let mut rest = &down[..];
            let mut writes = 0;
            while !rest.is_empty() {
                let n = served.write(rest).await?;
                assert!(n > 0 && n <= rest.len());
                rest = &rest[n..];
                writes += 1;
            }
            served.close().await?;
            Ok::<_, io::Error>(writes)
        });
        let mut got = Vec::new();
        client.read_to_end(&mut got).await.unwrap();
        assert!(got == expected, "the download differs");
        let writes = sender.await.unwrap().unwrap();
        assert!(writes > 1, "1 MiB went in {writes} write(s)");
    });
}

#[test]
fn the_handshake_times_out_against_a_silent_peer() {
    let pki = Pki::new("tulip test CA");
    let (port, peer) = silent_peer();
    run(async move {
        // Our client against a server that never answers.
        let tcp = TcpStream::connect("127.0.0.1", port).await.unwrap();
        let options = TlsStreamOptions::new().ssl_handshake_timeout(Duration::from_millis(300));
        let err = TlsStream::connect_with(tcp, "localhost", &pki.client(), options)
            .await
            .unwrap_err();
        assert_eq!(
            err.as_tls(),
            Some(&TlsError::HandshakeTimeout(Duration::from_millis(300))),
            "{err:?}"
        );
        assert!(err.is_timeout());

        // Our server against a client that never speaks; the server's
        // socket is closed when it gives up (the client reads EOF).
        let (silent, served) = tcp_pair().await;
        let options = TlsStreamOptions::new().ssl_handshake_timeout(Duration::from_millis(300));
        let err = TlsStream::accept_with(served, &pki.server(), options)
            .await
            .unwrap_err();
        assert!(
            matches!(err.as_tls(), Some(TlsError::HandshakeTimeout(_))),
            "{err:?}"
        );
        assert_eq!(silent.read(&mut [0; 16]).await.unwrap(), 0);
    });
    // The client hello reached the silent peer, and the socket was closed
    // when the handshake gave up (the peer's read ended).
    let read = peer.join().unwrap().unwrap();
    assert!(read > 0);
}

#[test]
fn a_peer_that_closes_during_the_handshake_is_an_io_error() {
    let pki = Pki::new("tulip test CA");
    run(async move {
        let (client, served) = tcp_pair().await;
        drop(served);
        let err = TlsStream::connect(client, "localhost", &pki.client())
            .await
            .unwrap_err();
        let kind = err.io_kind();
        assert!(
            matches!(
                kind,
                Some(io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe)
            ),
            "{err:?}"
        );
        // Not TLS: a plain-text peer's answer is a TLS error.
        let (client, served) = tcp_pair().await;
        let answering = spawn(async move {
            let mut buf = [0; 512];
            let _ = served.read(&mut buf).await;
            let _ = served.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
            served
        });
        let err = TlsStream::connect(client, "localhost", &pki.client())
            .await
            .unwrap_err();
        assert!(err.as_tls().is_some(), "{err:?}");
        drop(answering.await);
    });
}

#[cfg(feature = "tokio-io")]
#[test]
fn tokio_io_traits_read_and_write() {
    use std::future::poll_fn;
    use std::pin::Pin;
    use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
    let pki = Pki::new("tulip test CA");
    run(async move {
        let (mut client, mut served) = tls_tcp_pair(&pki).await;
        let n = poll_fn(|cx| AsyncWrite::poll_write(Pin::new(&mut client), cx, b"tokio"))
            .await
            .unwrap();
        assert_eq!(n, 5);
        poll_fn(|cx| AsyncWrite::poll_flush(Pin::new(&mut client), cx))
            .await
            .unwrap();
        let mut storage = [0u8; 16];
        let mut buf = ReadBuf::new(&mut storage);
        while buf.filled().len() < 5 {
            poll_fn(|cx| AsyncRead::poll_read(Pin::new(&mut served), cx, &mut buf))
                .await
                .unwrap();
        }
        assert_eq!(buf.filled(), b"tokio");
        // poll_shutdown sends close_notify: the server reads EOF.
        poll_fn(|cx| AsyncWrite::poll_shutdown(Pin::new(&mut client), cx))
            .await
            .unwrap();
        let mut buf = ReadBuf::new(&mut storage);
        poll_fn(|cx| AsyncRead::poll_read(Pin::new(&mut served), cx, &mut buf))
            .await
            .unwrap();
        assert!(buf.filled().is_empty());
    });
}

#[cfg(feature = "hyper")]
#[test]
fn hyper_rt_traits_read_and_write() {
    use hyper::rt::{Read, ReadBuf, Write};
    use std::future::poll_fn;
    use std::pin::Pin;
    let pki = Pki::new("tulip test CA");
    run(async move {
        let (mut client, mut served) = tls_tcp_pair(&pki).await;
        let bufs = [IoSlice::new(b"hy"), IoSlice::new(b"per")];
        assert!(Write::is_write_vectored(&client));
        let n = poll_fn(|cx| Write::poll_write_vectored(Pin::new(&mut client), cx, &bufs))
            .await
            .unwrap();
        assert_eq!(n, 5);
        poll_fn(|cx| Write::poll_flush(Pin::new(&mut client), cx))
            .await
            .unwrap();
        let mut storage = [0u8; 16];
        let mut buf = ReadBuf::new(&mut storage);
        while buf.filled().len() < 5 {
            poll_fn(|cx| Read::poll_read(Pin::new(&mut served), cx, buf.unfilled()))
                .await
                .unwrap();
        }
        assert_eq!(buf.filled(), b"hyper");
        poll_fn(|cx| Write::poll_shutdown(Pin::new(&mut client), cx))
            .await
            .unwrap();
        let mut buf = ReadBuf::new(&mut storage);
        poll_fn(|cx| Read::poll_read(Pin::new(&mut served), cx, buf.unfilled()))
            .await
            .unwrap();
        assert!(buf.filled().is_empty());
    });
}

/// Whether `tool` runs here; prints why a test is skipped when not.
fn have(tool: &str, test: &str) -> bool {
    let found = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        println!("note: {test} skipped: `{tool}` is not installed");
    }
    found
}

#[test]
fn our_client_against_openssl_s_server() {
    if !have("openssl", "our_client_against_openssl_s_server") {
        return;
    }
    let pki = Pki::new("tulip test CA");
    for (version, flags) in [("TLSv1.3", &[][..]), ("TLSv1.2", &["-tls1_2"][..])] {
        // `-rev`: each line comes back reversed; one connection.
        let mut child = Command::new("openssl")
            .args([
                "s_server",
                "-accept",
                "127.0.0.1:0",
                "-naccept",
                "1",
                "-rev",
            ])
            .arg("-cert")
            .arg(pki.cert_file())
            .arg("-key")
            .arg(pki.key_file())
            .args(["-alpn", "h2"])
            .args(flags)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut out = io::BufReader::new(child.stdout.take().unwrap());
        let port: u16 = loop {
            let mut line = String::new();
            let n = io::BufRead::read_line(&mut out, &mut line).unwrap();
            assert!(n > 0, "s_server ended early");
            if let Some(addr) = line.trim().strip_prefix("ACCEPT ") {
                break addr.rsplit(':').next().unwrap().parse().unwrap();
            }
        };
        let drain = std::thread::spawn(move || io::copy(&mut out, &mut io::sink()));
        let client_tls = pki.client().alpn_protocols(&[b"h2", b"http/1.1"]);
        run(async move {
            let tcp = TcpStream::connect("127.0.0.1", port).await.unwrap();
            let mut tls = TlsStream::connect(tcp, "localhost", &client_tls)
                .await
                .unwrap();
            assert_eq!(tls.tls_info().protocol_version.as_deref(), Some(version));
            assert_eq!(tls.alpn_protocol(), Some(&b"h2"[..]));
            tls.write_all(b"hello openssl\n").await.unwrap();
            let mut got = Vec::new();
            while !got.ends_with(b"\n") {
                let mut buf = [0; 64];
                let n = tls.read(&mut buf).await.unwrap();
                assert!(n > 0, "s_server closed early");
                got.extend_from_slice(&buf[..n]);
            }
            assert_eq!(got, b"lssnepo olleh\n");
            tls.close().await.unwrap();
        });
        let _ = child.kill();
        let _ = child.wait();
        let _ = drain.join();
    }
}

const PYTHON_CLIENT: &str = r#"
import socket, ssl, sys
cafile, port = sys.argv[1], int(sys.argv[2])
ctx = ssl.create_default_context(cafile=cafile)
ctx.set_alpn_protocols(["h2", "http/1.1"])
with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
    with ctx.wrap_socket(sock, server_hostname="localhost") as tls:
        big = bytes(range(256)) * 4096
        tls.sendall(b"hello from python\n" + big)
        back = b""
        while len(back) < 18 + len(big):
            chunk = tls.recv(65536)
            assert chunk, "EOF before the echo ended"
            back += chunk
        assert back == b"hello from python\n" + big, "the echo differs"
        print(tls.version(), tls.selected_alpn_protocol())
        tls.unwrap()
"#;

#[test]
fn python_ssl_client_against_our_server() {
    if !have("python3", "python_ssl_client_against_our_server") {
        return;
    }
    let pki = Pki::new("tulip test CA");
    run(async move {
        let listener = TcpListener::bind("127.0.0.1", 0).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut python = Command::new("python3");
        python
            .args(["-c", PYTHON_CLIENT])
            .arg(pki.ca_file())
            .arg(port.to_string())
            .stdin(Stdio::null())
            .stderr(Stdio::inherit());
        // Runs on a worker thread from now on.
        let client = tulip_executor::to_thread(move || python.output());
        let (tcp, _) = listener.accept().await.unwrap();
        let server_tls = pki.server().alpn_protocols(&[b"h2"]);
        let served = TlsStream::accept(tcp, &server_tls).await.unwrap();
        assert_eq!(served.server_name(), Some("localhost"));
        assert_eq!(served.alpn_protocol(), Some(&b"h2"[..]));
        // Python's unwrap() sends close_notify: the echo ends cleanly.
        let echoed = echo(served).await.unwrap();
        assert_eq!(echoed, 18 + (1 << 20));
        let out = client.await.unwrap().unwrap();
        assert!(out.status.success(), "{out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "TLSv1.3 h2");
    });
}

#[test]
fn the_stream_is_send_exactly_when_its_inner_stream_is() {
    tulip_test::auto_traits::is_send::<TlsStream<Vec<u8>>>();
    tulip_test::auto_traits::is_sync::<TlsStream<Vec<u8>>>();
    // A loop's socket stays on its loop's thread, and so does TLS over it.
    tulip_test::not_send!(TlsStream<TcpStream>, TlsStream<UnixStream>);
}
