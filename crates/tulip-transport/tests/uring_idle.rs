//! Idle connections cost no buffer of their own on a completion loop: the
//! multishot receive of each waits on the loop's shared buffer ring, so
//! 5,000 idle connections (accepted, `connection_made` run, receive armed)
//! add well under 4 KiB of heap each: the transport, its protocol and the
//! operation's table entry.
//!
//! The loop is built on the uring backend; where the kernel refuses
//! io_uring it falls back to epoll (no receive is then in flight) and the
//! test still passes.

mod server_support;
mod uring_support;

use std::net::TcpStream;
use std::time::Duration;

use server_support::Counts;
use tulip::transport::{LoopNetExt, ServerOptions};
use tulip_test::{heap_in_use, wait_until};
use uring_support::{run_uring, serial};

const IDLE: usize = 5000;
const LIMIT_PER_CONNECTION: usize = 4 * 1024;

/// The process's resident set, from `/proc/self/status` (for the report).
fn rss_kib() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn five_thousand_idle_connections_cost_under_4_kib_each() {
    let _serial = serial();
    let Some(_) = heap_in_use() else { return };
    run_uring(|lp| async move {
        let counts = Counts::default();
        let server = lp
            .create_server(
                counts.factory(),
                "127.0.0.1",
                0,
                ServerOptions::new().backlog(4096),
            )
            .await
            .unwrap();
        let port = server.sockets()[0].inet_addr().unwrap().port();
        // One connection first: what every connection shares (the ring,
        // the loop's tables at their first size) is counted before.
        let warm = TcpStream::connect(("127.0.0.1", port)).unwrap();
        assert!(wait_until(|| counts.made() == 1).await);
        tulip::sleep(Duration::from_millis(50)).await;
        let heap_before = heap_in_use().unwrap();
        let rss_before = rss_kib();
        let clients = tulip::to_thread(move || {
            (0..IDLE)
                .map(|_| TcpStream::connect(("127.0.0.1", port)))
                .collect::<std::io::Result<Vec<_>>>()
        })
        .await
        .unwrap()
        .unwrap();
        assert!(wait_until(|| counts.made() == IDLE + 1).await);
        tulip::sleep(Duration::from_millis(100)).await;
        let heap = heap_in_use().unwrap() - heap_before;
        let per_connection = heap / IDLE;
        if let (Some(a), Some(b)) = (rss_before, rss_kib()) {
            eprintln!(
                "{IDLE} idle connections ({} backend): heap {per_connection} B each, \
                 RSS +{} KiB ({} B each)",
                if lp.has_completions() {
                    "uring"
                } else {
                    "readiness"
                },
                b.saturating_sub(a),
                b.saturating_sub(a) * 1024 / IDLE
            );
        }
        assert!(
            per_connection < LIMIT_PER_CONNECTION,
            "{per_connection} bytes of heap per idle connection"
        );
        drop((clients, warm));
        assert!(wait_until(|| counts.lost() == IDLE + 1).await);
        server.close();
        server.wait_closed().await;
    });
}
