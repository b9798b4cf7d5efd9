//! The completion interface on the uring backend: multishot receives in
//! order, the buffer ring running dry, cancels racing completions, reused
//! descriptor numbers, multishot accept, sends, and teardown with
//! operations in flight.

mod common;

use std::cell::RefCell;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::{Duration, Instant};

use common::{PATIENCE, Watchdog};
use tulip_reactor::{BackendKind, Completion, Dispatch, Op, OpHandler, Reactor};

/// One completion as recorded: (result or errno, more, data).
type Seen = (Result<usize, i32>, bool, Vec<u8>);

/// Records every completion it gets.
#[derive(Default)]
struct Record {
    seen: RefCell<Vec<Seen>>,
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
    fn ended(&self) -> bool {
        self.seen.borrow().last().is_some_and(|(_, more, _)| !more)
    }
    fn data(&self) -> Vec<u8> {
        self.seen
            .borrow()
            .iter()
            .flat_map(|(_, _, d)| d.clone())
            .collect()
    }
    fn finals(&self) -> usize {
        self.seen
            .borrow()
            .iter()
            .filter(|(_, more, _)| !more)
            .count()
    }
}

fn uring() -> Reactor<()> {
    let r = Reactor::new(BackendKind::Uring).expect("open reactor");
    assert_eq!(
        r.backend_kind(),
        BackendKind::Uring,
        "io_uring is available on the test machine"
    );
    r
}

/// Polls once (waiting up to `wait`) and hands every completion to its handler.
fn pump(r: &mut Reactor<()>, wait: Duration) -> usize {
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
fn pump_until(r: &mut Reactor<()>, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "no completion within {PATIENCE:?}"
        );
        pump(r, Duration::from_millis(50));
    }
}

fn tcp_pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let a = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (b, _) = l.accept().unwrap();
    (a, b)
}

#[test]
fn multishot_receive_delivers_data_in_order_then_eof() {
    let _w = Watchdog::arm(Duration::from_secs(60), "multishot receive");
    let mut r = uring();
    let (a, mut b) = tcp_pair();
    let rec = Rc::new(Record::default());
    r.submit(Op::RecvMulti { fd: a.as_raw_fd() }, rec.clone())
        .unwrap();
    let mut sent = Vec::new();
    for i in 0..200u32 {
        let chunk: Vec<u8> = (0..1000).map(|j| (i * 7 + j) as u8).collect();
        b.write_all(&chunk).unwrap();
        sent.extend_from_slice(&chunk);
        if i % 20 == 0 {
            pump(&mut r, Duration::ZERO);
        }
    }
    drop(b);
    pump_until(&mut r, || rec.ended());
    assert_eq!(rec.data(), sent);
    let seen = rec.seen.borrow();
    assert_eq!(seen.last().unwrap().0, Ok(0), "ends with end of file");
    assert_eq!(rec.finals(), 1);
    assert!(r.is_empty());
}
