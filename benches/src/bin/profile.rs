//! Runs one benchmark workload alone, for a profiler:
//!
//! ```text
//! cargo build --profile bench -p tulip-benches --bin profile
//! valgrind --tool=callgrind target/release/profile spawn_complete tulip 1
//! perf record -g target/release/profile timers_half_cancelled tokio 20
//! ```
//!
//! `profile ROW RUNTIME [REPS]` runs the row's workload (the same function
//! the bench target times, from `tulip_benches::work`) REPS times (default
//! 3) and prints the wall-clock and process CPU time per operation of each
//! repetition. `profile list` prints the rows and their runtimes;
//! `profile sizes` the sizes of the handles each runtime's spawn returns
//! (what a `Vec` of a million of them costs).

use std::time::Instant;

use tulip_benches::work::{CALLBACKS, TASKS, TIMERS, YIELDS, delays, smol_rt, tokio_rt, tulip_rt};
use tulip_benches::{process_cpu_time, tokio_current_thread, tulip_loop};

/// Every (row, runtime) pair this binary runs.
const ROWS: &[(&str, &[&str])] = &[
    ("call_soon", &["tulip"]),
    ("call_soon_batched", &["tulip"]),
    ("call_soon_threadsafe", &["tulip", "tokio", "smol"]),
    ("spawn_complete", &["tulip", "tokio", "smol"]),
    ("yield_now", &["tulip", "tokio", "smol"]),
    ("timers_half_cancelled", &["tulip", "tokio", "async-io"]),
    ("timers_half_cancelled_tasks", &["tulip", "tokio", "smol"]),
    ("call_later_half_cancelled", &["tulip"]),
    ("call_soon_in_context", &["tulip"]),
    ("spawn_complete_in_context", &["tulip"]),
    ("yield_now_in_context", &["tulip"]),
];

fn usage() -> ! {
    eprintln!("usage: profile ROW RUNTIME [REPS]   (profile list: the rows)");
    std::process::exit(2);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("list") {
        for (row, runtimes) in ROWS {
            println!("{row}: {}", runtimes.join(" "));
        }
        return;
    }
    if args.first().map(String::as_str) == Some("sizes") {
        use std::mem::size_of;
        println!("tulip::Task<u64>: {} bytes", size_of::<tulip::Task<u64>>());
        println!("tulip::Error: {} bytes", size_of::<tulip::Error>());
        println!(
            "tokio::task::JoinHandle<u64>: {} bytes",
            size_of::<tokio::task::JoinHandle<u64>>()
        );
        println!(
            "async_task::Task<u64> (smol): {} bytes",
            size_of::<async_executor::Task<u64>>()
        );
        return;
    }
    let (Some(row), Some(runtime)) = (args.first(), args.get(1)) else {
        usage()
    };
    let reps: u32 = match args.get(2).map(|s| s.parse()) {
        None => 3,
        Some(Ok(n)) => n,
        Some(Err(_)) => usage(),
    };
    let mut run = workload(row, runtime).unwrap_or_else(|| usage());
    let ops = match row.as_str() {
        "spawn_complete" | "spawn_complete_in_context" => TASKS,
        "yield_now" | "yield_now_in_context" => YIELDS,
        r if r.contains("timers") || r.contains("call_later") => TIMERS as u64,
        _ => CALLBACKS,
    };
    for rep in 0..reps {
        let (wall, cpu) = (Instant::now(), process_cpu_time());
        run();
        let (wall, cpu) = (wall.elapsed(), process_cpu_time().saturating_sub(cpu));
        println!(
            "{row}/{runtime} rep {rep}: {:.1} ns/op wall, {:.1} ns/op cpu",
            wall.as_nanos() as f64 / ops as f64,
            cpu.as_nanos() as f64 / ops as f64
        );
    }
}

/// The workload of `row` on `runtime`, with its runtime built.
fn workload(row: &str, runtime: &str) -> Option<Box<dyn FnMut()>> {
    let delays = delays();
    Some(match runtime {
        "tulip" => {
            let lp = tulip_loop();
            match row {
                "call_soon" => Box::new(move || tulip_rt::call_soon(&lp)),
                "call_soon_batched" => Box::new(move || tulip_rt::call_soon_batched(&lp)),
                "call_soon_threadsafe" => Box::new(move || tulip_rt::call_soon_threadsafe(&lp)),
                "spawn_complete" => Box::new(move || tulip_rt::spawn_complete(&lp)),
                "yield_now" => Box::new(move || tulip_rt::yield_now(&lp)),
                "call_soon_in_context" => Box::new(move || tulip_rt::call_soon_in_context(&lp)),
                "spawn_complete_in_context" => {
                    Box::new(move || tulip_rt::spawn_complete_in_context(&lp))
                }
                "yield_now_in_context" => Box::new(move || tulip_rt::yield_now_in_context(&lp)),
                "timers_half_cancelled" => Box::new(move || tulip_rt::timers(&lp, &delays)),
                "timers_half_cancelled_tasks" => {
                    Box::new(move || tulip_rt::timer_tasks(&lp, &delays))
                }
                "call_later_half_cancelled" => Box::new(move || tulip_rt::call_later(&lp, &delays)),
                _ => return None,
            }
        }
        "tokio" => {
            let rt = tokio_current_thread();
            let local = tokio::task::LocalSet::new();
            match row {
                "call_soon_threadsafe" => Box::new(move || tokio_rt::call_soon_threadsafe(&rt)),
                "spawn_complete" => Box::new(move || tokio_rt::spawn_complete(&rt, &local)),
                "yield_now" => Box::new(move || tokio_rt::yield_now(&rt)),
                "timers_half_cancelled" => Box::new(move || tokio_rt::timers(&rt, &delays)),
                "timers_half_cancelled_tasks" => {
                    Box::new(move || tokio_rt::timer_tasks(&rt, &local, &delays))
                }
                _ => return None,
            }
        }
        "smol" | "async-io" => match row {
            "call_soon_threadsafe" => {
                let ex = async_executor::Executor::new();
                Box::new(move || smol_rt::call_soon_threadsafe(&ex))
            }
            "spawn_complete" => {
                let ex = async_executor::LocalExecutor::new();
                Box::new(move || smol_rt::spawn_complete(&ex))
            }
            "yield_now" => {
                let ex = async_executor::LocalExecutor::new();
                Box::new(move || smol_rt::yield_now(&ex))
            }
            "timers_half_cancelled" => Box::new(move || smol_rt::timers(&delays)),
            "timers_half_cancelled_tasks" => {
                let ex = async_executor::LocalExecutor::new();
                Box::new(move || smol_rt::timer_tasks(&ex, &delays))
            }
            _ => return None,
        },
        _ => return None,
    })
}
