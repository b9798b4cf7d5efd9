//! Helpers shared by the transport tests: a recording protocol, connected
//! socket pairs, waiting for a condition, counting descriptors.

#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::time::Duration;

use tulip_transport::{BaseProtocol, Error, Protocol, Transport};

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

    pub fn lost(&self) -> bool {
        self.events.iter().any(|e| e.starts_with("lost"))
    }

    pub fn count(&self, what: &str) -> usize {
        self.events.iter().filter(|e| e.as_str() == what).count()
    }
}

impl BaseProtocol for Recorder {
    fn connection_lost(&mut self, exc: Option<Error>) {
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

/// A connected TCP pair over loopback: (client as std stream, server side fd).
pub fn tcp_pair() -> (TcpStream, OwnedFd) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s, _) = l.accept().unwrap();
    (c, OwnedFd::from(s))
}

/// Two connected TCP sockets, both as fds.
pub fn tcp_fds() -> (OwnedFd, OwnedFd) {
    let (c, s) = tcp_pair();
    (OwnedFd::from(c), s)
}

/// Polls `cond` every 5 ms for up to 10 s; false if it never held.
pub async fn wait_until(mut cond: impl FnMut() -> bool) -> bool {
    for _ in 0..2000 {
        if cond() {
            return true;
        }
        tulip_executor::sleep(Duration::from_millis(5)).await;
    }
    cond()
}

/// Open descriptors of this process.
pub fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// The descriptor count once it is back to `before` or lower, or after a
/// second: a worker thread of an earlier test may close a descriptor of
/// its own a moment late (making `before` too high); a leak stays.
pub fn settled_fd_count(before: usize) -> usize {
    for _ in 0..100 {
        if fd_count() <= before {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    fd_count()
}

/// Runs the future `f` makes on a fresh loop, failing the test after a
/// generous 60 s, then closes the loop.
pub fn run_on_loop<F, Fut>(f: F)
where
    F: FnOnce(tulip_executor::Loop) -> Fut,
    Fut: Future<Output = ()> + 'static,
{
    let ev = tulip_executor::EventLoop::new().unwrap();
    let fut = f(ev.handle());
    ev.run_until_complete(async move {
        tulip_executor::wait_for(fut, Duration::from_secs(60))
            .await
            .expect("the test timed out")
    })
    .unwrap();
    ev.close().unwrap();
}
