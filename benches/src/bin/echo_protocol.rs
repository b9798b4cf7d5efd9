//! tulip's echo server for the network benches, written with the Protocol
//! API as an asyncio user would: `data_received` writes the data back;
//! reading pauses while the transport's write buffer is over its mark
//! (`pause_writing` → `pause_reading`); at the client's EOF the transport
//! closes, which flushes everything first.
//!
//! ```text
//! echo_protocol [--addr HOST:PORT]     # prints `listening on HOST:PORT`
//! ```

use tulip_benches::echo_protocol::Echo;
use tulip_benches::netbench::serve_tulip;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    serve_tulip("echo_protocol", Echo::default)
}
