//! UNIX signals on the loop (`add_signal_handler`, `remove_signal_handler`)
//! with real signals sent to this process: the handler runs later, on the
//! loop's thread, as a callback; replacing, removing and cancelling; typed
//! errors for numbers that are not signals and for uncatchable ones; panics
//! to the exception handler; bursts of 1,000 `SIGUSR1` (each followed by a
//! run of the handler) with `SIGTERM` never lost among them; two loops on
//! two threads; no descriptor left open.
//!
//! Signal dispositions belong to the process, so every test here takes one
//! lock, and a "keeper" loop on a thread of its own handles `SIGUSR1`,
//! `SIGUSR2` and `SIGTERM` for as long as the binary runs: a signal still
//! on its way when a test removes its handler then reaches the keeper
//! instead of ending the test binary. What removing the last handler does
//! (the default disposition comes back) is therefore tested in child
//! processes: this binary runs again with one `#[ignore]`d helper test
//! selected and [`CHILD_ENV`] set, and the parent checks how it ended.

mod common;

use std::cell::Cell;
use std::process::{ExitStatus, Stdio};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Once, PoisonError, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use common::{capture_exceptions, ends_with_file, new_log};
use rustix::process::{Signal, getpid, kill_process};
use tulip_executor::signal::{
    SIGBUS, SIGFPE, SIGILL, SIGINT, SIGKILL, SIGPIPE, SIGSEGV, SIGSTOP, SIGTERM, SIGUSR1, SIGUSR2,
};
use tulip_executor::{
    Error, EventLoop, ExceptionContext, current_task, get_running_loop, sleep, timeout,
};
use tulip_test::child::{child_test_run, is_child_run, say, wait_with_deadline};

/// Far above what any wait here takes.
const DEADLINE: Duration = Duration::from_secs(30);

/// Set in a child run of this binary: the helper test it selects may
/// change dispositions for good and end the process.
const CHILD_ENV: &str = "TULIP_SIGNALS_CHILD";

static SERIAL: Mutex<()> = Mutex::new(());

/// Takes the binary-wide lock, starting the keeper loop on first use.
fn serial() -> MutexGuard<'static, ()> {
    static KEEPER: Once = Once::new();
    let guard = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    KEEPER.call_once(|| {
        let (ready, wait) = mpsc::channel();
        thread::spawn(move || {
            let el = EventLoop::new().expect("keeper loop");
            for signum in [SIGUSR1, SIGUSR2, SIGTERM] {
                el.add_signal_handler(signum, || {})
                    .expect("keeper handler");
            }
            ready.send(()).expect("keeper ready");
            el.run_forever().expect("keeper runs");
        });
        wait.recv().expect("the keeper started");
    });
    guard
}

/// Sends `signum` to this process.
fn raise(signum: i32) {
    let signal = Signal::from_named_raw(signum).expect("a named signal");
    kill_process(getpid(), signal).expect("kill");
}

/// Runs the loop until `cond` holds; fails the test after [`DEADLINE`].
fn run_until(el: &EventLoop, what: &str, cond: impl Fn() -> bool + 'static) {
    let held = el
        .run_until_complete(async move {
            timeout(DEADLINE)
                .run(async move {
                    while !cond() {
                        sleep(Duration::from_millis(1)).await;
                    }
                })
                .await
        })
        .expect("run_until_complete");
    assert!(held.is_ok(), "timed out waiting until {what}");
}

/// Waits on this thread (no loop) until `cond` holds.
fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let end = Instant::now() + DEADLINE;
    while !cond() {
        assert!(Instant::now() < end, "timed out waiting until {what}");
        thread::sleep(Duration::from_micros(100));
    }
}

/// The number of descriptors this process has open, where `/proc` tells.
fn open_fds() -> Option<usize> {
    std::fs::read_dir("/proc/self/fd").ok().map(Iterator::count)
}

