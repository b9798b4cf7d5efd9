//! TLS connections (successful, refused for a certificate, timed out in
//! the handshake, aborted by the server) leave no descriptor open. Alone
//! in its binary, so that the count is exact.

mod common;
mod tls_support;

use std::io::Read;
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use tls_support::{Pki, Rec, tls_connect, tls_server};
use tulip_test::{fd_count, run, wait_until};
use tulip_transport::{ConnectOptions, ServerOptions};

#[test]
fn tls_connections_leak_no_descriptor() {
    let pki = Arc::new(Pki::new("tulip test CA"));
    // Warm up (the trust store, thread-local buffers, the loop's own).
    let before = {
        let pki = pki.clone();
        run(async move { one_round(&pki).await });
        fd_count()
    };
    for _ in 0..3 {
        let pki = pki.clone();
        run(async move { one_round(&pki).await });
    }
    // The only test of its binary: nothing else opens descriptors.
    assert_eq!(fd_count(), before);
}

/// Successful, failing and timed-out connections, all closed.
async fn one_round(pki: &Pki) {
    let options = ServerOptions::new()
        .tls(pki.server())
        .ssl_handshake_timeout(Duration::from_millis(300));
    let (server, port, made) = tls_server(options, Rec::echo).await;
    for _ in 0..4 {
        let (t, p) = tls_connect("localhost", port, ConnectOptions::new().tls(pki.client()))
            .await
            .unwrap();
        t.write(b"x").unwrap();
        assert!(wait_until(|| p.borrow().data == b"x").await);
        t.close();
        assert!(wait_until(|| p.borrow().lost()).await);
    }
    for _ in 0..2 {
        let options = ConnectOptions::new()
            .tls(pki.client())
            .server_hostname("wrong.example");
        assert!(tls_connect("127.0.0.1", port, options).await.is_err());
    }
    let silent = tulip_executor::to_thread(move || {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let mut buf = [0u8; 1];
        let _ = s.read(&mut buf);
    });
    silent.await.unwrap();
    assert!(wait_until(|| made.borrow().len() == 7).await);
    server.close();
    server.abort_clients();
    server.wait_closed().await;
    // Let the last connection_lost callbacks run.
    tulip_executor::sleep(Duration::from_millis(20)).await;
}
