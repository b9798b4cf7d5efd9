//! Helpers shared by the streams tests: a loop with a deadline, connected
//! socket pairs, streams over an accepted socket, waiting for a condition,
//! counting descriptors, a reset.

#![allow(dead_code)]

use std::future::Future;
use std::net::{TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::time::Duration;

use tulip_executor::{EventLoop, wait_for};
use tulip_streams::{ConnectOptions, StreamReader, StreamWriter, open_connection};

/// Runs `body` on a fresh loop, failing after 60 s (generous: the tests
/// never assert speed).
pub fn run<F: Future<Output = ()> + 'static>(body: F) {
    let ev = EventLoop::new().unwrap();
    ev.run_until_complete(async move {
        wait_for(body, Duration::from_secs(60))
            .await
            .expect("test timed out");
    })
    .unwrap();
    ev.close().unwrap();
}

/// A connected TCP pair over loopback: (the peer as a blocking std
/// stream, our side's descriptor).
pub fn tcp_pair() -> (TcpStream, OwnedFd) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s, _) = l.accept().unwrap();
    (c, OwnedFd::from(s))
}

/// Streams over our side of a TCP pair (asyncio's
/// `open_connection(sock=...)`), and the peer.
pub async fn streams_pair() -> (TcpStream, StreamReader, StreamWriter) {
    let (peer, ours) = tcp_pair();
    let (r, w) = open_connection("", 0, ConnectOptions::new().sock(ours))
        .await
        .unwrap();
    (peer, r, w)
}

/// Polls `cond` every 5 ms for up to 20 s; false if it never held.
pub async fn wait_until(mut cond: impl FnMut() -> bool) -> bool {
    for _ in 0..4000 {
        if cond() {
            return true;
        }
        tulip_executor::sleep(Duration::from_millis(5)).await;
    }
    cond()
}

/// Open descriptors of this process.
pub fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Closes `sock` with a zero linger: the peer gets a reset.
pub fn reset(sock: TcpStream) {
    let fd = OwnedFd::from(sock);
    rustix::net::sockopt::set_socket_linger(&fd, Some(Duration::ZERO)).unwrap();
    drop(fd);
}

/// A pattern of `n` bytes that shows misordering.
pub fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}
