//! Contexts of callbacks and of work sent to other threads: `call_soon`,
//! `call_later`, `call_at`, `add_reader` and `add_writer` callbacks run in
//! the context current when they were scheduled (or the one given), their
//! sets stay theirs (a reader's persist from one call to the next, as in
//! asyncio's `Context.run` of one context), `Handle::get_context`;
//! `call_soon_threadsafe` carries the calling thread's context;
//! `run_in_executor` and `to_thread` run the function on the worker thread
//! in a copy of the caller's context; done callbacks run in the context of
//! `add_done_callback`'s caller.

mod common;

use std::cell::RefCell;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::sync::mpsc;
use std::time::Duration;

use common::{run_once, watchdog};
use tulip_executor::contextvars::{Context, ContextVar};
use tulip_executor::{EventLoop, spawn, to_thread};
use tulip_test::paused_loop;

static USER: ContextVar<String> = ContextVar::new("user");
static COUNT: ContextVar<u32> = ContextVar::new("count");

fn ctx_with_user(name: &str) -> Context {
    let mut ctx = Context::new();
    ctx.run(|| USER.set(name.to_string()));
    ctx
}

fn slot<T>() -> Rc<RefCell<Vec<T>>> {
    Rc::new(RefCell::new(Vec::new()))
}

#[test]
fn call_soon_runs_in_the_context_at_schedule_time() {
    let el = EventLoop::new().unwrap();
    let seen = slot();
    let s = seen.clone();
    USER.set("first".into());
    let h1 = el
        .call_soon(move || s.borrow_mut().push(USER.get()))
        .unwrap();
    USER.set("second".into());
    let s = seen.clone();
    let h2 = el
        .call_soon(move || {
            s.borrow_mut().push(USER.get());
            USER.set("changed by a callback".into());
        })
        .unwrap();
    let s = seen.clone();
    el.call_soon(move || s.borrow_mut().push(USER.get()))
        .unwrap();
    assert_eq!(h1.get_context().get(&USER).as_deref(), Some("first"));
    assert_eq!(h2.get_context().get(&USER).as_deref(), Some("second"));
    run_once(&el);
    assert_eq!(
        *seen.borrow(),
        [
            Some("first".into()),
            Some("second".into()),
            Some("second".into())
        ],
        "a callback's set stays in its own context"
    );
    assert_eq!(USER.get().as_deref(), Some("second"));
}

#[test]
fn explicit_contexts_for_call_soon_and_timers() {
    let el = paused_loop();
    let lp = el.handle();
    let seen = slot();
    let (s1, s2, s3) = (seen.clone(), seen.clone(), seen.clone());
    USER.set("ambient".into());
    lp.call_soon_with_context(
        move || s1.borrow_mut().push(USER.get()),
        ctx_with_user("soon"),
    )
    .unwrap();
    let later = lp
        .call_later_with_context(
            Duration::from_secs(2),
            move || s2.borrow_mut().push(USER.get()),
            ctx_with_user("later"),
        )
        .unwrap();
    assert_eq!(later.get_context().get(&USER).as_deref(), Some("later"));
    let at = lp.time() + Duration::from_secs(1);
    lp.call_at_with_context(at, move || s3.borrow_mut().push(USER.get()), Context::new())
        .unwrap();
    // A plain timer captures the current one.
    let s4 = seen.clone();
    lp.call_later(Duration::from_secs(3), move || {
        s4.borrow_mut().push(USER.get())
    })
    .unwrap();
    let l = lp.clone();
    lp.call_later(Duration::from_secs(4), move || l.stop())
        .unwrap();
    el.run_forever().unwrap();
    assert_eq!(
        *seen.borrow(),
        [
            Some("soon".into()),
            None,
            Some("later".into()),
            Some("ambient".into())
        ]
    );
}

#[test]
fn callbacks_scheduled_from_a_task_see_the_task() {
    let el = paused_loop();
    let lp = el.handle();
    let seen = slot();
    let s = seen.clone();
    el.run_until_complete(async move {
        let task = spawn(async move {
            USER.set("task".into());
            let s2 = s.clone();
            lp.call_soon(move || s2.borrow_mut().push(USER.get()))
                .unwrap();
            lp.call_later(Duration::from_millis(5), move || {
                s.borrow_mut().push(USER.get())
            })
            .unwrap();
            // A set after scheduling reaches neither.
            USER.set("task, later".into());
        });
        task.await.unwrap();
        tulip_executor::sleep(Duration::from_millis(10)).await;
    })
    .unwrap();
    assert_eq!(*seen.borrow(), [Some("task".into()), Some("task".into())]);
}

