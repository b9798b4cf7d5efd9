//! `ps_demo` as users run it: a child process whose loop answers the
//! live process view; its socket (in a test directory) is asked for a
//! snapshot as `tulip-ps` asks, the tasks it lists and what each waits on
//! are checked; Ctrl-C ends it cleanly and its socket is gone. (The
//! `tulip-ps` command's own output is tested in `crates/tulip-ps/tests`.)

mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{DEADLINE, Running, free_port};

fn snapshot(sock: &PathBuf) -> serde_json::Value {
    let mut s = UnixStream::connect(sock).unwrap();
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    s.write_all(b"snapshot\n").unwrap();
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).unwrap();
    serde_json::from_str(&line).unwrap()
}

#[test]
fn ps_demo_answers_with_its_tasks_and_cleans_up_on_ctrl_c() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ps");
    let mut demo = Running::spawn_with(
        env!("CARGO_BIN_EXE_ps_demo"),
        Some(free_port(false)),
        &[],
        &[("TULIP_PS_DIR", dir.as_os_str())],
    );
    let pid = demo.pid();
    demo.expect_line(&format!(
        "ps_demo: pid {pid}; look at it with: tulip-ps {pid} (or tulip-ps --tree {pid})"
    ));
    let sock = dir.join(format!("{pid}-1.sock"));
    // The workers take their first jobs within a few seconds; wait until
    // every task has said what it waits on.
    let started = Instant::now();
    let tasks = loop {
        let snap = snapshot(&sock);
        assert_eq!(snap["pid"].as_u64(), Some(u64::from(pid)));
        let tasks = snap["tasks"].as_array().unwrap().clone();
        if tasks.len() == 7 && tasks.iter().all(|t| t["waiting_on"].is_string()) {
            break tasks;
        }
        assert!(started.elapsed() < DEADLINE, "{tasks:?}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let by_name = |n: &str| {
        tasks
            .iter()
            .find(|t| t["name"] == n)
            .unwrap_or_else(|| panic!("no task {n} in {tasks:?}"))
    };
    let main = by_name("main");
    let dispatcher = by_name("dispatcher");
    assert_eq!(dispatcher["awaited_by"], main["id"]);
    assert_eq!(dispatcher["via"], "await");
    assert_eq!(dispatcher["waiting_on"], "TaskGroup");
    for name in ["producer", "worker-1", "worker-2", "worker-3", "listener"] {
        let t = by_name(name);
        assert_eq!(t["awaited_by"], dispatcher["id"], "{name}");
        assert_eq!(t["via"], "TaskGroup", "{name}");
        let what = t["waiting_on"].as_str().unwrap();
        let expected: &[&str] = match name {
            "producer" => &["sleep", "Queue.put"],
            "listener" => &["socket read"],
            _ => &["Queue.get", "sleep"],
        };
        assert!(expected.contains(&what), "{name} waits on {what}");
    }
    let status = Command::new("kill")
        .args(["-s", "INT", &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
    let (status, _, stderr) = demo.wait();
    assert!(status.success(), "{status:?}: {stderr}");
    assert!(!sock.exists(), "the socket is removed when the loop closes");
}
