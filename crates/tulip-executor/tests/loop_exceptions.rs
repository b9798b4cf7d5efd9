//! The loop's exception handler: a panic in a callback (plain, timer,
//! reader, or from another thread) reaches the handler as
//! `Error::Panicked` with the panic's message and the loop goes on; the
//! default handler only logs; a panicking custom handler is survived;
//! `call_exception_handler` hands a context straight to the handler;
//! `get_exception_handler` / `reset_exception_handler`.
//!
//! The panics below are expected; the test harness prints them.

mod common;

use std::cell::Cell;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::time::Duration;

use common::{capture_exceptions, ends_with_file, new_log, run_once, stop_after};
use tulip_executor::{Error, EventLoop, ExceptionContext, Loop};

fn panic_message(ctx: &ExceptionContext) -> String {
    match &ctx.error {
        Some(Error::Panicked(p)) => p.message().to_string(),
        other => panic!("expected a panic error, got {other:?}"),
    }
}

#[test]
fn a_callback_panic_reaches_the_handler_and_the_loop_goes_on() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let seen = capture_exceptions(&lp);
    let log = new_log();
    let l = log.clone();
    lp.call_soon(move || l.borrow_mut().push("before")).unwrap();
    let line = line!() + 1;
    let handle = lp.call_soon(|| panic!("boom")).unwrap();
    let l = log.clone();
    lp.call_soon(move || l.borrow_mut().push("after")).unwrap();
    run_once(&el);
    assert_eq!(*log.borrow(), ["before", "after"]);
    let seen = seen.borrow();
    assert_eq!(seen.len(), 1);
    let ctx = &seen[0];
    assert!(
        ctx.message.contains("Exception in callback"),
        "{}",
        ctx.message
    );
    assert!(
        ctx.message.contains("loop_exceptions.rs"),
        "{}",
        ctx.message
    );
    assert_eq!(panic_message(ctx), "boom");
    assert!(ctx.error.as_ref().unwrap().is_panic());
    let h = ctx.handle.as_ref().expect("the handle is in the context");
    assert_eq!(h.source_location(), handle.source_location());
    assert_eq!(h.source_location().line(), line);
    assert!(ends_with_file(
        h.source_location().file(),
        "loop_exceptions.rs"
    ));
    // Display carries the message and the error.
    let text = ctx.to_string();
    assert!(text.contains("boom"), "{text}");
}

#[test]
fn a_formatted_panic_message_is_kept() {
    let el = EventLoop::new().unwrap();
    let seen = capture_exceptions(&el);
    let n = 42;
    el.call_soon(move || panic!("failed with {n}")).unwrap();
    run_once(&el);
    assert_eq!(panic_message(&seen.borrow()[0]), "failed with 42");
}

#[test]
fn timer_and_reader_panics_are_reported_too() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let seen = capture_exceptions(&lp);
    lp.call_later(Duration::from_millis(1), || panic!("timer"))
        .unwrap();
    stop_after(&lp, Duration::from_millis(5));
    el.run_forever().unwrap();
    assert_eq!(seen.borrow().len(), 1);
    assert_eq!(panic_message(&seen.borrow()[0]), "timer");

    let (a, mut b) = UnixStream::pair().unwrap();
    let calls = Rc::new(Cell::new(0));
    let c = calls.clone();
    lp.add_reader(&a, move || {
        c.set(c.get() + 1);
        panic!("reader {}", c.get());
    })
    .unwrap();
    b.write_all(b"x").unwrap();
    run_once(&el);
    // The reader stays registered after panicking and fires again.
    run_once(&el);
    assert_eq!(calls.get(), 2);
    assert!(lp.remove_reader(a.as_raw_fd()));
    let messages: Vec<String> = seen.borrow().iter().map(panic_message).collect();
    assert_eq!(messages, ["timer", "reader 1", "reader 2"]);
}

#[test]
fn a_threadsafe_callback_panic_is_reported() {
    let el = EventLoop::new().unwrap();
    let seen = capture_exceptions(&el);
    let remote = el.remote();
    std::thread::spawn(move || {
        remote.call_soon_threadsafe(|| panic!("from afar")).unwrap();
    })
    .join()
    .unwrap();
    run_once(&el);
    let seen = seen.borrow();
    assert_eq!(seen.len(), 1);
    assert_eq!(panic_message(&seen[0]), "from afar");
    assert!(seen[0].handle.is_none());
    assert!(seen[0].message.contains("call_soon_threadsafe"));
}

#[test]
fn the_default_handler_logs_and_the_loop_goes_on() {
    let el = EventLoop::new().unwrap();
    assert!(el.get_exception_handler().is_none());
    let ran = Rc::new(Cell::new(false));
    el.call_soon(|| panic!("default handler")).unwrap();
    let r = ran.clone();
    el.call_soon(move || r.set(true)).unwrap();
    run_once(&el);
    assert!(ran.get());
    // Called directly, too.
    el.default_exception_handler(&ExceptionContext::new("direct").with_error(Error::Timeout));
    el.default_exception_handler(&ExceptionContext::default());
}

#[test]
fn a_panicking_handler_is_survived() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let calls = Rc::new(Cell::new(0));
    let c = calls.clone();
    lp.set_exception_handler(move |_: &Loop, _: &ExceptionContext| {
        c.set(c.get() + 1);
        panic!("the handler itself fails");
    });
    let ran = Rc::new(Cell::new(false));
    lp.call_soon(|| panic!("first")).unwrap();
    let r = ran.clone();
    lp.call_soon(move || r.set(true)).unwrap();
    lp.call_soon(|| panic!("second")).unwrap();
    run_once(&el);
    assert!(ran.get());
    assert_eq!(calls.get(), 2);
    lp.call_exception_handler(&ExceptionContext::new("direct"));
    assert_eq!(calls.get(), 3);
}

#[test]
fn call_exception_handler_hands_the_context_over() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let same_loop = Rc::new(Cell::new(false));
    let captured = new_log();
    let (s, c) = (same_loop.clone(), captured.clone());
    let l = lp.clone();
    lp.set_exception_handler(move |lp: &Loop, ctx: &ExceptionContext| {
        s.set(lp.same_loop(&l));
        c.borrow_mut().push(ctx.clone());
    });
    assert!(lp.get_exception_handler().is_some());
    let ctx = ExceptionContext::new("custom problem")
        .with_error(Error::exception(std::io::Error::other("disk on fire")))
        .with_extra("protocol", "EchoProtocol");
    lp.call_exception_handler(&ctx);
    assert!(same_loop.get());
    let got = captured.borrow();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].message, "custom problem");
    assert_eq!(got[0].error.as_ref().unwrap().to_string(), "disk on fire");
    assert_eq!(
        got[0].extra,
        vec![("protocol", String::from("EchoProtocol"))]
    );
    let text = got[0].to_string();
    assert!(text.contains("protocol: EchoProtocol") && text.contains("disk on fire"));
}

#[test]
fn reset_exception_handler_restores_the_default() {
    let el = EventLoop::new().unwrap();
    let seen = capture_exceptions(&el);
    el.call_soon(|| panic!("one")).unwrap();
    run_once(&el);
    el.reset_exception_handler();
    assert!(el.get_exception_handler().is_none());
    el.call_soon(|| panic!("two")).unwrap();
    run_once(&el);
    assert_eq!(seen.borrow().len(), 1);
}