type Seen<T> = Rc<RefCell<Vec<T>>>;

/// Stops the loop once `seen` holds `n` entries (checked every millisecond).
fn stop_at<T: 'static>(lp: tulip_executor::Loop, seen: Seen<T>, n: usize) {
    if seen.borrow().len() >= n {
        lp.stop();
    } else {
        let l = lp.clone();
        lp.call_later(Duration::from_millis(1), move || stop_at(l, seen, n))
            .unwrap();
    }
}

#[test]
fn a_reader_runs_every_call_in_one_context() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let (rx, mut tx) = UnixStream::pair().unwrap();
    let fd = rx.as_raw_fd();
    let mut reading = rx.try_clone().unwrap();
    let seen = slot();
    let s = seen.clone();
    let mut reads = 0;
    USER.set("at add_reader".into());
    let handle = lp
        .add_reader(&rx, move || {
            let mut buf = [0u8; 1];
            reading.read_exact(&mut buf).unwrap();
            reads += 1;
            // What the previous call set is still there.
            s.borrow_mut().push((USER.get(), COUNT.get()));
            COUNT.set(reads);
        })
        .unwrap();
    USER.set("after".into());
    assert_eq!(
        handle.get_context().get(&USER).as_deref(),
        Some("at add_reader")
    );
    tx.write_all(b"abc").unwrap();
    let (dog, fired) = watchdog(&lp, Duration::from_secs(10));
    stop_at(lp.clone(), seen.clone(), 3);
    el.run_forever().unwrap();
    dog.cancel();
    assert!(!fired.get(), "timed out");
    assert!(lp.remove_reader(fd));
    let want = |n: Option<u32>| (Some("at add_reader".to_string()), n);
    assert_eq!(*seen.borrow(), [want(None), want(Some(1)), want(Some(2))]);
    assert_eq!(COUNT.get(), None, "never leaks out");
    // The handle's context kept the last set.
    assert_eq!(handle.get_context().get(&COUNT), Some(3));
}

#[test]
fn readers_and_writers_with_an_explicit_context() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let (rx, mut tx) = UnixStream::pair().unwrap();
    tx.write_all(b"x").unwrap();
    let seen = slot();
    let (s1, s2) = (seen.clone(), seen.clone());
    let (l1, l2) = (lp.clone(), lp.clone());
    let (rfd, wfd) = (rx.as_raw_fd(), tx.as_raw_fd());
    lp.add_reader_with_context(
        &rx,
        move || {
            s1.borrow_mut().push(("reader", USER.get()));
            l1.remove_reader(rfd);
        },
        ctx_with_user("r"),
    )
    .unwrap();
    lp.add_writer_with_context(
        &tx,
        move || {
            s2.borrow_mut().push(("writer", USER.get()));
            l2.remove_writer(wfd);
        },
        ctx_with_user("w"),
    )
    .unwrap();
    let (dog, fired) = watchdog(&lp, Duration::from_secs(10));
    stop_at(lp.clone(), seen.clone(), 2);
    el.run_forever().unwrap();
    dog.cancel();
    assert!(!fired.get(), "timed out");
    let mut got = seen.borrow().clone();
    got.sort();
    assert_eq!(
        got,
        [
            ("reader", Some("r".to_string())),
            ("writer", Some("w".to_string()))
        ]
    );
}

