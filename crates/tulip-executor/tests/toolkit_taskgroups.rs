//! `TaskGroup`: 100 children with one failing (siblings cancelled, the
//! error collected, no task left alive), the parent cancelled mid-run (no
//! task left alive), a child panic resumed in the parent, and creating a
//! task in a group that is shutting down or finished, children done when
//! their cancelled parent reports, and every failure of one pass reported.
//! Virtual clock.

mod common;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use common::drop_flag;
use tulip_executor::{Error, TaskGroup, TaskRef, all_tasks, sleep, spawn, task_group, yield_now};
use tulip_test::paused_loop;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[test]
fn all_children_complete_before_the_group_exits() {
    let el = paused_loop();
    let lp = el.handle();
    el.run_until_complete(async move {
        let t0 = lp.time();
        let done = Rc::new(Cell::new(0));
        let d = done.clone();
        let r = task_group(|tg| async move {
            for i in 1..=10u64 {
                let d = d.clone();
                tg.create_task(async move {
                    sleep(secs(i)).await;
                    d.set(d.get() + 1);
                })
                .unwrap()
                .detach();
            }
            "body"
        })
        .await;
        assert_eq!(r.unwrap(), "body");
        assert_eq!(done.get(), 10);
        assert_eq!(lp.time() - t0, secs(10));
        assert_eq!(all_tasks().len(), 1);
    })
    .unwrap();
}

#[test]
fn one_failing_child_of_100_cancels_the_siblings_and_the_body() {
    let el = paused_loop();
    let mut flags = Vec::new();
    let mut guards = Vec::new();
    for _ in 0..99 {
        let (g, f) = drop_flag();
        guards.push(g);
        flags.push(f);
    }
    let (body_guard, body_dropped) = drop_flag();
    let finished = Rc::new(Cell::new(0));
    let fin = finished.clone();
    el.run_until_complete(async move {
        let r = task_group(|tg| async move {
            let _b = body_guard;
            for (i, g) in guards.into_iter().enumerate() {
                let fin = fin.clone();
                tg.create_task(async move {
                    let _g = g;
                    sleep(secs(10 + i as u64)).await;
                    fin.set(fin.get() + 1);
                })
                .unwrap()
                .detach();
            }
            tg.try_create_task(async {
                sleep(secs(1)).await;
                Err::<(), _>(Error::InvalidState("child failed"))
            })
            .unwrap()
            .detach();
            sleep(secs(3600)).await;
            "unreachable"
        })
        .await;
        let err = r.unwrap_err();
        assert_eq!(err.errors.len(), 1);
        assert!(matches!(err.errors[0], Error::InvalidState("child failed")));
        assert!(err.to_string().contains("child failed"));
        assert_eq!(all_tasks().len(), 1, "no child is left alive");
    })
    .unwrap();
    assert!(body_dropped.get(), "the body was cancelled");
    assert!(flags.iter().all(|f| f.get()), "every sibling was dropped");
    assert_eq!(finished.get(), 0, "no sibling ran to its end");
}

#[test]
fn parent_cancelled_mid_run_leaves_no_task_alive() {
    let el = paused_loop();
    let mut flags = Vec::new();
    let mut guards = Vec::new();
    for _ in 0..100 {
        let (g, f) = drop_flag();
        guards.push(g);
        flags.push(f);
    }
    el.run_until_complete(async move {
        let parent = spawn(task_group(|tg| async move {
            for g in guards {
                tg.create_task(async move {
                    let _g = g;
                    sleep(secs(3600)).await;
                })
                .unwrap()
                .detach();
            }
            sleep(secs(7200)).await;
        }));
        sleep(secs(1)).await;
        assert_eq!(all_tasks().len(), 102);
        parent.cancel();
        assert!(parent.await.unwrap_err().is_cancelled());
        // The children are done by the time the parent reports.
        assert_eq!(all_tasks().len(), 1, "no task left alive");
    })
    .unwrap();
    assert!(flags.iter().all(|f| f.get()));
}

#[test]
fn children_are_done_in_the_pass_their_parent_is_cancelled() {
    let el = paused_loop();
    el.run_until_complete(async {
        let kids: Rc<RefCell<Vec<TaskRef>>> = Rc::default();
        let k = kids.clone();
        let parent = spawn(task_group(|tg| async move {
            for _ in 0..3 {
                let t = tg.create_task(sleep(secs(3600))).unwrap();
                k.borrow_mut().push(t.task_ref());
            }
            sleep(secs(7200)).await;
        }));
        sleep(secs(1)).await;
        parent.cancel();
        // One pass: the parent runs (and is dropped) before this task resumes.
        yield_now().await;
        assert!(parent.done());
        assert!(kids.borrow().iter().all(|t| t.done() && t.cancelled()));
        assert_eq!(all_tasks().len(), 1, "no child listed a pass later");
    })
    .unwrap();
}

