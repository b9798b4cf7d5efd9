//! Real clients: `curl --http1.1` and `curl --http2-prior-knowledge`
//! against `serve` on loopback, and a graceful shutdown with an HTTP/2
//! request in flight. Skipped, with a note, where curl is not installed.

mod common;

use std::future::IntoFuture;

use common::{app_server, stop_signal, with_app};
use tulip::prelude::*;
use tulip::process::{Stdio, SubprocessOptions};
use tulip_test::{run, wait_until};

/// Whether curl is on the PATH (prints why a test is skipped if not).
fn have_curl() -> bool {
    let found = std::process::Command::new("curl")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("note: curl is not installed; skipping the curl test");
    }
    found
}

/// Runs curl with `args`, returns its standard output (`-i`: the status
/// line and headers, then the body).
async fn curl(args: &[&str]) -> String {
    let options = SubprocessOptions::new()
        .stdout(Stdio::Pipe)
        .stderr(Stdio::Pipe);
    let mut proc = create_subprocess_exec("curl", args.iter().copied(), options)
        .await
        .unwrap();
    let (stdout, stderr) = proc.communicate(None).await.unwrap();
    let stdout = String::from_utf8(stdout.unwrap()).unwrap();
    assert_eq!(
        proc.returncode(),
        Some(0),
        "curl {args:?}: {stdout}\n{}",
        String::from_utf8_lossy(&stderr.unwrap())
    );
    stdout
}

#[test]
fn curl_over_http1_1() {
    if !have_curl() {
        return;
    }
    with_app(
        |s| s,
        |port, _| async move {
            let url = format!("http://127.0.0.1:{port}/");
            let out = curl(&["-sS", "-i", "--http1.1", &url, &url]).await;
            assert!(out.starts_with("HTTP/1.1 200 OK"), "{out}");
            // Two URLs, one connection (keep-alive): two answers.
            assert_eq!(out.matches("Hello, World!").count(), 2, "{out}");
        },
    );
}

#[test]
fn curl_over_http2_with_prior_knowledge() {
    if !have_curl() {
        return;
    }
    with_app(
        |s| s,
        |port, _| async move {
            // One URL per run: curl 7.88 fails to reuse a prior-knowledge
            // HTTP/2 connection for a second URL (its issue 10634, fixed in 8.0).
            let url = format!("http://127.0.0.1:{port}/");
            let out = curl(&["-sS", "-i", "--http2-prior-knowledge", &url]).await;
            assert!(out.starts_with("HTTP/2 200"), "{out}");
            assert!(out.ends_with("Hello, World!"), "{out}");
            let slow = format!("http://127.0.0.1:{port}/slow/20");
            let out = curl(&["-sS", "-i", "--http2-prior-knowledge", &slow]).await;
            assert!(out.starts_with("HTTP/2 200"), "{out}");
            assert!(out.ends_with("slept 20 ms"), "{out}");
        },
    );
}

#[test]
fn a_graceful_shutdown_lets_an_http2_stream_finish() {
    if !have_curl() {
        return;
    }
    run(async move {
        let (server, port, stats) = app_server().await;
        let (stop, set_stop) = stop_signal();
        let server = spawn(server.with_graceful_shutdown(stop).into_future());
        let url = format!("http://127.0.0.1:{port}/slow/300");
        let client =
            spawn(async move { curl(&["-sS", "-i", "--http2-prior-knowledge", &url]).await });
        assert!(wait_until(|| stats.in_flight.get() == 1).await);
        set_stop();
        let out = client.await.unwrap();
        assert!(out.starts_with("HTTP/2 200"), "{out}");
        assert!(out.contains("slept 300 ms"), "{out}");
        server.await.unwrap().unwrap();
        assert_eq!(stats.dropped.get(), 0);
    });
}
