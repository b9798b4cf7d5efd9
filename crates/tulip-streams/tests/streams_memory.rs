//! Memory of slow peers: 1,000 loopback clients that each sent one byte
//! without a newline, while the server reads lines with `readline`, cost
//! the server at most 4 KiB each (the partial line is kept in a buffer of
//! its size, not in a whole read chunk).
//!
//! The heap is measured with glibc's `mallinfo2`, which counts the whole
//! process: this binary holds this one test so that no other test
//! allocates meanwhile.

#![cfg(all(unix, target_env = "gnu"))]

mod common;

use std::cell::Cell;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::rc::Rc;

use futures_util::io::AsyncBufReadExt;
use tulip_streams::{ServerOptions, StreamReader, StreamWriter, start_server};
use tulip_test::{heap_in_use, run, wait_until};

/// Clients measured.
const CLIENTS: usize = 1000;

/// Clients of the warm-up round, which lets the loop, the server and the
/// per-thread pools reach their steady size before the baseline.
const WARM_UP: usize = 100;

/// The most heap one connection holding one partial byte may cost.
const BUDGET: usize = 4 * 1024;

/// Connects `n` blocking clients that each send one byte and no newline,
/// and waits until the server has each byte in a reader.
async fn slow_clients(addr: SocketAddr, n: usize, arrived: &Cell<usize>) -> Vec<TcpStream> {
    let mut clients = Vec::with_capacity(n);
    let target = arrived.get() + n;
    for i in 0..n {
        let mut c = TcpStream::connect(addr).unwrap();
        c.write_all(b"x").unwrap();
        clients.push(c);
        if i % 100 == 99 {
            // Let the server catch up before its backlog fills.
            let sent = target - n + i + 1;
            assert!(wait_until(|| arrived.get() >= sent).await);
        }
    }
    assert!(
        wait_until(|| arrived.get() >= target).await,
        "the server got {} of {target} bytes",
        arrived.get()
    );
    clients
}

#[test]
fn a_slow_peer_with_a_partial_line_costs_at_most_4_kib() {
    run(async {
        let arrived = Rc::new(Cell::new(0usize));
        let finished = Rc::new(Cell::new(0usize));
        let (a, f) = (arrived.clone(), finished.clone());
        let server = start_server(
            async move |mut reader: StreamReader, _writer: StreamWriter| {
                // The byte is in the reader: count it, then wait for the
                // rest of the line, holding it.
                if reader.fill_buf().await.is_ok_and(|b| !b.is_empty()) {
                    a.set(a.get() + 1);
                }
                while reader.readline().await.is_ok_and(|line| !line.is_empty()) {}
                f.set(f.get() + 1);
            },
            "127.0.0.1",
            0,
            ServerOptions::new().backlog(2048),
        )
        .await
        .unwrap();
        let addr = server.sockets().iter().find_map(|s| s.inet_addr()).unwrap();

        let warm = slow_clients(addr, WARM_UP, &arrived).await;
        drop(warm);
        assert!(wait_until(|| finished.get() == WARM_UP).await);

        let before = heap_in_use().expect("glibc counts the heap");
        let clients = slow_clients(addr, CLIENTS, &arrived).await;
        let after = heap_in_use().expect("glibc counts the heap");
        let per_connection = after.saturating_sub(before) / CLIENTS;
        assert!(
            per_connection <= BUDGET,
            "{per_connection} bytes of heap per slow connection (budget {BUDGET})"
        );

        drop(clients);
        assert!(wait_until(|| finished.get() == WARM_UP + CLIENTS).await);
        server.close();
        server.wait_closed().await;
    });
}
