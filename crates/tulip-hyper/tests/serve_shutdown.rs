//! Graceful shutdown: in-flight requests finish while new connections are
//! refused; the shutdown timeout cuts what outlives it; dropping the serve
//! future closes everything at once.

mod common;

use std::future::IntoFuture;
use std::time::Duration;

use common::{RawClient, app_server, get, stop_signal};
use tulip::net::TcpStream;
use tulip::prelude::*;
use tulip_test::{run, wait_until};

/// Waits until connecting to `port` is refused (the listener is closed).
async fn refused(port: u16) -> bool {
    for _ in 0..2000 {
        match TcpStream::connect("127.0.0.1", port).await {
            Err(_) => return true,
            Ok(_) => sleep(Duration::from_millis(5)).await,
        }
    }
    false
}

#[test]
fn graceful_shutdown_lets_an_in_flight_request_finish_and_refuses_new_connections() {
    run(async {
        let (server, port, stats) = app_server().await;
        let (stop, set_stop) = stop_signal();
        let server = spawn(
            server
                .shutdown_timeout(Duration::from_secs(30))
                .with_graceful_shutdown(stop)
                .into_future(),
        );

        let mut slow = RawClient::connect(port).await;
        slow.send(&get("/slow/300")).await;
        // An idle keep-alive connection, served once.
        let mut idle = RawClient::connect(port).await;
        idle.send(&get("/")).await;
        assert_eq!(idle.response().await.unwrap().status, 200);
        assert!(wait_until(|| stats.in_flight.get() == 1).await);

        set_stop();
        assert!(refused(port).await, "new connections are refused");
        // The idle connection is closed at once, the slow one after its
        // response, which arrives whole.
        assert!(idle.closed().await);
        let reply = slow
            .response()
            .await
            .expect("the in-flight request finishes");
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body, b"slept 300 ms");
        assert!(slow.closed().await, "and its connection closes after it");

        server.await.unwrap().unwrap();
        assert_eq!(stats.dropped.get(), 0, "no handler was cut");
    });
}

#[test]
fn the_shutdown_timeout_cuts_a_request_that_outlives_it() {
    run(async {
        let lp = get_running_loop().unwrap();
        let (server, port, stats) = app_server().await;
        let (stop, set_stop) = stop_signal();
        let server = spawn(
            server
                .shutdown_timeout(Duration::from_millis(100))
                .with_graceful_shutdown(stop)
                .into_future(),
        );

        let mut client = RawClient::connect(port).await;
        client.send(&get("/slow/600000")).await;
        assert!(wait_until(|| stats.in_flight.get() == 1).await);

        let start = lp.time();
        set_stop();
        server.await.unwrap().unwrap();
        let took = lp.time() - start;
        assert!(
            took >= Duration::from_millis(100),
            "waited the timeout: {took:?}"
        );
        assert!(
            took < Duration::from_secs(30),
            "then cut the request: {took:?}"
        );
        assert_eq!(stats.dropped.get(), 1, "the handler was dropped");
        assert_eq!(stats.in_flight.get(), 0);
        assert!(
            client.response().await.is_none(),
            "the connection closed, no response"
        );
    });
}

#[test]
fn dropping_the_serve_future_closes_the_listener_and_every_connection() {
    run(async {
        let (server, port, stats) = app_server().await;
        let server = spawn(server.into_future());

        let mut client = RawClient::connect(port).await;
        client.send(&get("/slow/600000")).await;
        assert!(wait_until(|| stats.in_flight.get() == 1).await);

        server.cancel();
        assert!(server.await.unwrap_err().is_cancelled());
        assert!(client.response().await.is_none(), "the connection closed");
        assert!(
            wait_until(|| stats.dropped.get() == 1).await,
            "its handler was dropped"
        );
        assert!(refused(port).await);
    });
}
