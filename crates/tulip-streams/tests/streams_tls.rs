//! Streams over TLS: `open_connection` and `start_server` with the `tls`
//! option, `StreamWriter::start_tls` (STARTTLS), extra info through the
//! writer, truncation seen by a reader, `drain` across the TLS layer, and
//! closing (no half-close over TLS).

// The transport tests' TLS helpers; their recording protocol's
// `BaseProtocol` part comes from the transport tests' `common`.
#[path = "../../tulip-transport/tests/common/mod.rs"]
mod common;
#[path = "../../tulip-transport/tests/tls_support/mod.rs"]
mod tls_support;

use std::cell::Cell;
use std::io::Write;
use std::net::TcpListener;
use std::rc::Rc;
use std::time::Duration;

use futures_util::io::AsyncWriteExt;
use tls_support::Pki;
use tulip_streams::{
    ConnectOptions, Error, ServerOptions, StartTlsOptions, StreamReader, StreamWriter,
    open_connection, start_server,
};
use tulip_test::run;
use tulip_transport::rustls::CertificateError;
use tulip_transport::{ExtraInfo, TlsError};

async fn echo_lines(mut reader: StreamReader, writer: StreamWriter) -> Result<(), Error> {
    loop {
        let line = reader.readline().await?;
        if line.is_empty() {
            break;
        }
        writer.write(&line)?;
        writer.drain().await?;
    }
    writer.close();
    writer.wait_closed().await
}

async fn tls_echo_server(pki: &Pki) -> (tulip_streams::Server, u16) {
    let server = start_server(
        echo_lines,
        "127.0.0.1",
        0,
        ServerOptions::new().tls(pki.server()),
    )
    .await
    .unwrap();
    let port = server.sockets()[0].inet_addr().unwrap().port();
    (server, port)
}

#[test]
fn open_connection_and_start_server_speak_tls() {
    let pki = Pki::new("tulip test CA");
    run(async move {
        let (server, port) = tls_echo_server(&pki).await;
        let (mut reader, writer) =
            open_connection("localhost", port, ConnectOptions::new().tls(pki.client()))
                .await
                .unwrap();
        writer.write(b"hello, secure streams\n").unwrap();
        writer.drain().await.unwrap();
        assert_eq!(reader.readline().await.unwrap(), b"hello, secure streams\n");
        assert_eq!(
            writer.get_extra_info("peercert"),
            Some(ExtraInfo::Bytes(pki.cert_der.clone()))
        );
        let info = writer.transport().tls_info().unwrap();
        assert_eq!(info.server_name.as_deref(), Some("localhost"));
        // Many lines, large ones too, cut into records at random places.
        let mut expected = Vec::new();
        for i in 0..200 {
            let line = format!("{i}:{}\n", "x".repeat(i * 97));
            writer.write(line.as_bytes()).unwrap();
            expected.extend_from_slice(line.as_bytes());
        }
        writer.drain().await.unwrap();
        let got = reader.readexactly(expected.len()).await.unwrap();
        assert!(got == expected);
        // No half-close over TLS: write_eof is refused, close sends
        // close_notify.
        assert!(!writer.can_write_eof());
        assert!(writer.write_eof().is_err());
        writer.close();
        writer.wait_closed().await.unwrap();
        assert!(reader.read(10).await.unwrap().is_empty());
        server.close();
        server.wait_closed().await;
    });
}

#[test]
fn a_wrong_name_fails_open_connection_with_a_certificate_error() {
    let pki = Pki::new("tulip test CA");
    run(async move {
        let (server, port) = tls_echo_server(&pki).await;
        let options = ConnectOptions::new()
            .tls(pki.client())
            .server_hostname("elsewhere.example");
        let err = open_connection("127.0.0.1", port, options)
            .await
            .unwrap_err();
        // Matched through the re-exported rustls, on the streams error.
        let cert = err.as_tls().and_then(TlsError::certificate_error);
        assert!(
            matches!(
                cert,
                Some(
                    CertificateError::NotValidForName
                        | CertificateError::NotValidForNameContext { .. }
                )
            ),
            "{err:?}"
        );
        server.close();
        server.wait_closed().await;
    });
}

/// A plain line server that upgrades on `STARTTLS`, then echoes lines.
async fn starttls_handler(
    mut reader: StreamReader,
    mut writer: StreamWriter,
    tls: tulip_streams::TlsServerConfig,
) -> Result<(), Error> {
    assert_eq!(reader.readline().await?, b"STARTTLS\n");
    writer.write(b"220 ready\n")?;
    writer.start_tls(tls, StartTlsOptions::new()).await?;
    assert!(writer.transport().tls_info().is_some());
    echo_lines(reader, writer).await
}

