//! Helpers of the completion tests (`reactor_ops*`): handlers that record
//! what they get, pumping a uring reactor, and socket pairs.

use std::cell::RefCell;
use std::net::{TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::PATIENCE;
use tulip_reactor::{BackendKind, Completion, Dispatch, OpHandler, Reactor};

/// One completion as recorded: (result or errno, more, data).
pub type Seen = (Result<usize, i32>, bool, Vec<u8>);

/// Records every completion it gets.
#[derive(Default)]
pub struct Record {
    pub seen: RefCell<Vec<Seen>>,
}

impl OpHandler for Record {
    fn complete(&self, c: Completion) {
        let res = match c.result() {
            Ok(n) => Ok(*n),
            Err(e) => Err(e.raw_os_error().unwrap_or(-1)),
        };
        self.seen
            .borrow_mut()
            .push((res, c.more(), c.data().to_vec()));
    }
}

impl Record {
    pub fn ended(&self) -> bool {
        self.seen.borrow().last().is_some_and(|(_, more, _)| !more)
    }
    pub fn data(&self) -> Vec<u8> {
        self.seen
            .borrow()
            .iter()
            .flat_map(|(_, _, d)| d.clone())
            .collect()
    }
    pub fn finals(&self) -> usize {
        self.seen
            .borrow()
            .iter()
            .filter(|(_, more, _)| !more)
            .count()
    }
}

/// Serializes the tests of a binary: they count open descriptors and
/// move sockets onto chosen numbers.
pub static SERIAL: Mutex<()> = Mutex::new(());

pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

pub fn uring() -> Reactor<()> {
    let r = Reactor::new(BackendKind::Uring).expect("open reactor");
    assert_eq!(
        r.backend_kind(),
        BackendKind::Uring,
        "io_uring is available on the test machine"
    );
    r
}

/// Polls once (waiting up to `wait`) and hands every completion to its handler.
pub fn pump(r: &mut Reactor<()>, wait: Duration) -> usize {
    let mut out = Vec::new();
    r.poll(Some(wait), &mut out).expect("poll");
    let n = out.len();
    for d in out {
        if let Dispatch::Completion(h, c) = d {
            h.complete(c);
        }
    }
    n
}

/// Pumps until `done` holds (at most [`PATIENCE`]).
pub fn pump_until(r: &mut Reactor<()>, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "no completion within {PATIENCE:?}"
        );
        pump(r, Duration::from_millis(50));
    }
}

/// A connected pair: the first end non-blocking (as the loop's sockets
/// are: operations must wait for data, not fail with EAGAIN), the second a
/// plain blocking peer.
pub fn tcp_pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let a = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    a.set_nonblocking(true).unwrap();
    let (b, _) = l.accept().unwrap();
    (a, b)
}

/// Keeps the sockets of a multishot accept.
#[derive(Default)]
pub struct Accepted {
    pub fds: RefCell<Vec<OwnedFd>>,
    pub ends: RefCell<Vec<Option<i32>>>,
}

impl OpHandler for Accepted {
    fn complete(&self, mut c: Completion) {
        if !c.more() {
            self.ends
                .borrow_mut()
                .push(c.result().as_ref().err().and_then(|e| e.raw_os_error()));
        }
        if let Some(fd) = c.take_fd() {
            self.fds.borrow_mut().push(fd);
        }
    }
}

/// Keeps the last completion's result and buffer.
#[derive(Default)]
pub struct Last {
    pub result: RefCell<Option<Result<usize, i32>>>,
    pub buf: RefCell<Option<Vec<u8>>>,
    pub from: RefCell<Option<std::net::SocketAddr>>,
}

impl OpHandler for Last {
    fn complete(&self, mut c: Completion) {
        *self.result.borrow_mut() = Some(
            c.result()
                .as_ref()
                .map(|n| *n)
                .map_err(|e| e.raw_os_error().unwrap_or(-1)),
        );
        *self.from.borrow_mut() = c.source_addr();
        *self.buf.borrow_mut() = c.take_buffer();
    }
}

impl Last {
    pub fn take(&self) -> Option<Result<usize, i32>> {
        self.result.borrow_mut().take()
    }
}
