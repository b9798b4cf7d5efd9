//! A task's life outside cancellation and panics: awaiting its output,
//! detached tasks that still finish, names and ids, `current_task()`,
//! `all_tasks()`, done callbacks (run through the loop after completion,
//! also when added late; removable), eager start, `Task::result()`, tasks
//! that cannot be spawned (`spawn` outside a running loop panics at the
//! call; a closed loop's `create_task` gives a failed task), and tasks that
//! outlive a burst (the registry compacted under them).

mod common;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use common::{ends_with_file, new_log, run_once};
use tulip_executor::{
    Error, EventLoop, TaskOptions, all_tasks, current_task, get_running_loop, sleep, spawn,
    yield_now,
};

#[test]
fn awaiting_a_task_yields_its_output() {
    let el = EventLoop::new().unwrap();
    let out = el
        .run_until_complete(async {
            let a = spawn(async { 6 });
            let b = spawn(async {
                sleep(Duration::from_millis(1)).await;
                7
            });
            a.await.unwrap() * b.await.unwrap()
        })
        .unwrap();
    assert_eq!(out, 42);
}

#[test]
fn a_detached_task_still_finishes() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let done = lp.create_future::<&'static str>();
    let d = done.clone();
    lp.create_task(async move {
        sleep(Duration::from_millis(2)).await;
        yield_now().await;
        d.set_result("finished").unwrap();
    })
    .detach();
    let d = done.clone();
    // Dropping the handle works the same as detach().
    drop(lp.create_task(async move {
        let _ = d.wait().await;
    }));
    assert_eq!(el.run_until_complete(done).unwrap().unwrap(), "finished");
}

#[test]
fn many_tasks_start_in_creation_order_and_all_finish() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let log = new_log();
    let finished = Rc::new(Cell::new(0));
    for i in 0..10_000 {
        let (l, f) = (log.clone(), finished.clone());
        lp.create_task(async move {
            l.borrow_mut().push(i);
            yield_now().await;
            yield_now().await;
            f.set(f.get() + 1);
        })
        .detach();
    }
    el.run_until_complete(async {
        while !all_tasks()
            .iter()
            .all(|t| t.same_task(&current_task().unwrap()))
        {
            yield_now().await;
        }
    })
    .unwrap();
    assert_eq!(finished.get(), 10_000);
    assert_eq!(*log.borrow(), (0..10_000).collect::<Vec<_>>());
}

#[test]
fn names_and_ids() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let a = lp.create_task(async {});
    let b = lp.create_task(async {});
    assert!(b.id() > a.id(), "ids increase");
    assert_eq!(a.get_name(), format!("Task-{}", a.id()));
    let named = lp.create_task_with(async {}, TaskOptions::new().name("worker"));
    assert_eq!(named.get_name(), "worker");
    named.set_name("renamed");
    assert_eq!(named.get_name(), "renamed");
    assert_eq!(named.task_ref().get_name(), "renamed");
    let r = a.task_ref();
    r.set_name("via ref");
    assert_eq!(a.get_name(), "via ref");
    assert_eq!(r.id(), a.id());
    let debug = format!("{named:?}");
    assert!(
        debug.contains("renamed") && debug.contains("pending"),
        "{debug}"
    );
    run_once(&el);
    assert!(format!("{named:?}").contains("finished"));
    assert!(a.get_loop().unwrap().same_loop(&lp));
}

#[test]
fn a_task_knows_where_it_was_created() {
    let el = EventLoop::new().unwrap();
    let line = line!() + 1;
    let task = el.create_task(async {});
    assert!(ends_with_file(
        task.source_location().file(),
        "task_lifecycle.rs"
    ));
    assert_eq!(task.source_location().line(), line);
    let inner = el
        .run_until_complete(async {
            let line = line!() + 1;
            let t = spawn(async {});
            (t.source_location().line(), line)
        })
        .unwrap();
    assert_eq!(inner.0, inner.1, "spawn records its caller");
}

