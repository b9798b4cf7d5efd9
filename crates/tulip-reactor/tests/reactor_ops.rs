//! The completion interface on the uring backend: multishot receives in
//! order, the buffer ring running dry, cancels racing completions, reused
//! descriptor numbers, multishot accept, sends, and teardown with
//! operations in flight.

mod common;

use std::cell::RefCell;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::rc::Rc;
use std::sync::Mutex;
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

/// Serializes the tests of this file: they count open descriptors and
/// move sockets onto chosen numbers.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
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

/// A connected pair: the first end non-blocking (as the loop's sockets
/// are: operations must wait for data, not fail with EAGAIN), the second a
/// plain blocking peer.
fn tcp_pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let a = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    a.set_nonblocking(true).unwrap();
    let (b, _) = l.accept().unwrap();
    (a, b)
}

#[test]
fn multishot_receive_delivers_data_in_order_then_eof() {
    let _serial = serial();
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

/// Keeps every completion (and so every ring buffer) it gets until told to
/// let go, to make the ring run dry.
#[derive(Default)]
struct Hoard {
    held: RefCell<Vec<Completion>>,
    data: RefCell<Vec<u8>>,
    ended: std::cell::Cell<bool>,
}

impl OpHandler for Hoard {
    fn complete(&self, c: Completion) {
        assert!(c.result().is_ok(), "no error reaches the handler: {c:?}");
        self.data.borrow_mut().extend_from_slice(c.data());
        if !c.more() {
            self.ended.set(true);
        }
        self.held.borrow_mut().push(c);
    }
}

#[test]
fn a_dry_ring_loses_nothing_under_1000_connections() {
    let _serial = serial();
    let _w = Watchdog::arm(Duration::from_secs(120), "dry ring");
    const CONNS: usize = 1000;
    const EACH: usize = 40 * 1024; // three ring buffers' worth per connection
    let mut r = uring();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut conns = Vec::new();
    for i in 0..CONNS {
        let mut client = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (server, _) = l.accept().unwrap();
        server.set_nonblocking(true).unwrap();
        let hoard = Rc::new(Hoard::default());
        r.submit(
            Op::RecvMulti {
                fd: server.as_raw_fd(),
            },
            hoard.clone(),
        )
        .unwrap();
        let payload: Vec<u8> = (0..EACH).map(|j| (i + j / 7) as u8).collect();
        client.write_all(&payload).unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        conns.push((server, client, hoard, payload));
    }
    // Hold every buffer: the ring runs dry (1000 x 40 KiB is far more than
    // it holds) and the starved receives wait.
    let held = |conns: &[(TcpStream, TcpStream, Rc<Hoard>, Vec<u8>)]| {
        conns.iter().map(|c| c.2.held.borrow().len()).sum::<usize>()
    };
    let deadline = Instant::now() + PATIENCE;
    while held(&conns) < 256 && Instant::now() < deadline {
        pump(&mut r, Duration::from_millis(20));
    }
    assert!(
        held(&conns) >= 256,
        "the ring ran dry: every buffer is held"
    );
    for _ in 0..5 {
        pump(&mut r, Duration::from_millis(10));
    }
    let before = held(&conns);
    assert!(
        before <= 256 + CONNS,
        "no buffer beyond the ring's: {before}"
    );
    // Let go, pumping, until every connection saw all its data and EOF.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        for c in &conns {
            c.2.held.borrow_mut().clear();
        }
        if conns.iter().all(|c| c.2.ended.get()) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "a starved receive never came back"
        );
        pump(&mut r, Duration::from_millis(20));
    }
    for (i, c) in conns.iter().enumerate() {
        assert_eq!(
            *c.2.data.borrow(),
            c.3,
            "connection {i} lost or reordered data"
        );
    }
    assert!(r.is_empty());
}

