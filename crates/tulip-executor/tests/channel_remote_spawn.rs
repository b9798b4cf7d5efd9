//! `RemoteLoop::spawn` between two loops on two threads: the result comes
//! back, a panic and a cancellation are errors, dropping the `RemoteTask`
//! cancels the task on its loop, a closed loop refuses the task, and plain
//! threads join it.

use std::rc::Rc;
use std::sync::mpsc;
use std::thread::{self, ThreadId};
use std::time::Duration;

use tulip::{Error, EventLoop, RemoteLoop};
use tulip_test::run;

/// A loop on its own thread, running until stopped; also its thread's id.
fn loop_thread() -> (RemoteLoop, ThreadId, thread::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel();
    let handle = thread::spawn(move || {
        let ev = EventLoop::new().unwrap();
        tx.send(ev.remote()).unwrap();
        ev.run_forever().unwrap();
        ev.close().unwrap();
    });
    let id = handle.thread().id();
    (rx.recv().unwrap(), id, handle)
}

fn stop(remote: RemoteLoop, handle: thread::JoinHandle<()>) {
    remote.stop().unwrap();
    handle.join().unwrap();
}

#[test]
fn the_result_comes_back_to_the_calling_loop() {
    let (remote, worker_id, handle) = loop_thread();
    let r = remote.clone();
    let (ran_on, value) = run(async move {
        r.spawn(|| async {
            // `!Send` state is fine inside the task: it never leaves its loop.
            let local = Rc::new(20);
            tulip::sleep(Duration::from_millis(5)).await;
            (thread::current().id(), *local + 1)
        })
        .await
        .unwrap()
    });
    assert_eq!(ran_on, worker_id);
    assert_eq!(value, 21);
    stop(remote, handle);
}

#[test]
fn a_panic_in_the_remote_task_is_an_error_here() {
    let (remote, _, handle) = loop_thread();
    let r = remote.clone();
    let err = run(async move {
        let out: Result<(), Error> = r
            .spawn(|| async {
                tulip::yield_now().await;
                panic!("boom on the other loop");
            })
            .await;
        out.unwrap_err()
    });
    assert!(err.is_panic(), "{err:?}");
    // The other loop keeps serving.
    assert_eq!(remote.spawn(|| async { 5 }).join_blocking().unwrap(), 5);
    stop(remote, handle);
}

/// Reports on which thread it was dropped.
struct DropReport(mpsc::Sender<ThreadId>);

impl Drop for DropReport {
    fn drop(&mut self) {
        let _ = self.0.send(thread::current().id());
    }
}

#[test]
fn dropping_the_remote_task_cancels_it_on_its_loop() {
    let (remote, worker_id, handle) = loop_thread();
    let (started_tx, started_rx) = mpsc::channel();
    let (dropped_tx, dropped_rx) = mpsc::channel();
    let task = remote.spawn(move || async move {
        let _guard = DropReport(dropped_tx);
        started_tx.send(()).unwrap();
        std::future::pending::<()>().await
    });
    started_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    drop(task);
    // The task's future (and the guard it owns) is dropped on its loop.
    let dropped_on = dropped_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(dropped_on, worker_id);
    stop(remote, handle);
}

#[test]
fn cancel_makes_the_outcome_cancelled_and_detach_lets_it_run() {
    let (remote, _, handle) = loop_thread();
    let task = remote.spawn(std::future::pending::<()>);
    assert!(task.cancel());
    assert!(task.join_blocking().unwrap_err().is_cancelled());

    let (tx, rx) = tulip::channel::unbounded();
    remote
        .spawn(move || async move {
            tulip::sleep(Duration::from_millis(5)).await;
            tx.try_send("ran").unwrap();
        })
        .detach();
    let got = run(async move { rx.recv().await });
    assert_eq!(got, Ok("ran"));
    stop(remote, handle);
}

#[test]
fn a_closed_loop_refuses_the_task() {
    let ev = EventLoop::new().unwrap();
    let remote = ev.remote();
    ev.close().unwrap();
    let task = remote.spawn(|| async { 1 });
    assert!(task.is_done());
    assert!(matches!(task.join_blocking(), Err(Error::LoopClosed)));
    let err = run(async move { remote.spawn(|| async { 2 }).await.unwrap_err() });
    assert!(matches!(err, Error::LoopClosed));
}

#[test]
fn a_loop_closed_before_it_runs_the_task_refuses_it() {
    let ev = EventLoop::new().unwrap();
    let task = ev.remote().spawn(|| async { 1 });
    ev.close().unwrap();
    assert!(matches!(task.join_blocking(), Err(Error::LoopClosed)));
}

#[test]
fn loops_call_each_other_both_ways() {
    let (a, _, ha) = loop_thread();
    let (b, _, hb) = loop_thread();
    let b2 = b.clone();
    // A task on loop a asks loop b for a value, itself awaited from here.
    let v = a
        .spawn(move || async move { b2.spawn(|| async { 40 }).await.unwrap() + 2 })
        .join_blocking()
        .unwrap();
    assert_eq!(v, 42);
    stop(a, ha);
    stop(b, hb);
}
