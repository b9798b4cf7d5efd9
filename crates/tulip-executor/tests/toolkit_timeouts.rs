//! Timeouts: `wait_for` (the inner is cancelled and its cancellation has
//! completed before `Timeout`; a `Task` given or awaited is cancelled, not
//! detached; a zero timeout still runs the body's first step; an outer cancellation wins over an inner
//! result of the same pass), the `Timeout` scope (`when`, `reschedule`,
//! `expired`), nested scopes, a foreign cancellation, a refused second
//! `run` leaving the running scope's wake-up alone, and a timeout around a
//! task group or a gather dropping the children's futures before it
//! returns. Virtual clock.

mod common;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use common::drop_flag;
use tulip_executor::{
    Error, TaskRef, Timeout, all_tasks, gather, get_running_loop, sleep, spawn, task_group,
    timeout, timeout_at, wait_for, wait_for_task, yield_now,
};
use tulip_test::paused_loop;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[test]
fn wait_for_drops_the_inner_before_returning_timeout() {
    let el = paused_loop();
    let lp = el.handle();
    let (guard, dropped) = drop_flag();
    el.run_until_complete(async move {
        let t0 = lp.time();
        let r = wait_for(
            async move {
                let _g = guard;
                sleep(secs(60)).await;
            },
            secs(2),
        )
        .await;
        assert!(r.unwrap_err().is_timeout());
        assert!(
            dropped.get(),
            "the inner's cleanup ran before Timeout was returned"
        );
        assert_eq!(lp.time() - t0, secs(2));
        assert_eq!(wait_for(async { 5 }, secs(1)).await.unwrap(), 5);
    })
    .unwrap();
}

/// A task that holds `guard` while it sleeps a minute, and a reference to it.
fn guarded_sleeper(guard: common::DropFlag) -> (tulip_executor::Task<()>, TaskRef) {
    let task = spawn(async move {
        let _g = guard;
        sleep(secs(60)).await;
    });
    let r = task.task_ref();
    (task, r)
}

#[test]
fn wait_for_given_a_task_cancels_it_and_reports_once_it_is_done() {
    let el = paused_loop();
    let (guard, dropped) = drop_flag();
    el.run_until_complete(async move {
        let (task, r) = guarded_sleeper(guard);
        assert!(wait_for(task, secs(1)).await.unwrap_err().is_timeout());
        assert!(r.done() && r.cancelled(), "cancelled, not detached");
        assert!(dropped.get(), "its cleanup ran before Timeout");
        assert_eq!(all_tasks().len(), 1);
        // A task awaited inside the body is cancelled the same way.
        let inner = spawn(sleep(secs(60)));
        let ir = inner.task_ref();
        let out = timeout(secs(1))
            .run(async move {
                yield_now().await;
                inner.await
            })
            .await;
        assert!(out.unwrap_err().is_timeout());
        assert!(ir.done() && ir.cancelled());
        // An outer timeout dropping an inner wait_for waits for its task.
        let nested = spawn(sleep(secs(60)));
        let nr = nested.task_ref();
        let out = timeout(secs(1))
            .run(async move { wait_for(nested, secs(10)).await })
            .await;
        assert!(out.unwrap_err().is_timeout());
        assert!(nr.done() && nr.cancelled(), "done when the outer reports");
        // `&mut task` lends it: the task outlives the timeout.
        let mut kept = spawn(async {
            sleep(secs(5)).await;
            9
        });
        assert!(wait_for(&mut kept, secs(1)).await.unwrap_err().is_timeout());
        assert!(!kept.done());
        assert_eq!(kept.await.unwrap(), 9);
    })
    .unwrap();
}

#[test]
fn a_zero_timeout_runs_the_body_first_step() {
    // asyncio's timeout is a callback: a body ready at its first step
    // beats even a deadline already past.
    let el = paused_loop();
    el.run_until_complete(async {
        assert_eq!(wait_for(async { 3 }, Duration::ZERO).await.unwrap(), 3);
        let done = spawn(async { 4 });
        yield_now().await;
        assert_eq!(wait_for(done, Duration::ZERO).await.unwrap().unwrap(), 4);
        let slow = spawn(sleep(secs(1)));
        let r = slow.task_ref();
        let out = wait_for(slow, Duration::ZERO).await;
        assert!(out.unwrap_err().is_timeout());
        assert!(r.done() && r.cancelled());
    })
    .unwrap();
}

#[test]
fn wait_for_task_cancels_the_task_and_its_cancellation_completes_first() {
    let el = paused_loop();
    let (guard, dropped) = drop_flag();
    el.run_until_complete(async move {
        let (task, r) = guarded_sleeper(guard);
        let out = wait_for_task(task, secs(1)).await;
        assert!(out.unwrap_err().is_timeout());
        assert!(r.done() && r.cancelled(), "the task is done, cancelled");
        assert!(dropped.get());
        let quick = spawn(async { 7 });
        assert_eq!(wait_for_task(quick, secs(1)).await.unwrap(), 7);
    })
    .unwrap();
}

