//! TLS rows (issue 7): full TLS handshakes per second, tulip against
//! tokio + tokio-rustls (current-thread), the same rustls version and
//! `ring` provider, the same certificates (an ECDSA P-256 CA and server
//! certificate made at start-up), in one process run.
//!
//! - `tls_handshake`: each operation is a new loopback TCP connection, a
//!   full TLS 1.3 handshake verified against the CA (session resumption
//!   off: one client configuration, shared by both runtimes, whose
//!   resumption is disabled), one
//!   byte echoed (so the server side has finished its part too), and the
//!   close. Client and server run on the same thread of the runtime under
//!   test, so the row is the cost of both ends: ns per handshake, whose
//!   inverse is handshakes per second. tulip: `create_connection` with
//!   `ConnectOptions::tls` against `create_server` with
//!   `ServerOptions::tls`, Protocol API; tokio: `TlsConnector` against a
//!   `TlsAcceptor` accept loop.
//!
//! The row counts the CPU time of the process (user and system), not the
//! wall clock: both ends are busy on one thread, so the two are nearly the
//! same, and CPU time is what a busy machine (other builds, other benches
//! on the second core) disturbs least.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::{TlsAcceptor, TlsConnector};
use tulip::prelude::*;
use tulip::transport::{ConnectOptions, ServerOptions, TlsClientConfig, TlsServerConfig};
use tulip_benches::tls::{Certs, make_certs, rustls_client_config, rustls_server_config};
use tulip_benches::{cpu_time, group, tokio_current_thread, tulip_loop};

/// Handshakes per iteration.
const HANDSHAKES: u64 = 100;

/// Echoes every byte (the server side of tulip's row).
#[derive(Default)]
struct Echo(Option<Transport>);

impl BaseProtocol for Echo {}

impl Protocol for Echo {
    fn connection_made(&mut self, t: Transport) {
        self.0 = Some(t);
    }
    fn data_received(&mut self, data: &[u8]) {
        if let Some(t) = &self.0 {
            let _ = t.write(data);
        }
    }
}

/// Waits for one byte (the client side of tulip's row).
#[derive(Default)]
struct Ping {
    got: bool,
    waiter: Option<std::task::Waker>,
}

impl BaseProtocol for Ping {}

impl Protocol for Ping {
    fn data_received(&mut self, _data: &[u8]) {
        self.got = true;
        if let Some(w) = self.waiter.take() {
            w.wake();
        }
    }
}

async fn pong(p: &Rc<RefCell<Ping>>) {
    std::future::poll_fn(|cx| {
        let mut p = p.borrow_mut();
        if p.got {
            std::task::Poll::Ready(())
        } else {
            p.waiter = Some(cx.waker().clone());
            std::task::Poll::Pending
        }
    })
    .await
}

/// The client configuration of both rows: the CA trusted, no session
/// resumption (every handshake is a full one).
fn client_config(certs: &Certs) -> Arc<rustls::ClientConfig> {
    let mut config = rustls_client_config(certs.ca_pem.as_bytes()).expect("the CA");
    Arc::make_mut(&mut config).resumption = rustls::client::Resumption::disabled();
    config
}

fn tulip_handshakes(
    c: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    certs: &Certs,
) {
    let event_loop = tulip_loop();
    let server_tls = TlsServerConfig::from_pem(certs.cert_pem.as_bytes(), certs.key_pem.as_bytes())
        .expect("the server's configuration");
    let client_tls = TlsClientConfig::from_rustls(client_config(certs));
    let lp = event_loop.handle();
    let server = event_loop
        .run_until_complete(async move {
            lp.create_server(
                Echo::default,
                "127.0.0.1",
                0,
                ServerOptions::new().tls(server_tls),
            )
            .await
        })
        .expect("the loop")
        .expect("the server");
    let port = server.sockets()[0].inet_addr().expect("an address").port();
    c.bench_function("tulip", |b| {
        b.iter_custom(|iters| {
            cpu_time(iters, || {
                let lp = event_loop.handle();
                let client_tls = client_tls.clone();
                event_loop
                    .run_until_complete(async move {
                        for _ in 0..HANDSHAKES {
                            let options = ConnectOptions::new()
                                .tls(client_tls.clone())
                                .server_hostname("localhost");
                            let (t, p) = lp
                                .create_connection(Ping::default, "127.0.0.1", port, options)
                                .await
                                .expect("a TLS connection");
                            t.write(b"x").expect("a write");
                            pong(&p).await;
                            t.abort();
                        }
                    })
                    .expect("the loop");
            })
        })
    });
    server.close();
}

fn tokio_handshakes(
    c: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    certs: &Certs,
) {
    let rt = tokio_current_thread();
    let acceptor = TlsAcceptor::from(
        rustls_server_config(certs.cert_pem.as_bytes(), certs.key_pem.as_bytes())
            .expect("the server's configuration"),
    );
    let connector = TlsConnector::from(client_config(certs));
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("an address");
    rt.spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return;
                };
                let mut buf = [0u8; 64];
                while let Ok(n) = tls.read(&mut buf).await {
                    if n == 0 || tls.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("a name");
    c.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            cpu_time(iters, || {
                rt.block_on(async {
                    for _ in 0..HANDSHAKES {
                        let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
                        stream.set_nodelay(true).expect("TCP_NODELAY");
                        let mut tls = connector
                            .connect(name.clone(), stream)
                            .await
                            .expect("a TLS connection");
                        tls.write_all(b"x").await.expect("a write");
                        let mut byte = [0u8; 1];
                        tls.read_exact(&mut byte).await.expect("the echo");
                    }
                })
            })
        })
    });
}

fn bench_tls(c: &mut Criterion) {
    let certs = make_certs().expect("certificates");
    let mut g = group(c, "tls_handshake", HANDSHAKES);
    tulip_handshakes(&mut g, &certs);
    tokio_handshakes(&mut g, &certs);
    g.finish();
}

criterion_group!(benches, bench_tls);
criterion_main!(benches);
