//! Helpers of the streams tests alone: streams over an accepted socket, a
//! reset, a byte pattern. What every crate's tests share (a loop with a
//! deadline, TCP pairs, waiting for a condition, counting descriptors)
//! comes from `tulip-test`.

#![allow(dead_code)]

use std::net::TcpStream;
use std::os::fd::OwnedFd;
use std::time::Duration;

use tulip_streams::{ConnectOptions, StreamReader, StreamWriter, open_connection};
use tulip_test::tcp_pair;

/// Streams over our side of a TCP pair (asyncio's
/// `open_connection(sock=...)`), and the peer.
pub async fn streams_pair() -> (TcpStream, StreamReader, StreamWriter) {
    let (peer, ours) = tcp_pair();
    let (r, w) = open_connection("", 0, ConnectOptions::new().sock(ours))
        .await
        .unwrap();
    (peer, r, w)
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
