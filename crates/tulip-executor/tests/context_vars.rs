//! Context variables on their own and across tasks: `get`/`set`/`reset`
//! with asyncio's three token errors; `Context::run`, copies, iteration;
//! a child task sees its parent's values as they were at its creation and
//! its own sets never reach the parent (also through `gather`, `TaskGroup`,
//! eager tasks and an explicit `context=`); `Task::get_context`; values
//! dropped where expected; many variables (a trie several levels deep).

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use tulip_executor::contextvars::{Context, ContextVar, TokenError};
use tulip_executor::{TaskOptions, gather, sleep, spawn, task_group, yield_now};
use tulip_test::paused_loop;

static USER: ContextVar<String> = ContextVar::new("user");
static DEPTH: ContextVar<u32> = ContextVar::with_default("depth", 0);
static OTHER: ContextVar<u32> = ContextVar::new("other");

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn get_set_and_defaults() {
    let mut ctx = Context::new();
    ctx.run(|| {
        assert_eq!(USER.get(), None);
        assert_eq!(DEPTH.get(), Some(0), "the default");
        assert_eq!(DEPTH.get_or(9), 9, "a fallback beats the default");
        assert_eq!(USER.get_or_default(), "");
        let t = USER.set("ann".into());
        assert_eq!(t.old_value(), None);
        assert_eq!(USER.get().as_deref(), Some("ann"));
        assert_eq!(USER.with(|u| u.map(String::len)), Some(3));
        let t2 = USER.set("bo".into());
        assert_eq!(t2.old_value().as_deref(), Some("ann"));
        assert_eq!(USER.get_or("x".into()), "bo");
    });
    assert_eq!(ctx.len(), 1);
    assert_eq!(ctx.get(&USER).as_deref(), Some("bo"));
    assert!(ctx.contains(&USER) && !ctx.contains(&DEPTH));
}

#[test]
fn reset_restores_the_old_value_or_unsets() {
    Context::new().run(|| {
        let first = DEPTH.set(1);
        let second = DEPTH.set(2);
        DEPTH.reset(&second).unwrap();
        assert_eq!(DEPTH.get(), Some(1));
        DEPTH.reset(&first).unwrap();
        assert_eq!(DEPTH.get(), Some(0), "unset: the default again");
        assert!(Context::current().is_empty());
        // Out of order (second after first), as asyncio allows.
        let a = DEPTH.set(5);
        let b = DEPTH.set(6);
        DEPTH.reset(&a).unwrap();
        assert_eq!(DEPTH.get(), Some(0));
        DEPTH.reset(&b).unwrap();
        assert_eq!(DEPTH.get(), Some(5), "b's old value");
    });
}

#[test]
fn reset_errors_are_asyncios_and_change_nothing() {
    Context::new().run(|| {
        let t = DEPTH.set(1);
        DEPTH.reset(&t).unwrap();
        assert_eq!(
            DEPTH.reset(&t),
            Err(TokenError::AlreadyUsed { var: "depth" })
        );
        let t = DEPTH.set(2);
        assert_eq!(
            OTHER.reset(&t),
            Err(TokenError::WrongVar {
                token_var: "depth",
                var: "other"
            })
        );
        // Another context: a copy of this one, a fresh one.
        let mut copy = Context::current();
        assert_eq!(
            copy.run(|| DEPTH.reset(&t)),
            Err(TokenError::WrongContext { var: "depth" })
        );
        assert_eq!(
            Context::new().run(|| DEPTH.reset(&t)),
            Err(TokenError::WrongContext { var: "depth" })
        );
        assert_eq!(DEPTH.get(), Some(2), "nothing changed");
        assert!(!t.used());
        DEPTH.reset(&t).unwrap();
        // The messages name the variable.
        let msg = TokenError::WrongVar {
            token_var: "depth",
            var: "other",
        }
        .to_string();
        assert!(msg.contains("'depth'") && msg.contains("'other'"), "{msg}");
    });
}

#[test]
fn a_context_entered_again_accepts_its_tokens() {
    let mut ctx = Context::new();
    let token = ctx.run(|| DEPTH.set(3));
    assert_eq!(DEPTH.get(), Some(0), "not set outside");
    ctx.run(|| DEPTH.reset(&token)).unwrap();
    assert_eq!(ctx.get(&DEPTH), None);
}

#[test]
fn run_restores_the_outer_context_after_a_panic() {
    let mut outer = Context::new();
    outer.run(|| {
        USER.set("outer".into());
        let mut inner = Context::new();
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            inner.run(|| {
                USER.set("inner".into());
                panic!("boom");
            })
        }));
        assert!(caught.is_err());
        assert_eq!(USER.get().as_deref(), Some("outer"));
        assert_eq!(
            inner.get(&USER).as_deref(),
            Some("inner"),
            "kept what it set"
        );
    });
}

