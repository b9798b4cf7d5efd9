//! `TulipExecutor`: hyper's spawned futures run as tasks of the running
//! loop, `!Send` ones included; without a loop the future is dropped and
//! logged, never a panic.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use hyper::rt::Executor;
use tulip::hyper::rt::TulipExecutor;
use tulip::prelude::*;
use tulip_test::{run, send_sync, wait_until};

#[test]
fn the_runtime_types_are_send_and_sync() {
    // hyper's bounds: `Timer + Send + Sync`, `Sleep: Send + Sync`.
    send_sync!(TulipExecutor);
}

#[test]
fn the_executor_runs_a_non_send_future_on_the_running_loop() {
    run(async {
        let steps = Rc::new(Cell::new(0)); // an Rc: the future is !Send
        let seen = steps.clone();
        let before = all_tasks().len();
        TulipExecutor::new().execute(async move {
            seen.set(1);
            sleep(Duration::from_millis(5)).await;
            seen.set(2);
        });
        assert_eq!(steps.get(), 0, "spawned, not run inline");
        assert_eq!(all_tasks().len(), before + 1, "a task of this loop");
        assert!(wait_until(|| steps.get() == 2).await);
    });
}

/// Sets its flag when dropped.
struct DropFlag(Rc<Cell<bool>>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

#[test]
fn without_a_running_loop_the_future_is_dropped_not_a_panic() {
    let dropped = Rc::new(Cell::new(false));
    let flag = DropFlag(dropped.clone());
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    TulipExecutor.execute(async move {
        let _flag = flag;
        r.set(true);
    });
    assert!(dropped.get(), "the future was dropped");
    assert!(!ran.get(), "and never ran");
}
