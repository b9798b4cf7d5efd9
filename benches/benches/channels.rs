//! Channel rows: `channel_ping_pong`, a message bounced between two loops
//! on two threads over a pair of unbounded channels (tulip's
//! `tulip::channel` between two tulip loops, tokio's `mpsc` between two
//! current-thread runtimes, `async-channel` between two smol executors).
//! One element is one message (a round trip is two); the figure is ns per
//! message, wake-ups of both loops included, since each message waits for
//! the previous answer.
//!
//! The second loop of each runtime lives on a worker thread for the whole
//! row; each iteration sends it the echo side as a job, then runs the ping
//! side on the bench thread.

use std::sync::mpsc;
use std::thread;

use criterion::{Criterion, criterion_group, criterion_main};
use tulip_benches::{group, tokio_current_thread, tulip_loop, wall_time};

/// Round trips per iteration.
const ROUND_TRIPS: usize = 20_000;

/// A thread that runs the jobs it is sent, one after the other.
struct Worker {
    jobs: Option<mpsc::Sender<Box<dyn FnOnce() + Send>>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Worker {
    /// A worker thread waiting for jobs.
    fn new() -> Worker {
        let (jobs, rx) = mpsc::channel::<Box<dyn FnOnce() + Send>>();
        let thread = thread::spawn(move || {
            for job in rx {
                job();
            }
        });
        Worker {
            jobs: Some(jobs),
            thread: Some(thread),
        }
    }

    fn run(&self, job: impl FnOnce() + Send + 'static) {
        if let Some(jobs) = &self.jobs {
            jobs.send(Box::new(job)).expect("the worker thread is gone");
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.jobs = None;
        if let Some(t) = self.thread.take() {
            t.join().expect("the worker thread panicked");
        }
    }
}

fn tulip_ping_pong(event_loop: &tulip::EventLoop, remote: &tulip::RemoteLoop) {
    let (ping_tx, ping_rx) = tulip::channel::unbounded::<usize>();
    let (pong_tx, pong_rx) = tulip::channel::unbounded::<usize>();
    let echo = remote.spawn(move || async move {
        while let Ok(v) = ping_rx.recv().await {
            if pong_tx.try_send(v + 1).is_err() {
                break;
            }
        }
    });
    let sum = event_loop
        .run_until_complete(async move {
            let mut sum = 0;
            for i in 0..ROUND_TRIPS {
                ping_tx.try_send(i).expect("the echo side is gone");
                sum += pong_rx.recv().await.expect("the echo side is gone");
            }
            drop(ping_tx);
            echo.await.expect("the echo task failed");
            sum
        })
        .expect("the tulip loop failed");
    assert_eq!(sum, ROUND_TRIPS * (ROUND_TRIPS + 1) / 2);
}

fn tokio_ping_pong(rt: &tokio::runtime::Runtime, worker: &Worker) {
    let (ping_tx, mut ping_rx) = tokio::sync::mpsc::unbounded_channel::<usize>();
    let (pong_tx, mut pong_rx) = tokio::sync::mpsc::unbounded_channel::<usize>();
    worker.run(move || {
        let rt = tokio_current_thread();
        rt.block_on(async move {
            while let Some(v) = ping_rx.recv().await {
                if pong_tx.send(v + 1).is_err() {
                    break;
                }
            }
        });
    });
    let sum = rt.block_on(async move {
        let mut sum = 0;
        for i in 0..ROUND_TRIPS {
            ping_tx.send(i).expect("the echo side is gone");
            sum += pong_rx.recv().await.expect("the echo side is gone");
        }
        sum
    });
    assert_eq!(sum, ROUND_TRIPS * (ROUND_TRIPS + 1) / 2);
}

fn smol_ping_pong(ex: &smol::LocalExecutor<'_>, worker: &Worker) {
    let (ping_tx, ping_rx) = async_channel::unbounded::<usize>();
    let (pong_tx, pong_rx) = async_channel::unbounded::<usize>();
    worker.run(move || {
        let ex = smol::LocalExecutor::new();
        smol::block_on(ex.run(async move {
            while let Ok(v) = ping_rx.recv().await {
                if pong_tx.try_send(v + 1).is_err() {
                    break;
                }
            }
        }));
    });
    let sum = smol::block_on(ex.run(async move {
        let mut sum = 0;
        for i in 0..ROUND_TRIPS {
            ping_tx.try_send(i).expect("the echo side is gone");
            sum += pong_rx.recv().await.expect("the echo side is gone");
        }
        sum
    }));
    assert_eq!(sum, ROUND_TRIPS * (ROUND_TRIPS + 1) / 2);
}

fn channel_ping_pong(c: &mut Criterion) {
    let mut g = group(c, "channel_ping_pong", 2 * ROUND_TRIPS as u64);

    let event_loop = tulip_loop();
    let (remote_tx, remote_rx) = mpsc::channel();
    let echo_loop = thread::spawn(move || {
        let echo_loop = tulip_loop();
        remote_tx
            .send(echo_loop.remote())
            .expect("the bench thread is gone");
        echo_loop.run_forever().expect("the echo loop failed");
    });
    let remote = remote_rx.recv().expect("the echo loop did not start");
    g.bench_function("tulip", |b| {
        b.iter_custom(|iters| wall_time(iters, || tulip_ping_pong(&event_loop, &remote)));
    });
    remote.stop().expect("the echo loop is closed");
    echo_loop.join().expect("the echo loop panicked");
    drop(event_loop);

    let worker = Worker::new();
    let rt = tokio_current_thread();
    g.bench_function("tokio", |b| {
        b.iter_custom(|iters| wall_time(iters, || tokio_ping_pong(&rt, &worker)));
    });
    drop(rt);

    let ex = smol::LocalExecutor::new();
    g.bench_function("smol", |b| {
        b.iter_custom(|iters| wall_time(iters, || smol_ping_pong(&ex, &worker)));
    });
    g.finish();
}

criterion_group!(benches, channel_ping_pong);
criterion_main!(benches);
