//! The `tracing` feature: what tulip's tasks emit is what tokio-console's
//! `console-subscriber` reads. A recording subscriber checks the spawn
//! span (`runtime.spawn`, with `kind`, `task.name`, `task.id` and the
//! creation site), that it is entered for each poll and closed when the
//! task ends (completed or cancelled), and the `runtime::waker` events
//! (`waker.clone`, `waker.wake`/`waker.wake_by_ref`, `waker.drop`) keyed
//! by the span's id. Run with `--features tracing`.
#![cfg(feature = "tracing")]

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tulip::prelude::*;

#[derive(Default, Debug)]
struct SpanRecord {
    name: &'static str,
    target: &'static str,
    fields: HashMap<String, String>,
    enters: usize,
    exits: usize,
    closed: bool,
}

#[derive(Default)]
struct Log {
    spans: HashMap<u64, SpanRecord>,
    /// (target, op, task.id)
    events: Vec<(String, String, u64)>,
}

#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Log>>);

struct Fields<'a>(&'a mut HashMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), value.to_string());
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Recorder {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
        let mut rec = SpanRecord {
            name: attrs.metadata().name(),
            target: attrs.metadata().target(),
            ..SpanRecord::default()
        };
        attrs.record(&mut Fields(&mut rec.fields));
        self.0.lock().unwrap().spans.insert(id.into_u64(), rec);
    }
    fn on_enter(&self, id: &Id, _: Context<'_, S>) {
        if let Some(s) = self.0.lock().unwrap().spans.get_mut(&id.into_u64()) {
            s.enters += 1;
        }
    }
    fn on_exit(&self, id: &Id, _: Context<'_, S>) {
        if let Some(s) = self.0.lock().unwrap().spans.get_mut(&id.into_u64()) {
            s.exits += 1;
        }
    }
    fn on_close(&self, id: Id, _: Context<'_, S>) {
        if let Some(s) = self.0.lock().unwrap().spans.get_mut(&id.into_u64()) {
            s.closed = true;
        }
    }
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut f = HashMap::new();
        event.record(&mut Fields(&mut f));
        let id = f.get("task.id").and_then(|v| v.parse().ok()).unwrap_or(0);
        self.0.lock().unwrap().events.push((
            event.metadata().target().to_owned(),
            f.get("op").cloned().unwrap_or_default(),
            id,
        ));
    }
}

#[test]
fn tasks_emit_what_tokio_console_reads() {
    let recorder = Recorder::default();
    let subscriber = tracing_subscriber::registry().with(recorder.clone());
    let (line, tulip_id, cancelled_id) = tracing::subscriber::with_default(subscriber, || {
        tulip::run(async {
            let lp = get_running_loop().unwrap();
            let task = lp.create_task_with(
                async {
                    sleep(Duration::from_millis(5)).await;
                    yield_now().await;
                },
                TaskOptions::new().name("probe"),
            );
            let line = line!() - 7;
            let id = task.id();
            task.await.unwrap();
            let doomed = spawn(sleep(Duration::from_secs(3600)));
            let doomed_id = doomed.id();
            yield_now().await;
            doomed.cancel();
            yield_now().await;
            (line, id, doomed_id)
        })
        .unwrap()
    });
    let log = recorder.0.lock().unwrap();
    let find = |tulip_id: u64| {
        log.spans
            .iter()
            .find(|(_, s)| {
                s.name == "runtime.spawn" && s.fields.get("task.id") == Some(&tulip_id.to_string())
            })
            .map(|(id, s)| (*id, s))
            .unwrap_or_else(|| panic!("no runtime.spawn span for task {tulip_id}"))
    };
    let (span_id, probe) = find(tulip_id);
    assert_eq!(probe.target, "runtime::task");
    assert_eq!(probe.fields["kind"], "task");
    assert_eq!(probe.fields["task.name"], "probe");
    assert!(
        probe.fields["loc.file"].ends_with("trace_console.rs"),
        "{probe:?}"
    );
    assert_eq!(probe.fields["loc.line"], line.to_string());
    // Polled three times (start, after the sleep, after the yield): the
    // span is entered and left each time, then closed with the future.
    assert!(
        probe.enters >= 3 && probe.enters == probe.exits,
        "{probe:?}"
    );
    assert!(probe.closed);
    let ops: Vec<&str> = log
        .events
        .iter()
        .filter(|(target, _, id)| target == "runtime::waker" && *id == span_id)
        .map(|(_, op, _)| op.as_str())
        .collect();
    // The sleep keeps a clone of the waker and the timer wakes it; the
    // yield wakes by reference.
    assert!(ops.contains(&"waker.clone"), "{ops:?}");
    assert!(
        ops.iter()
            .any(|op| *op == "waker.wake" || *op == "waker.wake_by_ref"),
        "{ops:?}"
    );
    assert!(ops.contains(&"waker.wake_by_ref"), "{ops:?}");
    let clones = ops.iter().filter(|op| **op == "waker.clone").count();
    let released = ops
        .iter()
        .filter(|op| **op == "waker.drop" || **op == "waker.wake")
        .count();
    assert_eq!(clones, released, "every clone is woken or dropped: {ops:?}");
    // A cancelled task's span is closed too.
    let (_, doomed) = find(cancelled_id);
    assert!(doomed.closed, "{doomed:?}");
}
