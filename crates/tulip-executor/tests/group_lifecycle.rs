//! `LoopGroup` start and stop: the builder's options (loop count, thread
//! names, CPU pinning, the per-loop initialiser, the backend), results in
//! loop order, runs one after another, `stop` from another thread and
//! from inside, dropping the group joins its threads, and the errors of
//! bad options.

use std::collections::BTreeSet;
use std::io::ErrorKind;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use tulip_executor::{BackendKind, Error, LoopGroup, get_running_loop, run, run_per_core, sleep};

/// Far above what any step takes.
const DEADLINE: Duration = Duration::from_secs(30);

/// The names of this process's threads.
fn thread_names() -> Vec<String> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir("/proc/self/task").expect("/proc/self/task") {
        let comm = entry.expect("task").path().join("comm");
        if let Ok(name) = std::fs::read_to_string(comm) {
            names.push(name.trim().to_owned());
        }
    }
    names
}

#[test]
fn each_loop_runs_on_its_own_named_thread() {
    let group = LoopGroup::builder()
        .loops(3)
        .thread_name("named")
        .build()
        .expect("build");
    assert_eq!(group.len(), 3);
    assert!(!group.is_empty());
    assert_eq!(group.remotes().len(), 3);
    let caller = thread::current().id();
    let results = group
        .run(move |_lp, index| async move {
            let me = thread::current();
            assert_ne!(me.id(), caller, "loop {index} runs on the caller");
            (me.name().map(String::from), format!("{:?}", me.id()))
        })
        .expect("run");
    let mut ids = BTreeSet::new();
    for (index, result) in results.into_iter().enumerate() {
        let (name, id) = result.expect("loop result");
        assert_eq!(name.as_deref(), Some(format!("named-{index}").as_str()));
        ids.insert(id);
    }
    assert_eq!(ids.len(), 3, "one thread per loop");
}

#[test]
fn results_come_in_loop_order() {
    let group = LoopGroup::builder().loops(4).build().expect("build");
    // The later loops finish first.
    let results = group
        .run(|_lp, index| async move {
            sleep(Duration::from_millis(40 - 10 * index as u64)).await;
            index * 100
        })
        .expect("run");
    let values: Vec<usize> = results.into_iter().map(|r| r.expect("ok")).collect();
    assert_eq!(values, [0, 100, 200, 300]);
}

#[test]
fn the_group_runs_again_and_keeps_its_loops_state() {
    thread_local! {
        static RUNS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }
    let group = LoopGroup::builder().loops(2).build().expect("build");
    for round in 1..=3 {
        let results = group
            .run(|_lp, _index| async {
                RUNS.with(|r| r.set(r.get() + 1));
                RUNS.with(|r| r.get())
            })
            .expect("run");
        for r in results {
            assert_eq!(r.expect("ok"), round, "same loop thread each run");
        }
    }
}

#[test]
fn the_initialiser_runs_once_per_loop_on_its_thread() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let group = LoopGroup::builder()
        .loops(2)
        .thread_name("init")
        .on_loop_start(move |lp, index| {
            let name = thread::current().name().map(String::from);
            log.lock().unwrap().push((index, name));
            // A task spawned here serves for the group's life.
            lp.create_task(async move { index + 1000 }).detach();
            lp.set_debug(true);
        })
        .build()
        .expect("build");
    let mut seen_now = seen.lock().unwrap().clone();
    seen_now.sort();
    assert_eq!(
        seen_now,
        [
            (0, Some(String::from("init-0"))),
            (1, Some(String::from("init-1")))
        ]
    );
    let debug = group
        .run(|lp, _index| async move { lp.get_debug() })
        .expect("run");
    assert!(debug.into_iter().all(|d| d.expect("ok")));
    assert_eq!(
        seen.lock().unwrap().len(),
        2,
        "the initialiser ran once per loop"
    );
}

#[test]
fn a_panicking_initialiser_fails_the_build() {
    let err = LoopGroup::builder()
        .loops(2)
        .thread_name("badinit")
        .on_loop_start(|_lp, index| {
            if index == 1 {
                panic!("initialiser of loop 1 fails");
            }
        })
        .build()
        .unwrap_err();
    assert!(err.is_panic(), "{err:?}");
    assert!(
        err.to_string().contains("initialiser of loop 1 fails"),
        "{err}"
    );
    // The loop that did start was stopped and joined.
    assert!(!thread_names().iter().any(|n| n.starts_with("badinit-")));
}

#[test]
fn the_backend_option_reaches_every_loop() {
    let group = LoopGroup::builder()
        .loops(2)
        .backend(BackendKind::Polling)
        .build()
        .expect("build");
    let kinds = group
        .run(|lp, _index| async move { lp.backend_kind() })
        .expect("run");
    for kind in kinds {
        assert_eq!(kind.expect("ok"), BackendKind::Polling);
    }
}