#[test]
fn call_soon_threadsafe_carries_the_calling_threads_context() {
    let el = EventLoop::new().unwrap();
    let remote = el.remote();
    let (tx, rx) = mpsc::channel();
    USER.set("loop thread".into());
    std::thread::spawn(move || {
        USER.set("worker".into());
        let tx2 = tx.clone();
        remote
            .call_soon_threadsafe(move || {
                tx2.send(USER.get()).unwrap();
                USER.set("set by the callback".into());
            })
            .unwrap();
        let explicit = ctx_with_user("explicit");
        remote
            .call_soon_threadsafe_with_context(move || tx.send(USER.get()).unwrap(), explicit)
            .unwrap();
        remote.stop().unwrap();
    })
    .join()
    .unwrap();
    el.run_forever().unwrap();
    assert_eq!(rx.recv().unwrap().as_deref(), Some("worker"));
    assert_eq!(rx.recv().unwrap().as_deref(), Some("explicit"));
    assert_eq!(USER.get().as_deref(), Some("loop thread"));
}

#[test]
fn a_task_spawned_from_another_thread_inherits_that_threads_context() {
    let el = EventLoop::new().unwrap();
    let remote = el.remote();
    let lp = el.handle();
    let worker = std::thread::spawn(move || {
        USER.set("submitter".into());
        remote.spawn(|| async { USER.get() }).join_blocking()
    });
    el.run_until_complete(async move {
        while !worker.is_finished() {
            tulip_executor::sleep(Duration::from_millis(1)).await;
        }
        let _ = lp;
        assert_eq!(
            worker.join().unwrap().unwrap().as_deref(),
            Some("submitter")
        );
    })
    .unwrap();
}

#[test]
fn run_in_executor_and_to_thread_carry_the_context_to_the_worker() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    el.run_until_complete(async move {
        USER.set("caller".into());
        let loop_thread = std::thread::current().id();
        let (user, thread, count) = lp
            .run_in_executor(None, || {
                let seen = USER.get();
                COUNT.set(1); // stays on the worker's copy
                (seen, std::thread::current().id(), COUNT.get())
            })
            .await
            .unwrap();
        assert_eq!(user.as_deref(), Some("caller"));
        assert_ne!(thread, loop_thread, "ran on a worker");
        assert_eq!(count, Some(1));
        assert_eq!(COUNT.get(), None, "the worker's set stayed there");

        let task = spawn(async {
            USER.set("child task".into());
            to_thread(|| USER.get()).await
        });
        assert_eq!(task.await.unwrap().unwrap().as_deref(), Some("child task"));

        // The worker thread's own context is untouched between jobs.
        let after = to_thread(|| COUNT.get()).await.unwrap();
        assert_eq!(after, None);
    })
    .unwrap();
}

#[test]
fn done_callbacks_run_in_the_context_of_add_done_callback() {
    let el = paused_loop();
    el.run_until_complete(async {
        let seen = Rc::new(RefCell::new(None));
        let s = seen.clone();
        let task = spawn(async {
            USER.set("inside the task".into());
        });
        USER.set("adder".into());
        task.add_done_callback(move |_| *s.borrow_mut() = Some(USER.get()));
        task.await.unwrap();
        tulip_executor::sleep(Duration::from_millis(1)).await;
        assert_eq!(*seen.borrow(), Some(Some("adder".to_string())));
    })
    .unwrap();
}

#[test]
fn future_done_callbacks_run_in_the_context_of_add_done_callback() {
    let el = paused_loop();
    let fut = el.create_future::<u8>();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let mut adder = ctx_with_user("adder");
    let s = seen.clone();
    adder.run(|| fut.add_done_callback(move |_| s.borrow_mut().push(USER.get())));
    let mut setter = ctx_with_user("setter");
    setter.run(|| fut.set_result(1)).unwrap();
    // Added after completion: scheduled at once, in the adder's context too.
    let s = seen.clone();
    adder.run(|| fut.add_done_callback(move |_| s.borrow_mut().push(USER.get())));
    run_once(&el);
    assert_eq!(
        *seen.borrow(),
        [Some("adder".to_string()), Some("adder".to_string())]
    );
}

#[test]
fn contexts_and_tokens_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Context>();
    send_sync::<ContextVar<String>>();
    send_sync::<tulip_executor::contextvars::Token<String>>();
    send_sync::<tulip_executor::contextvars::TokenError>();
    // A context made here, entered on another thread.
    let ctx = ctx_with_user("made here");
    let seen = std::thread::spawn(move || {
        let mut ctx = ctx;
        ctx.run(|| USER.get())
    })
    .join()
    .unwrap();
    assert_eq!(seen.as_deref(), Some("made here"));
}
