//! The streams-style echo server of the network benches on tokio's
//! current-thread runtime, the peer of tulip's `echo_streams`: the plain
//! tokio way, `read` into the connection's own buffer and `write_all` it
//! back (so reading waits for the write), until the client's EOF, then
//! `shutdown`.
//!
//! ```text
//! echo_streams_tokio [--addr HOST:PORT]   # prints `listening on HOST:PORT`
//! ```

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tulip_benches::netbench::serve_tokio;

/// The size of each connection's buffer (std's `BufReader` default).
const BUF_SIZE: usize = 8 * 1024;

fn main() -> io::Result<()> {
    serve_tokio("echo_streams_tokio", serve)
}

/// Echoes until EOF, then shuts down the write side.
async fn serve(mut stream: TcpStream) -> io::Result<()> {
    let mut buf = vec![0; BUF_SIZE];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        stream.write_all(&buf[..n]).await?;
    }
    stream.shutdown().await
}
