//! `Loop::set_task_factory` / `get_task_factory`: a factory sees every task
//! made through `create_task` (and `spawn`, task groups, `gather`), can make
//! every task eager, name it, give it a context or wrap its future, while
//! the typed `Task<T>` handle works as without one (outputs, cancellation,
//! panics); a wrapper that drops the task's future ends the task
//! cancelled; removing the factory restores the usual path.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use tulip_executor::contextvars::{Context, ContextVar};
use tulip_executor::{
    Loop, NewTask, TaskFactory, TaskOptions, gather, sleep, spawn, task_group, yield_now,
};
use tulip_test::paused_loop;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn eager_factory() -> TaskFactory {
    Rc::new(|_lp: &Loop, mut task: NewTask| {
        task.options.eager = true;
        task
    })
}

#[test]
fn set_get_and_remove() {
    let el = paused_loop();
    assert!(el.get_task_factory().is_none());
    let f = eager_factory();
    el.set_task_factory(Some(f.clone()));
    assert!(Rc::ptr_eq(&el.get_task_factory().unwrap(), &f));
    el.set_task_factory(None);
    assert!(el.get_task_factory().is_none());
    assert_eq!(Rc::strong_count(&f), 1, "the loop let go of it");
}

#[test]
fn an_eager_factory_makes_every_task_eager_until_removed() {
    let el = paused_loop();
    let lp = el.handle();
    el.run_until_complete(async move {
        lp.set_task_factory(Some(eager_factory()));
        let ran = Rc::new(Cell::new(0));
        let r = ran.clone();
        let task = spawn(async move {
            r.set(r.get() + 1);
            sleep(ms(5)).await;
            "slept"
        });
        assert_eq!(ran.get(), 1, "ran to its first suspension inside spawn");
        assert!(!task.done());
        let quick = lp.create_task(async { 5 });
        assert!(quick.done());
        assert_eq!(quick.await.unwrap(), 5);
        assert_eq!(task.await.unwrap(), "slept");

        lp.set_task_factory(None);
        let r = ran.clone();
        let task = spawn(async move { r.set(r.get() + 1) });
        assert_eq!(ran.get(), 1, "scheduled, not run");
        task.await.unwrap();
        assert_eq!(ran.get(), 2);
    })
    .unwrap();
}

#[test]
fn a_factory_names_tasks_and_sees_their_options() {
    let el = paused_loop();
    let lp = el.handle();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    let count = Rc::new(Cell::new(0));
    lp.set_task_factory(Some(Rc::new(move |_lp: &Loop, mut task: NewTask| {
        s.borrow_mut()
            .push((task.options.name.clone(), task.options.eager));
        if task.options.name.is_none() {
            count.set(count.get() + 1);
            task.options.name = Some(format!("auto-{}", count.get()));
        }
        task
    })));
    let l = lp.clone();
    el.run_until_complete(async move {
        let a = spawn(async {});
        let b = l.create_task_with(async {}, TaskOptions::new().name("given").eager(true));
        assert_eq!(a.get_name(), "auto-2", "the main task was auto-1");
        assert_eq!(b.get_name(), "given");
        a.await.unwrap();
        b.await.unwrap();
    })
    .unwrap();
    assert_eq!(
        *seen.borrow(),
        [(None, false), (None, false), (Some("given".into()), true)]
    );
}

#[test]
fn a_factory_wraps_futures_and_outputs_stay_typed() {
    let el = paused_loop();
    let lp = el.handle();
    let log = Rc::new(RefCell::new(Vec::new()));
    let l = log.clone();
    lp.set_task_factory(Some(Rc::new(move |_lp: &Loop, task: NewTask| {
        let log = l.clone();
        let line = task.source_location().line();
        task.wrap(move |body| async move {
            log.borrow_mut().push(format!("start {line}"));
            body.await;
            log.borrow_mut().push(format!("end {line}"));
        })
    })));
    let main_log = log.clone();
    let out = el
        .run_until_complete(async move {
            let n = spawn(async {
                sleep(ms(1)).await;
                41 + 1
            });
            let s = spawn(async { String::from("text") });
            let v = spawn(async { vec![1u8, 2, 3] });
            (n.await.unwrap(), s.await.unwrap(), v.await.unwrap())
        })
        .unwrap();
    assert_eq!(out, (42, "text".to_string(), vec![1, 2, 3]));
    let log = main_log.borrow();
    // The main task and the three children, each started and ended.
    assert_eq!(log.iter().filter(|l| l.starts_with("start")).count(), 4);
    assert_eq!(log.iter().filter(|l| l.starts_with("end")).count(), 4);
}

