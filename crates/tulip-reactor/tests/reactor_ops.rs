//! The completion interface on the uring backend, its data paths:
//! multishot receives in order, the buffer ring running dry under 1,000
//! connections, multishot accept, sends (short ones too), datagrams,
//! completions in kernel order among readiness, and the other backends'
//! refusal. Lifecycles (cancels, reused numbers, teardown) are in
//! `reactor_ops_lifecycle`.

mod common;

use std::cell::RefCell;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsFd, AsRawFd};
use std::rc::Rc;
use std::time::{Duration, Instant};

use common::ops::{Accepted, Last, Record, pump, pump_until, serial, tcp_pair, uring};
use common::{PATIENCE, Watchdog};
use tulip_reactor::{BackendKind, Completion, Dispatch, Op, OpHandler, Reactor};

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
    /// The final completion's result (or errno).
    ended: std::cell::Cell<Option<Result<usize, i32>>>,
}

impl OpHandler for Hoard {
    fn complete(&self, c: Completion) {
        self.data.borrow_mut().extend_from_slice(c.data());
        if !c.more() {
            let end = match c.result() {
                Ok(n) => Ok(*n),
                Err(e) => Err(e.raw_os_error().unwrap_or(-1)),
            };
            self.ended.set(Some(end));
        } else {
            assert!(c.result().is_ok(), "only the final completion fails: {c:?}");
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
        let id = r
            .submit(
                Op::RecvMulti {
                    fd: server.as_raw_fd(),
                },
                hoard.clone(),
            )
            .unwrap();
        let payload: Vec<u8> = (0..EACH).map(|j| (i + j / 7) as u8).collect();
        client.write_all(&payload).unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        conns.push((server, client, hoard, payload, id));
    }
    type Conn = (
        TcpStream,
        TcpStream,
        Rc<Hoard>,
        Vec<u8>,
        tulip_reactor::OpId,
    );
    // Hold every buffer: the ring runs dry (1000 x 40 KiB is far more than
    // it holds) and the starved receives wait.
    let held = |conns: &[Conn]| {
        conns
            .iter()
            .map(|c| {
                c.2.held
                    .borrow()
                    .iter()
                    .filter(|h| !h.data().is_empty())
                    .count()
            })
            .sum::<usize>()
    };
    let deadline = Instant::now() + PATIENCE;
    while held(&conns) < 256 && Instant::now() < deadline {
        pump(&mut r, Duration::from_millis(20));
    }
    assert_eq!(held(&conns), 256, "the ring ran dry: every buffer is held");
    for _ in 0..5 {
        pump(&mut r, Duration::from_millis(10));
    }
    assert_eq!(held(&conns), 256, "no buffer beyond the ring's");
    // Cancel every tenth receive while the ring is dry (starved ones end
    // here, others in the kernel): each ends once, never with ENOBUFS.
    for c in conns.iter().step_by(10) {
        r.cancel(c.4).unwrap();
    }
    // Let go, pumping, until every connection saw all its data and EOF.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        for c in &conns {
            c.2.held.borrow_mut().clear();
        }
        if conns.iter().all(|c| c.2.ended.get().is_some()) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "a starved receive never came back"
        );
        pump(&mut r, Duration::from_millis(20));
    }
    for (i, c) in conns.iter().enumerate() {
        let data = c.2.data.borrow();
        let end = c.2.ended.get().unwrap();
        if i % 10 == 0 {
            assert!(c.3.starts_with(&data), "connection {i}: a prefix, in order");
            assert!(
                end == Err(libc::ECANCELED) || (end == Ok(0) && *data == c.3),
                "connection {i}: cancelled, or finished first: {end:?}"
            );
        } else {
            assert_eq!(end, Ok(0), "connection {i} ends with end of file");
            assert_eq!(*data, c.3, "connection {i} lost or reordered data");
        }
    }
    assert!(r.is_empty());
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
