//! `run_coroutine_threadsafe` from another thread (blocking `result`,
//! `cancel`, a `cancel` arriving during the last poll, an unrepresentable
//! `result` timeout, awaiting the handle, a closed loop) and
//! `ensure_future`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use tulip_executor::{
    Error, EventLoop, RemoteLoop, ensure_future, run_coroutine_threadsafe, sleep,
};

#[test]
fn result_from_another_thread() {
    let el = EventLoop::new().unwrap();
    let remote = el.handle().remote();
    let worker = std::thread::spawn(move || {
        let fut = run_coroutine_threadsafe(&remote, || async {
            sleep(Duration::from_millis(1)).await;
            String::from("from the loop")
        });
        let r = fut.result(Some(Duration::from_secs(30)));
        assert!(fut.done());
        assert!(matches!(fut.result(None), Err(Error::InvalidState(_))));
        remote.stop().unwrap();
        r
    });
    el.run_forever().unwrap();
    assert_eq!(worker.join().unwrap().unwrap(), "from the loop");
}

#[test]
fn cancel_from_another_thread_drops_the_future() {
    let el = EventLoop::new().unwrap();
    let remote = el.handle().remote();
    let dropped = Arc::new(AtomicBool::new(false));
    let d = dropped.clone();
    let worker = std::thread::spawn(move || {
        let (started_tx, started_rx) = mpsc::channel();
        struct Guard(Arc<AtomicBool>);
        impl Drop for Guard {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let fut = run_coroutine_threadsafe(&remote, move || async move {
            let _g = Guard(d);
            started_tx.send(()).unwrap();
            std::future::pending::<()>().await;
        });
        started_rx.recv().unwrap();
        assert!(!fut.done());
        assert!(fut.cancel());
        let r = fut.result(Some(Duration::from_secs(30)));
        remote.stop().unwrap();
        r
    });
    el.run_forever().unwrap();
    assert!(worker.join().unwrap().unwrap_err().is_cancelled());
    assert!(dropped.load(Ordering::SeqCst));
}

#[test]
fn awaitable_from_another_loop_and_panics_are_outcomes() {
    let el = EventLoop::new().unwrap();
    let remote = el.handle().remote();
    let worker = std::thread::spawn(move || {
        let other = EventLoop::new().unwrap();
        let r = other
            .run_until_complete(run_coroutine_threadsafe(&remote, || async { 7 }))
            .unwrap();
        let p = run_coroutine_threadsafe(&remote, || async { panic!("remote boom") });
        let p = p.result(Some(Duration::from_secs(30)));
        remote.stop().unwrap();
        (r, p)
    });
    el.run_forever().unwrap();
    let (r, p) = worker.join().unwrap();
    assert_eq!(r.unwrap(), 7);
    assert!(p.unwrap_err().is_panic());
}

#[test]
fn closed_loop_is_an_error() {
    let el = EventLoop::new().unwrap();
    let remote = el.handle().remote();
    let pending = run_coroutine_threadsafe(&remote, || async { 1 });
    el.close().unwrap();
    assert!(matches!(
        pending.result(Some(Duration::from_secs(5))),
        Err(Error::LoopClosed)
    ));
    let after = run_coroutine_threadsafe(&remote, || async { 1 });
    assert!(matches!(after.result(None), Err(Error::LoopClosed)));
}

#[test]
fn ensure_future_spawns_on_the_running_loop() {
    let el = EventLoop::new().unwrap();
    let r = el
        .run_until_complete(async { ensure_future(async { 3 }).await })
        .unwrap();
    assert_eq!(r.unwrap(), 3);
}

/// Stops the loop when dropped, even by a panicking worker (so that a
/// failure cannot leave `run_forever` waiting).
struct StopOnDrop(RemoteLoop);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let _ = self.0.stop();
    }
}

#[test]
fn a_cancel_during_the_last_poll_wins_over_the_value() {
    // The future's one poll lets the other thread call cancel() (which
    // returns true), then returns Ready: the outcome must be Cancelled.
    let el = EventLoop::new().unwrap();
    let remote = el.handle().remote();
    let worker = std::thread::spawn(move || {
        let remote = StopOnDrop(remote);
        let (polling_tx, polling_rx) = mpsc::channel::<()>();
        let (cancelled_tx, cancelled_rx) = mpsc::channel::<bool>();
        let fut = run_coroutine_threadsafe(&remote.0, move || {
            std::future::poll_fn(move |_| {
                polling_tx.send(()).unwrap();
                assert!(cancelled_rx.recv().unwrap());
                std::task::Poll::Ready(String::from("value"))
            })
        });
        polling_rx.recv().unwrap();
        let accepted = fut.cancel();
        cancelled_tx.send(accepted).unwrap();
        let r = fut.result(Some(Duration::from_secs(30)));
        (accepted, r)
    });
    el.run_forever().unwrap();
    let (accepted, r) = worker.join().unwrap();
    assert!(accepted, "cancel() arrived before the outcome was set");
    assert!(r.unwrap_err().is_cancelled());
}

#[test]
fn result_with_an_unrepresentable_timeout_waits_without_limit() {
    let el = EventLoop::new().unwrap();
    let remote = el.handle().remote();
    let worker = std::thread::spawn(move || {
        let remote = StopOnDrop(remote);
        let fut = run_coroutine_threadsafe(&remote.0, || async {
            sleep(Duration::from_millis(1)).await;
            7
        });
        fut.result(Some(Duration::MAX))
    });
    el.run_forever().unwrap();
    assert_eq!(worker.join().unwrap().unwrap(), 7);
}