#[test]
fn current_task_inside_and_outside() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    assert!(current_task().is_none());
    let in_callback = Rc::new(Cell::new(true));
    let c = in_callback.clone();
    lp.call_soon(move || c.set(current_task().is_some()))
        .unwrap();
    let seen = Rc::new(Cell::new(None));
    let s = seen.clone();
    let task = lp.create_task(async move {
        let before = current_task().unwrap();
        yield_now().await;
        let after = current_task().unwrap();
        s.set(Some(before.same_task(&after)));
        after.id()
    });
    let id = task.id();
    assert_eq!(el.run_until_complete(task).unwrap().unwrap(), id);
    assert_eq!(seen.get(), Some(true));
    assert!(!in_callback.get(), "a plain callback has no current task");
    assert!(current_task().is_none());
}

#[test]
fn all_tasks_lists_the_pending_tasks() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    assert!(all_tasks().is_empty(), "empty outside a running loop");
    let l = lp.clone();
    el.run_until_complete(async move {
        let me = current_task().unwrap();
        assert_eq!(all_tasks().len(), 1);
        assert!(all_tasks()[0].same_task(&me));
        let sleepers: Vec<_> = (0..3)
            .map(|i| spawn(sleep(Duration::from_millis(1 + i))))
            .collect();
        assert_eq!(all_tasks().len(), 4);
        assert_eq!(l.all_tasks().len(), 4);
        for s in sleepers {
            s.await.unwrap();
        }
        assert_eq!(all_tasks().len(), 1);
    })
    .unwrap();
    assert!(lp.all_tasks().is_empty());
}

#[test]
fn done_callbacks_run_through_the_loop_after_completion() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let log = new_log();
    let task = lp.create_task(async { 5 });
    for i in 0..3 {
        let l = log.clone();
        task.add_done_callback(move |t| {
            assert!(t.done());
            l.borrow_mut().push(i);
        });
    }
    let l = log.clone();
    let removed = task.add_done_callback(move |_| l.borrow_mut().push(99));
    assert!(task.remove_done_callback(removed));
    assert!(!task.remove_done_callback(removed));
    run_once(&el);
    assert!(task.done());
    assert!(
        log.borrow().is_empty(),
        "scheduled with call_soon, not called inline"
    );
    run_once(&el);
    assert_eq!(*log.borrow(), [0, 1, 2]);
    // Added after completion: still runs, on the next pass.
    let l = log.clone();
    task.add_done_callback(move |_| l.borrow_mut().push(3));
    assert_eq!(log.borrow().len(), 3);
    run_once(&el);
    assert_eq!(*log.borrow(), [0, 1, 2, 3]);
}

#[test]
fn eager_tasks_run_until_their_first_suspension_at_once() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let log = new_log();
    let l = log.clone();
    el.run_until_complete(async move {
        let l1 = l.clone();
        let eager = lp.create_task_with(
            async move {
                l1.borrow_mut().push("eager: start");
                yield_now().await;
                l1.borrow_mut().push("eager: resumed");
            },
            TaskOptions::new().eager(true),
        );
        l.borrow_mut().push("after create_task_with");
        assert!(!eager.done());
        let l2 = l.clone();
        let lazy = lp.create_task(async move { l2.borrow_mut().push("lazy: start") });
        l.borrow_mut().push("after create_task");
        let immediate = lp.create_task_with(async { 1 }, TaskOptions::new().eager(true));
        assert!(immediate.done(), "no suspension: done on return");
        assert_eq!(immediate.await.unwrap(), 1);
        eager.await.unwrap();
        lazy.await.unwrap();
    })
    .unwrap();
    assert_eq!(
        *log.borrow(),
        [
            "eager: start",
            "after create_task_with",
            "after create_task",
            "eager: resumed",
            "lazy: start",
        ]
    );
}

