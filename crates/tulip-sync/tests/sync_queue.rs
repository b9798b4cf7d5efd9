//! `Queue`, `PriorityQueue`, `LifoQueue`: FIFO getters and putters, order of
//! each storage, nowait errors giving items back, join/task_done, asyncio
//! 3.13 shutdown (draining and immediate), and cancellation at wake-up:
//! it passes the turn on, never reorders items, and a cancelled put never
//! put its item.

mod common;

use common::{pending, ready};
use std::cell::RefCell;
use std::rc::Rc;
use tulip_sync::{BaseQueue, Error, LifoQueue, PriorityQueue, Queue, QueueStorage};

#[test]
fn getters_are_served_in_fifo_order() {
    tulip_executor::run(async {
        let queue = Queue::new(0);
        let order = Rc::new(RefCell::new(Vec::new()));
        let tasks: Vec<_> = (0..10)
            .map(|i| {
                let (queue, order) = (queue.clone(), order.clone());
                tulip_executor::spawn(async move {
                    let item = queue.get().await.unwrap();
                    order.borrow_mut().push((i, item));
                })
            })
            .collect();
        tulip_executor::yield_now().await;
        for item in 100..110 {
            queue.put_nowait(item).unwrap();
        }
        for t in tasks {
            t.await.unwrap();
        }
        let expected: Vec<_> = (0..10).map(|i| (i, 100 + i)).collect();
        assert_eq!(*order.borrow(), expected);
    })
    .unwrap();
}

#[test]
fn putters_wait_while_full_in_fifo_order() {
    let queue = Queue::new(2);
    queue.put_nowait(0).unwrap();
    queue.put_nowait(1).unwrap();
    assert!(queue.full());
    let mut p2 = queue.put(2);
    let mut p3 = queue.put(3);
    pending(&mut p2);
    pending(&mut p3);
    let refused = queue.put_nowait(9).unwrap_err();
    assert_eq!(refused.error(), Error::QueueFull);
    assert_eq!(refused.into_item(), 9);
    assert_eq!(queue.get_nowait(), Ok(0));
    // p2 is promised the free place but puts its item only when it runs;
    // meanwhile nobody else can take the place.
    assert_eq!(queue.qsize(), 1);
    assert!(queue.full());
    assert_eq!(queue.put_nowait(9).unwrap_err().error(), Error::QueueFull);
    assert_eq!(ready(&mut p2), Ok(()));
    assert_eq!(queue.qsize(), 2);
    pending(&mut p3);
    assert_eq!(queue.get_nowait(), Ok(1));
    assert_eq!(ready(&mut p3), Ok(()));
    let got: Vec<_> = (0..2).map(|_| queue.get_nowait().unwrap()).collect();
    assert_eq!(got, [2, 3]);
    assert_eq!(queue.get_nowait(), Err(Error::QueueEmpty));
    assert!(queue.empty());
    assert_eq!(queue.maxsize(), 2);
}

#[test]
fn a_later_getter_does_not_barge() {
    let queue = Queue::new(0);
    let mut first = queue.get();
    pending(&mut first);
    queue.put_nowait('a').unwrap();
    // Promised to `first`: nothing left for anyone else.
    assert_eq!(queue.qsize(), 0);
    assert_eq!(queue.get_nowait(), Err(Error::QueueEmpty));
    let mut late = queue.get();
    pending(&mut late);
    assert_eq!(ready(&mut first), Ok('a'));
}

#[test]
fn priority_queue_gives_smallest_first() {
    let queue = PriorityQueue::new(0);
    for item in [5, 1, 4, 2, 3, 1] {
        queue.put_nowait(item).unwrap();
    }
    let got: Vec<_> = (0..6).map(|_| queue.get_nowait().unwrap()).collect();
    assert_eq!(got, [1, 1, 2, 3, 4, 5]);

    let tasks = PriorityQueue::new(0);
    tasks.put_nowait((2, "low")).unwrap();
    tasks.put_nowait((0, "urgent")).unwrap();
    tasks.put_nowait((1, "normal")).unwrap();
    let got: Vec<_> = (0..3).map(|_| tasks.get_nowait().unwrap().1).collect();
    assert_eq!(got, ["urgent", "normal", "low"]);
}

#[test]
fn lifo_queue_gives_last_first() {
    let queue = LifoQueue::new(0);
    for item in 0..5 {
        queue.put_nowait(item).unwrap();
    }
    let got: Vec<_> = (0..5).map(|_| queue.get_nowait().unwrap()).collect();
    assert_eq!(got, [4, 3, 2, 1, 0]);
}

