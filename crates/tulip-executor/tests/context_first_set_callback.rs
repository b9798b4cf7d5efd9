//! The first context variable of a process set inside a callback that then
//! panics (the callback ran on the fast path: nothing was swapped in): the
//! value is taken out of the thread's context on the way out, so later
//! callbacks, tasks and the thread do not see it. Its own test binary, so
//! that no variable was set before.

use std::cell::RefCell;
use std::rc::Rc;

use tulip_executor::contextvars::{Context, ContextVar};
use tulip_executor::{EventLoop, Loop};

static FIRST: ContextVar<&str> = ContextVar::new("first");

#[test]
fn the_first_set_in_a_panicking_callback_stays_in_that_callback() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let panics = Rc::new(RefCell::new(0));
    let p = panics.clone();
    lp.set_exception_handler(move |_: &Loop, _ctx: &tulip_executor::ExceptionContext| {
        *p.borrow_mut() += 1;
    });
    let seen = Rc::new(RefCell::new(Vec::new()));
    let handle = lp
        .call_soon(|| {
            FIRST.set("set by a callback");
            panic!("after setting the first variable");
        })
        .unwrap();
    let s = seen.clone();
    lp.call_soon(move || s.borrow_mut().push(FIRST.get()))
        .unwrap();
    el.stop();
    el.run_forever().unwrap();
    let s = seen.clone();
    el.run_until_complete(async move { s.borrow_mut().push(FIRST.get()) })
        .unwrap();
    assert_eq!(*panics.borrow(), 1);
    assert_eq!(*seen.borrow(), [None, None]);
    assert_eq!(FIRST.get(), None);
    assert!(Context::current().is_empty());
    // A one-shot callback scheduled before any variable existed has no
    // context of its own to keep the set in: it went with the callback.
    assert!(handle.get_context().is_empty());
}