#[test]
fn a_child_panic_is_resumed_when_the_group_exits() {
    let el = paused_loop();
    el.run_until_complete(async move {
        let sibling_done = Rc::new(Cell::new(false));
        let s = sibling_done.clone();
        let parent = spawn(task_group(|tg| async move {
            tg.create_task(async move {
                sleep(secs(60)).await;
                s.set(true);
            })
            .unwrap()
            .detach();
            let child = tg
                .create_task(async {
                    sleep(secs(1)).await;
                    panic!("child boom");
                })
                .unwrap();
            let _ = child.await;
        }));
        match parent.await {
            Err(Error::Panicked(p)) => assert_eq!(p.message(), "child boom"),
            other => panic!("expected the child's panic, got {other:?}"),
        }
        assert!(!sibling_done.get());
        assert_eq!(all_tasks().len(), 1);
    })
    .unwrap();
}

#[test]
fn create_task_while_shutting_down_or_finished_is_an_error() {
    let el = paused_loop();
    el.run_until_complete(async move {
        let kept: Rc<RefCell<Option<TaskGroup>>> = Rc::new(RefCell::new(None));
        let k = kept.clone();
        let during: Rc<RefCell<Option<Result<(), Error>>>> = Rc::new(RefCell::new(None));
        let d = during.clone();
        let r = task_group(|tg| async move {
            *k.borrow_mut() = Some(tg.clone());
            let tg2 = tg.clone();
            tg.create_task(async move {
                // Runs when this child is cancelled by the abort.
                struct OnDrop(TaskGroup, Rc<RefCell<Option<Result<(), Error>>>>);
                impl Drop for OnDrop {
                    fn drop(&mut self) {
                        let r = self.0.create_task(async {}).map(|t| t.detach());
                        *self.1.borrow_mut() = Some(r);
                    }
                }
                let _g = OnDrop(tg2, d);
                sleep(secs(60)).await;
            })
            .unwrap()
            .detach();
            tg.try_create_task(async {
                sleep(secs(1)).await;
                Err::<(), _>(Error::Timeout)
            })
            .unwrap()
            .detach();
        })
        .await;
        assert!(r.unwrap_err().errors[0].is_timeout());
        let during = during.borrow_mut().take().unwrap();
        assert!(matches!(during, Err(Error::InvalidState(m)) if m.contains("shutting down")));
        let tg = kept.borrow_mut().take().unwrap();
        assert!(matches!(
            tg.create_task(async {}),
            Err(Error::InvalidState(m)) if m.contains("finished")
        ));
        assert_eq!(all_tasks().len(), 1);
    })
    .unwrap();
}

#[test]
fn a_child_cancelled_from_outside_is_not_a_failure() {
    let el = paused_loop();
    el.run_until_complete(async move {
        let r = task_group(|tg| async move {
            let t = tg.create_task(sleep(secs(60))).unwrap();
            let u = tg.create_task(async { 2 }).unwrap();
            t.cancel();
            (t.await.unwrap_err().is_cancelled(), u.await.unwrap())
        })
        .await;
        assert_eq!(r.unwrap(), (true, 2));
    })
    .unwrap();
}

#[test]
fn a_failing_try_create_task_child_keeps_its_own_outcome() {
    let el = paused_loop();
    el.run_until_complete(async {
        type Handles = (
            tulip_executor::Task<Result<(), Error>>,
            tulip_executor::Task<()>,
        );
        let handles: Rc<RefCell<Option<Handles>>> = Rc::new(RefCell::new(None));
        let h = handles.clone();
        let r = task_group(|tg| async move {
            let failing = tg
                .try_create_task(async {
                    sleep(secs(1)).await;
                    Err::<(), _>(Error::Timeout)
                })
                .unwrap();
            let sibling = tg.create_task(sleep(secs(100))).unwrap();
            *h.borrow_mut() = Some((failing, sibling));
            sleep(secs(100)).await;
        })
        .await;
        let errors = r.unwrap_err().errors;
        assert_eq!(errors.len(), 1);
        assert!(errors[0].is_timeout());
        let (failing, sibling) = handles.borrow_mut().take().unwrap();
        assert!(
            matches!(failing.await, Ok(Err(Error::Timeout))),
            "the failing child's handle yields Ok(Err(e)), as documented"
        );
        assert!(sibling.await.unwrap_err().is_cancelled());
    })
    .unwrap();
}

#[test]
fn failures_of_the_same_pass_are_all_reported() {
    // Three children fail in the same pass; a sleeper is cancelled by the
    // abort. asyncio's ExceptionGroup holds the three errors, in order.
    let el = paused_loop();
    el.run_until_complete(async {
        let r = task_group(|tg| async move {
            for what in ["first", "second", "third"] {
                tg.try_create_task(async move { Err::<(), _>(Error::InvalidState(what)) })
                    .unwrap()
                    .detach();
            }
            tg.create_task(sleep(secs(100))).unwrap().detach();
            sleep(secs(100)).await;
        })
        .await;
        let errors = r.unwrap_err().errors;
        let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(messages.len(), 3, "{messages:?}");
        for (m, what) in messages.iter().zip(["first", "second", "third"]) {
            assert!(m.contains(what), "{m} should name {what}");
        }
        assert_eq!(all_tasks().len(), 1, "the sleeper was cancelled");
    })
    .unwrap();
}