/// The CPUs the calling thread may run on, from `/proc/thread-self/status`
/// (Linux); `None` where there is no such file.
fn cpus_allowed() -> Option<Vec<usize>> {
    let status = std::fs::read_to_string("/proc/thread-self/status").ok()?;
    let list = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .expect("Cpus_allowed_list")
        .trim()
        .to_owned();
    let mut cpus = Vec::new();
    for part in list.split(',') {
        match part.split_once('-') {
            Some((a, b)) => cpus.extend(a.parse::<usize>().unwrap()..=b.parse::<usize>().unwrap()),
            None => cpus.push(part.parse().unwrap()),
        }
    }
    Some(cpus)
}

#[test]
fn pinned_loops_run_each_on_one_cpu() {
    let Some(allowed) = cpus_allowed() else {
        println!("no /proc/thread-self/status here: pinning is Linux only, not checked");
        return;
    };
    let loops = allowed.len() + 1; // one more than the CPUs: wraps around
    let group = LoopGroup::builder()
        .loops(loops)
        .pin_cores(true)
        .build()
        .expect("build");
    let seen = group
        .run(|_lp, _index| async { cpus_allowed().expect("the same /proc on every thread") })
        .expect("run");
    for (index, cpus) in seen.into_iter().enumerate() {
        assert_eq!(
            cpus.expect("ok"),
            [allowed[index % allowed.len()]],
            "loop {index}"
        );
    }
    // Unpinned loops keep the whole mask.
    let group = LoopGroup::builder().loops(1).build().expect("build");
    let seen = group
        .run(|_lp, _index| async { cpus_allowed().expect("the same /proc on every thread") })
        .expect("run");
    assert_eq!(seen[0].as_ref().expect("ok"), &allowed);
}

#[test]
fn stop_from_another_thread_ends_the_run() {
    let group = LoopGroup::builder().loops(2).build().expect("build");
    let stopper = group.stopper();
    let (started_tx, started) = mpsc::channel();
    let stopping = thread::spawn(move || {
        for _ in 0..2 {
            started.recv_timeout(DEADLINE).expect("both loops started");
        }
        stopper.stop();
    });
    let dropped = Arc::new(AtomicUsize::new(0));
    let counter = dropped.clone();
    let results = group
        .run(move |_lp, _index| {
            let started = started_tx.clone();
            let guard = CountOnDrop(counter.clone());
            async move {
                let _guard = guard;
                started.send(()).unwrap();
                std::future::pending::<()>().await
            }
        })
        .expect("run");
    stopping.join().unwrap();
    for r in &results {
        assert!(r.as_ref().unwrap_err().is_cancelled(), "{r:?}");
    }
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        2,
        "both main futures dropped"
    );
    assert!(group.stopper().is_stopped());
    // Stopped for good.
    assert!(matches!(
        group.run(|_lp, _i| async {}),
        Err(Error::LoopClosed)
    ));
    for remote in group.remotes() {
        let end = std::time::Instant::now() + DEADLINE;
        while !remote.is_closed() {
            assert!(std::time::Instant::now() < end, "a loop did not close");
            thread::sleep(Duration::from_millis(1));
        }
    }
}

/// Adds one to its counter when dropped.
struct CountOnDrop(Arc<AtomicUsize>);

