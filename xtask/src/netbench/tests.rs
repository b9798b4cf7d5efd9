//! Tests of the network benches' parsing of loadgen, wrk, strace and
//! `/proc` output, the filter, and the tables (no process is started).

use super::*;

fn lines(text: &str) -> Vec<String> {
    text.lines().map(String::from).collect()
}

#[test]
fn the_filter_selects_the_network_benches() {
    assert_eq!(selected(None), None);
    assert_eq!(selected(Some("timers")), None);
    assert_eq!(selected(Some("network")), None);
    assert_eq!(selected(Some("net")), Some(None));
    assert_eq!(selected(Some("net/http")), Some(Some("http")));
}

#[test]
fn every_server_has_a_known_kind_and_a_tokio_peer_for_tulip() {
    for s in SERVERS.iter().filter(|s| s.runtime == "tulip") {
        let peer = SERVERS
            .iter()
            .find(|p| p.family == s.family && p.runtime == "tokio");
        assert!(peer.is_some_and(|p| p.serves == s.serves), "{}", s.bin);
    }
}

#[test]
fn tulip_rows_name_their_backend_and_the_peers_none() {
    for s in SERVERS {
        match s.runtime {
            "tulip" => {
                let backend = s.backend.expect("a tulip row names its backend");
                assert!(
                    ["epoll", "polling", "uring"].contains(&backend),
                    "{}",
                    s.name
                );
                let suffix = s.name.strip_prefix(s.bin).unwrap_or("");
                let named = suffix.strip_prefix(':');
                // `BIN:polling`/`BIN:uring` rows run on that backend; the
                // plain and per-core rows on epoll.
                match named {
                    Some("polling") | Some("uring") => assert_eq!(named, Some(backend)),
                    _ => assert_eq!(backend, "epoll", "{}", s.name),
                }
            }
            _ => assert_eq!(s.backend, None, "{}", s.name),
        }
    }
    let uring: Vec<&str> = SERVERS
        .iter()
        .filter(|s| s.backend == Some("uring"))
        .map(|s| s.bin)
        .collect();
    assert_eq!(
        uring,
        [
            "echo_protocol",
            "echo_streams",
            "echo_net",
            "http_hello",
            "axum_hello",
            "echo_tls"
        ]
    );
}

#[test]
fn http2_runs_against_the_axum_family_only() {
    let h2: Vec<&str> = SERVERS
        .iter()
        .filter(|s| s.serves(Kind::Http2))
        .map(|s| s.name)
        .collect();
    assert_eq!(h2, ["axum_hello", "axum_hello:uring", "axum_hello_tokio"]);
    assert!(SERVERS.iter().all(|s| !s.serves.is_empty()));
    let h2_loads = WORKLOADS.iter().filter(|w| w.kind == Kind::Http2);
    assert!(h2_loads.map(|w| w.conns * w.streams).eq([50]));
}

#[test]
fn loadgen_lines() {
    let out = lines(
        "rps=41234.5 p50_us=23 p99_us=41 all_round_trips=164938 errors=0 conns=1 size=64 secs=3",
    );
    assert_eq!(
        parse_loadgen(&out),
        Ok(Load {
            rps: 41234.5,
            ops: 164_938,
            p99_us: Some(41.0)
        })
    );
    assert!(parse_loadgen(&lines("rps=1 p99_us=1 all_round_trips=1 errors=2")).is_err());
    assert!(parse_loadgen(&lines("nothing")).is_err());
}

const WRK: &str = "Running 3s test @ http://127.0.0.1:41335/
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
Latency   256.93us   87.02us   2.28ms   82.69%
Req/Sec   126.70k    16.60k  146.62k    50.00%
  Latency Distribution
 50%  246.00us
 75%  290.00us
 90%  340.00us
 99%    1.02ms
  377880 requests in 3.00s, 28.11MB read
Requests/sec: 125790.62
Transfer/sec:      9.36MB";

