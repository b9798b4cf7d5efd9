//! An axum `Router`, unmodified, served by `tulip::hyper::serve`: a path
//! parameter, shared state and a JSON body.

mod common;

use std::future::IntoFuture;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use common::{RawClient, stop_signal};
use tulip::net::TcpListener;
use tulip::prelude::*;
use tulip_test::run;

async fn user(Path(id): Path<u32>, State(hits): State<Arc<AtomicUsize>>) -> String {
    let n = hits.fetch_add(1, Ordering::Relaxed) + 1;
    format!("user {id} (request {n})")
}

async fn info(Path(name): Path<String>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "name": name, "served_by": "tulip" }))
}

#[test]
fn an_axum_router_serves_unmodified() {
    run(async {
        let hits = Arc::new(AtomicUsize::new(0));
        let app = Router::new()
            .route("/users/{id}", get(user))
            .route("/info/{name}", get(info))
            .with_state(hits.clone());

        let listener = TcpListener::bind("127.0.0.1", 0).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (stop, set_stop) = stop_signal();
        let server = spawn(
            tulip::hyper::serve(listener, app)
                .with_graceful_shutdown(stop)
                .into_future(),
        );

        let mut client = RawClient::connect(port).await;
        client.send(&common::get("/users/42")).await;
        let reply = client.response().await.unwrap();
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body, b"user 42 (request 1)");

        client.send(&common::get("/info/ada")).await;
        let reply = client.response().await.unwrap();
        assert!(
            reply
                .head
                .to_ascii_lowercase()
                .contains("content-type: application/json")
        );
        let json: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(json["name"], "ada");

        // axum's own rejection of a bad path parameter.
        client.send(&common::get("/users/not-a-number")).await;
        assert_eq!(client.response().await.unwrap().status, 400);
        client.send(&common::get("/missing")).await;
        assert_eq!(client.response().await.unwrap().status, 404);
        assert_eq!(hits.load(Ordering::Relaxed), 1);

        set_stop();
        server.await.unwrap().unwrap();
    });
}
