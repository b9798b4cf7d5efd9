//! The loop's completion interface on the uring backend: handlers run as
//! ready items of the loop, a busy loop still submits and reaps at the end
//! of the pass, a panicking handler goes to the exception handler, and a
//! loop closed with operations in flight cancels them and leaks nothing.

mod common;

use std::cell::{Cell, RefCell};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::sync::Mutex;
use std::time::Duration;

use common::{capture_exceptions, watchdog};
use tulip_executor::{BackendKind, Error, EventLoop, Loop, get_running_loop};
use tulip_reactor::{Completion, Op, OpHandler};

/// Serializes the tests of this file (one counts open descriptors).
static SERIAL: Mutex<()> = Mutex::new(());

fn uring_loop() -> EventLoop {
    let el = EventLoop::builder()
        .backend(BackendKind::Uring)
        .build()
        .unwrap();
    assert_eq!(
        el.backend_kind(),
        BackendKind::Uring,
        "io_uring is available on the test machine"
    );
    assert!(el.has_completions());
    el
}

/// Echoes every chunk back with a send, from inside the loop, and stops
/// the loop at end of file.
struct Echo {
    lp: Loop,
    fd: i32,
    received: RefCell<Vec<u8>>,
    sends: Cell<usize>,
}

impl OpHandler for Echo {
    fn complete(&self, c: Completion) {
        let running = get_running_loop().expect("handlers run inside the loop");
        assert!(running.same_loop(&self.lp));
        if !c.more() {
            assert_eq!(c.result().as_ref().ok(), Some(&0), "ends with end of file");
            self.lp.stop();
            return;
        }
        self.received.borrow_mut().extend_from_slice(c.data());
        let op = Op::Send {
            fd: self.fd,
            buf: c.data().to_vec(),
            offset: 0,
        };
        self.lp.submit_op(op, Rc::new(Ignore)).unwrap();
        self.sends.set(self.sends.get() + 1);
    }
}

struct Ignore;
impl OpHandler for Ignore {
    fn complete(&self, _: Completion) {}
}

#[test]
fn handlers_run_in_the_loop_and_can_submit_more() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let el = uring_loop();
    let (a, b) = UnixStream::pair().unwrap();
    let echo = Rc::new(Echo {
        lp: el.handle(),
        fd: a.as_raw_fd(),
        received: RefCell::new(Vec::new()),
        sends: Cell::new(0),
    });
    el.submit_op(Op::RecvMulti { fd: a.as_raw_fd() }, echo.clone())
        .unwrap();
    let peer = std::thread::spawn(move || {
        let mut b = b;
        let mut back = Vec::new();
        for i in 0..50u8 {
            b.write_all(&[i; 100]).unwrap();
            let mut got = [0u8; 100];
            std::io::Read::read_exact(&mut b, &mut got).unwrap();
            back.extend_from_slice(&got);
        }
        b.shutdown(std::net::Shutdown::Write).unwrap();
        back
    });
    let (dog, fired) = watchdog(&el.handle(), Duration::from_secs(30));
    el.run_forever().unwrap();
    dog.cancel();
    assert!(!fired.get(), "the echo finished");
    let back = peer.join().unwrap();
    let expected: Vec<u8> = (0..50u8).flat_map(|i| [i; 100]).collect();
    assert_eq!(back, expected);
    assert_eq!(*echo.received.borrow(), expected);
    el.close().unwrap();
}

#[test]
fn a_busy_loop_submits_and_reaps_at_the_end_of_the_pass() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let el = uring_loop();
    let lp = el.handle();
    // A callback that reschedules itself keeps the loop busy (it would
    // otherwise poll only every POLL_INTERVAL passes).
    let passes = Rc::new(Cell::new(0u32));
    fn spin(lp: Loop, passes: Rc<Cell<u32>>) {
        passes.set(passes.get() + 1);
        let l = lp.clone();
        lp.call_soon(move || spin(l, passes)).unwrap();
    }
    spin(lp.clone(), passes.clone());
    let (a, mut b) = UnixStream::pair().unwrap();
    b.write_all(b"ready").unwrap();
    struct At(Rc<Cell<u32>>, Rc<Cell<Option<u32>>>, Loop);
    impl OpHandler for At {
        fn complete(&self, c: Completion) {
            assert_eq!(c.data(), b"ready");
            self.1.set(Some(self.0.get()));
            self.2.stop();
        }
    }
    let at = Rc::new(Cell::new(None));
    let (p, t) = (passes.clone(), at.clone());
    let l = lp.clone();
    let fd = a.as_raw_fd();
    // Submitted from inside a pass, a few passes in.
    lp.call_soon(move || {
        let op = Op::Recv {
            fd,
            buf: Vec::with_capacity(16),
        };
        let submitted = p.get();
        l.submit_op(op, Rc::new(At(p.clone(), t.clone(), l.clone())))
            .unwrap();
        assert!(submitted >= 1);
    })
    .unwrap();
    let (dog, fired) = watchdog(&lp, Duration::from_secs(30));
    el.run_forever().unwrap();
    dog.cancel();
    assert!(!fired.get());
    let done_at = at.get().expect("the completion ran");
    assert!(
        done_at <= 4,
        "submitted in pass 1, completed in pass {done_at}: the busy loop skipped its poll"
    );
    el.close().unwrap();
}

