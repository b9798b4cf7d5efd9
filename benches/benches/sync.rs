//! Synchronization rows (issue 3): uncontended lock/unlock, two tasks
//! ping-ponging items through a bounded queue of one slot, an event
//! set/wait hand-off, and uncontended semaphore acquire/release.
//!
//! Peers: tokio's `sync` module on its current-thread runtime, and
//! async-lock / async-channel on smol's `LocalExecutor`. Every runtime does
//! the same work; each row's peers are the nearest equivalents:
//! - `lock_uncontended`: `tulip::sync::Lock`, `tokio::sync::Mutex<()>`,
//!   `async_lock::Mutex<()>`;
//! - `queue_ping_pong`: `tulip::sync::Queue` with `maxsize = 1`, a tokio
//!   `mpsc::channel(1)`, an `async_channel::bounded(1)`;
//! - `event_set_wait`: a waiter task waits, the other side sets (and clears)
//!   the event, N times: `tulip::sync::Event`, `tokio::sync::Notify` (tokio
//!   has no Event; `Notify` is its nearest primitive). async-lock has no
//!   event, so the row has no smol peer;
//! - `semaphore_uncontended`: `tulip::sync::Semaphore`,
//!   `tokio::sync::Semaphore`, `async_lock::Semaphore`;
//! - `gather`: `tulip::gather` over a `Vec` of 100,000 trivial futures (it
//!   spawns each as a task and collects the outputs in order); tokio and
//!   smol have no gather, so their rows spawn the same tasks (`spawn_local`
//!   in a `LocalSet`, `LocalExecutor::spawn`) and await the handles in
//!   order into a `Vec`, which is what gather does.

use std::future::Future;
use std::rc::Rc;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, criterion_group, criterion_main};
use tulip_benches::{group, tokio_current_thread, tulip_loop, wall_time};

/// Lock/unlock pairs per iteration.
const LOCKS: u64 = 1_000_000;
/// Items through the queue per iteration.
const ITEMS: u64 = 1_000_000;
/// Event hand-offs per iteration.
const EVENTS: u64 = 100_000;
/// Acquire/release pairs per iteration.
const PERMITS: u64 = 1_000_000;
/// Futures gathered per iteration.
const GATHERED: u64 = 100_000;

/// One table row.
type Group<'a> = BenchmarkGroup<'a, WallTime>;

fn check(got: u64, want: u64) {
    assert_eq!(got, want, "the workload did not do all its work");
}

/// Registers `tulip` in `g`: each iteration runs the future `make` builds
/// on `el` and checks its result.
fn on_tulip<F: Future<Output = u64> + 'static>(
    g: &mut Group<'_>,
    el: &tulip::EventLoop,
    want: u64,
    make: impl Fn() -> F,
) {
    g.bench_function("tulip", |b| {
        b.iter_custom(|iters| {
            wall_time(iters, || {
                check(el.run_until_complete(make()).unwrap_or(0), want)
            })
        });
    });
}

/// Registers `tokio`: the future runs on a current-thread runtime inside a
/// `LocalSet` (so that it may `spawn_local`).
fn on_tokio<F: Future<Output = u64>>(g: &mut Group<'_>, want: u64, make: impl Fn() -> F) {
    let rt = tokio_current_thread();
    let local = tokio::task::LocalSet::new();
    g.bench_function("tokio", |b| {
        b.iter_custom(|iters| wall_time(iters, || check(local.block_on(&rt, make()), want)));
    });
}

