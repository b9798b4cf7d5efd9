//! The cross-thread side of the loop: `RemoteLoop::call_soon_threadsafe`
//! delivers every callback exactly once (8 threads x 100,000 calls), in
//! order per sending thread, and wakes a loop blocked in its poll;
//! `RemoteLoop::stop` stops it from another thread; a task's waker can be
//! woken from another thread, even after its loop closed.

mod common;

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::Duration;

use common::{run_once, watchdog};
use tulip_executor::{EventLoop, get_running_loop};

const THREADS: usize = 8;
const PER_THREAD: u32 = 100_000;

thread_local! {
    /// Per sending thread: the next sequence number expected.
    static NEXT: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
    static TOTAL: Cell<usize> = const { Cell::new(0) };
    static OUT_OF_ORDER: Cell<usize> = const { Cell::new(0) };
}

fn receive(thread_idx: usize, seq: u32) {
    NEXT.with(|n| {
        let mut n = n.borrow_mut();
        if n[thread_idx] != seq {
            OUT_OF_ORDER.with(|o| o.set(o.get() + 1));
        }
        n[thread_idx] = seq + 1;
    });
    let total = TOTAL.with(|t| {
        t.set(t.get() + 1);
        t.get()
    });
    if total == THREADS * PER_THREAD as usize {
        get_running_loop().unwrap().stop();
    }
}

#[test]
fn call_soon_threadsafe_delivers_exactly_once_from_eight_threads() {
    NEXT.with(|n| *n.borrow_mut() = vec![0; THREADS]);
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let (dog, fired) = watchdog(&lp, Duration::from_secs(60));
    let barrier = Arc::new(std::sync::Barrier::new(THREADS));
    let senders: Vec<_> = (0..THREADS)
        .map(|idx| {
            let remote = lp.remote();
            let barrier = barrier.clone();
            thread::spawn(move || {
                barrier.wait();
                for seq in 0..PER_THREAD {
                    remote
                        .call_soon_threadsafe(move || receive(idx, seq))
                        .unwrap();
                }
            })
        })
        .collect();
    el.run_forever().unwrap();
    for s in senders {
        s.join().unwrap();
    }
    assert!(!fired.get(), "watchdog fired: lost callbacks");
    dog.cancel();
    let total = TOTAL.with(Cell::get);
    assert_eq!(total, THREADS * PER_THREAD as usize);
    // No duplicates arrive later.
    run_once(&el);
    run_once(&el);
    assert_eq!(TOTAL.with(Cell::get), total);
    assert_eq!(OUT_OF_ORDER.with(Cell::get), 0, "per-thread FIFO broken");
    NEXT.with(|n| assert!(n.borrow().iter().all(|&next| next == PER_THREAD)));
}

#[test]
fn call_soon_threadsafe_wakes_a_loop_blocked_in_its_poll() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let remote = lp.remote();
    let (tx, rx) = mpsc::channel::<()>();
    // Tell the other thread once the loop runs; it then waits a moment so
    // that the loop is (most likely) blocked in an infinite poll.
    lp.call_soon(move || tx.send(()).unwrap()).unwrap();
    // The poll waits for the watchdog's 30 s: only the notification can end
    // it early.
    let (dog, fired) = watchdog(&lp, Duration::from_secs(30));
    let t = thread::spawn(move || {
        rx.recv().unwrap();
        thread::sleep(Duration::from_millis(20));
        remote
            .call_soon_threadsafe(|| get_running_loop().unwrap().stop())
            .unwrap();
    });
    el.run_forever().unwrap();
    t.join().unwrap();
    assert!(!fired.get());
    dog.cancel();
}

#[test]
fn remote_stop_from_another_thread() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let remote = lp.remote();
    let (tx, rx) = mpsc::channel::<()>();
    lp.call_soon(move || tx.send(()).unwrap()).unwrap();
    let (dog, fired) = watchdog(&lp, Duration::from_secs(30));
    let t = thread::spawn(move || {
        rx.recv().unwrap();
        thread::sleep(Duration::from_millis(20));
        remote.stop().unwrap();
    });
    el.run_forever().unwrap();
    t.join().unwrap();
    assert!(!fired.get());
    dog.cancel();
    assert!(!el.is_running());
    // The loop runs again afterwards.
    let ran = std::rc::Rc::new(Cell::new(false));
    let r = ran.clone();
    lp.call_soon(move || r.set(true)).unwrap();
    run_once(&el);
    assert!(ran.get());
}

#[test]
fn remote_stop_before_run_forever_makes_it_do_one_pass() {
    let el = EventLoop::new().unwrap();
    let remote = el.remote();
    let clone = remote.clone();
    thread::spawn(move || clone.stop().unwrap()).join().unwrap();
    let ran = std::rc::Rc::new(Cell::new(false));
    let r = ran.clone();
    el.call_soon(move || r.set(true)).unwrap();
    el.run_forever().unwrap();
    assert!(ran.get());
    assert!(!remote.is_closed());
}

/// Resolves once another thread has woken it: the first poll hands the
/// waker to a new thread.
struct WokenFromThread {
    done: Arc<AtomicBool>,
    waker_out: Option<mpsc::Sender<Waker>>,
}

impl Future for WokenFromThread {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.done.load(Ordering::SeqCst) {
            return Poll::Ready(());
        }
        if let Some(tx) = self.waker_out.take() {
            tx.send(cx.waker().clone()).unwrap();
        }
        Poll::Pending
    }
}

#[test]
fn a_task_woken_from_another_thread_resumes() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let done = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel::<Waker>();
    let d = done.clone();
    let waker_thread = thread::spawn(move || {
        let waker = rx.recv().unwrap();
        thread::sleep(Duration::from_millis(10));
        d.store(true, Ordering::SeqCst);
        waker.wake();
    });
    let (dog, fired) = watchdog(&lp, Duration::from_secs(30));
    let out = el
        .run_until_complete(async move {
            WokenFromThread {
                done,
                waker_out: Some(tx),
            }
            .await;
            "resumed"
        })
        .unwrap();
    waker_thread.join().unwrap();
    assert!(!fired.get());
    dog.cancel();
    assert_eq!(out, "resumed");
}

#[test]
fn waking_a_task_of_a_closed_loop_from_another_thread_is_harmless() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let (tx, rx) = mpsc::channel::<Waker>();
    let task = lp.create_task(WokenFromThread {
        done: Arc::new(AtomicBool::new(false)),
        waker_out: Some(tx),
    });
    run_once(&el);
    let waker = rx.recv().unwrap();
    el.close().unwrap();
    assert!(task.done() && task.cancelled());
    thread::spawn(move || {
        waker.wake_by_ref();
        waker.wake();
    })
    .join()
    .unwrap();
    drop(task);
}
