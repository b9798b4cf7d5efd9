//! Blocking work off the loop: `run_in_executor` and `to_thread` return the
//! job's result (or `Error::Panicked`), the default `ThreadPool` is sized as
//! CPython's (`min(32, cpus + 4)`) and never exceeds its size, 1,000 jobs
//! all complete, `shutdown_default_executor` joins the pool (and a later job
//! starts a new one), a custom `Executor` set with `set_default_executor`
//! or passed explicitly is used, and an executor's refusal is returned.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::ThreadId;
use std::time::Duration;

use tulip_executor::{
    Error, EventLoop, Executor, Job, ThreadPool, get_running_loop, run, spawn, to_thread,
};

#[test]
fn run_in_executor_returns_the_result() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let loop_thread = std::thread::current().id();
    let (value, job_thread) = el
        .run_until_complete(async move {
            lp.run_in_executor(None, || (6 * 7, std::thread::current().id()))
                .await
                .unwrap()
        })
        .unwrap();
    assert_eq!(value, 42);
    assert_ne!(job_thread, loop_thread, "the job ran on another thread");
}

#[test]
fn to_thread_returns_the_result() {
    let out = run(async { to_thread(|| "from a worker".to_string()).await }).unwrap();
    assert_eq!(out.unwrap(), "from a worker");
}

#[test]
fn to_thread_outside_a_running_loop_is_no_running_loop() {
    let el = EventLoop::new().unwrap();
    let fut = to_thread(|| 1);
    assert!(matches!(
        el.run_until_complete(fut),
        Ok(Err(Error::NoRunningLoop))
    ));
}

#[test]
fn a_panicking_job_yields_panicked() {
    let out = run(async {
        let lp = get_running_loop().unwrap();
        let a = lp
            .run_in_executor(None, || -> u8 { panic!("job failed") })
            .await;
        let b = to_thread(|| -> u8 { panic!("thread failed") }).await;
        // The pool survives its jobs' panics.
        let c = to_thread(|| 3u8).await;
        (a, b, c)
    })
    .unwrap();
    match out.0 {
        Err(Error::Panicked(p)) => assert_eq!(p.message(), "job failed"),
        other => panic!("unexpected {other:?}"),
    }
    match out.1 {
        Err(Error::Panicked(p)) => assert_eq!(p.message(), "thread failed"),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(out.2.unwrap(), 3);
}

#[test]
fn run_in_executor_on_a_closed_loop_is_loop_closed() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    el.close().unwrap();
    let fut = lp.run_in_executor(None, || 1);
    let other = EventLoop::new().unwrap();
    assert!(matches!(
        other.run_until_complete(fut),
        Ok(Err(Error::LoopClosed))
    ));
}

#[test]
fn thread_pool_sizes() {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert_eq!(ThreadPool::default_workers(), (cpus + 4).min(32));
    assert_eq!(ThreadPool::new(3).max_workers(), 3);
    assert_eq!(ThreadPool::new(0).max_workers(), 1, "at least one worker");
}

#[test]
fn a_pool_never_runs_more_threads_than_its_size_and_runs_every_job() {
    let pool = ThreadPool::new(4);
    let threads = Arc::new(Mutex::new(HashSet::<ThreadId>::new()));
    let (tx, rx) = mpsc::channel();
    for i in 0..1000u32 {
        let (threads, tx) = (threads.clone(), tx.clone());
        pool.submit(Box::new(move || {
            threads.lock().unwrap().insert(std::thread::current().id());
            tx.send(i).unwrap();
        }))
        .unwrap();
    }
    drop(tx);
    let mut got: Vec<u32> = rx.iter().collect();
    got.sort_unstable();
    assert_eq!(got, (0..1000).collect::<Vec<_>>());
    let n = threads.lock().unwrap().len();
    assert!((1..=4).contains(&n), "{n} threads");
    pool.shutdown(true);
    assert!(matches!(
        pool.submit(Box::new(|| {})),
        Err(Error::InvalidState(_))
    ));
}