#[test]
fn a_panicking_handler_is_reported_and_the_loop_goes_on() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let el = uring_loop();
    let seen = capture_exceptions(&el.handle());
    struct Boom(Loop);
    impl OpHandler for Boom {
        fn complete(&self, _: Completion) {
            self.0.stop();
            panic!("handler failed");
        }
    }
    let (a, mut b) = UnixStream::pair().unwrap();
    b.write_all(b"x").unwrap();
    el.submit_op(
        Op::Recv {
            fd: a.as_raw_fd(),
            buf: Vec::with_capacity(4),
        },
        Rc::new(Boom(el.handle())),
    )
    .unwrap();
    el.run_forever().unwrap();
    let seen = seen.borrow();
    assert_eq!(seen.len(), 1);
    assert!(
        matches!(seen[0].error, Some(Error::Panicked(_))),
        "{:?}",
        seen[0]
    );
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn closing_a_loop_with_operations_in_flight_cancels_them_and_leaks_nothing() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let before = open_fds();
    for _ in 0..10 {
        let el = uring_loop();
        let handler: Rc<dyn OpHandler> = Rc::new(Ignore);
        let mut keep = Vec::new();
        for _ in 0..5 {
            let (a, b) = UnixStream::pair().unwrap();
            el.submit_op(Op::RecvMulti { fd: a.as_raw_fd() }, handler.clone())
                .unwrap();
            el.submit_op(
                Op::Recv {
                    fd: b.as_raw_fd(),
                    buf: Vec::with_capacity(1024),
                },
                handler.clone(),
            )
            .unwrap();
            keep.push((a, b));
        }
        common::run_once(&el);
        assert!(
            Rc::strong_count(&handler) > 1,
            "operations in flight hold the handler"
        );
        el.close().unwrap();
        assert_eq!(Rc::strong_count(&handler), 1, "close ended every operation");
        drop(keep);
        drop(el);
    }
    assert_eq!(open_fds(), before, "descriptors leaked");
}

#[test]
fn submissions_are_refused_on_a_closed_loop_and_off_uring() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let el = uring_loop();
    el.close().unwrap();
    let err = el
        .submit_op(Op::RecvMulti { fd: 0 }, Rc::new(Ignore))
        .unwrap_err();
    assert!(matches!(err, Error::LoopClosed), "{err:?}");
    let epoll = EventLoop::builder()
        .backend(BackendKind::Epoll)
        .build()
        .unwrap();
    assert!(!epoll.has_completions());
    let err = epoll
        .submit_op(Op::RecvMulti { fd: 0 }, Rc::new(Ignore))
        .unwrap_err();
    let Error::Io(io) = &err else {
        panic!("an I/O error: {err:?}")
    };
    assert_eq!(io.kind(), std::io::ErrorKind::Unsupported);
}

#[test]
fn hooks_run_after_the_batch_and_before_the_next_poll() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for kind in [BackendKind::Epoll, BackendKind::Polling, BackendKind::Uring] {
        let el = EventLoop::builder().backend(kind).build().unwrap();
        let lp = el.handle();
        let log = common::new_log::<String>();
        let (a, mut b) = UnixStream::pair().unwrap();
        b.write_all(b"x").unwrap();
        let (l, l2) = (log.clone(), log.clone());
        let inner = lp.clone();
        lp.call_soon(move || {
            l.borrow_mut().push("callback".into());
            let l3 = l2.clone();
            inner.call_before_poll(move || {
                l3.borrow_mut().push("hook".into());
                let l4 = l3.clone();
                get_running_loop()
                    .unwrap()
                    .call_before_poll(move || l4.borrow_mut().push("nested hook".into()));
            });
        })
        .unwrap();
        let (l, lr) = (log.clone(), lp.clone());
        lp.add_reader(&a, move || {
            l.borrow_mut().push("reader".into());
            lr.stop();
        })
        .unwrap();
        el.run_forever().unwrap();
        let got = log.borrow().clone();
        // The reader runs in whichever pass polls first (a busy pass may
        // skip its poll): the hooks follow the callback's pass either way.
        let hooks: Vec<&String> = got.iter().filter(|e| *e != "reader").collect();
        assert_eq!(
            hooks,
            ["callback", "hook", "nested hook"],
            "{kind:?}: {got:?}"
        );
        assert!(got.contains(&"reader".to_string()), "{kind:?}");
        lp.remove_reader(a.as_raw_fd());
        // A panicking hook is reported; a closed loop drops hooks.
        let seen = capture_exceptions(&lp);
        let stopper = lp.clone();
        lp.call_before_poll(move || {
            stopper.stop();
            panic!("hook failed")
        });
        el.run_forever().unwrap();
        assert_eq!(seen.borrow().len(), 1, "{kind:?}");
        el.close().unwrap();
        let ran = Rc::new(Cell::new(false));
        let r = ran.clone();
        lp.call_before_poll(move || r.set(true));
        assert!(!ran.get());
    }
}
