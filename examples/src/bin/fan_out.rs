//! Fan-out across loops: one loop hands work to the others over
//! [`tulip::channel`] and gathers the answers.
//!
//! A [`LoopGroup`] runs `--loops N` loops (default: one per CPU, at least
//! two). Loop 0 is the coordinator: with [`RemoteLoop::spawn`] it starts a
//! worker task on every other loop, handing each its own job channel
//! (bounded, so the coordinator waits when a worker falls behind) and a
//! clone of the one answer channel. The jobs are ranges of numbers whose
//! longest Collatz chain the workers compute; the coordinator deals them
//! out in turn, closes the job channels, gathers every answer, and awaits
//! each worker's [`RemoteTask`](tulip::RemoteTask) for its job count.
//!
//! ```text
//! $ cargo run -p tulip-examples --bin fan_out -- --loops 3
//! fan_out: 3 loops, 100 jobs of 1000 numbers
//! loop 1 did 50 jobs
//! loop 2 did 50 jobs
//! longest Collatz chain below 100000: 77031 (350 steps)
//! ```

use std::error::Error;

use tulip::channel::{self, Receiver, Sender};
use tulip::{LoopGroup, RemoteLoop};

/// The numbers below this are searched.
const LIMIT: u64 = 100_000;
/// Numbers per job.
const JOB_SIZE: u64 = 1_000;
/// Jobs that may wait in a worker's channel.
const QUEUE: usize = 4;

/// A range of numbers to search.
type Job = std::ops::Range<u64>;

/// The longest chain of a job: (steps, start).
type Answer = (u32, u64);

/// The steps of the Collatz chain from `n` down to 1.
fn collatz_steps(mut n: u64) -> u32 {
    let mut steps = 0;
    while n != 1 {
        n = if n % 2 == 0 { n / 2 } else { 3 * n + 1 };
        steps += 1;
    }
    steps
}

/// The longest chain starting in `job` (the smallest start on a tie).
fn longest(job: Job) -> Answer {
    job.map(|n| (collatz_steps(n), n)).fold(
        (0, 0),
        |best, (steps, n)| {
            if steps > best.0 { (steps, n) } else { best }
        },
    )
}

/// A worker, run on its own loop: answers jobs until its channel closes;
/// returns how many it did.
async fn worker(jobs: Receiver<Job>, answers: Sender<Answer>) -> usize {
    let mut done = 0;
    while let Ok(job) = jobs.recv().await {
        if answers.send(longest(job)).await.is_err() {
            break; // the coordinator is gone
        }
        done += 1;
        // Let the loop's other callbacks run between jobs.
        tulip::yield_now().await;
    }
    done
}

/// The coordinator, on loop 0: starts a worker on every other loop, deals
/// the jobs, gathers the answers; returns the best answer and each
/// worker's job count.
async fn coordinate(
    workers: Vec<RemoteLoop>,
) -> Result<(Answer, Vec<usize>), Box<dyn Error + Send + Sync>> {
    let (answer_tx, answers) = channel::unbounded::<Answer>();
    let mut job_txs = Vec::new();
    let mut tasks = Vec::new();
    for remote in &workers {
        let (job_tx, jobs) = channel::bounded::<Job>(QUEUE);
        let answer_tx = answer_tx.clone();
        // The closure crosses to the worker's loop, which builds the task.
        tasks.push(remote.spawn(move || worker(jobs, answer_tx)));
        job_txs.push(job_tx);
    }
    drop(answer_tx); // the workers hold the only senders now
    let mut sent = 0;
    for (i, start) in (1..LIMIT).step_by(JOB_SIZE as usize).enumerate() {
        let job = start..(start + JOB_SIZE).min(LIMIT);
        job_txs[i % job_txs.len()]
            .send(job)
            .await
            .map_err(|_| "a worker stopped")?;
        sent += 1;
    }
    for tx in &job_txs {
        tx.close();
    }
    let mut best = (0, 0);
    for _ in 0..sent {
        let answer = answers.recv().await.map_err(|_| "an answer is missing")?;
        if answer.0 > best.0 || (answer.0 == best.0 && answer.1 < best.1) {
            best = answer;
        }
    }
    let mut counts = Vec::new();
    for task in tasks {
        counts.push(task.await?);
    }
    Ok((best, counts))
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut builder = LoopGroup::builder().thread_name("fan-out");
    let loops = match parse_loops()? {
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(2, |n| n.get().max(2)),
    };
    builder = builder.loops(loops);
    let group = builder.build()?;
    println!(
        "fan_out: {loops} loops, {} jobs of {JOB_SIZE} numbers",
        (LIMIT - 1).div_ceil(JOB_SIZE)
    );
    let workers: Vec<RemoteLoop> = group.remotes()[1..].to_vec();
    let mut results = group.run(move |_lp, index| {
        let workers = workers.clone();
        async move {
            if index == 0 {
                coordinate(workers)
                    .await
                    .map(Some)
                    .map_err(|e| e.to_string())
            } else {
                Ok(None) // this loop serves the worker spawned on it
            }
        }
    })?;
    let ((steps, start), counts) = results.swap_remove(0)??.ok_or("no answer")?;
    for (i, count) in counts.iter().enumerate() {
        println!("loop {} did {count} jobs", i + 1);
    }
    println!("longest Collatz chain below {LIMIT}: {start} ({steps} steps)");
    Ok(())
}

/// `--loops N` (at least 2: a coordinator and a worker).
fn parse_loops() -> Result<Option<usize>, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => Ok(None),
        [flag, n] if flag == "--loops" => match n.parse::<usize>() {
            Ok(n) if n >= 2 => Ok(Some(n)),
            _ => Err(format!("--loops {n:?}: want a count of at least 2")),
        },
        _ => Err("usage: fan_out [--loops N]".into()),
    }
}