#[test]
fn the_handler_runs_later_on_the_loop_thread_as_a_callback() {
    let _serial = serial();
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let log = new_log();
    let context = Rc::new(Cell::new(None));
    let (l, c) = (log.clone(), context.clone());
    lp.add_signal_handler(SIGUSR1, move || {
        c.set(Some((
            thread::current().id(),
            get_running_loop().is_ok(),
            current_task().is_none(),
        )));
        l.borrow_mut().push("signal");
    })
    .unwrap();
    let l = log.clone();
    let lp2 = lp.clone();
    lp.call_soon(move || {
        raise(SIGUSR1);
        // Not inside the C handler, not before the loop gets to it, and
        // after what was queued first.
        assert!(l.borrow().is_empty());
        let l2 = l.clone();
        lp2.call_soon(move || l2.borrow_mut().push("call_soon"))
            .unwrap();
    })
    .unwrap();
    let l = log.clone();
    run_until(&el, "the handler ran", move || l.borrow().len() == 2);
    assert_eq!(*log.borrow(), ["call_soon", "signal"]);
    let (thread_id, in_loop, no_task) = context.get().unwrap();
    assert_eq!(thread_id, thread::current().id(), "on the loop's thread");
    assert!(in_loop, "inside the running loop");
    assert!(no_task, "a callback, not a task");
    assert!(lp.remove_signal_handler(SIGUSR1));
}

#[test]
fn a_handler_runs_again_for_each_later_signal() {
    let _serial = serial();
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let runs = Rc::new(Cell::new(0));
    let r = runs.clone();
    lp.add_signal_handler(SIGUSR2, move || r.set(r.get() + 1))
        .unwrap();
    for n in 1..=5 {
        raise(SIGUSR2);
        let r = runs.clone();
        run_until(&el, "the handler ran again", move || r.get() >= n);
        assert_eq!(runs.get(), n, "one signal, one run");
    }
    assert!(lp.remove_signal_handler(SIGUSR2));
}

#[test]
fn a_new_handler_replaces_and_cancels_the_old_one() {
    let _serial = serial();
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let log = new_log();
    let l = log.clone();
    let first = lp
        .add_signal_handler(SIGUSR1, move || l.borrow_mut().push("first"))
        .unwrap();
    let l = log.clone();
    let second = lp
        .add_signal_handler(SIGUSR1, move || l.borrow_mut().push("second"))
        .unwrap();
    assert!(first.cancelled(), "the replaced handler is cancelled");
    assert!(!second.cancelled());
    raise(SIGUSR1);
    let l = log.clone();
    run_until(&el, "the new handler ran", move || !l.borrow().is_empty());
    assert_eq!(*log.borrow(), ["second"]);
    assert!(lp.remove_signal_handler(SIGUSR1));
    assert!(second.cancelled(), "a removed handler is cancelled");
}

#[test]
fn remove_says_whether_a_handler_was_set() {
    let _serial = serial();
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    assert!(!lp.remove_signal_handler(SIGUSR1), "nothing set yet");
    lp.add_signal_handler(SIGUSR1, || {}).unwrap();
    lp.add_signal_handler(SIGUSR2, || {}).unwrap();
    assert!(lp.remove_signal_handler(SIGUSR1));
    assert!(!lp.remove_signal_handler(SIGUSR1), "already removed");
    assert!(!lp.remove_signal_handler(0), "not a signal");
    assert!(!lp.remove_signal_handler(SIGKILL));
    assert!(lp.remove_signal_handler(SIGUSR2));
}

#[test]
fn invalid_and_uncatchable_signals_are_typed_errors() {
    let _serial = serial();
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let before = open_fds();
    for signum in [
        0,
        -1,
        128,
        1000,
        i32::MIN,
        i32::MAX,
        SIGKILL,
        SIGSTOP,
        SIGSEGV,
        SIGBUS,
        SIGFPE,
        SIGILL,
    ] {
        match lp.add_signal_handler(signum, || {}) {
            Err(Error::InvalidSignal(n)) => assert_eq!(n, signum),
            other => panic!("signal {signum}: {other:?}"),
        }
        assert!(!lp.remove_signal_handler(signum));
    }
    assert_eq!(open_fds(), before, "no self-pipe is left behind");
    let msg = lp
        .add_signal_handler(SIGKILL, || {})
        .unwrap_err()
        .to_string();
    assert!(msg.contains(&SIGKILL.to_string()), "{msg}");
}

#[test]
fn a_closed_loop_refuses_handlers() {
    let _serial = serial();
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    el.close().unwrap();
    assert!(matches!(
        lp.add_signal_handler(SIGUSR1, || {}),
        Err(Error::LoopClosed)
    ));
    assert!(!lp.remove_signal_handler(SIGUSR1));
}