/// Registers `smol`: the future runs on a `LocalExecutor`, which it also
/// receives (to spawn on).
fn on_smol<F: Future<Output = u64>>(
    g: &mut Group<'_>,
    want: u64,
    make: impl Fn(Rc<async_executor::LocalExecutor<'static>>) -> F,
) {
    let ex = Rc::new(async_executor::LocalExecutor::new());
    g.bench_function("smol", |b| {
        b.iter_custom(|iters| {
            wall_time(iters, || {
                check(
                    futures_lite::future::block_on(ex.run(make(ex.clone()))),
                    want,
                )
            })
        });
    });
}

fn lock_uncontended(c: &mut Criterion) {
    let mut g = group(c, "lock_uncontended", LOCKS);
    on_tulip(&mut g, &tulip_loop(), LOCKS, || async {
        let lock = tulip::sync::Lock::new();
        let mut n = 0;
        for _ in 0..LOCKS {
            let guard = lock.acquire().await;
            n += 1;
            drop(guard);
        }
        n
    });
    on_tokio(&mut g, LOCKS, || async {
        let lock = tokio::sync::Mutex::new(());
        let mut n = 0;
        for _ in 0..LOCKS {
            let guard = lock.lock().await;
            n += 1;
            drop(guard);
        }
        n
    });
    on_smol(&mut g, LOCKS, |_| async {
        let lock = async_lock::Mutex::new(());
        let mut n = 0;
        for _ in 0..LOCKS {
            let guard = lock.lock().await;
            n += 1;
            drop(guard);
        }
        n
    });
    g.finish();
}

fn queue_ping_pong(c: &mut Criterion) {
    let mut g = group(c, "queue_ping_pong", ITEMS);
    let want = ITEMS * (ITEMS - 1) / 2;
    on_tulip(&mut g, &tulip_loop(), want, || async {
        let q: tulip::sync::Queue<u64> = tulip::sync::Queue::new(1);
        let producer = {
            let q = q.clone();
            tulip::spawn(async move {
                for i in 0..ITEMS {
                    if q.put(i).await.is_err() {
                        break;
                    }
                }
            })
        };
        let mut sum = 0;
        for _ in 0..ITEMS {
            sum += q.get().await.unwrap_or(0);
        }
        let _ = producer.await;
        sum
    });
    on_tokio(&mut g, want, || async {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<u64>(1);
        let producer = tokio::task::spawn_local(async move {
            for i in 0..ITEMS {
                if tx.send(i).await.is_err() {
                    break;
                }
            }
        });
        let mut sum = 0;
        for _ in 0..ITEMS {
            sum += rx.recv().await.unwrap_or(0);
        }
        let _ = producer.await;
        sum
    });
    on_smol(&mut g, want, |ex| async move {
        let (tx, rx) = async_channel::bounded::<u64>(1);
        let producer = ex.spawn(async move {
            for i in 0..ITEMS {
                if tx.send(i).await.is_err() {
                    break;
                }
            }
        });
        let mut sum = 0;
        for _ in 0..ITEMS {
            sum += rx.recv().await.unwrap_or(0);
        }
        producer.await;
        sum
    });
    g.finish();
}

fn event_set_wait(c: &mut Criterion) {
    let mut g = group(c, "event_set_wait", EVENTS);
    on_tulip(&mut g, &tulip_loop(), EVENTS, || async {
        // Two events: `go` wakes the waiter, `done` answers.
        let go = tulip::sync::Event::new();
        let done = tulip::sync::Event::new();
        let waiter = {
            let (go, done) = (go.clone(), done.clone());
            tulip::spawn(async move {
                let mut n = 0;
                for _ in 0..EVENTS {
                    go.wait().await;
                    go.clear();
                    n += 1;
                    done.set();
                }
                n
            })
        };
        for _ in 0..EVENTS {
            go.set();
            done.wait().await;
            done.clear();
        }
        waiter.await.unwrap_or(0)
    });
    on_tokio(&mut g, EVENTS, || async {
        let go = Rc::new(tokio::sync::Notify::new());
        let done = Rc::new(tokio::sync::Notify::new());
        let waiter = {
            let (go, done) = (go.clone(), done.clone());
            tokio::task::spawn_local(async move {
                let mut n = 0;
                for _ in 0..EVENTS {
                    go.notified().await;
                    n += 1;
                    done.notify_one();
                }
                n
            })
        };
        for _ in 0..EVENTS {
            go.notify_one();
            done.notified().await;
        }
        waiter.await.unwrap_or(0)
    });
    g.finish();
}

fn semaphore_uncontended(c: &mut Criterion) {
    let mut g = group(c, "semaphore_uncontended", PERMITS);
    on_tulip(&mut g, &tulip_loop(), PERMITS, || async {
        let sem = tulip::sync::Semaphore::new(4);
        let mut n = 0;
        for _ in 0..PERMITS {
            let permit = sem.acquire().await;
            n += 1;
            drop(permit);
        }
        n
    });
    on_tokio(&mut g, PERMITS, || async {
        let sem = tokio::sync::Semaphore::new(4);
        let mut n = 0;
        for _ in 0..PERMITS {
            if let Ok(permit) = sem.acquire().await {
                n += 1;
                drop(permit);
            }
        }
        n
    });
    on_smol(&mut g, PERMITS, |_| async {
        let sem = async_lock::Semaphore::new(4);
        let mut n = 0;
        for _ in 0..PERMITS {
            let permit = sem.acquire().await;
            n += 1;
            drop(permit);
        }
        n
    });
    g.finish();
}

fn gather(c: &mut Criterion) {
    let mut g = group(c, "gather", GATHERED);
    let want = GATHERED * (GATHERED - 1) / 2;
    on_tulip(&mut g, &tulip_loop(), want, || async {
        let futs: Vec<_> = (0..GATHERED).map(|i| async move { i }).collect();
        tulip::gather(futs)
            .await
            .map_or(0, |v| v.into_iter().sum::<u64>())
    });
    on_tokio(&mut g, want, || async {
        let handles: Vec<_> = (0..GATHERED)
            .map(|i| tokio::task::spawn_local(async move { i }))
            .collect();
        let mut out = Vec::with_capacity(handles.len());
        for h in handles {
            out.push(h.await.unwrap_or(0));
        }
        out.into_iter().sum::<u64>()
    });
    on_smol(&mut g, want, |ex| async move {
        let handles: Vec<_> = (0..GATHERED).map(|i| ex.spawn(async move { i })).collect();
        let mut out = Vec::with_capacity(handles.len());
        for h in handles {
            out.push(h.await);
        }
        out.into_iter().sum::<u64>()
    });
    g.finish();
}

criterion_group!(
    benches,
    gather,
    lock_uncontended,
    queue_ping_pong,
    event_set_wait,
    semaphore_uncontended
);
criterion_main!(benches);
