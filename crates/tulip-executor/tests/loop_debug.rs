//! Debug mode and the loop's diagnostics, captured through a test logger
//! (the `log` facade; the loop writes to standard error only when no logger
//! is installed): a slow callback or task step is reported with "took" and
//! the creation site of the callback or task; nothing is reported outside
//! debug mode; the default exception handler logs at error level.
//!
//! The logger is process-wide, so every test here looks only for messages
//! naming its own source lines.

mod common;

use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use common::run_once;
use tulip_executor::{
    DEFAULT_SLOW_CALLBACK_DURATION, Error, EventLoop, ExceptionContext, yield_now,
};

struct TestLogger {
    records: Mutex<Vec<(log::Level, String)>>,
}

impl log::Log for TestLogger {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        self.records
            .lock()
            .unwrap()
            .push((record.level(), record.args().to_string()));
    }
    fn flush(&self) {}
}

fn logger() -> &'static TestLogger {
    static LOGGER: OnceLock<&'static TestLogger> = OnceLock::new();
    LOGGER.get_or_init(|| {
        let logger: &'static TestLogger = Box::leak(Box::new(TestLogger {
            records: Mutex::new(Vec::new()),
        }));
        log::set_logger(logger).expect("no other logger in this test binary");
        log::set_max_level(log::LevelFilter::Trace);
        logger
    })
}

/// The records so far that contain `needle`.
fn records_with(needle: &str) -> Vec<(log::Level, String)> {
    logger()
        .records
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, m)| m.contains(needle))
        .cloned()
        .collect()
}

fn slow() {
    std::thread::sleep(Duration::from_millis(20));
}

#[test]
fn debug_settings() {
    let el = EventLoop::builder().debug(false).build().unwrap();
    assert!(!el.get_debug());
    assert_eq!(el.slow_callback_duration(), DEFAULT_SLOW_CALLBACK_DURATION);
    assert_eq!(DEFAULT_SLOW_CALLBACK_DURATION, Duration::from_millis(100));
    el.set_debug(true);
    assert!(el.get_debug());
    el.set_slow_callback_duration(Duration::from_millis(5));
    assert_eq!(el.slow_callback_duration(), Duration::from_millis(5));
    assert!(
        EventLoop::builder()
            .debug(true)
            .build()
            .unwrap()
            .get_debug()
    );
}

#[test]
fn a_slow_callback_is_reported_with_its_creation_site() {
    logger();
    let el = EventLoop::new().unwrap();
    el.set_debug(true);
    el.set_slow_callback_duration(Duration::from_millis(1));
    let handle = el.call_soon(slow).unwrap();
    let site = handle.source_location().to_string();
    assert!(site.contains("loop_debug.rs"), "{site}");
    run_once(&el);
    let found = records_with(&site);
    assert_eq!(found.len(), 1, "{found:?}");
    let (level, message) = &found[0];
    assert_eq!(*level, log::Level::Warn);
    assert!(message.contains("took"), "{message}");
}

#[test]
fn a_slow_task_step_is_reported_with_the_task_creation_site() {
    logger();
    let el = EventLoop::builder().debug(true).build().unwrap();
    el.set_slow_callback_duration(Duration::from_millis(1));
    let task = el.create_task(async {
        yield_now().await;
        slow();
    });
    let site = task.source_location().to_string();
    el.run_until_complete(task).unwrap().unwrap();
    let found = records_with(&site);
    assert!(
        found
            .iter()
            .any(|(_, m)| m.contains("took") && m.contains("Task")),
        "{found:?}"
    );
}

#[test]
fn nothing_is_reported_outside_debug_mode() {
    logger();
    let el = EventLoop::builder().debug(false).build().unwrap();
    el.set_slow_callback_duration(Duration::from_millis(1));
    let handle = el.call_soon(slow).unwrap();
    let site = handle.source_location().to_string();
    run_once(&el);
    assert!(records_with(&site).is_empty());
}

#[test]
fn the_default_exception_handler_logs_an_error() {
    logger();
    let el = EventLoop::new().unwrap();
    el.call_exception_handler(
        &ExceptionContext::new("a distinctive failure 7f3a").with_error(Error::Timeout),
    );
    let found = records_with("a distinctive failure 7f3a");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].0, log::Level::Error);
    assert!(found[0].1.contains("timed out"), "{}", found[0].1);
    // A callback panic goes the same way, with its creation site.
    let handle = el.call_soon(|| panic!("panic 5e1c")).unwrap();
    let site = handle.source_location().to_string();
    run_once(&el);
    let found = records_with(&site);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, log::Level::Error);
    assert!(found[0].1.contains("panic 5e1c"));
}
