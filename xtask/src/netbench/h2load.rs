//! The HTTP/2 rows of the network benches: `h2load` (nghttp2's load
//! generator) by prior knowledge over cleartext (h2c, the default for an
//! `http://` URI), one thread, a fixed number of connections each keeping
//! a fixed number of streams in flight, for a duration; and the reading of
//! its report.

use super::Load;
use std::ffi::OsString;

/// The arguments of one run: `conns` connections with `streams` requests
/// in flight on each, for `secs` (rounded up to whole seconds), on `addr`.
pub(super) fn args(conns: usize, streams: usize, secs: f64, addr: &str) -> Vec<OsString> {
    vec![
        "-t1".into(),
        format!("-c{conns}").into(),
        format!("-m{streams}").into(),
        format!("-D{}", secs.ceil()).into(),
        format!("http://{addr}/").into(),
    ]
}

/// Reads h2load's report: the rate of `finished in T, R req/s, ...`, the
/// succeeded count of `requests: ...` as the operations. Any failed,
/// errored or timed-out request, or an answer other than 2xx, fails the
/// run (naming the line).
pub(super) fn parse(lines: &[String]) -> Result<Load, String> {
    let (mut rps, mut ops) = (None, None);
    for line in lines.iter().map(|l| l.trim()) {
        if let Some(rest) = line.strip_prefix("finished in ") {
            rps = rest
                .split(", ")
                .find_map(|part| part.strip_suffix(" req/s"))
                .and_then(|r| r.trim().parse::<f64>().ok());
        } else if let Some(rest) = line.strip_prefix("requests: ") {
            let counts = counts(rest);
            let count = |name: &str| counts.iter().find(|(n, _)| *n == name).map(|(_, c)| *c);
            let bad = ["failed", "errored", "timeout"]
                .iter()
                .any(|name| count(name) != Some(0));
            if bad {
                return Err(format!("h2load: {line}"));
            }
            ops = count("succeeded");
        } else if let Some(rest) = line.strip_prefix("status codes: ") {
            let counts = counts(rest);
            let other = counts.iter().any(|(name, n)| *name != "2xx" && *n > 0);
            if other || counts.is_empty() {
                return Err(format!("h2load: {line}"));
            }
        }
    }
    match (rps, ops) {
        (Some(rps), Some(ops)) if ops > 0 => Ok(Load {
            rps,
            ops,
            p99_us: None, // h2load reports no percentiles
        }),
        _ => Err(format!(
            "h2load reported no requests: {}",
            lines.join(" | ")
        )),
    }
}

/// The `N name` pairs of a comma-separated h2load count line
/// (`258703 total, 0 failed`), the unparsable ones left out.
fn counts(text: &str) -> Vec<(&str, u64)> {
    text.split(',')
        .filter_map(|part| {
            let (n, name) = part.trim().split_once(' ')?;
            Some((name.trim(), n.parse().ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "starting benchmark...
spawning thread #0: 10 total client(s). Timing-based test with 0s of warm-up time and 3s of main duration for measurements.
Main benchmark duration is over for thread #0. Stopping all clients.

finished in 3.00s, 86234.33 req/s, 3.04MB/s
requests: 258703 total, 258753 started, 258703 done, 258703 succeeded, 0 failed, 0 errored, 0 timeout
status codes: 258703 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 9.12MB (9563125) total, 1.23MB (1290000) headers (space savings 94.05%), 3.21MB (3363139) data
                     min         max         mean         sd        +/- sd
time for request:       47us      3.09ms       562us       138us    73.26%";

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(String::from).collect()
    }

    #[test]
    fn a_clean_report() {
        assert_eq!(
            parse(&lines(REPORT)),
            Ok(Load {
                rps: 86234.33,
                ops: 258_703,
                p99_us: None
            })
        );
    }

    #[test]
    fn failures_and_other_statuses_fail_the_run() {
        let failed = REPORT.replace("0 failed", "7 failed");
        assert!(parse(&lines(&failed)).is_err_and(|e| e.contains("7 failed")));
        let errored = REPORT.replace("0 errored", "1 errored");
        assert!(parse(&lines(&errored)).is_err());
        let not_found = REPORT.replace("0 4xx", "12 4xx");
        assert!(parse(&lines(&not_found)).is_err_and(|e| e.contains("12 4xx")));
    }

    #[test]
    fn no_requests_is_an_error() {
        assert!(parse(&lines("starting benchmark...\nconnect: Connection refused")).is_err());
        let none = REPORT
            .replace("258703 succeeded", "0 succeeded")
            .replace("258703 2xx", "0 2xx");
        assert!(parse(&lines(&none)).is_err());
    }

    #[test]
    fn the_arguments() {
        let args: Vec<String> = args(10, 5, 2.5, "127.0.0.1:80")
            .into_iter()
            .map(|a| a.into_string().expect("UTF-8"))
            .collect();
        assert_eq!(args, ["-t1", "-c10", "-m5", "-D3", "http://127.0.0.1:80/"]);
    }
}
