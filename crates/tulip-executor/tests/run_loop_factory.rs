//! The policy hook: `set_event_loop_factory` changes what `new_event_loop`,
//! `Runner::new` and `run` build, on every thread, until reset. It is
//! process-wide state, so this file holds a single test.

use tulip_executor::{
    BackendKind, Error, EventLoop, Runner, get_running_loop, new_event_loop, run,
    set_event_loop_factory,
};

fn paused_polling_loop() -> Result<EventLoop, Error> {
    EventLoop::builder()
        .backend(BackendKind::Polling)
        .paused_clock(true)
        .build()
}

#[test]
fn the_loop_factory_is_used_until_reset() {
    set_event_loop_factory(Some(paused_polling_loop));

    let el = new_event_loop().unwrap();
    assert_eq!(el.backend_kind(), BackendKind::Polling);
    assert!(el.is_clock_paused());
    drop(el);

    let paused_elsewhere = std::thread::spawn(|| new_event_loop().unwrap().is_clock_paused())
        .join()
        .unwrap();
    assert!(paused_elsewhere, "the factory is process-wide");

    let runner = Runner::new().unwrap();
    assert!(runner.get_loop().unwrap().is_clock_paused());
    runner.close().unwrap();

    let paused = run(async { get_running_loop().unwrap().is_clock_paused() }).unwrap();
    assert!(paused);

    set_event_loop_factory(None);
    assert!(!new_event_loop().unwrap().is_clock_paused());
}