#[test]
fn a_cancelled_handle_removes_its_handler_when_the_signal_comes() {
    let _serial = serial();
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    let handle = lp.add_signal_handler(SIGUSR1, move || r.set(true)).unwrap();
    assert!(handle.cancel());
    // SIGUSR2 as a fence: its callback runs once SIGUSR1 was dispatched.
    let fence = Rc::new(Cell::new(false));
    let f = fence.clone();
    lp.add_signal_handler(SIGUSR2, move || f.set(true)).unwrap();
    raise(SIGUSR1);
    raise(SIGUSR2);
    let f = fence.clone();
    run_until(&el, "the fence ran", move || f.get());
    assert!(!ran.get(), "a cancelled handler does not run");
    assert!(
        !lp.remove_signal_handler(SIGUSR1),
        "the signal removed the cancelled handler"
    );
    assert!(lp.remove_signal_handler(SIGUSR2));
}

#[test]
fn a_handler_may_remove_itself() {
    let _serial = serial();
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let removed = Rc::new(Cell::new(None));
    let r = removed.clone();
    lp.add_signal_handler(SIGUSR1, move || {
        r.set(Some(
            get_running_loop().unwrap().remove_signal_handler(SIGUSR1),
        ));
    })
    .unwrap();
    raise(SIGUSR1);
    let r = removed.clone();
    run_until(&el, "the handler ran", move || r.get().is_some());
    assert_eq!(removed.get(), Some(true));
    assert!(!lp.remove_signal_handler(SIGUSR1));
}

#[test]
fn a_panicking_handler_goes_to_the_exception_handler() {
    let _serial = serial();
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let seen = capture_exceptions(&lp);
    let handle = lp
        .add_signal_handler(SIGUSR2, || panic!("boom in a signal handler"))
        .unwrap();
    for n in 1..=2 {
        raise(SIGUSR2);
        let s = seen.clone();
        run_until(&el, "the panic was reported", move || s.borrow().len() >= n);
    }
    let seen = seen.borrow();
    let ctx: &ExceptionContext = &seen[0];
    assert!(ctx.error.as_ref().is_some_and(Error::is_panic), "{ctx:?}");
    let reported = ctx.handle.as_ref().expect("the callback's handle");
    assert!(ends_with_file(
        reported.source_location().file(),
        "loop_signals.rs"
    ));
    assert_eq!(reported.source_location(), handle.source_location());
    assert!(lp.remove_signal_handler(SIGUSR2), "still registered");
}

/// How many times a handler ran, shared with a sending thread.
fn counting_handler(el: &EventLoop, signum: i32) -> Arc<AtomicUsize> {
    Probe::new(el, signum).runs
}

/// A handler that counts its runs and notes the mark a sending thread had
/// set when each run started: a run that saw mark `m` started after the
/// signal sent with [`Probe::raise_marked`]`(m)` was about to be sent.
#[derive(Clone)]
struct Probe {
    signum: i32,
    runs: Arc<AtomicUsize>,
    mark: Arc<AtomicUsize>,
    seen: Arc<AtomicUsize>,
}

impl Probe {
    fn new(el: &EventLoop, signum: i32) -> Probe {
        let probe = Probe {
            signum,
            runs: Arc::new(AtomicUsize::new(0)),
            mark: Arc::new(AtomicUsize::new(0)),
            seen: Arc::new(AtomicUsize::new(0)),
        };
        let p = probe.clone();
        el.add_signal_handler(signum, move || {
            p.runs.fetch_add(1, Ordering::SeqCst);
            p.seen
                .store(p.mark.load(Ordering::SeqCst), Ordering::SeqCst);
        })
        .unwrap();
        probe
    }

    /// Sets the mark, then sends the signal.
    fn raise_marked(&self, mark: usize) {
        self.mark.store(mark, Ordering::SeqCst);
        raise(self.signum);
    }

    /// Waits (on a sending thread) for a run that started after the
    /// signal marked `mark`: one the signal caused, or one already on its
    /// way that covers it.
    fn wait_run_after(&self, mark: usize) {
        wait_until(&format!("a run after signal mark {mark}"), || {
            self.seen.load(Ordering::SeqCst) >= mark
        });
    }

    fn runs(&self) -> usize {
        self.runs.load(Ordering::SeqCst)
    }
}