#[test]
fn a_cancel_racing_completion_ends_the_operation_exactly_once() {
    let _serial = serial();
    let _w = Watchdog::arm(Duration::from_secs(60), "cancel race");
    let mut r = uring();
    for round in 0..200 {
        let (a, mut b) = tcp_pair();
        let rec = Rc::new(Record::default());
        let id = if round % 2 == 0 {
            r.submit(Op::RecvMulti { fd: a.as_raw_fd() }, rec.clone())
                .unwrap()
        } else {
            let op = Op::Recv {
                fd: a.as_raw_fd(),
                buf: Vec::with_capacity(64),
            };
            r.submit(op, rec.clone()).unwrap()
        };
        // Data and the cancel race: cancel before the submission went in,
        // right after, or after the data was seen.
        b.write_all(b"race").unwrap();
        match round % 3 {
            0 => {}
            1 => {
                pump(&mut r, Duration::ZERO);
            }
            _ => pump_until(&mut r, || !rec.seen.borrow().is_empty()),
        }
        r.cancel(id).unwrap();
        r.cancel(id).unwrap(); // a second cancel changes nothing
        pump_until(&mut r, || rec.ended());
        for _ in 0..3 {
            pump(&mut r, Duration::from_millis(1));
        }
        r.cancel(id).unwrap(); // after the end: nothing either
        pump(&mut r, Duration::from_millis(1));
        assert_eq!(
            rec.finals(),
            1,
            "round {round}: exactly one final completion"
        );
        let data = rec.data();
        assert!(
            data.is_empty() || data == b"race",
            "round {round}: {data:?}"
        );
        let seen = rec.seen.borrow();
        let (last, _, _) = seen.last().unwrap();
        assert!(
            *last == Err(libc::ECANCELED) || matches!(last, Ok(4)),
            "round {round}: ends cancelled or with the data: {last:?}"
        );
        assert!(r.is_empty(), "round {round}");
    }
}

#[test]
fn stale_completions_of_a_reused_number_reach_only_their_own_handler() {
    let _serial = serial();
    let _w = Watchdog::arm(Duration::from_secs(60), "fd reuse");
    let mut r = uring();
    let (a, mut a_peer) = tcp_pair();
    let number = a.as_raw_fd();
    let old = Rc::new(Record::default());
    let old_id = r.submit(Op::RecvMulti { fd: number }, old.clone()).unwrap();
    pump(&mut r, Duration::ZERO); // in the kernel now
    // The number is closed and at once reused (dup2 closes the old socket's
    // descriptor and puts a new socket there, atomically).
    let (b, mut b_peer) = tcp_pair();
    // SAFETY: dup2 onto `number`, which `a` owns: `a` is forgotten, its
    // number now belongs to the new descriptor made here.
    let reused = unsafe {
        assert_eq!(libc::dup2(b.as_raw_fd(), number), number);
        std::mem::forget(a);
        OwnedFd::from_raw_fd(number)
    };
    drop(b);
    let new = Rc::new(Record::default());
    r.submit(
        Op::RecvMulti {
            fd: reused.as_raw_fd(),
        },
        new.clone(),
    )
    .unwrap();
    // The old operation still reads the old socket (the kernel holds it).
    a_peer.write_all(b"old").unwrap();
    b_peer.write_all(b"new").unwrap();
    pump_until(&mut r, || old.data().len() == 3 && new.data().len() == 3);
    assert_eq!(old.data(), b"old");
    assert_eq!(new.data(), b"new");
    r.cancel(old_id).unwrap();
    pump_until(&mut r, || old.ended());
    a_peer.write_all(b"late").unwrap();
    b_peer.write_all(b"!").unwrap();
    pump_until(&mut r, || new.data().len() == 4);
    assert_eq!(
        new.data(),
        b"new!",
        "the old operation's end reached nobody else"
    );
    assert_eq!(old.data(), b"old");
    assert_eq!(old.finals(), 1);
    assert_eq!(new.finals(), 0);
    drop(b_peer);
    pump_until(&mut r, || new.ended());
}

