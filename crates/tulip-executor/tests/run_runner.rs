//! `tulip::run` and `Runner` (asyncio's `asyncio.run` and
//! `asyncio.Runner`), and the thread's loops: `get_running_loop`,
//! `get_event_loop`, `set_event_loop`, `new_event_loop`. `run` returns the
//! main output, cancels the tasks left over (their destructors run), shuts
//! the default executor down and closes the loop.

mod common;

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::drop_flag;
use tulip_executor::{
    Error, EventLoop, Executor, Job, Runner, get_event_loop, get_running_loop, new_event_loop, run,
    set_event_loop, sleep, spawn, yield_now,
};

#[test]
fn run_returns_the_main_output() {
    let out = run(async {
        sleep(Duration::from_millis(1)).await;
        spawn(async { 21 }).await.unwrap() * 2
    })
    .unwrap();
    assert_eq!(out, 42);
    assert!(get_running_loop().is_err());
}

#[test]
fn run_cancels_leftover_tasks_and_runs_their_destructors() {
    let (started_flag, started_dropped) = drop_flag();
    let (unstarted_flag, unstarted_dropped) = drop_flag();
    let finished = Rc::new(Cell::new(false));
    let f = finished.clone();
    let leftover = Rc::new(Cell::new(None));
    let l = leftover.clone();
    let out = run(async move {
        let t = spawn(async move {
            let _guard = started_flag;
            sleep(Duration::from_secs(3600)).await;
            f.set(true);
        });
        l.set(Some(t.task_ref()));
        t.detach();
        yield_now().await; // the sleeper starts and suspends
        spawn(async move {
            let _guard = unstarted_flag;
        })
        .detach(); // never polled before main returns
        "main done"
    })
    .unwrap();
    assert_eq!(out, "main done");
    assert!(started_dropped.get());
    assert!(unstarted_dropped.get());
    assert!(!finished.get());
    let t = leftover.take().unwrap();
    assert!(t.done() && t.cancelled());
    assert!(t.get_loop().is_none(), "the loop was closed and dropped");
}

#[test]
fn run_resumes_a_panic_of_main() {
    let caught = catch_unwind(AssertUnwindSafe(|| run(async { panic!("main failed") })));
    let payload = caught.expect_err("resumed");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"main failed"));
    assert!(get_running_loop().is_err());
    assert!(matches!(get_event_loop(), Err(Error::NoCurrentLoop)));
}

#[test]
fn run_inside_a_running_loop_is_an_error_without_side_effects() {
    let el = EventLoop::new().unwrap();
    set_event_loop(Some(&el));
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    let inner = el
        .run_until_complete(async move { run(async move { r.set(true) }) })
        .unwrap();
    assert!(matches!(inner, Err(Error::LoopRunning)));
    assert!(!ran.get());
    // The thread's current loop was left alone.
    assert!(get_event_loop().unwrap().same_loop(&el));
    set_event_loop(None);
}

#[derive(Default)]
struct CountingExecutor {
    submitted: AtomicUsize,
    shutdowns: AtomicUsize,
}

impl Executor for CountingExecutor {
    fn submit(&self, job: Job) -> Result<(), Error> {
        self.submitted.fetch_add(1, Ordering::SeqCst);
        std::thread::spawn(job);
        Ok(())
    }
    fn shutdown(&self, wait: bool) {
        assert!(wait, "run waits for the default executor");
        self.shutdowns.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn run_shuts_the_default_executor_down() {
    let exec = Arc::new(CountingExecutor::default());
    let e = exec.clone();
    let out = run(async move {
        let lp = get_running_loop().unwrap();
        lp.set_default_executor(e);
        lp.run_in_executor(None, || 5).await.unwrap()
    })
    .unwrap();
    assert_eq!(out, 5);
    assert_eq!(exec.submitted.load(Ordering::SeqCst), 1);
    assert_eq!(exec.shutdowns.load(Ordering::SeqCst), 1);
}

#[test]
fn a_runner_runs_several_times_on_one_loop() {
    let runner = Runner::new().unwrap();
    let lp = runner.get_loop().unwrap();
    assert!(
        get_event_loop().unwrap().same_loop(&lp),
        "the runner's loop is current"
    );
    let (flag, dropped) = drop_flag();
    assert_eq!(
        runner
            .run(async move {
                spawn(async move {
                    let _guard = flag;
                    sleep(Duration::from_secs(3600)).await;
                })
                .detach();
                1
            })
            .unwrap(),
        1
    );
    assert!(!dropped.get(), "a leftover task survives between runs");
    let second = runner.run(async { get_running_loop().unwrap() }).unwrap();
    assert!(second.same_loop(&lp));
    runner.close().unwrap();
    assert!(dropped.get(), "close cancels what is left");
    assert!(lp.is_closed());
    assert!(matches!(get_event_loop(), Err(Error::NoCurrentLoop)));
}

#[test]
fn a_runner_is_closed_on_drop() {
    let runner = Runner::new().unwrap();
    let lp = runner.get_loop().unwrap();
    drop(runner);
    assert!(lp.is_closed());
}

#[test]
fn a_runner_on_a_given_loop() {
    let el = EventLoop::builder().paused_clock(true).build().unwrap();
    let runner = Runner::with_loop(el).unwrap();
    let elapsed = runner
        .run(async {
            let lp = get_running_loop().unwrap();
            let t0 = lp.time();
            sleep(Duration::from_secs(3600)).await;
            lp.time() - t0
        })
        .unwrap();
    assert!(elapsed >= Duration::from_secs(3600));
    runner.close().unwrap();

    let closed = EventLoop::new().unwrap();
    closed.close().unwrap();
    assert!(matches!(Runner::with_loop(closed), Err(Error::LoopClosed)));
}

#[test]
fn get_running_loop_inside_and_outside() {
    assert!(matches!(get_running_loop(), Err(Error::NoRunningLoop)));
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let same = el
        .run_until_complete(async move { get_running_loop().unwrap().same_loop(&lp) })
        .unwrap();
    assert!(same);
    assert!(matches!(get_running_loop(), Err(Error::NoRunningLoop)));
}

#[test]
fn get_event_loop_set_event_loop_and_new_event_loop() {
    assert!(matches!(get_event_loop(), Err(Error::NoCurrentLoop)));
    let el = new_event_loop().unwrap();
    assert!(!el.is_closed() && !el.is_running());
    set_event_loop(Some(&el));
    assert!(get_event_loop().unwrap().same_loop(&el));
    // While another loop runs, get_event_loop returns the running one.
    let other = EventLoop::new().unwrap();
    let o = other.handle();
    let running_wins = other
        .run_until_complete(async move { get_event_loop().unwrap().same_loop(&o) })
        .unwrap();
    assert!(running_wins);
    assert!(get_event_loop().unwrap().same_loop(&el));
    // Each thread has its own current loop.
    let elsewhere = std::thread::spawn(|| get_event_loop().is_err())
        .join()
        .unwrap();
    assert!(elsewhere);
    set_event_loop(None);
    assert!(matches!(get_event_loop(), Err(Error::NoCurrentLoop)));
}
