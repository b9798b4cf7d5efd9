//! What the `tulip::net` tests share: a connected loopback TCP pair made
//! with the types under test, a recognisable byte pattern for bulk
//! transfers, and an echo server task.

#![allow(dead_code)]

use tulip::net::{TcpListener, TcpStream};
use tulip::{Task, spawn};

/// A connected pair over 127.0.0.1, both sides `tulip::net` streams: (the
/// connecting side, the accepted side).
pub async fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1", 0).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let client = TcpStream::connect("127.0.0.1", port).await.unwrap();
    let (served, peer) = listener.accept().await.unwrap();
    assert_eq!(peer, client.local_addr().unwrap());
    (client, served)
}

/// `len` bytes of a pattern that a shifted, dropped or repeated chunk
/// would break (a period of 251, prime to every power-of-two chunk size),
/// starting at `seed`.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| ((i % 251) as u8).wrapping_add(seed))
        .collect()
}

/// Accepts one connection on `listener` and echoes what it reads until the
/// peer's EOF, then shuts its own writing side down: the bytes echoed.
pub fn echo_once(listener: TcpListener) -> Task<std::io::Result<usize>> {
    spawn(async move {
        let (stream, _) = listener.accept().await?;
        let mut buf = vec![0; 16 * 1024];
        let mut total = 0;
        loop {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                stream.close().await?;
                return Ok(total);
            }
            stream.write_all(&buf[..n]).await?;
            total += n;
        }
    })
}