#[test]
fn an_eager_task_on_a_loop_that_is_not_running_is_scheduled_as_usual() {
    let el = EventLoop::new().unwrap();
    let started = Rc::new(Cell::new(false));
    let s = started.clone();
    let mut task = el.create_task_with(async move { s.set(true) }, TaskOptions::new().eager(true));
    assert!(!started.get());
    run_once(&el);
    assert!(started.get());
    task.result().unwrap();
}

#[test]
fn result_before_done_is_invalid_state() {
    let el = EventLoop::new().unwrap();
    let mut task = el.create_task(async { "value" });
    assert!(matches!(task.result(), Err(Error::InvalidState(_))));
    run_once(&el);
    assert_eq!(task.result().unwrap(), "value");
    assert!(
        matches!(task.result(), Err(Error::InvalidState(_))),
        "the outcome is taken once"
    );
}

#[test]
fn spawn_outside_a_running_loop_panics_at_the_call() {
    let payload = std::panic::catch_unwind(|| {
        let _task = spawn(async { 1 });
    })
    .expect_err("spawn without a running loop fails at the call");
    let msg = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    assert!(msg.contains("outside a running event loop"), "{msg}");
    assert!(msg.contains("Loop::create_task"), "says what to do: {msg}");
    // A loop handle's create_task works before the loop runs.
    let el = EventLoop::new().unwrap();
    let task = el.handle().create_task(async { 2 });
    assert_eq!(el.run_until_complete(task).unwrap().unwrap(), 2);
}

#[test]
fn a_task_group_child_outside_a_running_loop_is_an_error() {
    let el = EventLoop::new().unwrap();
    // `task_group` calls the body closure at once, here outside the loop:
    // `create_task` reports the missing loop instead of panicking.
    let scope = tulip_executor::task_group(|tg| {
        let r = tg.create_task(async {});
        assert!(matches!(r, Err(Error::NoRunningLoop)), "{r:?}");
        async {}
    });
    el.run_until_complete(scope).unwrap().unwrap();
}

#[test]
fn create_task_on_a_closed_loop_fails_with_loop_closed() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    el.close().unwrap();
    let task = lp.create_task(async { 1 });
    assert!(task.done());
    let other = EventLoop::new().unwrap();
    assert!(matches!(
        other.run_until_complete(task),
        Ok(Err(Error::LoopClosed))
    ));
}

#[test]
fn spawn_inside_a_callback_uses_the_running_loop() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let out = lp.create_future::<u32>();
    let o = out.clone();
    lp.call_soon(move || {
        let lp = get_running_loop().unwrap();
        let o2 = o.clone();
        lp.create_task(async move { o2.set_result(3).unwrap() })
            .detach();
    })
    .unwrap();
    assert_eq!(el.run_until_complete(out).unwrap().unwrap(), 3);
}

/// After a burst of tasks the loop's registry is compacted (its live tasks
/// move to new slots): the tasks still left are still found by
/// `current_task()` and `all_tasks()`, and leave the registry when done.
#[test]
fn tasks_outliving_a_burst_are_still_registered() {
    let el = EventLoop::new().unwrap();
    el.run_until_complete(async {
        let burst: Vec<_> = (0..5_000).map(|_| spawn(yield_now())).collect();
        let survivors: Vec<_> = (0..10)
            .map(|_| {
                spawn(async {
                    sleep(Duration::from_millis(5)).await;
                    let me = current_task().expect("a survivor finds itself");
                    assert!(all_tasks().iter().any(|t| t.id() == me.id()));
                    me.id()
                })
            })
            .collect();
        for t in burst {
            t.await.unwrap();
        }
        assert_eq!(all_tasks().len(), 11, "the survivors and this task");
        let ids: Vec<u64> = survivors.iter().map(|t| t.id()).collect();
        let mut found = Vec::new();
        for t in survivors {
            found.push(t.await.unwrap());
        }
        assert_eq!(found, ids);
        assert_eq!(all_tasks().len(), 1);
    })
    .unwrap();
}