/// Runs `el` while `send` runs on a thread of its own, until it returns.
fn run_while_sending(el: &EventLoop, send: impl FnOnce() + Send + 'static) {
    let done = Arc::new(AtomicBool::new(false));
    let d = done.clone();
    let sender = thread::spawn(move || {
        send();
        d.store(true, Ordering::SeqCst);
    });
    let d = done.clone();
    let finished = el.run_until_complete(async move {
        timeout(DEADLINE * 2)
            .run(async move {
                while !d.load(Ordering::SeqCst) {
                    sleep(Duration::from_millis(1)).await;
                }
            })
            .await
    });
    // The sender's own failure (a timeout) is the better message.
    sender.join().expect("the sending thread");
    assert!(matches!(finished, Ok(Ok(()))), "{finished:?}");
}

#[test]
fn each_of_1000_sigusr1_is_followed_by_a_run_of_the_handler() {
    let _serial = serial();
    let el = EventLoop::new().unwrap();
    let usr1 = Probe::new(&el, SIGUSR1);
    let p = usr1.clone();
    run_while_sending(&el, move || {
        for i in 1..=1000 {
            p.raise_marked(i);
            p.wait_run_after(i);
        }
    });
    assert!(usr1.runs() >= 1000, "{} runs", usr1.runs());
    assert!(el.remove_signal_handler(SIGUSR1));
}

#[test]
fn bursts_of_1000_sigusr1_coalesce_but_never_lose_the_last_nor_sigterm() {
    let _serial = serial();
    let el = EventLoop::new().unwrap();
    let usr1 = Probe::new(&el, SIGUSR1);
    let term = Probe::new(&el, SIGTERM);
    let (u, t) = (usr1.clone(), term.clone());
    run_while_sending(&el, move || {
        for burst in 1..=5 {
            for i in 1..1000 {
                raise(SIGUSR1);
                if i == 200 * burst - 100 {
                    raise(SIGTERM);
                }
            }
            u.raise_marked(burst);
            u.wait_run_after(burst);
            // One SIGTERM per burst, and one run for each.
            wait_until(&format!("the SIGTERM of burst {burst}"), || {
                t.runs() >= burst
            });
        }
    });
    assert!((5..=5000).contains(&usr1.runs()), "{} runs", usr1.runs());
    assert_eq!(term.runs(), 5, "one run per SIGTERM");
    assert!(el.remove_signal_handler(SIGUSR1));
    assert!(el.remove_signal_handler(SIGTERM));
}

#[test]
fn every_loop_that_handles_a_signal_runs_its_handler() {
    let _serial = serial();
    let el = EventLoop::new().unwrap();
    let here = counting_handler(&el, SIGUSR2);
    let (to_main, from_other) = mpsc::channel();
    let finished = Arc::new(AtomicBool::new(false));
    let f = finished.clone();
    let other = thread::spawn(move || {
        let el = EventLoop::new().unwrap();
        let there = counting_handler(&el, SIGUSR2);
        to_main.send("registered").unwrap();
        let t = there.clone();
        run_until(&el, "the other loop's handler ran", move || {
            t.load(Ordering::SeqCst) >= 1
        });
        assert!(el.remove_signal_handler(SIGUSR2));
        to_main.send("removed").unwrap();
        // Keep running while the main loop gets its second signal.
        run_until(&el, "the main loop is done", move || {
            f.load(Ordering::SeqCst)
        });
        there.load(Ordering::SeqCst)
    });
    assert_eq!(from_other.recv().unwrap(), "registered");
    raise(SIGUSR2);
    let h = here.clone();
    run_until(&el, "this loop's handler ran", move || {
        h.load(Ordering::SeqCst) >= 1
    });
    assert_eq!(from_other.recv().unwrap(), "removed");
    raise(SIGUSR2);
    let h = here.clone();
    run_until(&el, "this loop's handler ran again", move || {
        h.load(Ordering::SeqCst) >= 2
    });
    finished.store(true, Ordering::SeqCst);
    let there = other.join().expect("the other loop's thread");
    assert_eq!(there, 1, "a removed handler does not run again");
    assert!(el.remove_signal_handler(SIGUSR2));
}

