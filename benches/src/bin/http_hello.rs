//! tulip's minimal HTTP/1.1 server for the network benches, with the
//! Protocol API: keep-alive, pipelining, `200 OK` with the body
//! `Hello, World!`; a malformed request is answered `400` and the
//! connection closed. Requests are parsed by the same function as the
//! tokio twin (`tulip_benches::netbench::http`).
//!
//! ```text
//! http_hello [--addr HOST:PORT]     # prints `listening on HOST:PORT`
//! ```

use tulip_benches::netbench::http_protocol::Hello;
use tulip_benches::netbench::serve_tulip;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    serve_tulip("http_hello", Hello::default)
}
