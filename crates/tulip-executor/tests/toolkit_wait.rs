//! `wait`: FIRST_COMPLETED, FIRST_EXCEPTION and ALL_COMPLETED, the timeout
//! (which cancels nothing), `TaskRef` inputs and outcomes left untouched.
//! Virtual clock.

use std::time::Duration;

use tulip_executor::{ReturnWhen, TaskRef, sleep, spawn, wait};
use tulip_test::paused_loop;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn sleeper(s: u64) -> tulip_executor::Task<u64> {
    spawn(async move {
        sleep(secs(s)).await;
        s
    })
}

#[test]
fn first_completed() {
    let el = paused_loop();
    let lp = el.handle();
    el.run_until_complete(async move {
        let t0 = lp.time();
        let (done, pending) = wait(
            vec![sleeper(3), sleeper(1), sleeper(2)],
            None,
            ReturnWhen::FirstCompleted,
        )
        .await;
        assert_eq!(lp.time() - t0, secs(1));
        assert_eq!(done.len(), 1);
        assert_eq!(pending.len(), 2);
        for t in done {
            assert_eq!(t.await.unwrap(), 1);
        }
        assert!(pending.iter().all(|t| !t.done()));
        for t in pending {
            t.await.unwrap();
        }
    })
    .unwrap();
}

#[test]
fn all_completed_keeps_input_order() {
    let el = paused_loop();
    let lp = el.handle();
    el.run_until_complete(async move {
        let t0 = lp.time();
        let (done, pending) = wait(
            vec![sleeper(3), sleeper(1), sleeper(2)],
            None,
            ReturnWhen::AllCompleted,
        )
        .await;
        assert_eq!(lp.time() - t0, secs(3));
        assert!(pending.is_empty());
        let mut v = Vec::new();
        for t in done {
            v.push(t.await.unwrap());
        }
        assert_eq!(v, [3, 1, 2]);
    })
    .unwrap();
}

#[test]
fn first_exception_returns_on_a_panic_but_not_on_a_cancellation() {
    let el = paused_loop();
    let lp = el.handle();
    el.run_until_complete(async move {
        let t0 = lp.time();
        let cancelled = sleeper(1);
        cancelled.cancel();
        let panicking = spawn(async {
            sleep(secs(2)).await;
            panic!("boom");
        });
        let slow = spawn(async {
            sleep(secs(10)).await;
        });
        let (done, pending) = wait(
            vec![cancelled.task_ref(), panicking.task_ref(), slow.task_ref()],
            None,
            ReturnWhen::FirstException,
        )
        .await;
        assert_eq!(lp.time() - t0, secs(2));
        assert_eq!(done.len(), 2);
        assert_eq!(pending.len(), 1);
        assert!(pending[0].same_task(&slow.task_ref()));
        assert!(panicking.await.unwrap_err().is_panic());
        assert!(cancelled.await.unwrap_err().is_cancelled());
        // Without a panic, FIRST_EXCEPTION waits for all.
        let (done, pending) = wait(
            vec![sleeper(1), sleeper(2)],
            None,
            ReturnWhen::FirstException,
        )
        .await;
        assert_eq!((done.len(), pending.len()), (2, 0));
    })
    .unwrap();
}

#[test]
fn timeout_returns_pending_tasks_without_cancelling_them() {
    let el = paused_loop();
    let lp = el.handle();
    el.run_until_complete(async move {
        let t0 = lp.time();
        let tasks = vec![sleeper(1), sleeper(5), sleeper(9)];
        let refs: Vec<TaskRef> = tasks.iter().map(|t| t.task_ref()).collect();
        let (done, pending) = wait(&tasks, Some(secs(3)), ReturnWhen::AllCompleted).await;
        assert_eq!(lp.time() - t0, secs(3));
        assert_eq!(done.len(), 1);
        assert_eq!(pending.len(), 2);
        assert!(refs.iter().all(|r| !r.cancelled()));
        let mut v = Vec::new();
        for t in tasks {
            v.push(t.await.unwrap());
        }
        assert_eq!(v, [1, 5, 9], "the pending tasks ran on");
    })
    .unwrap();
}

#[test]
fn empty_and_already_done() {
    let el = paused_loop();
    el.run_until_complete(async move {
        let (d, p) = wait(Vec::<TaskRef>::new(), None, ReturnWhen::FirstCompleted).await;
        assert!(d.is_empty() && p.is_empty());
        let t = sleeper(0);
        sleep(secs(1)).await;
        let (d, p) = wait(vec![t], Some(secs(5)), ReturnWhen::AllCompleted).await;
        assert_eq!((d.len(), p.len()), (1, 0));
    })
    .unwrap();
}
