//! `serve` over HTTP/1.1 with a raw client on loopback: keep-alive (three
//! requests on one connection), pipelining (two requests written at once),
//! Unix-domain sockets, and a `!Send` tower service.

mod common;

use std::future::IntoFuture;

use common::{RawClient, app_server, get, stop_signal, with_app};
use tulip::net::UnixListener;
use tulip::prelude::*;
use tulip_test::run;

#[test]
fn keep_alive_serves_three_requests_on_one_connection() {
    run(async {
        let (server, port, stats) = app_server().await;
        let (stop, set_stop) = stop_signal();
        let server = spawn(server.with_graceful_shutdown(stop).into_future());

        let mut client = RawClient::connect(port).await;
        for path in ["/", "/slow/1", "/nowhere"] {
            client.send(&get(path)).await;
            let reply = client
                .response()
                .await
                .expect("a response on the same connection");
            match path {
                "/" => {
                    assert_eq!(reply.status, 200);
                    assert_eq!(reply.body, b"Hello, World!");
                }
                "/slow/1" => assert_eq!(reply.body, b"slept 1 ms"),
                _ => assert_eq!(reply.status, 404),
            }
            assert!(reply.head.starts_with("HTTP/1.1 "), "{}", reply.head);
        }
        assert_eq!(stats.started.get(), 3);

        set_stop();
        server.await.unwrap().unwrap();
        // The idle keep-alive connection was closed by the shutdown.
        assert!(client.closed().await);
    });
}

#[test]
fn pipelined_requests_written_at_once_are_answered_in_order() {
    with_app(
        |s| s,
        |port, _| async move {
            let mut client = RawClient::connect(port).await;
            // The slow one first: its answer must still come first.
            let mut both = get("/slow/30");
            both.extend_from_slice(&get("/"));
            client.send(&both).await;
            let first = client.response().await.expect("the first response");
            let second = client.response().await.expect("the second response");
            assert_eq!(first.body, b"slept 30 ms");
            assert_eq!(second.body, b"Hello, World!");
        },
    );
}

#[test]
fn a_unix_listener_serves_the_same_service() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("http.sock");
    run(async move {
        let listener = UnixListener::bind(&path).unwrap();
        let (stop, set_stop) = stop_signal();
        let server = spawn(
            tulip::hyper::serve(listener, common::App::default())
                .with_graceful_shutdown(stop)
                .into_future(),
        );

        let mut client = RawClient::connect_unix(path.clone()).await;
        client.send(&get("/")).await;
        let reply = client.response().await.expect("a response");
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body, b"Hello, World!");

        set_stop();
        server.await.unwrap().unwrap();
    });
}

#[test]
fn three_hundred_connections_queued_at_once_are_all_served() {
    const N: usize = 300;
    run(async {
        let options = tulip::transport::ServerOptions::new().backlog(1024);
        let listener = tulip::net::TcpListener::bind_with("127.0.0.1", 0, &options)
            .await
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        // Connected before the server runs: its first accepts come in one
        // burst, longer than the accept loop takes in a row.
        let mut clients = Vec::new();
        for _ in 0..N {
            clients.push(
                tulip::net::TcpStream::connect("127.0.0.1", port)
                    .await
                    .unwrap(),
            );
        }
        let (stop, set_stop) = stop_signal();
        let server = spawn(
            tulip::hyper::serve(listener, common::App::default())
                .with_graceful_shutdown(stop)
                .into_future(),
        );
        let tasks: Vec<_> = clients
            .into_iter()
            .map(|client| {
                spawn(async move {
                    client.write_all(&get("/")).await.unwrap();
                    let mut reply = Vec::new();
                    let mut chunk = [0u8; 1024];
                    while !reply.ends_with(b"Hello, World!") {
                        let n = client.read(&mut chunk).await.unwrap();
                        assert!(n > 0, "closed before the response");
                        reply.extend_from_slice(&chunk[..n]);
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        set_stop();
        server.await.unwrap().unwrap();
    });
}

#[test]
fn a_keep_alive_connection_holds_one_header_timer_however_many_requests() {
    with_app(
        |s| s.header_read_timeout(Some(std::time::Duration::from_secs(3600))),
        |port, _| async move {
            let before = tulip::hyper::rt::TulipTimer::pending_timers();
            let mut client = RawClient::connect(port).await;
            for _ in 0..200 {
                client.send(&get("/")).await;
                assert_eq!(client.response().await.unwrap().status, 200);
                // The connection waits for its next request head under one
                // timer; the timers of the requests before are gone.
                assert!(tulip::hyper::rt::TulipTimer::pending_timers() <= before + 1);
            }
        },
    );
}
