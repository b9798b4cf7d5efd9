//! Errors name what they were about: a failed bind names the address (TCP
//! and Unix servers, datagram endpoints), a CA or certificate file that
//! cannot be read or holds no PEM certificate names the file.

mod common;
mod tls_support;

use std::io;
use std::net::{TcpListener, UdpSocket};

use common::Recorder;
use tulip_test::run_with_loop;
use tulip_transport::{
    BaseProtocol, DatagramOptions, DatagramProtocol, Error, LoopNetExt, ServerOptions,
    TlsClientConfig, TlsServerConfig, UnixServerOptions,
};

/// A datagram protocol that ignores everything.
struct Quiet;

impl BaseProtocol for Quiet {}

impl DatagramProtocol for Quiet {}

fn assert_names(err: &Error, kind: io::ErrorKind, what: &str) {
    assert_eq!(err.io_kind(), Some(kind), "{err:?}");
    let message = err.to_string();
    assert!(message.contains(what), "{message:?} does not name {what:?}");
}

/// The error of a call that must fail.
fn failed<T>(result: Result<T, Error>) -> Error {
    match result {
        Ok(_) => panic!("the call should have failed"),
        Err(e) => e,
    }
}

fn bind_message(addr: &dyn std::fmt::Display) -> String {
    format!("error while attempting to bind on address {addr}")
}

#[test]
fn a_server_bind_error_names_the_address() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    run_with_loop(|lp| async move {
        let opts = ServerOptions::new();
        let err = failed(
            lp.create_server(Recorder::default, "127.0.0.1", addr.port(), opts)
                .await,
        );
        assert_names(&err, io::ErrorKind::AddrInUse, &bind_message(&addr));
    });
}

#[test]
fn a_unix_server_bind_error_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing-dir").join("server.sock");
    run_with_loop(|lp| async move {
        let opts = UnixServerOptions::new();
        let err = failed(
            lp.create_unix_server(Recorder::default, Some(&path), opts)
                .await,
        );
        assert_names(
            &err,
            io::ErrorKind::NotFound,
            &bind_message(&path.display()),
        );
    });
}

#[test]
fn a_datagram_bind_error_names_the_address() {
    let taken = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    run_with_loop(|lp| async move {
        let opts = DatagramOptions::new().local_addr(addr);
        let err = failed(lp.create_datagram_endpoint(|| Quiet, opts).await);
        assert_names(&err, io::ErrorKind::AddrInUse, &bind_message(&addr));
    });
}

/// `err` says that the `kind` file at `path` holds no PEM certificate.
fn assert_holds_no_pem(err: &Error, kind: &str, path: &std::path::Path) {
    assert!(matches!(err, Error::InvalidInput(_)), "{err:?}");
    let expected = format!(
        "invalid argument: the {kind} file {} holds no PEM certificate",
        path.display()
    );
    assert_eq!(err.to_string(), expected);
}

#[test]
fn a_ca_file_error_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing-ca.pem");
    let err = failed(TlsClientConfig::with_ca_file(&missing));
    assert_names(
        &err,
        io::ErrorKind::NotFound,
        &missing.display().to_string(),
    );

    let empty = dir.path().join("empty-ca.pem");
    std::fs::write(&empty, "just some text, no certificate\n").unwrap();
    let err = failed(TlsClientConfig::with_ca_file(&empty));
    assert_holds_no_pem(&err, "CA", &empty);

    let broken = dir.path().join("broken-ca.pem");
    std::fs::write(
        &broken,
        "-----BEGIN CERTIFICATE-----\nnot base64 !!\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let err = failed(TlsClientConfig::with_ca_file(&broken));
    assert!(matches!(err, Error::InvalidInput(_)), "{err:?}");
    assert!(
        err.to_string().contains(&broken.display().to_string()),
        "{err}"
    );

    let pki = tls_support::Pki::new("tulip errors CA");
    assert!(TlsClientConfig::with_ca_file(pki.ca_file()).is_ok());
}

#[test]
fn a_certificate_or_key_file_error_names_the_file() {
    let pki = tls_support::Pki::new("tulip errors CA");
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing-key.pem");
    let err = failed(TlsServerConfig::from_pem_files(pki.cert_file(), &missing));
    assert_names(
        &err,
        io::ErrorKind::NotFound,
        &missing.display().to_string(),
    );

    let no_cert = dir.path().join("no-cert.pem");
    std::fs::write(&no_cert, "").unwrap();
    let err = failed(TlsServerConfig::from_pem_files(&no_cert, pki.key_file()));
    assert_holds_no_pem(&err, "certificate", &no_cert);
    assert!(TlsServerConfig::from_pem_files(pki.cert_file(), pki.key_file()).is_ok());
}
