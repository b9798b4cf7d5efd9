//! I/O gets in on a busy loop: a task that yields (`yield_now`,
//! `sleep(Duration::ZERO)`) lets pending I/O in before it runs again, as
//! asyncio polls its selector on every pass; and a thread flooding
//! `call_soon_threadsafe` is served in slices, with I/O between them.

use std::cell::Cell;
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tulip_executor::{EventLoop, sleep, yield_now};

/// A peer writes while a task spins on yields: two yields later (one pass
/// to poll, one for the reader's callback queued behind the task) the
/// reader has run, every time.
#[test]
fn a_yield_lets_pending_io_in() {
    for zero_sleep in [false, true] {
        let el = EventLoop::new().unwrap();
        let (a, mut b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        let seen = Rc::new(Cell::new(0usize));
        el.add_reader(&a, {
            let seen = seen.clone();
            let mut a = a.try_clone().unwrap();
            move || {
                let mut buf = [0u8; 16];
                if let Ok(n) = std::io::Read::read(&mut a, &mut buf) {
                    seen.set(seen.get() + n);
                }
            }
        })
        .unwrap();
        let misses = el
            .run_until_complete(async move {
                let mut misses = 0;
                for round in 1..=20 {
                    b.write_all(b"x").unwrap();
                    for _ in 0..2 {
                        if zero_sleep {
                            sleep(Duration::ZERO).await;
                        } else {
                            yield_now().await;
                        }
                    }
                    if seen.get() != round {
                        misses += 1;
                        // Let the reader catch up before the next round.
                        while seen.get() != round {
                            yield_now().await;
                        }
                    }
                }
                misses
            })
            .unwrap();
        assert_eq!(misses, 0, "rounds whose byte was not read two yields later");
    }
}

/// 200,000 callbacks queued from another thread at once; the first one
/// makes a socket readable. The reader runs after at most a few slices of
/// the flood, not after all of it.
#[test]
fn a_threadsafe_flood_does_not_starve_io() {
    const FLOOD: usize = 200_000;
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let (a, b) = UnixStream::pair().unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    let served = Rc::new(Cell::new(None));
    // The peer, and when the flood's first callback wrote to it.
    let peer = Arc::new(Mutex::new((b, None::<Instant>)));
    el.add_reader(&a, {
        let (ran, served, peer, lp) = (ran.clone(), served.clone(), peer.clone(), lp.clone());
        move || {
            let at = peer.lock().unwrap().1.map(|t| t.elapsed());
            served.set(Some((ran.load(Ordering::Relaxed), at)));
            lp.stop();
        }
    })
    .unwrap();
    let remote = lp.remote();
    std::thread::spawn({
        let (ran, peer) = (ran.clone(), peer.clone());
        move || {
            for i in 0..FLOOD {
                let ran = ran.clone();
                let first = (i == 0).then(|| peer.clone());
                remote
                    .call_soon_threadsafe(move || {
                        if let Some(peer) = first {
                            let mut peer = peer.lock().unwrap();
                            peer.1 = Some(Instant::now());
                            (&peer.0).write_all(b"x").unwrap();
                        }
                        ran.fetch_add(1, Ordering::Relaxed);
                    })
                    .unwrap();
            }
        }
    })
    .join()
    .unwrap();
    el.run_forever().unwrap();
    let (before, latency) = served.get().expect("the reader ran");
    eprintln!("reader served after {before} flood callbacks, {latency:?} after the write");
    assert!(
        before < FLOOD / 10,
        "{before} of {FLOOD} flood callbacks ran first"
    );
}
