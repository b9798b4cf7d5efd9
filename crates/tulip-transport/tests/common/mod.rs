//! The transport tests' recording protocol, and the part of it every
//! recording protocol of these tests shares ([`recording_base_protocol!`],
//! used by `tls_support` and `datagram_support` too). What every crate's
//! tests share (a loop with a deadline, connected socket pairs, waiting for
//! a condition, counting descriptors) comes from `tulip-test`.

#![allow(dead_code)]

use tulip_transport::{Error, Protocol, Transport};

/// Implements `BaseProtocol` for a recording protocol, a struct with
/// `events: Vec<String>`, `lost_error: Option<Error>` and `transport:
/// Option<_>` fields: `connection_lost` logs `lost` (or `lost:err`), keeps
/// the error and drops the transport; `pause_writing` and `resume_writing`
/// log `pause` and `resume`. The type also gets `lost()`: whether
/// `connection_lost` came.
#[macro_export]
macro_rules! recording_base_protocol {
    ($t:ty) => {
        impl tulip_transport::BaseProtocol for $t {
            fn connection_lost(&mut self, exc: Option<tulip_transport::Error>) {
                self.events.push(String::from(if exc.is_some() {
                    "lost:err"
                } else {
                    "lost"
                }));
                self.lost_error = exc;
                self.transport = None;
            }
            fn pause_writing(&mut self) {
                self.events.push("pause".into());
            }
            fn resume_writing(&mut self) {
                self.events.push("resume".into());
            }
        }

        impl $t {
            /// Whether `connection_lost` came.
            pub fn lost(&self) -> bool {
                self.events.iter().any(|e| e.starts_with("lost"))
            }
        }
    };
}

/// Records every callback.
#[derive(Default)]
pub struct Recorder {
    pub events: Vec<String>,
    pub data: Vec<u8>,
    pub transport: Option<Transport>,
    pub echo: bool,
    pub keep_open: bool,
    pub lost_error: Option<Error>,
}

impl Recorder {
    pub fn echo() -> Recorder {
        Recorder {
            echo: true,
            ..Recorder::default()
        }
    }

    pub fn count(&self, what: &str) -> usize {
        self.events.iter().filter(|e| e.as_str() == what).count()
    }
}

crate::recording_base_protocol!(Recorder);

impl Protocol for Recorder {
    fn connection_made(&mut self, transport: Transport) {
        self.events.push("made".into());
        self.transport = Some(transport);
    }
    fn data_received(&mut self, data: &[u8]) {
        if self.events.last().map(String::as_str) != Some("data") {
            self.events.push("data".into());
        }
        self.data.extend_from_slice(data);
        if self.echo {
            if let Some(t) = &self.transport {
                t.write(data).unwrap();
            }
        }
    }
    fn eof_received(&mut self) -> bool {
        self.events.push("eof".into());
        self.keep_open
    }
}
