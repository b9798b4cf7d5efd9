//! The echo protocol of tulip's Protocol-API bench servers (`echo_protocol`
//! over plain TCP, `echo_tls` over TLS): `data_received` writes the data
//! back; reading pauses while the transport's write buffer is over its mark
//! (`pause_writing` → `pause_reading`); at the client's EOF the transport
//! closes, which flushes everything first.

use tulip::prelude::*;
use tulip::transport::Error;

/// Echoes every byte back.
#[derive(Default)]
pub struct Echo {
    transport: Option<Transport>,
}

impl BaseProtocol for Echo {
    fn connection_lost(&mut self, _exc: Option<Error>) {
        self.transport = None;
    }

    fn pause_writing(&mut self) {
        if let Some(t) = &self.transport {
            t.pause_reading();
        }
    }

    fn resume_writing(&mut self) {
        if let Some(t) = &self.transport {
            t.resume_reading();
        }
    }
}

impl Protocol for Echo {
    fn connection_made(&mut self, transport: Transport) {
        self.transport = Some(transport);
    }

    fn data_received(&mut self, data: &[u8]) {
        if let Some(t) = &self.transport {
            // A write to a lost connection is ignored; nothing else fails.
            let _ = t.write(data);
        }
    }
}