#[test]
fn shutdown_runs_the_jobs_already_queued() {
    let pool = ThreadPool::new(1);
    let done = Arc::new(AtomicUsize::new(0));
    for _ in 0..50 {
        let d = done.clone();
        pool.submit(Box::new(move || {
            d.fetch_add(1, Ordering::SeqCst);
        }))
        .unwrap();
    }
    pool.shutdown(true);
    assert_eq!(done.load(Ordering::SeqCst), 50);
}

#[test]
fn a_thousand_jobs_through_the_loop_all_complete() {
    let total = run(async {
        let tasks: Vec<_> = (0..1000u64)
            .map(|i| spawn(async move { to_thread(move || i * 2).await.unwrap() }))
            .collect();
        let mut sum = 0;
        for t in tasks {
            sum += t.await.unwrap();
        }
        sum
    })
    .unwrap();
    assert_eq!(total, 999 * 1000);
}

#[test]
fn shutdown_default_executor_then_a_new_pool_on_demand() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    el.run_until_complete(async move {
        assert_eq!(lp.run_in_executor(None, || 1).await.unwrap(), 1);
        lp.shutdown_default_executor(Some(Duration::from_secs(30)))
            .await
            .unwrap();
        // Nothing to shut down: fine too.
        lp.shutdown_default_executor(None).await.unwrap();
        assert_eq!(lp.run_in_executor(None, || 2).await.unwrap(), 2);
        lp.shutdown_default_executor(None).await.unwrap();
    })
    .unwrap();
}

#[derive(Default)]
struct InlineThreadExecutor {
    submitted: AtomicUsize,
}

impl Executor for InlineThreadExecutor {
    fn submit(&self, job: Job) -> Result<(), Error> {
        self.submitted.fetch_add(1, Ordering::SeqCst);
        std::thread::Builder::new()
            .name("custom-executor".into())
            .spawn(job)?;
        Ok(())
    }
    fn shutdown(&self, _wait: bool) {}
}

#[test]
fn a_custom_default_executor_is_used() {
    let exec = Arc::new(InlineThreadExecutor::default());
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    lp.set_default_executor(exec.clone());
    let name = el
        .run_until_complete(async {
            to_thread(|| std::thread::current().name().map(str::to_owned))
                .await
                .unwrap()
        })
        .unwrap();
    assert_eq!(name.as_deref(), Some("custom-executor"));
    assert_eq!(exec.submitted.load(Ordering::SeqCst), 1);
}

#[test]
fn an_explicit_executor_is_used() {
    let exec = Arc::new(InlineThreadExecutor::default());
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let e: Arc<dyn Executor> = exec.clone();
    let out = el
        .run_until_complete(async move { lp.run_in_executor(Some(e), || 9).await })
        .unwrap();
    assert_eq!(out.unwrap(), 9);
    assert_eq!(exec.submitted.load(Ordering::SeqCst), 1);
    let pool: Arc<dyn Executor> = Arc::new(ThreadPool::new(2));
    let lp = el.handle();
    let p = pool.clone();
    let out = el
        .run_until_complete(async move { lp.run_in_executor(Some(p), || 10).await })
        .unwrap();
    assert_eq!(out.unwrap(), 10);
    pool.shutdown(true);
}

struct Refusing;

impl Executor for Refusing {
    fn submit(&self, _job: Job) -> Result<(), Error> {
        Err(Error::InvalidState("refused"))
    }
    fn shutdown(&self, _wait: bool) {}
}

#[test]
fn a_refused_job_yields_the_executor_error() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let out = el
        .run_until_complete(async move { lp.run_in_executor(Some(Arc::new(Refusing)), || 1).await })
        .unwrap();
    assert!(matches!(out, Err(Error::InvalidState("refused"))));
}
