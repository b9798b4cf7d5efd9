//! The completion interface on the uring backend, lifecycles: a cancel
//! racing the completion (one final completion, always), a descriptor
//! number reused while its old operations complete, a reactor dropped or
//! cleared with operations in flight (no descriptor or handler leaked),
//! and operations on a bad descriptor.

mod common;

use std::io::Write;
use std::net::TcpListener;
use std::net::TcpStream;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::rc::Rc;
use std::time::Duration;

use common::Watchdog;
use common::ops::{Accepted, Last, Record, pump, pump_until, serial, tcp_pair, uring};
use tulip_reactor::{Dispatch, Op};

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
