//! A client's failed TLS handshake names the server it was connecting to:
//! a real TLS server on 127.0.0.1 presents a self-signed certificate the
//! client does not trust, and the error says which name (and, over a
//! transport, which address) was refused, through `create_connection`,
//! `start_tls` and `tulip::net`'s `TlsStream`.

mod common;
mod tls_support;

use rcgen::{CertificateParams, KeyPair};
use rustls::CertificateError;
use tls_support::{Rec, tls_connect, tls_server};
use tulip_test::run;
use tulip_transport::net::{TcpStream, TlsStream};
use tulip_transport::{
    ConnectOptions, Error, LoopNetExt, ProtocolRef, ServerOptions, StartTlsOptions,
    TlsClientConfig, TlsServerConfig,
};

/// A server configuration with a self-signed certificate for
/// `localhost` and 127.0.0.1, which no trust store knows.
fn self_signed() -> TlsServerConfig {
    let key = KeyPair::generate().unwrap();
    let params =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    let cert = params.self_signed(&key).unwrap();
    TlsServerConfig::from_pem(cert.pem().as_bytes(), key.serialize_pem().as_bytes()).unwrap()
}

/// Checks that `err` is the refused certificate and names `name` (and
/// `addr`, when given).
fn names_the_server(err: &Error, name: &str, addr: Option<&str>) {
    let tls = err.as_tls().expect("a TLS error");
    assert!(
        matches!(
            tls.certificate_error(),
            Some(CertificateError::UnknownIssuer | CertificateError::BadSignature)
        ),
        "{err:?}"
    );
    assert!(tls.is_certificate_error());
    let (server_name, server_addr) = tls.server().expect("the server is named");
    assert_eq!(server_name, name);
    let message = err.to_string();
    assert!(message.contains(name), "{message}");
    if let Some(addr) = addr {
        assert_eq!(server_addr.map(ToString::to_string).as_deref(), Some(addr));
        assert!(message.contains(addr), "{message}");
    }
}

#[test]
fn create_connection_names_the_host_and_address_it_refused() {
    run(async {
        let (server, port, _made) =
            tls_server(ServerOptions::new().tls(self_signed()), Rec::default).await;
        let addr = format!("127.0.0.1:{port}");
        // The system's trust store, the client's default.
        let client = TlsClientConfig::new().unwrap();
        let err = tls_connect("127.0.0.1", port, ConnectOptions::new().tls(client.clone()))
            .await
            .unwrap_err();
        names_the_server(&err, "127.0.0.1", Some(&addr));
        // The name verified is server_hostname when it is given.
        let options = ConnectOptions::new()
            .tls(client)
            .server_hostname("localhost");
        let err = tls_connect("127.0.0.1", port, options).await.unwrap_err();
        names_the_server(&err, "localhost", Some(&addr));
        server.close();
        server.wait_closed().await;
    });
}

#[test]
fn start_tls_names_the_host_and_address_it_refused() {
    run(async {
        let lp = tulip_executor::get_running_loop().unwrap();
        let (server, port, _made) =
            tls_server(ServerOptions::new().tls(self_signed()), Rec::default).await;
        // A plain connection, upgraded.
        let (transport, protocol) = tls_connect("127.0.0.1", port, ConnectOptions::new())
            .await
            .unwrap();
        let options = StartTlsOptions::new().server_hostname("localhost");
        let client = TlsClientConfig::new().unwrap();
        let err = lp
            .start_tls(&transport, ProtocolRef::plain(protocol), client, options)
            .await
            .unwrap_err();
        names_the_server(&err, "localhost", Some(&format!("127.0.0.1:{port}")));
        server.close();
        server.wait_closed().await;
    });
}

#[test]
fn a_tls_stream_names_the_host_it_refused() {
    run(async {
        let (server, port, _made) =
            tls_server(ServerOptions::new().tls(self_signed()), Rec::default).await;
        let tcp = TcpStream::connect("127.0.0.1", port).await.unwrap();
        let client = TlsClientConfig::new().unwrap();
        let err = TlsStream::connect(tcp, "localhost", &client)
            .await
            .unwrap_err();
        names_the_server(&err, "localhost", None);
        server.close();
        server.wait_closed().await;
    });
}
