//! Tests of `cargo xtask bench`'s argument parsing, result reading and table,
//! on files shaped exactly as criterion 0.8.2 writes them.

use super::*;
use std::time::Duration;

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn benchmark_json(
    group: &str,
    function: Option<&str>,
    value: Option<&str>,
    elements: Option<u64>,
) -> String {
    let quote = |s: Option<&str>| s.map_or("null".to_string(), |s| format!("\"{s}\""));
    let throughput = elements.map_or("null".to_string(), |n| format!("{{\"Elements\":{n}}}"));
    let dir = group.replace('/', "_");
    format!(
        r#"{{"group_id":"{group}","function_id":{},"value_str":{},"throughput":{throughput},"full_id":"{group}","directory_name":"{dir}","title":"{group}"}}"#,
        quote(function),
        quote(value),
    )
}

fn estimates_json(mean: f64) -> String {
    format!(
        r#"{{"mean":{{"confidence_interval":{{"confidence_level":0.95,"lower_bound":1.0,"upper_bound":2.0}},"point_estimate":{mean},"standard_error":0.03}},"median":{{"confidence_interval":{{"confidence_level":0.95,"lower_bound":1.0,"upper_bound":2.0}},"point_estimate":1.5,"standard_error":0.05}},"slope":null}}"#
    )
}

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn cell(row: &str, runtime: &str, ns_per_op: f64, written: u64) -> Measurement {
    Measurement {
        row: row.into(),
        runtime: runtime.into(),
        ns_per_op,
        per_element: true,
        written: at(written),
    }
}

#[test]
fn options_parse() {
    assert_eq!(Options::parse(&[]), Ok(Options::default()));
    let parsed = Options::parse(&args(&[
        "--no-run",
        "call_soon",
        "--",
        "--sample-size",
        "10",
    ]))
    .unwrap();
    assert!(parsed.no_run);
    assert_eq!(parsed.filter.as_deref(), Some("call_soon"));
    assert_eq!(parsed.criterion_args, args(&["--sample-size", "10"]));
    assert!(Options::parse(&args(&["a", "b"])).is_err());
    assert!(Options::parse(&args(&["--quick"])).is_err());
}

#[test]
fn ns_per_op_divides_by_elements() {
    let bench = json::parse(&benchmark_json(
        "call_soon",
        Some("tokio"),
        None,
        Some(1000),
    ))
    .unwrap();
    let estimates = json::parse(&estimates_json(504_982.6)).unwrap();
    let m = measurement(&bench, &estimates, at(5)).unwrap();
    assert_eq!((m.row.as_str(), m.runtime.as_str()), ("call_soon", "tokio"));
    assert!((m.ns_per_op - 504.9826).abs() < 1e-9);
    assert!(m.per_element);
}

#[test]
fn parameterised_and_bare_ids() {
    let estimates = json::parse(&estimates_json(100.0)).unwrap();
    let bench = json::parse(&benchmark_json(
        "param",
        Some("smol"),
        Some("100"),
        Some(100),
    ))
    .unwrap();
    let m = measurement(&bench, &estimates, at(5)).unwrap();
    assert_eq!(
        (m.row.as_str(), m.runtime.as_str(), m.ns_per_op),
        ("param/100", "smol", 1.0)
    );
    let bench = json::parse(&benchmark_json("lonely", None, None, None)).unwrap();
    let m = measurement(&bench, &estimates, at(5)).unwrap();
    assert_eq!(
        (m.row.as_str(), m.ns_per_op, m.per_element),
        ("lonely", 100.0, false)
    );
}

#[test]
fn table_has_ratios_for_every_peer() {
    let results = vec![
        cell("yield_now", "tulip", 20.0, 9),
        cell("call_soon", "smol", 40.0, 2),
        cell("call_soon", "tulip", 10.0, 1),
        cell("call_soon", "tokio", 30.0, 1),
        cell("call_soon", "glommio", 5.0, 3),
        cell("yield_now", "tokio", 10.0, 9),
    ];
    let expected = "\
| benchmark | tulip ns/op | tokio ns/op | tulip/tokio | smol ns/op | tulip/smol | glommio ns/op | tulip/glommio |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
| call_soon | 10.0 | 30.0 | 0.33 | 40.0 | 0.25 | 5.00 | 2.00 |
| yield_now | 20.0 | 10.0 | 2.00 | – | – | – | – |
";
    let table = table(&results);
    assert!(table.starts_with(expected), "{table}");
    assert!(!table.contains('†'));
}

#[test]
fn collect_skips_stale_results() {
    let dir = std::env::temp_dir().join(format!("xtask-bench-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let write = |sub: &str, bench: String, mean: f64| {
        let new = dir.join(sub).join("new");
        std::fs::create_dir_all(&new).unwrap();
        std::fs::write(new.join("benchmark.json"), bench).unwrap();
        std::fs::write(new.join("estimates.json"), estimates_json(mean)).unwrap();
        std::fs::create_dir_all(dir.join(sub).join("base")).unwrap();
    };
    write(
        "call_soon/tulip",
        benchmark_json("call_soon", Some("tulip"), None, Some(10)),
        50.0,
    );
    write(
        "timers_half/tokio",
        benchmark_json("timers/half", Some("tokio"), None, Some(4)),
        8.0,
    );
    let mut all = collect(&dir, UNIX_EPOCH).unwrap();
    all.sort_by(|a, b| a.row.cmp(&b.row));
    let cells: Vec<(&str, &str, f64)> = all
        .iter()
        .map(|m| (m.row.as_str(), m.runtime.as_str(), m.ns_per_op))
        .collect();
    assert_eq!(
        cells,
        [("call_soon", "tulip", 5.0), ("timers/half", "tokio", 2.0)]
    );
    let future = SystemTime::now() + Duration::from_secs(3600);
    assert!(collect(&dir, future).unwrap().is_empty());
    assert!(
        collect(&dir.join("missing"), UNIX_EPOCH)
            .unwrap()
            .is_empty()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