#[test]
fn outer_cancellation_wins_over_an_inner_result_of_the_same_pass() {
    let el = paused_loop();
    el.run_until_complete(async move {
        let outer_ref: Rc<RefCell<Option<TaskRef>>> = Rc::new(RefCell::new(None));
        let o = outer_ref.clone();
        // The inner completes with a value and, in the same step, the
        // outer is cancelled.
        let inner = spawn(async move {
            sleep(secs(1)).await;
            o.borrow().as_ref().unwrap().cancel();
            5
        });
        let inner_ref = inner.task_ref();
        let outer = spawn(wait_for_task(inner, secs(10)));
        *outer_ref.borrow_mut() = Some(outer.task_ref());
        assert!(outer.await.unwrap_err().is_cancelled(), "never swallowed");
        assert!(inner_ref.done() && !inner_ref.cancelled());

        // The same with a plain future inside wait_for.
        let outer_ref: Rc<RefCell<Option<TaskRef>>> = Rc::new(RefCell::new(None));
        let o = outer_ref.clone();
        let outer = spawn(wait_for(
            async move {
                sleep(secs(1)).await;
                o.borrow().as_ref().unwrap().cancel();
                5
            },
            secs(10),
        ));
        *outer_ref.borrow_mut() = Some(outer.task_ref());
        assert!(outer.await.unwrap_err().is_cancelled());
    })
    .unwrap();
}

#[test]
fn dropping_wait_for_task_cancels_the_inner() {
    let el = paused_loop();
    el.run_until_complete(async move {
        let inner = spawn(sleep(secs(60)));
        let r = inner.task_ref();
        let outer = spawn(wait_for_task(inner, secs(10)));
        sleep(secs(1)).await;
        outer.cancel();
        assert!(outer.await.unwrap_err().is_cancelled());
        yield_now().await;
        assert!(r.done() && r.cancelled());
        assert_eq!(all_tasks().len(), 1);
    })
    .unwrap();
}

#[test]
fn when_reschedule_expired() {
    let el = paused_loop();
    let lp = el.handle();
    el.run_until_complete(async move {
        let t0 = lp.time();
        let t = timeout(secs(1));
        assert_eq!(t.when(), Some(t0 + secs(1)));
        assert!(!t.expired());
        let t2 = t.clone();
        let r = t
            .run(async move {
                // Extend from inside the body.
                t2.reschedule(Some(get_running_loop().unwrap().time() + secs(10)))
                    .unwrap();
                sleep(secs(5)).await;
                // Shorten to a deadline already past: expires at once.
                t2.reschedule(Some(t0)).unwrap();
                sleep(secs(5)).await;
                "unreachable"
            })
            .await;
        assert!(r.unwrap_err().is_timeout());
        assert!(t.expired());
        assert_eq!(lp.time() - t0, secs(5));
        assert!(matches!(t.reschedule(None), Err(Error::InvalidState(_))));
        assert!(matches!(t.run(async {}).await, Err(Error::InvalidState(_))));

        // No deadline, then one set from another task.
        let t = Timeout::new(None);
        assert_eq!(t.when(), None);
        let t3 = t.clone();
        let l2 = lp.clone();
        let _setter = spawn(async move {
            sleep(secs(2)).await;
            t3.reschedule(Some(l2.time() + secs(1))).unwrap();
        });
        let t1 = lp.time();
        assert!(t.run(sleep(secs(3600))).await.unwrap_err().is_timeout());
        assert_eq!(lp.time() - t1, secs(3));

        // A deadline removed: the body completes.
        let t = timeout_at(lp.time() + secs(1));
        let t4 = t.clone();
        let r = t
            .run(async move {
                t4.reschedule(None).unwrap();
                sleep(secs(2)).await;
                1
            })
            .await;
        assert_eq!(r.unwrap(), 1);
        assert!(!t.expired());
        assert!(matches!(t.reschedule(None), Err(Error::InvalidState(_))));
    })
    .unwrap();
}

#[test]
fn inner_expiry_ends_only_the_inner_scope() {
    let el = paused_loop();
    el.run_until_complete(async move {
        let outer = timeout(secs(10));
        let inner = timeout(secs(1));
        let i2 = inner.clone();
        let r = outer
            .run(async move {
                let r = i2.run(sleep(secs(5))).await;
                assert!(r.unwrap_err().is_timeout());
                sleep(secs(1)).await;
                "outer body went on"
            })
            .await;
        assert_eq!(r.unwrap(), "outer body went on");
        assert!(inner.expired());
        assert!(!outer.expired());
    })
    .unwrap();
}

#[test]
fn outer_expiry_while_the_inner_runs_is_the_outers() {
    let el = paused_loop();
    let (guard, dropped) = drop_flag();
    el.run_until_complete(async move {
        let outer = timeout(secs(1));
        let inner = timeout(secs(10));
        let i2 = inner.clone();
        let r = outer
            .run(async move {
                let _g = guard;
                let _ = i2.run(sleep(secs(5))).await;
                "unreachable"
            })
            .await;
        assert!(r.unwrap_err().is_timeout());
        assert!(outer.expired());
        assert!(!inner.expired());
        assert!(dropped.get());
    })
    .unwrap();
}

