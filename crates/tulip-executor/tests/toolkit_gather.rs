//! `gather` and `try_gather`: results in input order (vectors and tuples),
//! `return_exceptions`, fail-fast with the other children still running,
//! and cancelling the gather cancelling every child. Virtual clock.

mod common;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use common::drop_flag;
use tulip_executor::{
    Error, all_tasks, current_task, gather, get_running_loop, sleep, spawn, try_gather, yield_now,
};
use tulip_test::paused_loop;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[test]
fn vec_results_come_in_input_order() {
    let el = paused_loop();
    let out = el
        .run_until_complete(async {
            let futs = [3u64, 1, 2]
                .into_iter()
                .map(|s| async move {
                    sleep(secs(s)).await;
                    s * 10
                })
                .collect::<Vec<_>>();
            gather(futs).await
        })
        .unwrap();
    assert_eq!(out.unwrap(), [30, 10, 20]);
}

#[test]
fn tuple_of_different_types() {
    let el = paused_loop();
    let out = el
        .run_until_complete(async {
            gather((
                async {
                    sleep(secs(2)).await;
                    1u8
                },
                async { "two" },
                async {
                    sleep(secs(1)).await;
                    3.0f64
                },
            ))
            .await
        })
        .unwrap();
    assert_eq!(out.unwrap(), (1u8, "two", 3.0f64));
}

#[test]
fn empty_gather_is_ready() {
    let el = paused_loop();
    let out = el
        .run_until_complete(gather(Vec::<std::future::Ready<u8>>::new()))
        .unwrap();
    assert!(out.unwrap().is_empty());
}

#[test]
fn return_exceptions_reports_every_outcome_in_order() {
    let el = paused_loop();
    let (a, b, c) = el
        .run_until_complete(async {
            gather((
                async {
                    sleep(secs(2)).await;
                    1
                },
                async {
                    sleep(secs(1)).await;
                    panic!("child boom");
                },
                async {
                    current_task().unwrap().cancel();
                    yield_now().await;
                    "never"
                },
            ))
            .return_exceptions()
            .await
        })
        .unwrap();
    assert_eq!(a.unwrap(), 1);
    let b: Result<(), Error> = b;
    match b.unwrap_err() {
        Error::Panicked(p) => assert_eq!(p.message(), "child boom"),
        e => panic!("unexpected {e:?}"),
    }
    assert!(c.unwrap_err().is_cancelled());
}

#[test]
fn first_failure_returns_at_once_and_the_others_keep_running() {
    let el = paused_loop();
    let lp = el.handle();
    let finished = Rc::new(Cell::new(false));
    let f = finished.clone();
    el.run_until_complete(async move {
        let t0 = lp.time();
        let r = gather(vec![
            Box::pin(async move {
                sleep(secs(5)).await;
                f.set(true);
            }) as std::pin::Pin<Box<dyn Future<Output = ()>>>,
            Box::pin(async {
                sleep(secs(1)).await;
                if true {
                    panic!("fails first");
                }
            }),
        ])
        .await;
        assert!(r.unwrap_err().is_panic());
        assert_eq!(
            lp.time() - t0,
            secs(1),
            "returned as soon as the child failed"
        );
        assert!(!finished.get());
        sleep(secs(10)).await;
        assert!(finished.get(), "the sibling ran on to completion");
    })
    .unwrap();
}

#[test]
fn try_gather_returns_the_first_err_and_others_keep_running() {
    let el = paused_loop();
    let lp = el.handle();
    let finished = Rc::new(Cell::new(false));
    let f = finished.clone();
    el.run_until_complete(async move {
        let t0 = lp.time();
        let ok: Result<Vec<u32>, Error> = try_gather(vec![
            Box::pin(async { Ok::<u32, Error>(1) })
                as std::pin::Pin<Box<dyn Future<Output = Result<u32, Error>>>>,
            Box::pin(async { Ok(2) }),
        ])
        .await;
        assert_eq!(ok.unwrap(), [1, 2]);
        let r: Result<((), u32), Error> = try_gather((
            async move {
                sleep(secs(5)).await;
                f.set(true);
                Ok(())
            },
            async {
                sleep(secs(1)).await;
                Err(Error::InvalidState("user error"))
            },
        ))
        .await;
        assert!(matches!(r, Err(Error::InvalidState("user error"))));
        assert_eq!(lp.time() - t0, secs(1));
        sleep(secs(10)).await;
        assert!(finished.get());
    })
    .unwrap();
}