#[test]
fn join_waits_for_every_task_done() {
    let queue = Queue::new(0);
    ready(&mut queue.join());
    queue.put_nowait(1).unwrap();
    queue.put_nowait(2).unwrap();
    let mut join = queue.join();
    pending(&mut join);
    queue.get_nowait().unwrap();
    queue.get_nowait().unwrap();
    queue.task_done().unwrap();
    pending(&mut join);
    queue.task_done().unwrap();
    ready(&mut join);
    assert_eq!(queue.task_done(), Err(Error::TaskDoneTooManyTimes));
    assert_eq!(
        Error::TaskDoneTooManyTimes.to_string(),
        "task_done() called too many times"
    );
}

#[test]
fn shutdown_drains_then_fails() {
    let queue = Queue::new(0);
    queue.put_nowait(1).unwrap();
    queue.put_nowait(2).unwrap();
    queue.shutdown(false);
    assert!(queue.is_shutdown());
    let refused = queue.put_nowait(3).unwrap_err();
    assert_eq!(refused.error(), Error::QueueShutDown);
    assert_eq!(ready(&mut queue.put(4)).unwrap_err().into_item(), 4);
    assert_eq!(ready(&mut queue.get()), Ok(1));
    assert_eq!(queue.get_nowait(), Ok(2));
    assert_eq!(queue.get_nowait(), Err(Error::QueueShutDown));
    assert_eq!(ready(&mut queue.get()), Err(Error::QueueShutDown));
    // Not immediate: the items taken are still unfinished.
    let mut join = queue.join();
    pending(&mut join);
    queue.task_done().unwrap();
    queue.task_done().unwrap();
    ready(&mut join);
}

#[test]
fn shutdown_wakes_getters_and_putters() {
    let empty = Queue::<u8>::new(1);
    let mut getters: Vec<_> = (0..3).map(|_| empty.get()).collect();
    for g in &mut getters {
        pending(g);
    }
    empty.shutdown(false);
    for g in &mut getters {
        assert_eq!(ready(g), Err(Error::QueueShutDown));
    }

    let full = Queue::new(1);
    full.put_nowait("kept").unwrap();
    let mut putter = full.put("returned");
    pending(&mut putter);
    full.shutdown(false);
    let refused = ready(&mut putter).unwrap_err();
    assert_eq!(refused.error(), Error::QueueShutDown);
    assert_eq!(refused.into_item(), "returned");
    assert_eq!(full.get_nowait(), Ok("kept"));
}

#[test]
fn immediate_shutdown_drops_items_and_releases_join() {
    let queue = Queue::new(0);
    let dropped = Rc::new(RefCell::new(0));
    struct Tracked(Rc<RefCell<u32>>);
    impl Drop for Tracked {
        fn drop(&mut self) {
            *self.0.borrow_mut() += 1;
        }
    }
    for _ in 0..3 {
        assert!(queue.put_nowait(Tracked(dropped.clone())).is_ok());
    }
    let mut join = queue.join();
    pending(&mut join);
    queue.shutdown(true);
    assert_eq!(*dropped.borrow(), 3);
    assert_eq!(queue.qsize(), 0);
    ready(&mut join);
    assert!(matches!(queue.get_nowait(), Err(Error::QueueShutDown)));
    assert_eq!(queue.task_done(), Err(Error::TaskDoneTooManyTimes));
}

#[test]
fn immediate_shutdown_keeps_join_waiting_for_items_taken() {
    let queue = Queue::new(0);
    queue.put_nowait(1).unwrap();
    queue.put_nowait(2).unwrap();
    assert_eq!(queue.get_nowait(), Ok(1));
    queue.shutdown(true);
    let mut join = queue.join();
    pending(&mut join);
    queue.task_done().unwrap();
    ready(&mut join);
}

#[test]
fn cancel_at_wake_up_passes_the_item_on_10000_times() {
    let queue = Queue::new(0);
    for round in 0..10_000u32 {
        let mut first = queue.get();
        let mut second = queue.get();
        pending(&mut first);
        pending(&mut second);
        queue.put_nowait(round).unwrap(); // promised to `first`
        drop(first); // granted, dropped before it ran
        assert_eq!(ready(&mut second), Ok(round), "round {round}");
        queue.task_done().unwrap();
    }
    assert!(queue.empty());
    ready(&mut queue.join());
}

