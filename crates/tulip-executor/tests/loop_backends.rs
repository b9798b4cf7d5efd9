//! Every reactor backend, chosen explicitly with `EventLoopBuilder::backend`
//! (the rest of the suite runs on the default one, which `cargo xtask ci`
//! switches with `TULIP_BACKEND=polling` and `TULIP_BACKEND=uring`):
//! readers, writers, timers, the cross-thread wake-up and a task sleeping,
//! on `Epoll`, `Polling` and `Uring`.

mod common;

use std::cell::Cell;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::time::Duration;

use common::{new_log, run_once, watchdog};
use tulip_executor::{BackendKind, EventLoop, sleep};

fn build(kind: BackendKind) -> EventLoop {
    let el = EventLoop::builder().backend(kind).build().unwrap();
    if kind != BackendKind::Epoll {
        // Linux has io_uring on the test machines: no fallback expected.
        assert_eq!(el.backend_kind(), kind);
    }
    // `Epoll` falls back to `Polling` where epoll does not exist.
    el
}

fn exercise(kind: BackendKind) {
    let el = build(kind);
    let lp = el.handle();
    let (a, b) = UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    let a = Rc::new(a);
    let log = new_log();

    // A reader that drains what arrives, and timers in deadline order.
    let (l, r) = (log.clone(), a.clone());
    lp.add_reader(&*a, move || {
        let mut buf = [0u8; 16];
        let n = (&*r).read(&mut buf).unwrap();
        l.borrow_mut()
            .push(format!("read {}", String::from_utf8_lossy(&buf[..n])));
    })
    .unwrap();
    for ms in [6u64, 2, 4] {
        let l = log.clone();
        lp.call_later(Duration::from_millis(ms), move || {
            l.borrow_mut().push(format!("timer {ms}"));
        })
        .unwrap();
    }
    // The writing end stays open (an EOF would keep the reader firing).
    let b = Rc::new(b);
    let w = b.clone();
    lp.call_later(Duration::from_millis(3), move || {
        (&*w).write_all(b"hi").unwrap()
    })
    .unwrap();
    let l = lp.clone();
    lp.call_later(Duration::from_millis(10), move || l.stop())
        .unwrap();
    let (dog, fired) = watchdog(&lp, Duration::from_secs(30));
    el.run_forever().unwrap();
    assert!(!fired.get());
    let entries = log.borrow().clone();
    let timers: Vec<&str> = entries
        .iter()
        .filter(|e| e.starts_with("timer"))
        .map(String::as_str)
        .collect();
    assert_eq!(timers, ["timer 2", "timer 4", "timer 6"], "{kind:?}");
    let reads: Vec<&str> = entries
        .iter()
        .filter(|e| e.starts_with("read"))
        .map(String::as_str)
        .collect();
    assert_eq!(reads, ["read hi"], "{kind:?}");
    // The data was written by the 3 ms timer, so it is read after "timer 2".
    let at = |name: &str| entries.iter().position(|e| e == name);
    assert!(at("read hi") > at("timer 2"), "{entries:?}");
    assert!(lp.remove_reader(a.as_raw_fd()));

    // Level-triggered writer.
    let count = Rc::new(Cell::new(0));
    let c = count.clone();
    lp.add_writer(&*a, move || c.set(c.get() + 1)).unwrap();
    run_once(&el);
    run_once(&el);
    assert_eq!(count.get(), 2, "{kind:?}");
    assert!(lp.remove_writer(a.as_raw_fd()));
    run_once(&el);
    assert_eq!(count.get(), 2);

    // A wake-up from another thread ends a long poll.
    let remote = lp.remote();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(10));
        remote.stop().unwrap();
    });
    el.run_forever().unwrap();
    t.join().unwrap();
    assert!(
        !fired.get(),
        "{kind:?}: the remote stop did not wake the poll"
    );

    // A task sleeping on the loop's timers.
    let out = el
        .run_until_complete(async {
            sleep(Duration::from_millis(2)).await;
            "slept"
        })
        .unwrap();
    assert_eq!(out, "slept");
    dog.cancel();
    el.close().unwrap();
}

#[test]
fn epoll_backend() {
    exercise(BackendKind::Epoll);
}

#[test]
fn polling_backend() {
    exercise(BackendKind::Polling);
}

#[test]
fn uring_backend() {
    exercise(BackendKind::Uring);
}