#[test]
fn foreign_cancellation_wins_over_nested_timeouts() {
    let el = paused_loop();
    let (guard, dropped) = drop_flag();
    el.run_until_complete(async move {
        let outer = timeout(secs(2));
        let inner = timeout(secs(1));
        let (o2, i2) = (outer.clone(), inner.clone());
        let task = spawn(async move {
            o2.run(async move {
                let _g = guard;
                i2.run(sleep(secs(5))).await
            })
            .await
        });
        sleep(Duration::from_millis(500)).await;
        task.cancel();
        let r = task.await;
        assert!(r.unwrap_err().is_cancelled(), "not turned into a timeout");
        assert!(!outer.expired() && !inner.expired());
        assert!(dropped.get());
        // Cancelling in the very pass the inner deadline fires: still a
        // cancellation.
        let inner = timeout(secs(1));
        let i3 = inner.clone();
        let task = spawn(async move { i3.run(sleep(secs(5))).await });
        let tr = task.task_ref();
        let lp = get_running_loop().unwrap();
        let _h = lp.call_later(secs(1), move || {
            tr.cancel();
        });
        assert!(task.await.unwrap_err().is_cancelled());
    })
    .unwrap();
}

/// A child that holds `guard` and, after sleeping `secs`, sets `ran`.
async fn child(guard: common::DropFlag, secs_: u64, ran: Rc<Cell<bool>>) {
    let _g = guard;
    sleep(secs(secs_)).await;
    ran.set(true);
}

#[test]
fn a_timeout_around_a_task_group_drops_the_children_before_returning() {
    // Child 0 is suspended when the deadline passes; child 1's timer fires
    // in the same pass as the deadline, after it: it is queued, not run yet.
    let el = paused_loop();
    let (g0, dropped0) = drop_flag();
    let (g1, dropped1) = drop_flag();
    let ran = Rc::new(Cell::new(false));
    let r1 = ran.clone();
    let kids: Rc<RefCell<Vec<TaskRef>>> = Rc::default();
    let k = kids.clone();
    el.run_until_complete(async move {
        let t0 = get_running_loop().unwrap().time();
        let r = timeout(secs(1))
            .run(task_group(|tg| async move {
                let a = tg
                    .create_task(child(g0, 100, Rc::new(Default::default())))
                    .unwrap();
                let b = tg.create_task(child(g1, 1, r1)).unwrap();
                k.borrow_mut().extend([a.task_ref(), b.task_ref()]);
                sleep(secs(100)).await;
            }))
            .await;
        assert!(r.unwrap_err().is_timeout());
        assert_eq!(get_running_loop().unwrap().time() - t0, secs(1));
        assert!(dropped0.get(), "the suspended child's future was dropped");
        assert!(dropped1.get(), "the queued child's future was dropped");
        // Done when the error is returned, not a pass later.
        assert!(kids.borrow().iter().all(|t| t.done() && t.cancelled()));
        assert_eq!(all_tasks().len(), 1, "no child task left");
        yield_now().await;
        assert!(!ran.get(), "the queued child never ran again");
    })
    .unwrap();
}

#[test]
fn wait_for_a_gather_drops_the_children_before_returning() {
    let el = paused_loop();
    let (g0, dropped0) = drop_flag();
    let (g1, dropped1) = drop_flag();
    let ran = Rc::new(Cell::new(false));
    let r1 = ran.clone();
    el.run_until_complete(async move {
        let r = wait_for(
            gather((
                child(g0, 100, Rc::new(Default::default())),
                child(g1, 1, r1),
            )),
            secs(1),
        )
        .await;
        assert!(r.unwrap_err().is_timeout());
        assert!(dropped0.get(), "the suspended child's future was dropped");
        assert!(dropped1.get(), "the queued child's future was dropped");
        assert_eq!(all_tasks().len(), 1, "no child task left");
        yield_now().await;
        assert!(!ran.get(), "the queued child never ran again");
    })
    .unwrap();
}

#[test]
fn a_refused_second_run_does_not_steal_the_running_scopes_wake_up() {
    let el = paused_loop();
    el.run_until_complete(async {
        let lp = get_running_loop().unwrap();
        let t0 = lp.time();
        let t = Timeout::new(None);
        let t1 = t.clone();
        let first = spawn(async move { t1.run(sleep(secs(100))).await });
        yield_now().await; // the first scope is entered and suspended
        let t2 = t.clone();
        let second = t2.run(async {}).await;
        assert!(matches!(second, Err(Error::InvalidState(_))));
        t2.reschedule(Some(lp.time() + secs(1))).unwrap();
        assert!(first.await.unwrap().unwrap_err().is_timeout());
        assert_eq!(lp.time() - t0, secs(1), "expired at the new deadline");
        assert!(t.expired());
    })
    .unwrap();
}