impl Drop for CountOnDrop {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn stopping_cancels_the_tasks_left_on_every_loop() {
    let group = LoopGroup::builder().loops(2).build().expect("build");
    let dropped = Arc::new(AtomicUsize::new(0));
    let counter = dropped.clone();
    // Each run leaves a task behind; it serves on after the run.
    let results = group
        .run(move |lp, _index| {
            let guard = CountOnDrop(counter.clone());
            async move {
                lp.create_task(async move {
                    let _guard = guard;
                    std::future::pending::<()>().await
                })
                .detach();
            }
        })
        .expect("run");
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(dropped.load(Ordering::SeqCst), 0, "left tasks live on");
    drop(group); // stops and joins
    assert_eq!(dropped.load(Ordering::SeqCst), 2, "left tasks cancelled");
}

#[test]
fn stop_from_inside_a_loop() {
    let group = LoopGroup::builder().loops(3).build().expect("build");
    let stopper = group.stopper();
    let results = group
        .run(move |_lp, index| {
            let stopper = stopper.clone();
            async move {
                if index == 2 {
                    stopper.stop();
                    return index;
                }
                std::future::pending::<usize>().await
            }
        })
        .expect("run");
    assert!(results[0].as_ref().unwrap_err().is_cancelled());
    assert!(results[1].as_ref().unwrap_err().is_cancelled());
    assert_eq!(
        *results[2].as_ref().unwrap(),
        2,
        "it ended before the stop reached it"
    );
}

#[test]
fn dropping_the_group_joins_its_threads() {
    let group = LoopGroup::builder()
        .loops(3)
        .thread_name("joined")
        .build()
        .expect("build");
    let up = thread_names()
        .iter()
        .filter(|n| n.starts_with("joined-"))
        .count();
    assert_eq!(up, 3);
    let results = group.run(|_lp, index| async move { index }).expect("run");
    assert_eq!(results.len(), 3);
    drop(group);
    let left = threads_left("joined-");
    assert!(left.is_empty(), "threads left: {left:?}");
}

/// This process's threads whose names start with `prefix`, once none is
/// left or [`DEADLINE`] passed: joined threads have run to their end, but
/// the kernel may list an exited thread under /proc for a moment after the
/// join returns.
fn threads_left(prefix: &str) -> Vec<String> {
    let gone = Instant::now() + DEADLINE;
    loop {
        let left: Vec<String> = thread_names()
            .into_iter()
            .filter(|n| n.starts_with(prefix))
            .collect();
        if left.is_empty() || Instant::now() > gone {
            return left;
        }
        thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_group_built_and_dropped_unused_leaves_no_thread() {
    drop(
        LoopGroup::builder()
            .loops(2)
            .thread_name("unused")
            .build()
            .expect("build"),
    );
    let left = threads_left("unused-");
    assert!(left.is_empty(), "threads left: {left:?}");
}

#[test]
fn zero_loops_is_an_error_naming_the_limit() {
    for n in [0, LoopGroup::MAX_LOOPS + 1] {
        let err = LoopGroup::builder().loops(n).build().unwrap_err();
        match &err {
            Error::Io(e) => assert_eq!(e.kind(), ErrorKind::InvalidInput),
            other => panic!("expected an I/O error, got {other:?}"),
        }
        let text = err.to_string();
        assert!(text.contains(&format!("loops({n})")), "{text}");
        assert!(
            text.contains(&format!("1 to {}", LoopGroup::MAX_LOOPS)),
            "{text}"
        );
    }
}

#[test]
fn a_nul_in_the_thread_name_is_an_error() {
    let err = LoopGroup::builder()
        .loops(1)
        .thread_name("bad\0name")
        .build()
        .unwrap_err();
    match &err {
        Error::Io(e) => assert_eq!(e.kind(), ErrorKind::InvalidInput),
        other => panic!("expected an I/O error, got {other:?}"),
    }
    assert!(err.to_string().contains("NUL"), "{err}");
}

#[test]
fn run_inside_a_running_loop_is_refused() {
    let group = Arc::new(LoopGroup::builder().loops(1).build().expect("build"));
    let inner = group.clone();
    let refused = run(async move { inner.run(|_lp, _i| async {}).map(|_| ()) }).expect("run");
    assert!(matches!(refused, Err(Error::LoopRunning)), "{refused:?}");
    // The group is still fine.
    assert_eq!(
        *group.run(|_lp, i| async move { i }).expect("run")[0]
            .as_ref()
            .unwrap(),
        0
    );
}

#[test]
fn a_second_concurrent_run_is_refused() {
    let group = Arc::new(LoopGroup::builder().loops(1).build().expect("build"));
    let (started_tx, started) = mpsc::channel();
    let (release_tx, release) = mpsc::channel::<()>();
    let release = Arc::new(Mutex::new(release));
    let first = {
        let group = group.clone();
        thread::spawn(move || {
            group.run(move |_lp, _i| {
                let started = started_tx.clone();
                let release = release.clone();
                async move {
                    started.send(()).unwrap();
                    // Wait off the loop for the release.
                    tulip_executor::to_thread(move || {
                        release.lock().unwrap().recv_timeout(DEADLINE).unwrap()
                    })
                    .await
                    .unwrap();
                    "first"
                }
            })
        })
    };
    started.recv_timeout(DEADLINE).expect("first run started");
    assert!(matches!(
        group.run(|_lp, _i| async { "second" }),
        Err(Error::LoopRunning)
    ));
    release_tx.send(()).unwrap();
    let first = first.join().unwrap().expect("first run");
    assert_eq!(*first[0].as_ref().unwrap(), "first");
}

#[test]
fn run_per_core_runs_one_loop_per_cpu() {
    let cpus = thread::available_parallelism().map_or(1, |n| n.get());
    let results = run_per_core(|lp, index| async move {
        assert!(get_running_loop().unwrap().same_loop(&lp));
        index
    })
    .expect("run_per_core");
    assert_eq!(results.len(), cpus);
    for (index, r) in results.into_iter().enumerate() {
        assert_eq!(r.expect("ok"), index);
    }
}

#[test]
fn remotes_reach_their_own_loop() {
    let group = LoopGroup::builder()
        .loops(2)
        .thread_name("remote")
        .build()
        .expect("build");
    for (index, remote) in group.remotes().iter().enumerate() {
        let (tx, rx) = mpsc::channel();
        remote
            .call_soon_threadsafe(move || {
                tx.send(thread::current().name().map(String::from)).unwrap();
            })
            .expect("call_soon_threadsafe");
        let name = rx.recv_timeout(DEADLINE).expect("the callback ran");
        assert_eq!(name, Some(format!("remote-{index}")));
    }
}

#[test]
fn the_group_and_its_handles_cross_threads() {
    use tulip_test::auto_traits::{is_clone, is_send, is_sync};
    is_send::<LoopGroup>();
    is_sync::<LoopGroup>();
    is_send::<tulip_executor::GroupStop>();
    is_sync::<tulip_executor::GroupStop>();
    is_clone::<tulip_executor::GroupStop>();
    is_send::<tulip_executor::LoopGroupBuilder>();
    is_clone::<tulip_executor::LoopGroupBuilder>();
    is_send::<tulip_executor::PanicPolicy>();
}