#[test]
fn an_item_promised_to_a_dropped_getter_stays_first() {
    let queue = Queue::new(1);
    let mut getter = queue.get();
    pending(&mut getter);
    queue.put_nowait("first").unwrap(); // promised to the getter
    queue.put_nowait("second").unwrap(); // not promised: counts for maxsize
    drop(getter); // "first" is free again, still ahead of "second"
    assert_eq!(queue.qsize(), 2);
    assert!(queue.full());
    assert_eq!(queue.get_nowait(), Ok("first"));
    assert_eq!(queue.get_nowait(), Ok("second"));
}

#[test]
fn cancelled_getter_tasks_lose_no_items() {
    tulip_executor::run(async {
        let queue = Queue::new(0);
        for round in 0..1_000 {
            let a = tulip_executor::spawn({
                let queue = queue.clone();
                async move { queue.get().await.unwrap() }
            });
            let b = tulip_executor::spawn({
                let queue = queue.clone();
                async move { queue.get().await.unwrap() }
            });
            tulip_executor::yield_now().await;
            queue.put_nowait(round).unwrap();
            a.cancel(); // granted and cancelled in the same pass
            assert_eq!(b.await.unwrap(), round);
            assert!(a.await.is_err());
            assert!(queue.empty());
        }
    })
    .unwrap();
}

/// A getter told "shut down" still drains an item that came back into the
/// queue after the shutdown (a getter it was promised to was dropped
/// before it ran): asyncio's getter re-checks `empty()` before it raises.
#[test]
fn a_getter_woken_by_shutdown_still_drains_an_item_given_back() {
    let q: Queue<i32> = Queue::new(0);
    let mut g1 = Box::pin(q.get());
    let mut g2 = Box::pin(q.get());
    pending(&mut g1);
    pending(&mut g2);
    q.put_nowait(1).unwrap(); // promised to g1
    q.shutdown(false); // g2 is told the queue shut down
    drop(g1); // the item goes back into the queue
    assert_eq!(q.qsize(), 1);
    assert_eq!(ready(&mut g2), Ok(1));
    assert_eq!(q.qsize(), 0);
    assert_eq!(ready(&mut Box::pin(q.get())), Err(Error::QueueShutDown));
}

/// A getter woken for an item and dropped before it ran passes its turn on
/// without reordering: the getter that runs first takes the first item.
#[test]
fn a_getter_dropped_at_wake_up_does_not_reorder() {
    let queue = Queue::new(0);
    let mut g1 = queue.get();
    let mut g2 = queue.get();
    let mut g3 = queue.get();
    pending(&mut g1);
    pending(&mut g2);
    pending(&mut g3);
    queue.put_nowait(1).unwrap(); // g1's turn
    queue.put_nowait(2).unwrap(); // g2's turn
    drop(g1); // g3's turn now
    assert_eq!(ready(&mut g2), Ok(1));
    assert_eq!(ready(&mut g3), Ok(2));
}

/// A small deterministic generator for the stress tests below.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

/// 10,000 rounds of: `1..=3` items put for as many getter tasks plus one,
/// one of the getters woken for them cancelled at once. The getters that
/// run must see the items in the storage's order (`expected` of the items
/// put); returns how many rounds did not.
fn cancel_at_wake_out_of_order<S: QueueStorage<u32> + Default + 'static>(
    expected: fn(&[u32]) -> Vec<u32>,
) -> usize {
    tulip_executor::run(async move {
        let queue = BaseQueue::<u32, S>::new(0);
        let mut rng = Lcg(7);
        let mut out_of_order = 0;
        for _ in 0..10_000 {
            let n = 1 + (rng.next() % 3) as usize;
            let seen = Rc::new(RefCell::new(Vec::new()));
            let getters: Vec<_> = (0..=n)
                .map(|_| {
                    let (queue, seen) = (queue.clone(), seen.clone());
                    tulip_executor::spawn(async move {
                        let item = queue.get().await.unwrap();
                        seen.borrow_mut().push(item);
                    })
                })
                .collect();
            tulip_executor::yield_now().await;
            let items: Vec<u32> = (0..n).map(|_| (rng.next() % 1000) as u32).collect();
            for &item in &items {
                queue.put_nowait(item).unwrap();
            }
            let cancelled = (rng.next() % n as u64) as usize;
            getters[cancelled].cancel();
            for (i, g) in getters.into_iter().enumerate() {
                assert_eq!(g.await.is_err(), i == cancelled);
            }
            if *seen.borrow() != expected(&items) {
                out_of_order += 1;
            }
            assert!(queue.empty());
        }
        out_of_order
    })
    .unwrap()
}

