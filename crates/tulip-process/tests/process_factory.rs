//! A fallible protocol factory (`Fallible`) for a subprocess: its error
//! is returned and nothing is spawned (no child, no zombie, no pipe left
//! open); a factory that succeeds runs the child as usual.

mod common;

use std::fmt;
use std::sync::Mutex;

use common::{Quiet, children_with_cmdline};
use tulip_executor::get_running_loop;
use tulip_process::{LoopProcessExt, SubprocessOptions};
use tulip_test::{fd_count, run, wait_until};
use tulip_transport::Fallible;

#[derive(Debug, PartialEq)]
struct NoSlot;

impl fmt::Display for NoSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no process slot left")
    }
}

impl std::error::Error for NoSlot {}

/// Both tests hold it: the descriptor count must not see the other's
/// pipes.
static SERIAL: Mutex<()> = Mutex::new(());

#[test]
fn a_failing_factory_spawns_nothing_and_returns_its_error() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let marker = std::env::temp_dir().join(format!("tulip-factory-{}", std::process::id()));
    let _ = std::fs::remove_file(&marker);
    let script = format!("touch '{}'", marker.display());
    let before = fd_count();
    run(async move {
        let lp = get_running_loop().unwrap();
        let factory = Fallible(|| Err::<Quiet, _>(NoSlot));
        let result = lp
            .subprocess_exec(factory, "sh", ["-c", &script], SubprocessOptions::new())
            .await;
        let err = match result {
            Ok(_) => panic!("the factory should have failed"),
            Err(e) => e,
        };
        let factory_error = err.as_protocol_factory().expect("a factory error");
        assert_eq!(factory_error.downcast_ref::<NoSlot>(), Some(&NoSlot));
        assert_eq!(
            err.to_string(),
            "the protocol factory failed: no process slot left"
        );
        // Nothing was spawned: no child with that command line, and the
        // script never ran.
        tulip_executor::sleep(std::time::Duration::from_millis(100)).await;
        assert_eq!(children_with_cmdline(&script), Vec::<u32>::new());
        assert!(!marker.exists());
    });
    assert_eq!(fd_count(), before);
}

#[test]
fn a_fallible_factory_that_succeeds_runs_the_child() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    run(async move {
        let lp = get_running_loop().unwrap();
        let factory = Fallible(|| Ok::<_, NoSlot>(Quiet));
        let (transport, _protocol) = lp
            .subprocess_exec(factory, "true", [""; 0], SubprocessOptions::new())
            .await
            .unwrap();
        assert!(wait_until(|| transport.get_returncode().is_some()).await);
        assert_eq!(transport.get_returncode(), Some(0));
        transport.close();
    });
}
