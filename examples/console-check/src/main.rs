//! Checks, with the real tokio-console stack, that tulip's tasks show up:
//! a tulip loop runs named tasks under `console-subscriber`'s layer (with
//! tulip's `tracing` feature), and a client of the console's gRPC
//! endpoint (`console-api`, what the `tokio-console` program uses)
//! subscribes to it and waits until the tasks are listed, with their
//! names, their creation site and poll counts. Prints what it saw and
//! exits 0 if every task was there, 1 if not.
//!
//! ```text
//! RUSTFLAGS="--cfg tokio_unstable" CARGO_TARGET_DIR=/tmp/console-check \
//!   cargo run --manifest-path examples/console-check/Cargo.toml
//! ```
//!
//! (`--cfg tokio_unstable` is console-subscriber's own build requirement.)
//! To watch the same program with the console itself, run it with
//! `--hold` and, in another terminal, `tokio-console http://127.0.0.1:6699`.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use console_api::field::{Name, Value};
use console_api::instrument::InstrumentRequest;
use console_api::instrument::instrument_client::InstrumentClient;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tulip::prelude::*;

const ADDR: ([u8; 4], u16) = ([127, 0, 0, 1], 6699);
const NAMES: [&str; 3] = ["tulip-ticker", "tulip-sleeper", "tulip-waiter"];

/// What the console says about one task.
#[derive(Debug, Default)]
struct Seen {
    fields: BTreeMap<String, String>,
    location: String,
    polls: u64,
}

/// Subscribes to the console's endpoint and collects tasks until every one
/// of `NAMES` was seen polled (or 30 s pass).
async fn watch() -> Result<Vec<Seen>, String> {
    let started = Instant::now();
    let mut client = loop {
        match InstrumentClient::connect(format!("http://127.0.0.1:{}", ADDR.1)).await {
            Ok(c) => break c,
            Err(e) if started.elapsed() > Duration::from_secs(10) => {
                return Err(format!("cannot connect to the console endpoint: {e}"));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    let mut updates = client
        .watch_updates(InstrumentRequest {})
        .await
        .map_err(|e| format!("watch_updates: {e}"))?
        .into_inner();
    let mut tasks: BTreeMap<u64, Seen> = BTreeMap::new();
    let mut field_names: BTreeMap<(u64, u64), String> = BTreeMap::new();
    while started.elapsed() < Duration::from_secs(30) {
        let Some(update) = updates
            .message()
            .await
            .map_err(|e| format!("update: {e}"))?
        else {
            break;
        };
        if let Some(meta) = update.new_metadata {
            for m in meta.metadata {
                if let (Some(id), Some(md)) = (m.id, m.metadata) {
                    for (i, f) in md.field_names.iter().enumerate() {
                        field_names.insert((id.id, i as u64), f.clone());
                    }
                }
            }
        }
        if let Some(tu) = update.task_update {
            for t in tu.new_tasks {
                let Some(id) = t.id.map(|i| i.id) else {
                    continue;
                };
                let seen = tasks.entry(id).or_default();
                for f in &t.fields {
                    let meta = f.metadata_id.as_ref().map_or(0, |m| m.id);
                    let name = match &f.name {
                        Some(Name::StrName(s)) => s.clone(),
                        Some(Name::NameIdx(i)) => {
                            field_names.get(&(meta, *i)).cloned().unwrap_or_default()
                        }
                        None => String::new(),
                    };
                    let value = match &f.value {
                        Some(Value::StrVal(s)) | Some(Value::DebugVal(s)) => s.clone(),
                        Some(Value::U64Val(v)) => v.to_string(),
                        Some(Value::I64Val(v)) => v.to_string(),
                        Some(Value::BoolVal(v)) => v.to_string(),
                        None => String::new(),
                    };
                    seen.fields.insert(name, value);
                }
                if let Some(loc) = &t.location {
                    seen.location = format!(
                        "{}:{}:{}",
                        loc.file.clone().unwrap_or_default(),
                        loc.line.unwrap_or(0),
                        loc.column.unwrap_or(0)
                    );
                }
            }
            for (id, stats) in tu.stats_update {
                if let (Some(seen), Some(polls)) = (tasks.get_mut(&id), stats.poll_stats) {
                    seen.polls = polls.polls;
                }
            }
        }
        let done: HashSet<&str> = tasks
            .values()
            .filter(|s| s.polls > 0)
            .filter_map(|s| s.fields.get("task.name").map(String::as_str))
            .collect();
        if NAMES.iter().all(|n| done.contains(n)) {
            break;
        }
    }
    Ok(tasks.into_values().collect())
}

fn main() {
    let hold = std::env::args().any(|a| a == "--hold");
    let (layer, server) = console_subscriber::ConsoleLayer::builder()
        .server_addr(ADDR)
        .publish_interval(Duration::from_millis(200))
        .build();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            if let Err(e) = server.serve().await {
                eprintln!("console server: {e}");
            }
        });
    });
    tracing_subscriber::registry().with(layer).init();

    let finished = Arc::new(AtomicBool::new(false));
    let f = finished.clone();
    let checker = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let out = rt.block_on(watch());
        f.store(true, Ordering::Release);
        out
    });

    tulip::run(async move {
        let lp = get_running_loop().unwrap();
        let named = |name: &str| TaskOptions::new().name(name);
        let ticker = lp.create_task_with(
            async {
                loop {
                    sleep(Duration::from_millis(50)).await;
                }
            },
            named(NAMES[0]),
        );
        let sleeper = lp.create_task_with(sleep(Duration::from_secs(3600)), named(NAMES[1]));
        let sleeper_ref = sleeper.task_ref();
        let waiter = lp.create_task_with(async move { sleeper.await }, named(NAMES[2]));
        while hold || !finished.load(Ordering::Acquire) {
            sleep(Duration::from_millis(100)).await;
        }
        ticker.cancel();
        sleeper_ref.cancel();
        let _ = waiter.await;
    })
    .unwrap();

    match checker.join().unwrap() {
        Ok(tasks) => {
            let mut missing = Vec::new();
            for n in NAMES {
                match tasks
                    .iter()
                    .find(|t| t.fields.get("task.name").map(String::as_str) == Some(n))
                {
                    Some(t) => println!(
                        "console lists {n}: polls={} at {} fields={:?}",
                        t.polls, t.location, t.fields
                    ),
                    None => missing.push(n),
                }
            }
            if missing.is_empty() {
                println!("PASS: tokio-console's endpoint lists tulip's tasks");
            } else {
                println!("FAIL: not listed: {missing:?}; saw {tasks:?}");
                std::process::exit(1);
            }
        }
        Err(e) => {
            println!("FAIL: {e}");
            std::process::exit(1);
        }
    }
}
