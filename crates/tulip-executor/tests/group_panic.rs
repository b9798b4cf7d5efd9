//! A panic in one loop of a `LoopGroup`: reported through that loop's
//! exception handler, that loop's result is the panic; under
//! `KeepServing` the other loops go on to their own end, under
//! `StopGroup` every loop stops.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tulip_executor::{Error, LoopGroup, PanicPolicy, sleep};

/// What the exception handlers of a group's loops saw: (loop, message,
/// the error's text).
type Reports = Arc<Mutex<Vec<(usize, String, String)>>>;

/// A group of `loops` loops under `policy` whose exception handlers
/// record into the returned log.
fn recording_group(loops: usize, policy: PanicPolicy) -> (LoopGroup, Reports) {
    let reports: Reports = Arc::new(Mutex::new(Vec::new()));
    let log = reports.clone();
    let group = LoopGroup::builder()
        .loops(loops)
        .panic_policy(policy)
        .on_loop_start(move |lp, index| {
            let log = log.clone();
            lp.set_exception_handler(move |_lp, context| {
                let error = context
                    .error
                    .as_ref()
                    .map(|e| e.to_string())
                    .unwrap_or_default();
                log.lock()
                    .unwrap()
                    .push((index, context.message.clone(), error));
            });
        })
        .build()
        .expect("build");
    (group, reports)
}

#[test]
fn keep_serving_lets_the_other_loops_finish() {
    let (group, reports) = recording_group(3, PanicPolicy::KeepServing);
    let results = group
        .run(|_lp, index| async move {
            if index == 1 {
                panic!("loop 1 breaks");
            }
            // Still running well after the panic.
            sleep(Duration::from_millis(50)).await;
            index
        })
        .expect("run");
    assert_eq!(*results[0].as_ref().unwrap(), 0);
    assert_eq!(*results[2].as_ref().unwrap(), 2);
    let err = results[1].as_ref().unwrap_err();
    assert!(err.is_panic(), "{err:?}");
    assert_eq!(err.to_string(), "panicked: loop 1 breaks");
    let reports = reports.lock().unwrap().clone();
    assert_eq!(reports.len(), 1, "{reports:?}");
    let (index, message, error) = &reports[0];
    assert_eq!(*index, 1);
    assert!(message.contains("loop 1"), "{message}");
    assert_eq!(error, "panicked: loop 1 breaks");
    // The group, the panicked loop included, serves the next run.
    let again = group
        .run(|_lp, index| async move { index })
        .expect("run again");
    assert_eq!(
        again.into_iter().map(|r| r.unwrap()).collect::<Vec<_>>(),
        [0, 1, 2]
    );
}

#[test]
fn stop_group_stops_every_loop() {
    let (group, reports) = recording_group(3, PanicPolicy::StopGroup);
    let results = group
        .run(|_lp, index| async move {
            if index == 0 {
                sleep(Duration::from_millis(5)).await;
                panic!("loop 0 breaks");
            }
            std::future::pending::<usize>().await
        })
        .expect("run");
    assert!(results[0].as_ref().unwrap_err().is_panic());
    assert!(results[1].as_ref().unwrap_err().is_cancelled());
    assert!(results[2].as_ref().unwrap_err().is_cancelled());
    assert!(group.stopper().is_stopped());
    assert!(matches!(
        group.run(|_lp, _i| async {}),
        Err(Error::LoopClosed)
    ));
    let reports = reports.lock().unwrap().clone();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0].0, 0);
    assert_eq!(reports[0].2, "panicked: loop 0 breaks");
}

#[test]
fn a_panic_in_the_closure_itself_is_that_loops_panic() {
    let (group, reports) = recording_group(2, PanicPolicy::KeepServing);
    let results = group
        .run(|_lp, index| {
            assert_ne!(index, 0, "no main for loop 0");
            async move { index }
        })
        .expect("run");
    assert!(results[0].as_ref().unwrap_err().is_panic());
    assert_eq!(*results[1].as_ref().unwrap(), 1);
    assert_eq!(reports.lock().unwrap().len(), 1);
}

#[test]
fn a_panic_in_another_task_goes_to_the_handler_and_main_carries_on() {
    let (group, reports) = recording_group(2, PanicPolicy::StopGroup);
    let results = group
        .run(|lp, index| async move {
            if index == 1 {
                lp.create_task(async { panic!("a side task breaks") })
                    .detach();
            }
            sleep(Duration::from_millis(20)).await;
            index
        })
        .expect("run");
    // Not a main task: the group is not stopped.
    assert_eq!(
        results.into_iter().map(|r| r.unwrap()).collect::<Vec<_>>(),
        [0, 1]
    );
    assert!(!group.stopper().is_stopped());
    let reports = reports.lock().unwrap().clone();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0].0, 1);
    assert!(reports[0].2.contains("a side task breaks"), "{reports:?}");
}
