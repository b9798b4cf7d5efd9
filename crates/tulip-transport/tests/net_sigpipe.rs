//! No write of `tulip::net` raises `SIGPIPE`, even where the host left it
//! at `SIG_DFL` (a C or Python program embedding tulip; Rust's own start
//! ignores it, which would hide the bug): writing to a TCP or Unix stream
//! whose peer is gone, plain, vectored, through an owned write half and
//! through futures-io's trait, is an `EPIPE` or `ECONNRESET` error. The
//! scenarios run in a child run of this binary that sets `SIGPIPE` to
//! `SIG_DFL` first; the parent checks that the child was not killed.

mod net_support;

use std::io::{ErrorKind, IoSlice};
use std::time::Duration;

use net_support::tcp_pair;
use tulip::io::{AsyncWrite, AsyncWriteExt};
use tulip::net::UnixStream;
use tulip_test::child::{assert_child_passed, is_child_run};
use tulip_test::run;

/// Set in the child run.
const CHILD_ENV: &str = "TULIP_NET_SIGPIPE_CHILD";
/// What the child prints once every scenario passed.
const PASSED: &str = "net sigpipe scenarios passed";

#[test]
fn writes_to_a_gone_peer_are_errors_with_sigpipe_at_its_default() {
    assert_child_passed("sigpipe_scenarios_in_a_child", CHILD_ENV, PASSED);
}

/// Whether `err` is what a write to a gone peer must be.
fn is_gone(err: &std::io::Error) -> bool {
    matches!(
        err.kind(),
        ErrorKind::BrokenPipe | ErrorKind::ConnectionReset
    )
}

/// Writes to `w` (vectored or not) until it fails (a TCP peer's reset
/// takes a round trip to arrive), and checks the failure.
async fn write_until_refused(what: &str, w: &mut (impl AsyncWrite + Unpin), vectored: bool) {
    let bufs = [IoSlice::new(b"vec"), IoSlice::new(b"tored")];
    for _ in 0..200 {
        let res = if vectored {
            w.write_vectored(&bufs).await
        } else {
            w.write(b"x").await
        };
        match res {
            Ok(_) => tulip::sleep(Duration::from_millis(5)).await,
            Err(e) => {
                assert!(is_gone(&e), "{what}: {e}");
                return;
            }
        }
    }
    panic!("{what}: writes to a gone peer kept succeeding");
}

#[test]
#[ignore = "run by writes_to_a_gone_peer_are_errors_with_sigpipe_at_its_default in a child"]
fn sigpipe_scenarios_in_a_child() {
    if !is_child_run(CHILD_ENV) {
        return;
    }
    // SAFETY: `signal` with `SIG_DFL` installs no handler; this test runs
    // alone in its process (`--test-threads=1`).
    let old = unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    assert_ne!(old, libc::SIG_ERR);
    run(async {
        // TCP, each write path.
        let (a, b) = tcp_pair().await;
        drop(b);
        write_until_refused("tcp write", &mut &a, false).await;
        write_until_refused("tcp write after the error", &mut &a, false).await;
        let (a, b) = tcp_pair().await;
        drop(b);
        write_until_refused("tcp vectored write", &mut &a, true).await;
        let (a, b) = tcp_pair().await;
        drop(b);
        let (_read, mut write) = a.into_split();
        write_until_refused("tcp write half", &mut write, false).await;

        // Unix: the peer gone is EPIPE at once, on every path.
        let (a, b) = UnixStream::pair().unwrap();
        drop(b);
        let err = a.write(b"x").await.unwrap_err();
        assert!(is_gone(&err), "{err}");
        let err = a.write_all(&[0; 100_000]).await.unwrap_err();
        assert!(is_gone(&err), "{err}");
        let bufs = [IoSlice::new(b"a"), IoSlice::new(b"b")];
        let err = std::future::poll_fn(|cx| a.poll_write_vectored(cx, &bufs))
            .await
            .unwrap_err();
        assert!(is_gone(&err), "{err}");
        let (_r, mut w) = a.into_split();
        let err = w.write_all(b"through the trait").await.unwrap_err();
        assert!(is_gone(&err), "{err}");
        // Closing a stream whose peer is gone is not an error.
        w.close().await.unwrap();
    });
    println!("{PASSED}");
}