/// Keeps the sockets of a multishot accept.
#[derive(Default)]
struct Accepted {
    fds: RefCell<Vec<OwnedFd>>,
    ends: RefCell<Vec<Option<i32>>>,
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

#[test]
fn multishot_accept_hands_over_each_connection() {
    let _serial = serial();
    let _w = Watchdog::arm(Duration::from_secs(60), "accept");
    let mut r = uring();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.set_nonblocking(true).unwrap();
    let acc = Rc::new(Accepted::default());
    let id = r
        .submit(Op::AcceptMulti { fd: l.as_raw_fd() }, acc.clone())
        .unwrap();
    let clients: Vec<TcpStream> = (0..5)
        .map(|_| TcpStream::connect(l.local_addr().unwrap()).unwrap())
        .collect();
    pump_until(&mut r, || acc.fds.borrow().len() == 5);
    let mut peers: Vec<_> = acc
        .fds
        .borrow()
        .iter()
        .map(|fd| {
            let flags = rustix::fs::fcntl_getfl(fd).unwrap();
            assert!(flags.contains(rustix::fs::OFlags::NONBLOCK), "non-blocking");
            let fdflags = rustix::io::fcntl_getfd(fd).unwrap();
            assert!(
                fdflags.contains(rustix::io::FdFlags::CLOEXEC),
                "close-on-exec"
            );
            TcpStream::from(fd.try_clone().unwrap())
                .peer_addr()
                .unwrap()
        })
        .collect();
    let mut locals: Vec<_> = clients.iter().map(|c| c.local_addr().unwrap()).collect();
    peers.sort();
    locals.sort();
    assert_eq!(peers, locals);
    assert!(acc.ends.borrow().is_empty(), "still accepting");
    r.cancel(id).unwrap();
    pump_until(&mut r, || !acc.ends.borrow().is_empty());
    assert_eq!(*acc.ends.borrow(), [Some(libc::ECANCELED)]);
}

/// Keeps the last completion's result and buffer.
#[derive(Default)]
struct Last {
    result: RefCell<Option<Result<usize, i32>>>,
    buf: RefCell<Option<Vec<u8>>>,
    from: RefCell<Option<std::net::SocketAddr>>,
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
    fn take(&self) -> Option<Result<usize, i32>> {
        self.result.borrow_mut().take()
    }
}

#[test]
fn sends_report_short_counts_and_resume_from_an_offset() {
    let _serial = serial();
    let _w = Watchdog::arm(Duration::from_secs(60), "send");
    let mut r = uring();
    let (a, b) = tcp_pair();
    // A small send goes whole, and the buffer comes back.
    let last = Rc::new(Last::default());
    r.submit(
        Op::Send {
            fd: a.as_raw_fd(),
            buf: b"hello".to_vec(),
            offset: 0,
        },
        last.clone(),
    )
    .unwrap();
    pump_until(&mut r, || last.result.borrow().is_some());
    assert_eq!(last.take(), Some(Ok(5)));
    assert_eq!(last.buf.borrow_mut().take().as_deref(), Some(&b"hello"[..]));
    // A send larger than the socket buffers, with nobody reading, is short.
    let big: Vec<u8> = (0..32 * 1024 * 1024)
        .map(|i: usize| (i % 251) as u8)
        .collect();
    r.submit(
        Op::Send {
            fd: a.as_raw_fd(),
            buf: big.clone(),
            offset: 0,
        },
        last.clone(),
    )
    .unwrap();
    pump_until(&mut r, || last.result.borrow().is_some());
    let first = last.take().unwrap().unwrap();
    assert!(first > 0 && first < big.len(), "a short send: {first}");
    // The rest from the offset, with a reader draining the other end.
    let mut reader = b.try_clone().unwrap();
    let total = big.len();
    let t = std::thread::spawn(move || {
        let mut got = Vec::with_capacity(total);
        let mut buf = vec![0u8; 1 << 16];
        while got.len() < total {
            let n = reader.read(&mut buf).unwrap();
            assert!(n > 0, "early end of file");
            got.extend_from_slice(&buf[..n]);
        }
        got
    });
    let mut offset = first + 5;
    let mut buf = last.buf.borrow_mut().take().unwrap();
    offset -= 5;
    while offset < buf.len() {
        r.submit(
            Op::Send {
                fd: a.as_raw_fd(),
                buf,
                offset,
            },
            last.clone(),
        )
        .unwrap();
        pump_until(&mut r, || last.result.borrow().is_some());
        offset += last.take().unwrap().unwrap();
        buf = last.buf.borrow_mut().take().unwrap();
    }
    let mut got = t.join().unwrap();
    assert_eq!(got.drain(..5).as_slice(), b"hello");
    assert!(got == big, "the bytes arrive whole and in order");
    // Bad offsets and full buffers are refused before the kernel sees them.
    let err = r
        .submit(
            Op::Send {
                fd: a.as_raw_fd(),
                buf: vec![1, 2],
                offset: 3,
            },
            last.clone(),
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    let err = r
        .submit(
            Op::Recv {
                fd: a.as_raw_fd(),
                buf: Vec::new(),
            },
            last.clone(),
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert!(
        err.to_string().contains(&a.as_raw_fd().to_string()),
        "names the fd: {err}"
    );
    // Shutdown: the peer sees end of file.
    r.submit(
        Op::Shutdown {
            fd: a.as_raw_fd(),
            how: Shutdown::Write,
        },
        last.clone(),
    )
    .unwrap();
    pump_until(&mut r, || last.result.borrow().is_some());
    assert_eq!(last.take(), Some(Ok(0)));
    let mut rest = Vec::new();
    (&b).read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
}

#[test]
fn datagrams_carry_their_sender() {
    let _serial = serial();
    let _w = Watchdog::arm(Duration::from_secs(60), "datagrams");
    let mut r = uring();
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    rx.set_nonblocking(true).unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let got = Rc::new(Last::default());
    let sent = Rc::new(Last::default());
    let mut buf = Vec::with_capacity(64);
    buf.extend_from_slice(b">");
    r.submit(
        Op::RecvMsg {
            fd: rx.as_raw_fd(),
            buf,
        },
        got.clone(),
    )
    .unwrap();
    let op = Op::SendMsg {
        fd: tx.as_raw_fd(),
        buf: b"datagram".to_vec(),
        addr: Some(rx.local_addr().unwrap()),
    };
    r.submit(op, sent.clone()).unwrap();
    pump_until(&mut r, || {
        got.result.borrow().is_some() && sent.result.borrow().is_some()
    });
    assert_eq!(sent.take(), Some(Ok(8)));
    assert_eq!(got.take(), Some(Ok(8)));
    assert_eq!(
        got.buf.borrow().as_deref(),
        Some(&b">datagram"[..]),
        "appended after what the buffer held"
    );
    assert_eq!(*got.from.borrow(), Some(tx.local_addr().unwrap()));
    // IPv6, connected: no address on the send.
    if let (Ok(rx6), Ok(tx6)) = (UdpSocket::bind("[::1]:0"), UdpSocket::bind("[::1]:0")) {
        tx6.connect(rx6.local_addr().unwrap()).unwrap();
        r.submit(
            Op::RecvMsg {
                fd: rx6.as_raw_fd(),
                buf: Vec::with_capacity(16),
            },
            got.clone(),
        )
        .unwrap();
        r.submit(
            Op::SendMsg {
                fd: tx6.as_raw_fd(),
                buf: b"six".to_vec(),
                addr: None,
            },
            sent.clone(),
        )
        .unwrap();
        pump_until(&mut r, || {
            got.result.borrow().is_some() && sent.result.borrow().is_some()
        });
        assert_eq!(got.take(), Some(Ok(3)));
        assert_eq!(*got.from.borrow(), Some(tx6.local_addr().unwrap()));
    }
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn a_reactor_dropped_or_cleared_with_operations_in_flight_leaks_nothing() {
    let _serial = serial();
    let _w = Watchdog::arm(Duration::from_secs(120), "teardown");
    let before = open_fds();
    for round in 0..20 {
        let mut r = uring();
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let acc = Rc::new(Accepted::default());
        r.submit(Op::AcceptMulti { fd: l.as_raw_fd() }, acc.clone())
            .unwrap();
        let mut keep = Vec::new();
        for _ in 0..4 {
            let (a, b) = tcp_pair();
            let rec = Rc::new(Record::default());
            r.submit(Op::RecvMulti { fd: a.as_raw_fd() }, rec.clone())
                .unwrap();
            r.submit(
                Op::Recv {
                    fd: b.as_raw_fd(),
                    buf: Vec::with_capacity(4096),
                },
                rec.clone(),
            )
            .unwrap();
            keep.push((a, b, rec));
        }
        // A send stuck on a full socket buffer (nobody reads).
        let (s, _s_peer) = tcp_pair();
        let stuck = Rc::new(Last::default());
        r.submit(
            Op::Send {
                fd: s.as_raw_fd(),
                buf: vec![7; 64 << 20],
                offset: 0,
            },
            stuck.clone(),
        )
        .unwrap();
        // Connections accepted but never handed over: closed on teardown.
        let _clients: Vec<_> = (0..3)
            .map(|_| TcpStream::connect(l.local_addr().unwrap()).unwrap())
            .collect();
        r.set_reader(s.as_fd(), ()).unwrap();
        pump(&mut r, Duration::from_millis(5));
        if round % 2 == 0 {
            let finals = r.cancel_all();
            let ended = finals
                .iter()
                .filter(|d| matches!(d, Dispatch::Completion(_, c) if !c.more()))
                .count();
            // The accept, four multishot and four single receives (nothing
            // arrives for them); the big send may have ended short already.
            assert!(ended >= 9, "every operation's final completion: {ended}");
            assert!(r.is_empty() || r.len() == 1, "no operation left");
        }
        drop(r);
        assert!(
            Rc::strong_count(&acc) == 1,
            "the reactor let go of the handlers"
        );
    }
    let after = open_fds();
    assert_eq!(
        before, after,
        "descriptors leaked: {before} before, {after} after"
    );
}

#[test]
fn other_backends_refuse_operations() {
    let _serial = serial();
    for kind in [BackendKind::Epoll, BackendKind::Polling] {
        let mut r: Reactor<()> = Reactor::new(kind).unwrap();
        assert!(!r.has_completions());
        let err = r
            .submit(Op::RecvMulti { fd: 0 }, Rc::new(Record::default()))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unsupported, "{kind:?}");
    }
    assert!(uring().has_completions());
}

#[test]
fn completions_and_readiness_come_out_in_kernel_order() {
    let _serial = serial();
    let _w = Watchdog::arm(Duration::from_secs(60), "kernel order");
    // Both ready before the poll: the kernel completes them in submission
    // order, and the poll keeps that order.
    for recv_first in [true, false] {
        let mut r: Reactor<&'static str> = Reactor::new(BackendKind::Uring).unwrap();
        let (a, mut a_peer) = tcp_pair();
        let (b, mut b_peer) = tcp_pair();
        a_peer.write_all(b"a").unwrap();
        b_peer.write_all(b"b").unwrap();
        let rec = Rc::new(Record::default());
        let recv = Op::Recv {
            fd: b.as_raw_fd(),
            buf: Vec::with_capacity(8),
        };
        if recv_first {
            r.submit(recv, rec.clone()).unwrap();
            r.set_reader(a.as_fd(), "a readable").unwrap();
        } else {
            r.set_reader(a.as_fd(), "a readable").unwrap();
            r.submit(recv, rec.clone()).unwrap();
        }
        let mut out = Vec::new();
        let deadline = Instant::now() + PATIENCE;
        while out.len() < 2 && Instant::now() < deadline {
            r.poll(Some(Duration::from_millis(50)), &mut out).unwrap();
        }
        let order: Vec<&str> = out
            .iter()
            .map(|d| match d {
                Dispatch::Callback(name) => *name,
                Dispatch::Completion(..) => "completion",
                Dispatch::Waker(_) => "waker",
            })
            .collect();
        let expected = if recv_first {
            ["completion", "a readable"]
        } else {
            ["a readable", "completion"]
        };
        assert_eq!(order, expected);
        r.remove_reader(a.as_raw_fd()).unwrap();
    }
}

#[test]
fn operations_on_a_bad_descriptor_end_with_its_error() {
    let _serial = serial();
    let _w = Watchdog::arm(Duration::from_secs(60), "bad fd");
    let mut r = uring();
    let file = tempfile::tempfile().unwrap();
    let ops = [
        (Op::RecvMulti { fd: -1 }, libc::EBADF),
        (Op::AcceptMulti { fd: -1 }, libc::EBADF),
        (
            Op::Send {
                fd: -1,
                buf: vec![1],
                offset: 0,
            },
            libc::EBADF,
        ),
        (
            Op::RecvMulti {
                fd: file.as_raw_fd(),
            },
            libc::ENOTSOCK,
        ),
    ];
    for (op, errno) in ops {
        let rec = Rc::new(Record::default());
        r.submit(op, rec.clone()).unwrap();
        pump_until(&mut r, || rec.ended());
        assert_eq!(*rec.seen.borrow(), [(Err(errno), false, vec![])]);
    }
    assert!(r.is_empty());
}
