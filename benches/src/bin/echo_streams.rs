//! tulip's streams echo server for the network benches, written as an
//! asyncio user writes one with streams: `start_server` runs a task per
//! connection that reads up to 64 KiB (`reader.read(65536)`), writes it
//! back and awaits `drain` (so reading waits while the transport's write
//! buffer is over its mark), until the client's EOF; then it closes the
//! connection, which flushes everything first. The peer is
//! `echo_streams_tokio`.
//!
//! ```text
//! echo_streams [--addr HOST:PORT]     # prints `listening on HOST:PORT`
//! ```

use tulip::streams::{Error, StreamReader, StreamWriter};
use tulip_benches::netbench::echo::is_disconnect;
use tulip_benches::netbench::serve_tulip_streams;

/// The most one read returns.
const READ_SIZE: usize = 64 * 1024;

/// Echoes until EOF, then closes. The peer going away is not an error
/// worth reporting; any other error goes to the loop's exception handler
/// (printed on stderr) and closes the connection.
async fn echo(mut reader: StreamReader, writer: StreamWriter) -> Result<(), Error> {
    let echoed = async {
        loop {
            let data = reader.read(READ_SIZE).await?;
            if data.is_empty() {
                return Ok(());
            }
            writer.write(&data)?;
            writer.drain().await?;
        }
    };
    let outcome: Result<(), Error> = echoed.await;
    writer.close();
    match outcome {
        Err(e) if e.as_io().is_some_and(is_disconnect) => Ok(()),
        other => other,
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    serve_tulip_streams("echo_streams", echo)
}
