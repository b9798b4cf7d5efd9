//! `add_reader` / `remove_reader` / `add_writer` / `remove_writer` on real
//! sockets (Unix socketpairs and TCP over 127.0.0.1): a reader fires on
//! readability, on every pass while the descriptor stays readable
//! (level-triggered), and never after it is removed, even when readable or
//! already queued for the current pass; removal reports whether something
//! was removed; a reader may remove or replace itself from inside its
//! callback; replacing a reader cancels the old one.

mod common;

use std::cell::{Cell, RefCell};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::time::Duration;

use common::{new_log, run_once, watchdog};
use tulip_executor::EventLoop;

fn counter() -> (Rc<Cell<u32>>, impl FnMut() + 'static) {
    let count = Rc::new(Cell::new(0));
    let c = count.clone();
    (count, move || c.set(c.get() + 1))
}

#[test]
fn a_reader_fires_when_data_arrives_and_reads_it() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let (a, mut b) = UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    let a = Rc::new(a);
    let received = Rc::new(RefCell::new(Vec::new()));
    let (l, r, reader) = (lp.clone(), received.clone(), a.clone());
    lp.add_reader(&*a, move || {
        let mut buf = [0u8; 64];
        let n = (&*reader).read(&mut buf).unwrap();
        r.borrow_mut().extend_from_slice(&buf[..n]);
        if r.borrow().ends_with(b"!") {
            l.stop();
        }
    })
    .unwrap();
    // Nothing to read yet: the reader stays quiet.
    run_once(&el);
    assert!(received.borrow().is_empty());
    let (dog, fired) = watchdog(&lp, Duration::from_secs(30));
    lp.call_later(Duration::from_millis(5), move || {
        b.write_all(b"hello world!").unwrap();
    })
    .unwrap();
    el.run_forever().unwrap();
    assert!(!fired.get());
    dog.cancel();
    assert_eq!(&*received.borrow(), b"hello world!");
}

#[test]
fn a_reader_fires_on_every_pass_while_readable_and_never_after_removal() {
    let el = EventLoop::new().unwrap();
    let (a, mut b) = UnixStream::pair().unwrap();
    let (count, cb) = counter();
    el.add_reader(&a, cb).unwrap();
    run_once(&el);
    assert_eq!(count.get(), 0, "not readable yet");
    b.write_all(b"x").unwrap();
    // Level-triggered: the unread byte keeps it readable, pass after pass.
    for pass in 1..=5 {
        run_once(&el);
        assert_eq!(count.get(), pass);
    }
    assert!(el.remove_reader(a.as_raw_fd()));
    b.write_all(b"more").unwrap();
    for _ in 0..3 {
        run_once(&el);
    }
    assert_eq!(count.get(), 5);
}

#[test]
fn remove_reader_and_remove_writer_report_whether_something_was_removed() {
    let el = EventLoop::new().unwrap();
    let (a, _b) = UnixStream::pair().unwrap();
    let fd = a.as_raw_fd();
    assert!(!el.remove_reader(fd));
    assert!(!el.remove_writer(fd));
    el.add_reader(&a, || {}).unwrap();
    assert!(!el.remove_writer(fd), "only a reader is registered");
    assert!(el.remove_reader(fd));
    assert!(!el.remove_reader(fd));
    el.add_writer(&a, || {}).unwrap();
    assert!(el.remove_writer(fd));
    assert!(!el.remove_writer(fd));
}

#[test]
fn a_removed_reader_does_not_run_even_if_already_queued_for_this_pass() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let (a1, mut b1) = UnixStream::pair().unwrap();
    let (a2, mut b2) = UnixStream::pair().unwrap();
    let calls = new_log();
    // Both become readable for the same poll; whichever runs first removes
    // the other (and itself), so exactly one runs.
    let (fd1, fd2) = (a1.as_raw_fd(), a2.as_raw_fd());
    let (l, c) = (lp.clone(), calls.clone());
    lp.add_reader(&a1, move || {
        c.borrow_mut().push(1);
        l.remove_reader(fd2);
        l.remove_reader(fd1);
    })
    .unwrap();
    let (l, c) = (lp.clone(), calls.clone());
    lp.add_reader(&a2, move || {
        c.borrow_mut().push(2);
        l.remove_reader(fd1);
        l.remove_reader(fd2);
    })
    .unwrap();
    b1.write_all(b"x").unwrap();
    b2.write_all(b"x").unwrap();
    run_once(&el);
    run_once(&el);
    run_once(&el);
    assert_eq!(calls.borrow().len(), 1, "{:?}", calls.borrow());
}

#[test]
fn a_reader_can_remove_itself_from_its_callback() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let (a, mut b) = UnixStream::pair().unwrap();
    let fd = a.as_raw_fd();
    let count = Rc::new(Cell::new(0));
    let removed = Rc::new(Cell::new(None));
    let (l, c, r) = (lp.clone(), count.clone(), removed.clone());
    let handle = lp
        .add_reader(&a, move || {
            c.set(c.get() + 1);
            r.set(Some(l.remove_reader(fd)));
        })
        .unwrap();
    b.write_all(b"x").unwrap();
    for _ in 0..4 {
        run_once(&el);
    }
    assert_eq!(count.get(), 1);
    assert_eq!(removed.get(), Some(true));
    assert!(handle.cancelled());
    // The descriptor can be watched again.
    let (count2, cb) = counter();
    lp.add_reader(&a, cb).unwrap();
    run_once(&el);
    assert_eq!(count2.get(), 1);
}

