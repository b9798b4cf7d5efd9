//! tulip's minimal HTTP/1.1 server for the network benches, with the
//! Protocol API: keep-alive, pipelining, `200 OK` with the body
//! `Hello, World!`; a malformed request is answered `400` and the
//! connection closed. Requests are parsed by the same function as the
//! tokio twin (`tulip_benches::netbench::http`).
//!
//! ```text
//! http_hello [--addr HOST:PORT]     # prints `listening on HOST:PORT`
//! ```

use tulip::prelude::*;
use tulip::transport::Error;
use tulip_benches::netbench::http::respond_all;
use tulip_benches::netbench::serve_tulip;

/// One HTTP connection.
#[derive(Default)]
struct Http {
    transport: Option<Transport>,
    /// The start of a request that has not arrived whole.
    pending: Vec<u8>,
    /// Responses to write, reused across requests.
    out: Vec<u8>,
}

impl BaseProtocol for Http {
    fn connection_lost(&mut self, _exc: Option<Error>) {
        self.transport = None;
    }
}

impl Protocol for Http {
    fn connection_made(&mut self, transport: Transport) {
        self.transport = Some(transport);
    }

    fn data_received(&mut self, data: &[u8]) {
        let Some(t) = self.transport.clone() else {
            return;
        };
        self.out.clear();
        let progress = if self.pending.is_empty() {
            let p = respond_all(data, &mut self.out);
            self.pending.extend_from_slice(&data[p.consumed..]);
            p
        } else {
            self.pending.extend_from_slice(data);
            let p = respond_all(&self.pending, &mut self.out);
            self.pending.drain(..p.consumed);
            p
        };
        if !self.out.is_empty() {
            let _ = t.write(&self.out);
        }
        if progress.close {
            self.pending = Vec::new();
            t.close();
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    serve_tulip("http_hello", Http::default)
}