#[test]
fn stream_writer_start_tls_upgrades_both_sides() {
    let pki = Pki::new("tulip test CA");
    run(async move {
        let tls = pki.server();
        let server = start_server(
            move |r, w| starttls_handler(r, w, tls.clone()),
            "127.0.0.1",
            0,
            ServerOptions::new(),
        )
        .await
        .unwrap();
        let port = server.sockets()[0].inet_addr().unwrap().port();
        let (mut reader, mut writer) = open_connection("127.0.0.1", port, ConnectOptions::new())
            .await
            .unwrap();
        writer.write(b"STARTTLS\n").unwrap();
        assert_eq!(reader.readline().await.unwrap(), b"220 ready\n");
        assert!(writer.transport().tls_info().is_none());
        let options = StartTlsOptions::new().server_hostname("localhost");
        writer.start_tls(pki.client(), options).await.unwrap();
        let info = writer.transport().tls_info().unwrap();
        assert!(!info.server_side);
        writer.write(b"now encrypted\n").unwrap();
        writer.drain().await.unwrap();
        assert_eq!(reader.readline().await.unwrap(), b"now encrypted\n");
        // futures-io's close over TLS: close_notify, then the connection
        // ends.
        AsyncWriteExt::close(&mut writer).await.unwrap();
        assert!(writer.is_closing());
        writer.wait_closed().await.unwrap();
        server.close();
        server.wait_closed().await;
    });
}

#[test]
fn a_reader_sees_a_truncation_as_an_error_after_the_data() {
    let pki = Pki::new("tulip test CA");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = pki.server().rustls_config().clone();
    let peer = std::thread::spawn(move || {
        let (sock, _) = listener.accept().unwrap();
        let conn = rustls::ServerConnection::new(config).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, sock);
        tls.write_all(b"the first part\n").unwrap();
        tls.flush().unwrap();
        tls.sock.shutdown(std::net::Shutdown::Both).unwrap();
    });
    run(async move {
        let (mut reader, writer) =
            open_connection("localhost", port, ConnectOptions::new().tls(pki.client()))
                .await
                .unwrap();
        assert_eq!(reader.readline().await.unwrap(), b"the first part\n");
        let err = reader.read(100).await.unwrap_err();
        assert!(
            matches!(&err, Error::Transport(e) if e.as_tls() == Some(&TlsError::Truncated)),
            "{err:?}"
        );
        let err = writer.wait_closed().await.unwrap_err();
        assert_eq!(
            std::io::Error::from(err).kind(),
            std::io::ErrorKind::UnexpectedEof
        );
    });
    peer.join().unwrap();
}

#[test]
fn drain_waits_while_the_tls_peer_does_not_read() {
    let pki = Pki::new("tulip test CA");
    run(async move {
        // The server reads nothing until `total` is set, then reads that
        // many bytes and answers.
        let total = Rc::new(Cell::new(0usize));
        let seen = total.clone();
        let server = start_server(
            move |mut reader: StreamReader, writer: StreamWriter| {
                let seen = seen.clone();
                async move {
                    while seen.get() == 0 {
                        tulip_executor::sleep(Duration::from_millis(5)).await;
                    }
                    let all = reader.readexactly(seen.get()).await?;
                    assert!(all.iter().all(|&b| b == b'z'));
                    writer.write(format!("{}\n", all.len()).as_bytes())?;
                    writer.drain().await
                }
            },
            "127.0.0.1",
            0,
            ServerOptions::new().tls(pki.server()),
        )
        .await
        .unwrap();
        let port = server.sockets()[0].inet_addr().unwrap().port();
        let (mut reader, writer) =
            open_connection("localhost", port, ConnectOptions::new().tls(pki.client()))
                .await
                .unwrap();
        let chunk = vec![b'z'; 64 * 1024];
        let mut sent = 0usize;
        loop {
            writer.write(&chunk).unwrap();
            sent += chunk.len();
            let drain = tulip_executor::wait_for(writer.drain(), Duration::from_millis(200));
            if drain.await.is_err() {
                break;
            }
            assert!(sent < 64 << 20, "drain never waited");
        }
        total.set(sent);
        writer.drain().await.unwrap();
        assert_eq!(
            reader.readline().await.unwrap(),
            format!("{sent}\n").as_bytes()
        );
        writer.close();
        writer.wait_closed().await.unwrap();
        server.close();
        server.wait_closed().await;
    });
}
