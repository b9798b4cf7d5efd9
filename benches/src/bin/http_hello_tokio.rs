//! The HTTP/1.1 "Hello, World!" server of the network benches on tokio's
//! current-thread runtime, the peer of tulip's `http_hello`: keep-alive,
//! pipelining, requests parsed by `tulip_benches::netbench::http` (the
//! parser every HTTP bench server shares), a malformed request answered
//! `400` and the connection closed.
//!
//! ```text
//! http_hello_tokio [--addr HOST:PORT]    # prints `listening on HOST:PORT`
//! ```

use std::io;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tulip_benches::netbench::{http, serve_tokio};

/// How much each read may add to a connection's buffer.
const READ_SIZE: usize = 4 * 1024;

/// How long a closing connection keeps reading (and discarding) what the
/// client still sends, so that its last response is not lost to a reset.
const LINGER: Duration = Duration::from_secs(1);

fn main() -> io::Result<()> {
    serve_tokio("http_hello_tokio", serve)
}

/// Answers requests until the client closes, a request asks to close, or a
/// request is malformed.
async fn serve(mut stream: TcpStream) -> io::Result<()> {
    let mut received: Vec<u8> = Vec::new();
    let mut out: Vec<u8> = Vec::new();
    loop {
        received.reserve(READ_SIZE);
        if stream.read_buf(&mut received).await? == 0 {
            return Ok(()); // the client closed (perhaps mid-request)
        }
        let progress = http::respond_all(&received, &mut out);
        received.drain(..progress.consumed);
        stream.write_all(&out).await?;
        out.clear();
        if progress.close {
            break;
        }
    }
    // Lingering close: shut down writing, then drain until the client's EOF.
    stream.shutdown().await?;
    let mut sink = [0; 1024];
    let _ = tokio::time::timeout(LINGER, async {
        while stream.read(&mut sink).await? > 0 {}
        Ok::<(), io::Error>(())
    })
    .await;
    Ok(())
}
