//! Subprocess rows, tulip against `tokio::process` (current-thread
//! runtime), in the same run:
//!
//! - `process_spawn_wait`: 1,000 `true` processes started, then all
//!   waited for (ns per process). tulip `create_subprocess_exec` and
//!   `Process::wait` (pidfd child watcher); tokio `Command::spawn` and
//!   `Child::wait`. The standard streams are inherited by both, so the row
//!   measures starting, watching and reaping children.
//! - `process_communicate_100mb`: 100 MB through `cat` (written to its
//!   stdin while its stdout and stderr are read, then the exit awaited),
//!   ns per MB. tulip `Process::communicate`; tokio writes stdin with
//!   `write_all` while `Child::wait_with_output` reads (its nearest
//!   counterpart of asyncio's `communicate`).
//!
//! Both rows are dominated by the kernel (fork/exec, pipe copies) and by
//! the children themselves; the ratio says what each runtime adds.

use std::rc::Rc;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, criterion_group, criterion_main};
use tokio::io::AsyncWriteExt;
use tulip::process::{Stdio, SubprocessOptions, create_subprocess_exec};
use tulip_benches::{tokio_current_thread, tulip_loop, wall_time};

/// Processes per iteration of `process_spawn_wait`.
const PROCESSES: usize = 1000;

/// Megabytes per iteration of `process_communicate_100mb`.
const MEGABYTES: usize = 100;

/// The group of a process row: as `tulip_benches::group`, with fewer and
/// shorter samples (one iteration is a whole batch of processes).
fn group<'a>(c: &'a mut Criterion, name: &str, elements: usize) -> BenchmarkGroup<'a, WallTime> {
    let mut g = tulip_benches::group(c, name, elements as u64);
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(200))
        .measurement_time(Duration::from_secs(2));
    g
}

fn tulip_spawn_wait(event_loop: &tulip::EventLoop) {
    let done = event_loop.run_until_complete(async {
        let mut procs = Vec::with_capacity(PROCESSES);
        for _ in 0..PROCESSES {
            procs.push(
                create_subprocess_exec("true", [""; 0], SubprocessOptions::new())
                    .await
                    .expect("spawn true"),
            );
        }
        let mut failed = 0;
        for p in &procs {
            if p.wait().await != 0 {
                failed += 1;
            }
        }
        failed
    });
    assert_eq!(done.expect("the loop ran"), 0);
}

fn tokio_spawn_wait(rt: &tokio::runtime::Runtime) {
    let failed = rt.block_on(async {
        let mut children = Vec::with_capacity(PROCESSES);
        for _ in 0..PROCESSES {
            children.push(
                tokio::process::Command::new("true")
                    .spawn()
                    .expect("spawn true"),
            );
        }
        let mut failed = 0;
        for c in &mut children {
            if !c.wait().await.expect("wait").success() {
                failed += 1;
            }
        }
        failed
    });
    assert_eq!(failed, 0);
}

fn process_spawn_wait(c: &mut Criterion) {
    let mut g = group(c, "process_spawn_wait", PROCESSES);

    let event_loop = tulip_loop();
    g.bench_function("tulip", |b| {
        b.iter_custom(|iters| wall_time(iters, || tulip_spawn_wait(&event_loop)));
    });
    drop(event_loop);

    let rt = tokio_current_thread();
    g.bench_function("tokio", |b| {
        b.iter_custom(|iters| wall_time(iters, || tokio_spawn_wait(&rt)));
    });
    drop(rt);
    g.finish();
}

/// The bytes sent through `cat`.
fn payload() -> Vec<u8> {
    (0..MEGABYTES * 1_000_000)
        .map(|i| (i % 251) as u8)
        .collect()
}

fn tulip_communicate(event_loop: &tulip::EventLoop, input: &Rc<Vec<u8>>) {
    let data = input.clone();
    let out = event_loop.run_until_complete(async move {
        let mut proc = create_subprocess_exec(
            "cat",
            [""; 0],
            SubprocessOptions::new()
                .stdin(Stdio::Pipe)
                .stdout(Stdio::Pipe)
                .stderr(Stdio::Pipe),
        )
        .await
        .expect("spawn cat");
        let (out, _) = proc.communicate(Some(&data)).await.expect("communicate");
        out.map_or(0, |o| o.len())
    });
    assert_eq!(out.expect("the loop ran"), input.len());
}

fn tokio_communicate(rt: &tokio::runtime::Runtime, input: &[u8]) {
    let out = rt.block_on(async {
        let mut child = tokio::process::Command::new("cat")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn cat");
        let mut stdin = child.stdin.take().expect("stdin");
        let feed = async move {
            stdin.write_all(input).await.expect("write");
            drop(stdin);
        };
        let ((), output) = tokio::join!(feed, child.wait_with_output());
        output.expect("wait_with_output").stdout.len()
    });
    assert_eq!(out, input.len());
}

fn process_communicate(c: &mut Criterion) {
    let input = Rc::new(payload());
    let mut g = group(c, "process_communicate_100mb", MEGABYTES);

    let event_loop = tulip_loop();
    g.bench_function("tulip", |b| {
        b.iter_custom(|iters| wall_time(iters, || tulip_communicate(&event_loop, &input)));
    });
    drop(event_loop);

    let rt = tokio_current_thread();
    g.bench_function("tokio", |b| {
        b.iter_custom(|iters| wall_time(iters, || tokio_communicate(&rt, &input)));
    });
    drop(rt);
    g.finish();
}

criterion_group!(benches, process_spawn_wait, process_communicate);
criterion_main!(benches);
