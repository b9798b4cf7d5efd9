//! `as_completed`: completion order through `next()` and through the
//! `Stream` impl, the overall timeout (one `Timeout` item, then the end),
//! and the unreported tasks cancelled when the stream is dropped. Virtual
//! clock.

use std::future::poll_fn;
use std::pin::Pin;
use std::time::Duration;

use futures_core::Stream;
use tulip_executor::{all_tasks, as_completed, sleep};
use tulip_test::paused_loop;

fn sleepers(s: &[u64]) -> Vec<impl Future<Output = u64> + use<>> {
    s.iter()
        .map(|&s| async move {
            sleep(Duration::from_secs(s)).await;
            s
        })
        .collect()
}

#[test]
fn yields_in_completion_order() {
    let el = paused_loop();
    el.run_until_complete(async {
        let mut it = as_completed(sleepers(&[4, 1, 3, 2]), None);
        assert_eq!(it.remaining(), 4);
        let mut order = Vec::new();
        while let Some(r) = it.next().await {
            order.push(r.unwrap());
        }
        assert_eq!(order, [1, 2, 3, 4]);
        assert!(it.next().await.is_none());
    })
    .unwrap();
}

#[test]
fn is_a_stream() {
    let el = paused_loop();
    el.run_until_complete(async {
        let mut it = as_completed(sleepers(&[2, 1]), None);
        let mut order = Vec::new();
        while let Some(r) = poll_fn(|cx| Pin::new(&mut it).poll_next(cx)).await {
            order.push(r.unwrap());
        }
        assert_eq!(order, [1, 2]);
        assert!(futures_core::FusedStream::is_terminated(&it));
    })
    .unwrap();
}

#[test]
fn timeout_yields_one_timeout_then_ends_and_drop_cancels_the_rest() {
    let el = paused_loop();
    let lp = el.handle();
    el.run_until_complete(async move {
        let t0 = lp.time();
        let mut it = as_completed(sleepers(&[1, 10, 2, 20]), Some(Duration::from_secs(5)));
        assert_eq!(it.next().await.unwrap().unwrap(), 1);
        assert_eq!(it.next().await.unwrap().unwrap(), 2);
        assert!(it.next().await.unwrap().unwrap_err().is_timeout());
        assert_eq!(lp.time() - t0, Duration::from_secs(5));
        assert!(it.next().await.is_none());
        assert_eq!(all_tasks().len(), 3, "the two slow tasks still run");
        drop(it);
        assert_eq!(all_tasks().len(), 1, "dropping the stream ended them");
    })
    .unwrap();
}

#[test]
fn failures_are_items() {
    let el = paused_loop();
    el.run_until_complete(async {
        let mut it = as_completed(
            vec![
                Box::pin(async {
                    sleep(Duration::from_secs(1)).await;
                    if true {
                        panic!("boom");
                    }
                    0u8
                }) as Pin<Box<dyn Future<Output = u8>>>,
                Box::pin(async { 1 }),
            ],
            None,
        );
        assert_eq!(it.next().await.unwrap().unwrap(), 1);
        assert!(it.next().await.unwrap().unwrap_err().is_panic());
    })
    .unwrap();
}

#[test]
fn children_completing_in_one_pass_come_in_completion_order() {
    // The four timers fire in one pass, in order, so the children complete
    // in input order before the stream is polled again.
    let el = paused_loop();
    el.run_until_complete(async {
        let mut it = as_completed(
            (0..4u32).map(|i| async move {
                sleep(Duration::from_secs(1)).await;
                i
            }),
            None,
        );
        let mut order = Vec::new();
        while let Some(r) = it.next().await {
            order.push(r.unwrap());
        }
        assert_eq!(order, [0, 1, 2, 3]);
    })
    .unwrap();
}

#[test]
fn dropping_the_stream_drops_the_unreported_futures_at_once() {
    let el = paused_loop();
    el.run_until_complete(async {
        let dropped = std::rc::Rc::new(std::cell::Cell::new(0));
        struct Guard(std::rc::Rc<std::cell::Cell<u32>>);
        impl Drop for Guard {
            fn drop(&mut self) {
                self.0.set(self.0.get() + 1);
            }
        }
        let mut it = as_completed(
            (1..=3u64).map(|s| {
                let g = Guard(dropped.clone());
                async move {
                    let _g = g;
                    sleep(Duration::from_secs(s * 100)).await;
                }
            }),
            Some(Duration::from_secs(1)),
        );
        assert!(it.next().await.unwrap().unwrap_err().is_timeout());
        drop(it);
        assert_eq!(dropped.get(), 3, "every child's future was dropped");
        assert_eq!(all_tasks().len(), 1, "and every child task is done");
    })
    .unwrap();
}