#[test]
fn copies_are_independent_and_iterable() {
    let mut a = Context::new();
    a.run(|| {
        USER.set("a".into());
        DEPTH.set(1);
    });
    let mut b = a.copy();
    b.run(|| {
        DEPTH.set(2);
        OTHER.set(3);
    });
    assert_eq!((a.get(&DEPTH), b.get(&DEPTH)), (Some(1), Some(2)));
    assert_eq!((a.len(), b.len()), (2, 3));
    let mut names: Vec<&str> = b.iter().map(|(n, _)| n).collect();
    names.sort_unstable();
    assert_eq!(names, ["depth", "other", "user"]);
    let other = b.iter().find(|(n, _)| *n == "other").unwrap().1;
    assert_eq!(other.downcast_ref::<u32>(), Some(&3));
    assert!(format!("{b:?}").contains("\"other\""));
}

#[test]
fn many_variables_in_one_context() {
    // Enough variables for the map to grow several levels.
    let vars: Vec<&'static ContextVar<usize>> = (0..2000)
        .map(|_| &*Box::leak(Box::new(ContextVar::new("many"))))
        .collect();
    let mut ctx = Context::new();
    ctx.run(|| {
        for (i, v) in vars.iter().enumerate() {
            v.set(i);
        }
    });
    let snapshot = ctx.copy();
    ctx.run(|| {
        for (i, v) in vars.iter().enumerate().step_by(2) {
            let t = v.set(i * 10);
            if i % 4 == 0 {
                v.reset(&t).unwrap();
            }
        }
    });
    for (i, v) in vars.iter().enumerate() {
        let want = if i % 2 == 0 && i % 4 != 0 { i * 10 } else { i };
        assert_eq!(ctx.get(v), Some(want));
        assert_eq!(snapshot.get(v), Some(i));
    }
    assert_eq!(ctx.len(), 2000);
    assert_eq!(ctx.iter().count(), 2000);
}

#[test]
fn values_are_dropped_with_the_last_context_holding_them() {
    static TRACKED: ContextVar<Arc<AtomicUsize>> = ContextVar::new("tracked");
    let value = Arc::new(AtomicUsize::new(0));
    let mut ctx = Context::new();
    ctx.run(|| TRACKED.set(value.clone()));
    let copy = ctx.copy();
    assert_eq!(
        Arc::strong_count(&value),
        2,
        "one stored, shared by the copies"
    );
    drop(ctx);
    assert_eq!(Arc::strong_count(&value), 2);
    drop(copy);
    assert_eq!(Arc::strong_count(&value), 1);
}

#[test]
fn a_child_sees_the_parent_at_creation_and_never_leaks_back() {
    let el = paused_loop();
    el.run_until_complete(async {
        USER.set("parent".into());
        let child = spawn(async {
            let at_start = USER.get();
            USER.set("child".into());
            sleep(ms(5)).await;
            (at_start, USER.get())
        });
        // Set after the child was created: not the child's.
        USER.set("parent-later".into());
        let (at_start, at_end) = child.await.unwrap();
        assert_eq!(at_start.as_deref(), Some("parent"));
        assert_eq!(at_end.as_deref(), Some("child"));
        assert_eq!(USER.get().as_deref(), Some("parent-later"));
    })
    .unwrap();
    // Nor does the task of run_until_complete leak into the thread.
    assert_eq!(USER.get(), None);
}