#[test]
fn add_reader_replaces_the_previous_reader() {
    let el = EventLoop::new().unwrap();
    let (a, mut b) = UnixStream::pair().unwrap();
    let (old_count, old_cb) = counter();
    let (new_count, new_cb) = counter();
    let old = el.add_reader(&a, old_cb).unwrap();
    b.write_all(b"x").unwrap();
    run_once(&el);
    assert_eq!(old_count.get(), 1);
    let new = el.add_reader(&a, new_cb).unwrap();
    assert!(old.cancelled(), "the replaced reader is cancelled");
    assert!(!new.cancelled());
    for _ in 0..3 {
        run_once(&el);
    }
    assert_eq!(old_count.get(), 1);
    assert_eq!(new_count.get(), 3);
    assert!(el.remove_reader(a.as_raw_fd()));
}

#[test]
fn a_reader_can_replace_itself_from_its_callback() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let (a, mut b) = UnixStream::pair().unwrap();
    let a = Rc::new(a);
    let log = new_log();
    let (l, lg, a2) = (lp.clone(), log.clone(), a.clone());
    lp.add_reader(&*a, move || {
        lg.borrow_mut().push("first");
        let lg = lg.clone();
        l.add_reader(&*a2, move || lg.borrow_mut().push("second"))
            .unwrap();
    })
    .unwrap();
    b.write_all(b"x").unwrap();
    run_once(&el);
    run_once(&el);
    run_once(&el);
    assert_eq!(*log.borrow(), ["first", "second", "second"]);
}

#[test]
fn a_writer_fires_while_writable() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let (a, mut b) = UnixStream::pair().unwrap();
    let fd = a.as_raw_fd();
    let a = Rc::new(a);
    let (l, w) = (lp.clone(), a.clone());
    let count = Rc::new(Cell::new(0));
    let c = count.clone();
    lp.add_writer(&*a, move || {
        c.set(c.get() + 1);
        (&*w).write_all(b"ping").unwrap();
        if c.get() == 3 {
            assert!(l.remove_writer(fd));
        }
    })
    .unwrap();
    for _ in 0..5 {
        run_once(&el);
    }
    assert_eq!(count.get(), 3);
    let mut buf = [0u8; 12];
    b.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"pingpingping");
}

#[test]
fn reader_and_writer_on_one_descriptor_are_independent() {
    let el = EventLoop::new().unwrap();
    let (a, mut b) = UnixStream::pair().unwrap();
    let log = new_log();
    let (l1, l2) = (log.clone(), log.clone());
    el.add_reader(&a, move || l1.borrow_mut().push("r"))
        .unwrap();
    el.add_writer(&a, move || l2.borrow_mut().push("w"))
        .unwrap();
    run_once(&el);
    assert_eq!(*log.borrow(), ["w"]);
    b.write_all(b"x").unwrap();
    run_once(&el);
    assert_eq!(*log.borrow(), ["w", "r", "w"], "reader before writer");
    assert!(el.remove_reader(a.as_raw_fd()));
    run_once(&el);
    assert_eq!(*log.borrow(), ["w", "r", "w", "w"]);
    assert!(el.remove_writer(a.as_raw_fd()));
    run_once(&el);
    assert_eq!(log.borrow().len(), 4);
}

#[test]
fn tcp_accept_and_echo_with_readers() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let lfd = listener.as_raw_fd();
    let listener = Rc::new(listener);
    let (l, lst) = (lp.clone(), listener.clone());
    lp.add_reader(&*listener, move || {
        let (conn, _) = lst.accept().unwrap();
        conn.set_nonblocking(true).unwrap();
        assert!(l.remove_reader(lfd));
        let cfd = conn.as_raw_fd();
        let conn = Rc::new(conn);
        let (l2, c2) = (l.clone(), conn.clone());
        let mut got = Vec::new();
        l.add_reader(&*conn, move || {
            let mut buf = [0u8; 64];
            match (&*c2).read(&mut buf) {
                Ok(0) => {}
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("{e}"),
            }
            if got == b"ping" {
                (&*c2).write_all(b"pong").unwrap();
                assert!(l2.remove_reader(cfd));
                l2.stop();
            }
        })
        .unwrap();
    })
    .unwrap();
    let client = std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"ping").unwrap();
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf).unwrap();
        buf
    });
    let (dog, fired) = watchdog(&lp, Duration::from_secs(30));
    el.run_forever().unwrap();
    assert!(!fired.get());
    dog.cancel();
    assert_eq!(&client.join().unwrap(), b"pong");
}

/// asyncio drops a reader whose handle was cancelled the next time its
/// descriptor is reported ready (`_process_events`). tulip keeps it
/// registered: while the descriptor stays readable every poll returns at
/// once with an event that is then skipped, so the loop spins at full CPU,
/// and a paused clock (which only jumps when no I/O was seen) never
/// advances, so this test's one-second virtual sleep never ends.
#[test]
fn cancelling_a_reader_handle_stops_watching_the_descriptor() {
    let el = EventLoop::builder().paused_clock(true).build().unwrap();
    let (a, mut b) = UnixStream::pair().unwrap();
    let handle = el.add_reader(&a, || {}).unwrap();
    assert!(handle.cancel());
    b.write_all(b"x").unwrap();
    // A real-time guard: stop the loop from another thread after 5 s.
    let remote = el.remote();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let guard = std::thread::spawn(move || {
        if rx.recv_timeout(Duration::from_secs(5)).is_err() {
            let _ = remote.stop();
        }
    });
    let res = el.run_until_complete(tulip_executor::sleep(Duration::from_secs(1)));
    let _ = tx.send(());
    guard.join().unwrap();
    assert!(res.is_ok(), "the loop never got to the timer: {res:?}");
}
