//! A `LoopGroup` leaks no descriptor: after runs, a stop and the drop
//! (loops, their notifiers and pollers, the loop each `run` waits on, the
//! self-pipe of the Ctrl-C handling) the process has the descriptors it
//! had. One test in its own binary, so that no other test's descriptors
//! come and go meanwhile.

use tulip_executor::LoopGroup;
use tulip_test::{fd_count, settled_fd_count};

#[test]
fn a_group_leaves_the_descriptors_it_found() {
    let before = fd_count();
    for _ in 0..3 {
        let group = LoopGroup::builder().loops(3).build().expect("build");
        for _ in 0..2 {
            let results = group.run(|_lp, index| async move { index }).expect("run");
            assert_eq!(results.len(), 3);
        }
        group.stop();
        drop(group);
    }
    assert!(settled_fd_count(before) <= before, "descriptors leaked");
}
