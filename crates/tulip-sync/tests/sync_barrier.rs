//! `Barrier`: arrival indices, reuse across cycles, reset, abort, broken
//! state and dropped waiters.

mod common;

use common::{pending, ready};
use tulip_sync::{Barrier, Error};

#[test]
fn indices_follow_arrival_order_and_the_barrier_is_reusable() {
    let barrier = Barrier::new(3);
    assert_eq!(barrier.parties(), 3);
    for _cycle in 0..3 {
        let mut a = barrier.wait();
        let mut b = barrier.wait();
        pending(&mut a);
        pending(&mut b);
        assert_eq!(barrier.n_waiting(), 2);
        assert_eq!(ready(&mut barrier.wait()), Ok(2));
        assert_eq!(barrier.n_waiting(), 0);
        assert_eq!(ready(&mut b), Ok(1));
        assert_eq!(ready(&mut a), Ok(0));
    }
}

#[test]
fn tasks_pass_together() {
    tulip_executor::run(async {
        let barrier = Barrier::new(5);
        let tasks: Vec<_> = (0..5)
            .map(|_| {
                let barrier = barrier.clone();
                tulip_executor::spawn(async move { barrier.wait().await.unwrap() })
            })
            .collect();
        let mut indices = Vec::new();
        for t in tasks {
            indices.push(t.await.unwrap());
        }
        indices.sort_unstable();
        assert_eq!(indices, [0, 1, 2, 3, 4]);
    })
    .unwrap();
}

#[test]
fn reset_breaks_waiters_but_not_the_barrier() {
    let barrier = Barrier::new(2);
    let mut a = barrier.wait();
    pending(&mut a);
    barrier.reset();
    assert_eq!(ready(&mut a), Err(Error::BrokenBarrier));
    assert!(!barrier.broken());
    assert_eq!(barrier.n_waiting(), 0);
    let mut b = barrier.wait();
    pending(&mut b);
    assert_eq!(ready(&mut barrier.wait()), Ok(1));
    assert_eq!(ready(&mut b), Ok(0));
}

#[test]
fn abort_breaks_until_reset() {
    let barrier = Barrier::new(3);
    let mut a = barrier.wait();
    pending(&mut a);
    barrier.abort();
    assert!(barrier.broken());
    assert_eq!(ready(&mut a), Err(Error::BrokenBarrier));
    assert_eq!(ready(&mut barrier.wait()), Err(Error::BrokenBarrier));
    barrier.reset();
    assert!(!barrier.broken());
    let mut x = barrier.wait();
    let mut y = barrier.wait();
    pending(&mut x);
    pending(&mut y);
    assert_eq!(ready(&mut barrier.wait()), Ok(2));
    assert_eq!(ready(&mut x), Ok(0));
    assert_eq!(ready(&mut y), Ok(1));
}

#[test]
fn a_dropped_waiter_leaves_and_indices_stay_unique() {
    let barrier = Barrier::new(3);
    let mut a = barrier.wait();
    let mut b = barrier.wait();
    pending(&mut a);
    pending(&mut b);
    drop(a);
    assert_eq!(barrier.n_waiting(), 1);
    let mut c = barrier.wait();
    pending(&mut c);
    assert_eq!(ready(&mut barrier.wait()), Ok(2));
    assert_eq!(ready(&mut b), Ok(0));
    assert_eq!(ready(&mut c), Ok(1));
}

#[test]
fn zero_parties_behaves_as_one() {
    let barrier = Barrier::new(0);
    assert_eq!(barrier.parties(), 1);
    assert_eq!(ready(&mut barrier.wait()), Ok(0));
}