#[test]
fn wrk_reports() {
    let load = parse_wrk(&lines(WRK)).expect("a valid report");
    assert_eq!((load.rps, load.ops), (125_790.62, 377_880));
    assert!((load.p99_us.expect("99%") - 1020.0).abs() < 1e-6);
    let broken = format!("{WRK}\n  Socket errors: connect 0, read 3, write 0, timeout 0");
    assert!(parse_wrk(&lines(&broken)).is_err());
    assert_eq!(parse_wrk_time("512.00us"), Some(512.0));
    assert_eq!(parse_wrk_time("2.00s"), Some(2e6));
}

#[test]
fn strace_summaries() {
    let text = "\
% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
 40.00    0.400000          10     40000           write
 35.00    0.350000           8     40001     20000 recvfrom
 25.00    0.250000          12     20000           epoll_wait
  0.00    0.000000           0         1           execve
------ ----------- ----------- --------- --------- ----------------
100.00    1.000000          10    100002     20000 total
";
    let (total, calls) = parse_strace(text).expect("a summary");
    assert_eq!(total, 100_002);
    assert_eq!(calls[0], ("recvfrom".to_string(), 40_001));
    assert_eq!(calls.len(), 4);
    let s = Syscalls {
        ops: 20_000,
        total,
        calls,
    };
    assert_eq!(
        s.to_string(),
        "5.00 per op (recvfrom 2.00, write 2.00, epoll_wait 1.00, execve 0.00)"
    );
    assert_eq!(parse_strace("strace: exec failed"), None);
}

#[test]
fn proc_stat_fields_survive_odd_names() {
    let stat = "1234 (a (b) c) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 1 0";
    let fields = stat_fields(stat);
    assert_eq!((fields[0], fields[1]), ("S", "1"));
    assert_eq!((fields[11], fields[12]), ("250", "75"));
}

/// A machine with every tool, two cores, 3 s runs.
fn test_env() -> Env {
    Env {
        bins: PathBuf::new(),
        secs: 3.0,
        wrk: true,
        h2load: true,
        strace: true,
        pinnings: vec![SPLIT],
        nofile: Vec::new(),
        clock_ticks: 100.0,
    }
}

/// A throughput run that measured these numbers.
fn measured(rps: f64, ops: u64, cpu_secs: f64, p99_us: Option<f64>) -> Outcome<Throughput> {
    Ok(Throughput {
        load: Load { rps, ops, p99_us },
        cpu_secs,
    })
}

/// The row of [`SERVERS`] running `bin`.
fn by_bin(bin: &str) -> &'static Server {
    SERVERS.iter().find(|s| s.bin == bin).expect("a server")
}

#[test]
fn the_http2_rows_compare_axum_hello_with_its_tokio_peer() {
    let h2 = WORKLOADS
        .iter()
        .find(|w| w.kind == Kind::Http2)
        .expect("an HTTP/2 workload");
    let run = |rps, ops, cpu_secs| measured(rps, ops, cpu_secs, None);
    let results = Results {
        runs: vec![
            (
                (h2, "same", by_bin("axum_hello")),
                run(150_000.0, 450_000, 1.8),
            ),
            (
                (h2, "same", by_bin("axum_hello_tokio")),
                run(100_000.0, 300_000, 1.5),
            ),
        ],
        syscalls: Vec::new(),
        memory: Vec::new(),
        balance: Vec::new(),
    };
    let table = results.tables(&test_env());
    assert!(
        table.contains(
            "| http2_10x5streams/same | axum_hello | 150000 | 1.50 | 4.00 | 0.80 | – | – |"
        ),
        "{table}"
    );
    assert!(table.contains("http2: h2load"), "{table}");
    assert_eq!(results.failures(), 0);
}

