//! Connected TCP pairs over loopback (127.0.0.1), made with std's blocking
//! sockets: the tests give one side to tulip and drive the other by hand.

use std::net::{TcpListener, TcpStream};
use std::os::fd::OwnedFd;

/// Two connected, blocking TCP sockets over 127.0.0.1: (the connecting
/// side, the accepted side).
///
/// ```
/// use std::io::{Read, Write};
/// use tulip_test::tcp_streams;
///
/// let (mut client, mut server) = tcp_streams();
/// client.write_all(b"ping").unwrap();
/// let mut got = [0; 4];
/// server.read_exact(&mut got).unwrap();
/// assert_eq!(&got, b"ping");
/// ```
///
/// # Panics
///
/// If the loopback interface refuses a listener or a connection.
pub fn tcp_streams() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let client = TcpStream::connect(listener.local_addr().expect("local_addr")).expect("connect");
    let (server, _) = listener.accept().expect("accept");
    (client, server)
}

/// A connected TCP pair over 127.0.0.1: (the peer, as a blocking std
/// stream the test drives; our side's descriptor, to hand to a tulip
/// transport or stream).
///
/// ```
/// use std::io::Write;
/// use tulip::streams::{ConnectOptions, open_connection};
/// use tulip_test::{run, tcp_pair};
///
/// run(async {
///     let (mut peer, ours) = tcp_pair();
///     let (mut reader, _writer) = open_connection("", 0, ConnectOptions::new().sock(ours))
///         .await
///         .unwrap();
///     peer.write_all(b"hello\n").unwrap();
///     assert_eq!(reader.readline().await.unwrap(), b"hello\n");
/// });
/// ```
pub fn tcp_pair() -> (TcpStream, OwnedFd) {
    let (client, server) = tcp_streams();
    (client, OwnedFd::from(server))
}

/// Two connected TCP sockets over 127.0.0.1, both as descriptors: the
/// connecting side, then the accepted side.
///
/// ```
/// use tulip_test::{fd_count, tcp_fds};
///
/// let before = fd_count();
/// let (a, b) = tcp_fds();
/// assert_eq!(fd_count(), before + 2);
/// drop((a, b));
/// assert_eq!(fd_count(), before);
/// ```
pub fn tcp_fds() -> (OwnedFd, OwnedFd) {
    let (client, server) = tcp_pair();
    (OwnedFd::from(client), server)
}