#[test]
fn cancel_at_wake_up_keeps_fifo_order_10000_times() {
    let out_of_order = cancel_at_wake_out_of_order::<tulip_sync::Fifo<u32>>(|items| items.to_vec());
    assert_eq!(out_of_order, 0, "rounds out of order of 10,000");
}

#[test]
fn cancel_at_wake_up_keeps_priority_order_10000_times() {
    let out_of_order = cancel_at_wake_out_of_order::<tulip_sync::Priority<u32>>(|items| {
        let mut sorted = items.to_vec();
        sorted.sort();
        sorted
    });
    assert_eq!(out_of_order, 0, "rounds out of order of 10,000");
}

#[test]
fn cancel_at_wake_up_keeps_lifo_order_10000_times() {
    let out_of_order = cancel_at_wake_out_of_order::<tulip_sync::Lifo<u32>>(|items| {
        items.iter().rev().copied().collect()
    });
    assert_eq!(out_of_order, 0, "rounds out of order of 10,000");
}

/// 10,000 puts waiting on a full queue, woken by a get and cancelled at
/// once: none may have put its item (a caller retrying it would put it
/// twice).
#[test]
fn a_cancelled_put_never_put_its_item_10000_times() {
    let duplicates = tulip_executor::run(async {
        let queue = Queue::new(1);
        let mut duplicates = 0;
        for round in 0..10_000u32 {
            queue.put_nowait(u32::MAX).unwrap(); // full
            let putter = tulip_executor::spawn({
                let queue = queue.clone();
                async move { queue.put(round).await.is_ok() }
            });
            tulip_executor::yield_now().await;
            assert_eq!(queue.get_nowait(), Ok(u32::MAX)); // wakes the putter
            queue.task_done().unwrap();
            putter.cancel();
            let put = putter.await.unwrap_or(false);
            let mut got = Vec::new();
            while let Ok(item) = queue.get_nowait() {
                got.push(item);
                queue.task_done().unwrap();
            }
            if got != if put { vec![round] } else { vec![] } {
                duplicates += 1;
            }
        }
        ready(&mut queue.join());
        duplicates
    })
    .unwrap();
    assert_eq!(duplicates, 0, "cancelled puts that had put their item");
}

/// A putter woken for a free place and dropped before it ran passes the
/// place on to the next putter; its own item was never put.
#[test]
fn a_putter_dropped_at_wake_up_passes_its_place_on() {
    let queue = Queue::new(1);
    queue.put_nowait("filler").unwrap();
    let mut p1 = queue.put("dropped");
    let mut p2 = queue.put("kept");
    pending(&mut p1);
    pending(&mut p2);
    assert_eq!(queue.get_nowait(), Ok("filler")); // p1's turn
    drop(p1); // p2's turn now
    assert_eq!(queue.qsize(), 0);
    assert_eq!(ready(&mut p2), Ok(()));
    assert_eq!(queue.get_nowait(), Ok("kept"));
    assert_eq!(queue.get_nowait(), Err(Error::QueueEmpty));
}

/// A putter woken for a free place that runs after a shutdown gets its item
/// back with `QueueShutDown` (asyncio's woken putter calls `put_nowait`,
/// which raises).
#[test]
fn a_putter_woken_then_shut_down_gets_its_item_back() {
    let queue = Queue::new(1);
    queue.put_nowait(1).unwrap();
    let mut putter = queue.put(2);
    pending(&mut putter);
    assert_eq!(queue.get_nowait(), Ok(1));
    queue.shutdown(false);
    let refused = ready(&mut putter).unwrap_err();
    assert_eq!(refused.error(), Error::QueueShutDown);
    assert_eq!(refused.into_item(), 2);
    assert_eq!(queue.get_nowait(), Err(Error::QueueShutDown));
}

/// An immediate shutdown drops an item promised to a woken getter too: the
/// getter then fails, and `join` counts the item as done.
#[test]
fn immediate_shutdown_drops_an_item_promised_to_a_getter() {
    let queue = Queue::new(0);
    let mut getter = queue.get();
    pending(&mut getter);
    queue.put_nowait(1).unwrap();
    queue.shutdown(true);
    assert_eq!(ready(&mut getter), Err(Error::QueueShutDown));
    ready(&mut queue.join());
    assert_eq!(queue.qsize(), 0);
}