#[test]
fn the_table_compares_tulip_with_tokio_of_its_family() {
    let env = test_env();
    let run = |rps, ops, cpu_secs| measured(rps, ops, cpu_secs, Some(50.0));
    let w = &WORKLOADS[0];
    let results = Results {
        runs: vec![
            (
                (w, "split", by_bin("echo_protocol")),
                run(20_000.0, 80_000, 0.4),
            ),
            (
                (w, "split", by_bin("echo_tokio")),
                run(10_000.0, 40_000, 0.4),
            ),
            ((w, "split", by_bin("echo_smol")), Err("boom".into())),
        ],
        syscalls: vec![(
            (w.name, "echo_tokio"),
            Ok(Syscalls {
                ops: 10,
                total: 30,
                calls: Vec::new(),
            }),
        )],
        memory: vec![(
            by_bin("echo_tokio"),
            Ok(Memory {
                before_kib: 2000,
                after_kib: 6000,
            }),
        )],
        balance: Vec::new(),
    };
    let table = results.tables(&env);
    assert!(
        table.contains(
            "| echo_1x64B/split | echo_protocol | 20000 | 2.00 | 5.00 | 0.50 | 50.0 | – |"
        ),
        "{table}"
    );
    assert!(
        table.contains("| echo_1x64B/split | echo_tokio | 10000 | – | 10.0 | – | 50.0 | 3.00 |"),
        "{table}"
    );
    assert!(
        table.contains("| echo_1x64B/split | echo_smol | failed |"),
        "{table}"
    );
    assert!(
        table.contains("| idle_5000 | echo_tokio | 2000 | 6000 | 819 | yes |"),
        "{table}"
    );
    assert_eq!(results.failures(), 1);
}

#[test]
fn per_core_servers_run_the_per_core_loads_only() {
    for server in SERVERS {
        for workload in WORKLOADS.iter().filter(|w| server.runs(w)) {
            assert_eq!(workload.per_core, server.threads > 1, "{}", server.name);
        }
    }
    let names: Vec<&str> = SERVERS
        .iter()
        .filter(|s| per_core::balanced(s))
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["echo_group:reuse-port", "echo_group:acceptor"]);
    let peer = SERVERS
        .iter()
        .find(|s| s.family == "per-core-http" && s.runtime == "tokio");
    assert_eq!(
        peer.map(|s| (s.bin, s.args)),
        Some(("http_hello_mt_tokio", WORKERS))
    );
}

#[test]
fn loads_lines() {
    let balance = per_core::parse_loads("loads: 520/531 480/490").expect("valid");
    assert_eq!(balance.loops, [(520, 531), (480, 490)]);
    assert_eq!(
        balance.to_string(),
        "shares 52.0% / 48.0% (worst 4.0% from the mean)"
    );
    for bad in ["loads:", "loads: 1/x", "loads: 3", "live: 1/1"] {
        assert!(per_core::parse_loads(bad).is_err(), "{bad}");
    }
}

#[test]
fn the_per_core_tables() {
    let w = WORKLOADS
        .iter()
        .find(|w| w.per_core && w.kind == Kind::Echo)
        .expect("a per-core echo load");
    let results = Results {
        runs: vec![
            (
                (w, "unpinned", by_name("echo_group:acceptor")),
                measured(110_000.0, 440_000, 2.2, None),
            ),
            (
                (w, "unpinned", by_name("echo_mt_tokio")),
                measured(100_000.0, 400_000, 4.0, None),
            ),
        ],
        syscalls: Vec::new(),
        memory: Vec::new(),
        balance: vec![
            (
                by_name("echo_group:acceptor"),
                per_core::parse_loads("loads: 500/500 500/500"),
            ),
            (
                by_name("echo_group:reuse-port"),
                per_core::parse_loads("loads: 620/620 380/380"),
            ),
        ],
    };
    let table = results.tables(&test_env());
    assert!(
        table.contains("| per_core_echo_50x1KiB/unpinned | echo_group:acceptor | 110000 | 1.10 | 5.00 | 0.50 | – | – |"),
        "{table}"
    );
    assert!(
        table.contains("| per_core_echo_50x1KiB | echo_group:acceptor | 5.00 | 200000 | 3200000 |"),
        "{table}"
    );
    assert!(
        table.contains("| per_core_1000conns | echo_group:acceptor | 500/500 500/500 | 50.0% / 50.0% | 0.0% | yes |"),
        "{table}"
    );
    assert!(
        table.contains("| per_core_1000conns | echo_group:reuse-port | 620/620 380/380 | 62.0% / 38.0% | 24.0% | no |"),
        "{table}"
    );
    assert_eq!(results.failures(), 0);
}

/// The row of [`SERVERS`] named `name`.
fn by_name(name: &str) -> &'static Server {
    SERVERS.iter().find(|s| s.name == name).expect("a server")
}
