//! The first context variable of a process set inside a task's poll (the
//! poll took the fast path: nothing was swapped in): the value is moved
//! into the task's own context when the poll returns, so the parent, a
//! later callback and the thread never see it, while the task does at its
//! next poll. Its own test binary, so that no variable was set before.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use tulip_executor::contextvars::{Context, ContextVar};
use tulip_executor::{EventLoop, TaskOptions, sleep};

static FIRST: ContextVar<u32> = ContextVar::new("first");

#[test]
fn the_first_set_in_a_task_stays_in_that_task() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    el.run_until_complete(async move {
        // An eager child sets the very first variable, inside its parent's poll.
        let child = lp.create_task_with(
            async {
                FIRST.set(1);
                sleep(Duration::from_millis(1)).await;
                FIRST.get()
            },
            TaskOptions::new().eager(true),
        );
        s.borrow_mut()
            .push(("parent after the child's set", FIRST.get()));
        let s2 = s.clone();
        lp.call_soon(move || s2.borrow_mut().push(("callback", FIRST.get())))
            .unwrap();
        let kept = child.await.unwrap();
        s.borrow_mut().push(("child at its next poll", kept));
        s.borrow_mut().push(("parent at the end", FIRST.get()));
    })
    .unwrap();
    assert_eq!(
        *seen.borrow(),
        [
            ("parent after the child's set", None),
            ("callback", None),
            ("child at its next poll", Some(1)),
            ("parent at the end", None),
        ]
    );
    assert_eq!(FIRST.get(), None, "not on the thread either");
    assert!(Context::current().is_empty());
}