#[test]
fn no_descriptor_is_left_open() {
    let _serial = serial();
    let Some(_) = open_fds() else {
        return;
    };
    let el = EventLoop::new().unwrap();
    let before = open_fds();
    for _ in 0..3 {
        for signum in [SIGUSR1, SIGUSR2, SIGTERM] {
            el.add_signal_handler(signum, || {}).unwrap();
        }
        assert!(open_fds() > before, "a self-pipe while handlers are set");
        for signum in [SIGUSR1, SIGUSR2, SIGTERM] {
            assert!(el.remove_signal_handler(signum));
        }
        assert_eq!(open_fds(), before, "the self-pipe closes with the last one");
    }
    el.add_signal_handler(SIGUSR1, || {}).unwrap();
    el.close().unwrap();
    assert_eq!(open_fds(), before, "closing the loop closes the self-pipe");
    drop(el);
}

/// Runs the `#[ignore]`d helper test `name` in a child run of this binary;
/// its exit status and standard output.
fn run_child(name: &str) -> (ExitStatus, String) {
    let mut child = child_test_run(name, CHILD_ENV)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the child");
    let status = wait_with_deadline(&mut child, DEADLINE, name);
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
    (status, out)
}

/// In a child: whether this is one (else the helper returns at once).
fn in_child() -> bool {
    is_child_run(CHILD_ENV)
}

/// Handles one `signum` on `el` with a fresh handler, then removes it.
fn handle_once(el: &EventLoop, signum: i32) {
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    el.add_signal_handler(signum, move || r.set(true)).unwrap();
    raise(signum);
    run_until(el, "the handler ran", move || ran.get());
    assert!(el.remove_signal_handler(signum));
}

#[test]
#[ignore = "run in a child process by removing_the_last_sigint_handler_restores_the_default"]
fn child_removed_sigint_handler() {
    if !in_child() {
        return;
    }
    let el = EventLoop::new().unwrap();
    handle_once(&el, SIGINT);
    say("handled once");
    // Registering again after the default came back works.
    handle_once(&el, SIGINT);
    say("handled twice");
    raise(SIGINT);
    thread::sleep(Duration::from_secs(5));
    say("survived");
}

#[test]
fn removing_the_last_sigint_handler_restores_the_default() {
    let _serial = serial();
    use std::os::unix::process::ExitStatusExt;
    let (status, out) = run_child("child_removed_sigint_handler");
    assert!(out.contains("handled once\nhandled twice\n"), "{out}");
    assert!(!out.contains("survived"), "{out}");
    assert_eq!(status.signal(), Some(SIGINT), "{status:?}");
}

#[test]
#[ignore = "run in a child process by closing_the_loop_restores_the_default"]
fn child_closed_loop() {
    if !in_child() {
        return;
    }
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    lp.add_signal_handler(SIGTERM, || {}).unwrap();
    lp.add_signal_handler(SIGUSR1, || {}).unwrap();
    el.close().unwrap();
    say("closed");
    raise(SIGTERM);
    thread::sleep(Duration::from_secs(5));
    say("survived");
}

#[test]
fn closing_the_loop_restores_the_default() {
    let _serial = serial();
    use std::os::unix::process::ExitStatusExt;
    let (status, out) = run_child("child_closed_loop");
    assert!(out.contains("closed\n"), "{out}");
    assert!(!out.contains("survived"), "{out}");
    assert_eq!(status.signal(), Some(SIGTERM), "{status:?}");
}

#[test]
#[ignore = "run in a child process by the_disposition_from_before_comes_back"]
fn child_previous_disposition() {
    if !in_child() {
        return;
    }
    // Rust programs start with SIGPIPE ignored: that comes back, not the
    // default (which would end the process).
    let el = EventLoop::new().unwrap();
    handle_once(&el, SIGPIPE);
    if let Some((ignored, caught)) = signal_masks() {
        let bit = 1u64 << (SIGPIPE - 1);
        assert!(
            ignored & bit != 0 && caught & bit == 0,
            "SIGPIPE ignored again"
        );
    }
    raise(SIGPIPE);
    thread::sleep(Duration::from_millis(200));
    say("alive");
}

/// This process's ignored and caught signals (`/proc`'s `SigIgn` and
/// `SigCgt`), where `/proc` tells.
fn signal_masks() -> Option<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let mask = |key: &str| {
        let hex = status.lines().find_map(|l| l.strip_prefix(key))?;
        u64::from_str_radix(hex.trim(), 16).ok()
    };
    Some((mask("SigIgn:")?, mask("SigCgt:")?))
}

#[test]
fn the_disposition_from_before_comes_back() {
    let _serial = serial();
    let (status, out) = run_child("child_previous_disposition");
    assert!(out.contains("alive\n"), "{out}");
    assert!(status.success(), "{status:?}");
}
