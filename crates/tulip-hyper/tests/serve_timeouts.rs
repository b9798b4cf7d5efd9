//! The header-read timeout: a connection that sends nothing, or an
//! unfinished request head, is closed; one that is idle after a response
//! is closed too; one that sends its request in time is served.

mod common;

use std::future::Future;
use std::time::Duration;

use common::{RawClient, get, with_app};
use tulip::prelude::*;

const TIMEOUT: Duration = Duration::from_millis(200);

/// Runs `body` against a server with a 200 ms header-read timeout.
fn with_server<F: Future<Output = ()> + 'static>(body: impl FnOnce(u16) -> F + 'static) {
    with_app(
        |s| s.header_read_timeout(Some(TIMEOUT)),
        |port, _| body(port),
    );
}

#[test]
fn a_silent_connection_is_closed_after_the_header_read_timeout() {
    with_server(|port| async move {
        let lp = get_running_loop().unwrap();
        let start = lp.time();
        let mut client = RawClient::connect(port).await;
        assert!(client.closed().await, "closed without a byte sent");
        assert!(lp.time() - start >= TIMEOUT);
    });
}

#[test]
fn an_unfinished_request_head_is_closed_after_the_header_read_timeout() {
    // Shorter than HTTP/2's preface (the protocol is not known yet), and
    // longer (hyper's HTTP/1 parser has it).
    for partial in [
        &b"GET / HTTP/1.1\r\n"[..],
        b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: ",
    ] {
        with_server(move |port| async move {
            let mut client = RawClient::connect(port).await;
            client.send(partial).await;
            // hyper may answer 408 before closing; either way it ends.
            if let Some(reply) = client.response().await {
                assert_eq!(reply.status, 408, "{}", reply.head);
            }
            assert!(client.closed().await);
        });
    }
}

#[test]
fn an_idle_keep_alive_connection_is_closed_after_the_header_read_timeout() {
    with_server(|port| async move {
        let mut client = RawClient::connect(port).await;
        client.send(&get("/")).await;
        assert_eq!(client.response().await.unwrap().status, 200);
        assert!(client.closed().await, "no next request: closed");
    });
}

#[test]
fn a_request_sent_in_time_is_served() {
    with_server(|port| async move {
        let mut client = RawClient::connect(port).await;
        sleep(TIMEOUT / 4).await;
        client.send(b"GET / HTTP/1.1\r\n").await;
        sleep(TIMEOUT / 4).await;
        client.send(b"Host: localhost\r\n\r\n").await;
        let reply = client.response().await.expect("served");
        assert_eq!(reply.body, b"Hello, World!");
    });
}