#[test]
fn cancellation_and_panics_through_a_wrapped_task() {
    let el = paused_loop();
    let lp = el.handle();
    lp.set_task_factory(Some(Rc::new(|_lp: &Loop, task: NewTask| {
        task.wrap(|body| body)
    })));
    el.run_until_complete(async {
        let sleeper = spawn(sleep(Duration::from_secs(3600)));
        yield_now().await;
        sleeper.cancel();
        assert!(sleeper.await.unwrap_err().is_cancelled());

        let panicking = spawn(async { panic!("inside a wrapped task") });
        let err = panicking.await.unwrap_err();
        assert!(matches!(err, tulip_executor::Error::Panicked(_)), "{err:?}");
    })
    .unwrap();
}

#[test]
fn a_wrapper_that_drops_the_body_ends_the_task_cancelled() {
    let el = paused_loop();
    let lp = el.handle();
    let finished = Rc::new(Cell::new(false));
    let f = finished.clone();
    let lp2 = lp.clone();
    el.run_until_complete(async move {
        // A factory with a deadline of its own: the body never completes.
        lp2.set_task_factory(Some(Rc::new(|_lp: &Loop, task: NewTask| {
            task.wrap(|body| async move {
                let _ = tulip_executor::wait_for(body, Duration::from_millis(10)).await;
            })
        })));
        let task = spawn(async move {
            sleep(Duration::from_secs(60)).await;
            f.set(true);
            1
        });
        let err = task.await.unwrap_err();
        assert!(err.is_cancelled(), "{err:?}");
        lp2.set_task_factory(None);
    })
    .unwrap_or_else(|e| panic!("the main task: {e:?}"));
    assert!(!finished.get());
}

#[test]
fn a_factory_can_give_tasks_a_context() {
    static TENANT: ContextVar<&str> = ContextVar::new("tenant");
    let el = paused_loop();
    let lp = el.handle();
    el.run_until_complete(async move {
        TENANT.set("parent");
        lp.set_task_factory(Some(Rc::new(|_lp: &Loop, mut task: NewTask| {
            if task.options.context.is_none() {
                let mut ctx = Context::current();
                ctx.run(|| TENANT.set("from the factory"));
                task.options.context = Some(ctx);
            }
            task
        })));
        assert_eq!(
            spawn(async { TENANT.get() }).await.unwrap(),
            Some("from the factory")
        );
        let mut mine = Context::new();
        mine.run(|| TENANT.set("given"));
        let t = lp.create_task_with(async { TENANT.get() }, TaskOptions::new().context(mine));
        assert_eq!(t.await.unwrap(), Some("given"));
        lp.set_task_factory(None);
        assert_eq!(spawn(async { TENANT.get() }).await.unwrap(), Some("parent"));
    })
    .unwrap();
}

#[test]
fn gather_and_task_group_children_go_through_the_factory() {
    let el = paused_loop();
    let lp = el.handle();
    let made = Rc::new(Cell::new(0));
    let m = made.clone();
    el.run_until_complete(async move {
        lp.set_task_factory(Some(Rc::new(move |_lp: &Loop, task: NewTask| {
            m.set(m.get() + 1);
            task
        })));
        let (a, b) = gather((async { 1 }, async { "b" })).await.unwrap();
        assert_eq!((a, b), (1, "b"));
        task_group(|tg| async move {
            for _ in 0..3 {
                tg.create_task(async { sleep(ms(1)).await })
                    .unwrap()
                    .detach();
            }
        })
        .await
        .unwrap();
        lp.set_task_factory(None);
    })
    .unwrap();
    assert_eq!(made.get(), 5);
}

#[test]
fn a_factory_may_create_tasks_itself() {
    let el = paused_loop();
    let lp = el.handle();
    let side = Rc::new(Cell::new(0));
    let s = side.clone();
    el.run_until_complete(async move {
        lp.set_task_factory(Some(Rc::new(move |lp: &Loop, task: NewTask| {
            // Named tasks are the factory's own helpers: let them through.
            if task.options.name.as_deref() != Some("helper") {
                let s = s.clone();
                lp.create_task_with(
                    async move { s.set(s.get() + 1) },
                    TaskOptions::new().name("helper"),
                )
                .detach();
            }
            task
        })));
        spawn(async {}).await.unwrap();
        spawn(async {}).await.unwrap();
        yield_now().await;
        lp.set_task_factory(None);
    })
    .unwrap();
    assert_eq!(side.get(), 2);
}

#[test]
fn a_closed_loop_does_not_call_the_factory() {
    let el = paused_loop();
    let called = Rc::new(Cell::new(false));
    let c = called.clone();
    el.set_task_factory(Some(Rc::new(move |_lp: &Loop, task: NewTask| {
        c.set(true);
        task
    })));
    el.close().unwrap();
    let mut task = el.create_task(async { 1 });
    assert!(matches!(
        task.result(),
        Err(tulip_executor::Error::LoopClosed)
    ));
    assert!(!called.get());
}