#[test]
fn interleaved_tasks_keep_their_own_values() {
    let el = paused_loop();
    el.run_until_complete(async {
        let seen = Rc::new(RefCell::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..20u32 {
            let seen = seen.clone();
            tasks.push(spawn(async move {
                DEPTH.set(i);
                for _ in 0..3 {
                    yield_now().await;
                    seen.borrow_mut().push((i, DEPTH.get().unwrap()));
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(seen.borrow().len(), 60);
        assert!(seen.borrow().iter().all(|(i, d)| i == d));
        assert_eq!(DEPTH.get(), Some(0));
    })
    .unwrap();
}

#[test]
fn a_token_from_the_parent_is_refused_in_a_child() {
    let el = paused_loop();
    el.run_until_complete(async {
        let token = DEPTH.set(7);
        let err = spawn(async move {
            let r = DEPTH.reset(&token);
            (r, token)
        })
        .await
        .unwrap();
        assert_eq!(err.0, Err(TokenError::WrongContext { var: "depth" }));
        // Back in the parent, the same token works.
        DEPTH.reset(&err.1).unwrap();
        assert_eq!(DEPTH.get(), Some(0));
    })
    .unwrap();
}

#[test]
fn eager_tasks_and_explicit_contexts() {
    let el = paused_loop();
    let lp = el.handle();
    el.run_until_complete(async move {
        USER.set("parent".into());
        let eager = lp.create_task_with(
            async {
                let seen = USER.get();
                USER.set("eager".into());
                seen
            },
            TaskOptions::new().eager(true),
        );
        assert!(eager.done(), "ran inside create_task_with");
        assert_eq!(
            USER.get().as_deref(),
            Some("parent"),
            "its set stayed its own"
        );
        assert_eq!(eager.await.unwrap().as_deref(), Some("parent"));

        let mut ctx = Context::new();
        ctx.run(|| DEPTH.set(11));
        let explicit = lp.create_task_with(
            async { (USER.get(), DEPTH.get()) },
            TaskOptions::new().context(ctx).eager(true),
        );
        assert_eq!(explicit.await.unwrap(), (None, Some(11)));
    })
    .unwrap();
}

#[test]
fn get_context_of_a_task() {
    let el = paused_loop();
    el.run_until_complete(async {
        USER.set("made".into());
        let task = spawn(async {
            USER.set("ran".into());
            sleep(ms(10)).await;
            USER.set("finished".into());
        });
        assert_eq!(task.get_context().get(&USER).as_deref(), Some("made"));
        sleep(ms(1)).await;
        assert_eq!(task.get_context().get(&USER).as_deref(), Some("ran"));
        let tref = task.task_ref();
        task.await.unwrap();
        assert_eq!(tref.get_context().get(&USER).as_deref(), Some("finished"));
        // A task asking about itself gets its live context.
        USER.set("me".into());
        let me = tulip_executor::current_task().unwrap();
        assert_eq!(me.get_context().get(&USER).as_deref(), Some("me"));
    })
    .unwrap();
}

#[test]
fn gather_and_task_group_children_inherit_and_stay_isolated() {
    let el = paused_loop();
    el.run_until_complete(async {
        DEPTH.set(1);
        let (a, b) = gather((
            async {
                let seen = DEPTH.get();
                DEPTH.set(10);
                sleep(ms(2)).await;
                (seen, DEPTH.get())
            },
            async {
                sleep(ms(1)).await;
                let seen = DEPTH.get();
                DEPTH.set(20);
                (seen, DEPTH.get())
            },
        ))
        .await
        .unwrap();
        assert_eq!(a, (Some(1), Some(10)));
        assert_eq!(b, (Some(1), Some(20)));
        assert_eq!(DEPTH.get(), Some(1));

        DEPTH.set(2);
        let seen = Rc::new(RefCell::new(Vec::new()));
        let s = seen.clone();
        task_group(|tg| async move {
            for i in 0..5u32 {
                let s = s.clone();
                tg.create_task(async move {
                    s.borrow_mut().push(DEPTH.get());
                    DEPTH.set(100 + i);
                    sleep(ms(u64::from(i))).await;
                    s.borrow_mut().push(DEPTH.get());
                })
                .unwrap()
                .detach();
            }
            // The body runs in the parent's task: its set reaches
            // the children created after it only.
            DEPTH.set(3);
        })
        .await
        .unwrap();
        let seen = seen.borrow();
        assert_eq!(&seen[..5], &[Some(2); 5]);
        let mut ends: Vec<u32> = seen[5..].iter().map(|d| d.unwrap()).collect();
        ends.sort_unstable();
        assert_eq!(ends, [100, 101, 102, 103, 104]);
        assert_eq!(DEPTH.get(), Some(3));
    })
    .unwrap();
}

#[test]
fn a_cancelled_task_drops_its_future_in_its_own_context() {
    struct Probe(Rc<RefCell<Option<String>>>);
    impl Drop for Probe {
        fn drop(&mut self) {
            *self.0.borrow_mut() = USER.get();
        }
    }
    let el = paused_loop();
    el.run_until_complete(async {
        let seen = Rc::new(RefCell::new(None));
        let probe = Probe(seen.clone());
        let task = spawn(async move {
            USER.set("victim".into());
            let _probe = probe;
            std::future::pending::<()>().await;
        });
        yield_now().await;
        task.cancel();
        assert!(task.await.unwrap_err().is_cancelled());
        assert_eq!(seen.borrow().as_deref(), Some("victim"));
    })
    .unwrap();
}