#[test]
fn cancelling_the_gather_cancels_every_child() {
    let el = paused_loop();
    let mut flags = Vec::new();
    let mut guards = Vec::new();
    for _ in 0..10 {
        let (g, f) = drop_flag();
        guards.push(g);
        flags.push(f);
    }
    el.run_until_complete(async move {
        let outer = spawn(gather(
            guards
                .into_iter()
                .map(|g| async move {
                    let _g = g;
                    sleep(secs(3600)).await;
                })
                .collect::<Vec<_>>(),
        ));
        sleep(secs(1)).await;
        assert_eq!(all_tasks().len(), 12, "main, outer and ten children");
        outer.cancel();
        assert!(outer.await.unwrap_err().is_cancelled());
        // The children are done by the time the cancelled gather reports.
        assert_eq!(all_tasks().len(), 1, "only the main task is left");
        assert!(get_running_loop().is_ok());
    })
    .unwrap();
    assert!(
        flags.iter().all(|f| f.get()),
        "every child's future was dropped"
    );
}

#[test]
fn children_are_done_in_the_pass_the_gather_is_cancelled() {
    let el = paused_loop();
    el.run_until_complete(async {
        let outer = spawn(gather(
            (0..3).map(|_| sleep(secs(3600))).collect::<Vec<_>>(),
        ));
        sleep(secs(1)).await;
        assert_eq!(all_tasks().len(), 5);
        outer.cancel();
        // One pass: the outer task runs (and drops the gather) first.
        yield_now().await;
        assert!(outer.done());
        assert_eq!(all_tasks().len(), 1, "no child listed a pass later");
    })
    .unwrap();
}

#[test]
fn many_children() {
    let el = paused_loop();
    let out = el
        .run_until_complete(gather(
            (0..10_000u32)
                .map(|i| async move {
                    sleep(Duration::from_millis(u64::from(i % 7))).await;
                    i
                })
                .collect::<Vec<_>>(),
        ))
        .unwrap()
        .unwrap();
    assert!(out.iter().copied().eq(0..10_000));
}

#[test]
fn fail_fast_returns_the_first_failure_of_a_pass() {
    // Four children fail in one pass (their timers fire together, in order).
    let el = paused_loop();
    el.run_until_complete(async {
        const NAMES: [&str; 4] = ["0", "1", "2", "3"];
        let r = try_gather(
            NAMES
                .into_iter()
                .map(|n| async move {
                    sleep(secs(1)).await;
                    Err::<(), _>(Error::InvalidState(n))
                })
                .collect::<Vec<_>>(),
        )
        .await;
        assert!(matches!(r, Err(Error::InvalidState("0"))), "{r:?}");
        let r = gather(
            NAMES
                .into_iter()
                .map(|n| async move {
                    sleep(secs(1)).await;
                    if true {
                        std::panic::panic_any(n);
                    }
                })
                .collect::<Vec<_>>(),
        )
        .await;
        match r {
            Err(Error::Panicked(p)) => assert_eq!(p.message(), "0"),
            other => panic!("unexpected {other:?}"),
        }
    })
    .unwrap();
}

#[test]
fn children_detached_by_fail_fast_do_not_report_a_later_panic() {
    let el = paused_loop();
    let seen = common::capture_exceptions(&el.handle());
    el.run_until_complete(async {
        let r = gather(vec![
            Box::pin(async {
                sleep(secs(5)).await;
                if true {
                    panic!("later");
                }
            }) as std::pin::Pin<Box<dyn Future<Output = ()>>>,
            Box::pin(async {
                sleep(secs(1)).await;
                if true {
                    panic!("first");
                }
            }),
        ])
        .await;
        assert!(r.unwrap_err().is_panic());
        let r: Result<((), ()), Error> = try_gather((
            async {
                sleep(secs(5)).await;
                if true {
                    panic!("later too");
                }
                Ok(())
            },
            async {
                sleep(secs(1)).await;
                Err(Error::Timeout)
            },
        ))
        .await;
        assert!(r.unwrap_err().is_timeout());
        sleep(secs(10)).await;
        assert_eq!(all_tasks().len(), 1, "the detached children are done");
    })
    .unwrap();
    assert!(
        seen.borrow().is_empty(),
        "a gather marks its detached children retrieved: {:?}",
        seen.borrow().iter().map(|c| &c.message).collect::<Vec<_>>()
    );
}
