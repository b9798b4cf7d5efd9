//! The crypto provider: an application that installs rustls' process
//! default gets it in every tulip TLS configuration (its own binary, as
//! the process default can be installed once).

mod common;
mod tls_support;

use rustls::crypto::CryptoProvider;
use tls_support::{Pki, Rec, tls_connect, tls_server};
use tulip_test::{run, wait_until};
use tulip_transport::{ConnectOptions, ServerOptions};

#[test]
fn the_installed_process_default_provider_is_used() {
    // ring's suites, narrowed to one that ring's default list does not
    // put first, so the negotiated suite tells which provider ran.
    #[allow(deprecated)]
    let ring = rustls::crypto::ring::default_provider();
    assert_ne!(
        ring.cipher_suites[0].suite(),
        rustls::CipherSuite::TLS13_CHACHA20_POLY1305_SHA256
    );
    CryptoProvider {
        cipher_suites: vec![rustls::crypto::ring::cipher_suite::TLS13_CHACHA20_POLY1305_SHA256],
        ..ring
    }
    .install_default()
    .expect("no provider installed yet in this test binary");

    let pki = Pki::new("tulip provider CA");
    run(async move {
        let (server, port, _made) =
            tls_server(ServerOptions::new().tls(pki.server()), Rec::echo).await;
        let (t, p) = tls_connect("localhost", port, ConnectOptions::new().tls(pki.client()))
            .await
            .unwrap();
        t.write(b"ping").unwrap();
        assert!(wait_until(|| p.borrow().data.len() == 4).await);
        let info = t.tls_info().expect("a TLS transport");
        assert_eq!(
            info.cipher.as_deref(),
            Some("TLS13_CHACHA20_POLY1305_SHA256")
        );
        t.close();
        server.close();
        server.wait_closed().await;
    });
}
