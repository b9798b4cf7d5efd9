//! `tulip-ps` against a live tulip program: a server started as a child
//! process (this test binary re-run as `demo_server`, with `TULIP_PS=1`)
//! with two loops, a task group, a queue, a lock and a socket read;
//! `tulip-ps PID`, `--tree` and `--json` are run as users run them and
//! their output parsed. Then the errors: no such process, a process that
//! did not enable the view, a bad command line.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const SERVER_ENV: &str = "TULIP_PS_TEST_SERVER";

/// The demo server (run only as a child of the tests below).
#[test]
#[ignore = "the server the other tests start as a child process"]
fn demo_server() {
    if std::env::var_os(SERVER_ENV).is_none() {
        return;
    }
    use tulip::prelude::*;
    use tulip::sync::{Lock, Queue};
    // A second loop on a thread of its own: tulip-ps shows every loop.
    let (second_ready, second_started) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name(String::from("second-loop"))
        .spawn(move || {
            tulip::run(async move {
                current_task().unwrap().set_name("second-main");
                // ping awaits pong awaits ping: a deadlock shown as a cycle.
                type Slot = std::rc::Rc<std::cell::RefCell<Option<Task<()>>>>;
                let (to_ping, to_pong): (Slot, Slot) = Default::default();
                let (a, b) = (to_ping.clone(), to_pong.clone());
                let ping = spawn(async move {
                    yield_now().await;
                    let pong = b.borrow_mut().take().unwrap();
                    let _ = pong.await;
                });
                ping.set_name("ping");
                let pong = spawn(async move {
                    yield_now().await;
                    let ping = a.borrow_mut().take().unwrap();
                    let _ = ping.await;
                });
                pong.set_name("pong");
                *to_ping.borrow_mut() = Some(ping);
                *to_pong.borrow_mut() = Some(pong);
                for _ in 0..5 {
                    yield_now().await;
                }
                second_ready.send(()).unwrap();
                sleep(Duration::from_secs(3600)).await;
            })
            .unwrap();
        })
        .unwrap();
    tulip::run(async move {
        current_task().unwrap().set_name("main");
        let queue: Queue<u32> = Queue::new(0);
        let lock = Lock::new();
        let _held = lock.acquire().await;
        let listener = tulip::net::TcpListener::bind("127.0.0.1", 0).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let client = tulip::net::TcpStream::connect("127.0.0.1", port)
            .await
            .unwrap();
        let (_peer, _) = listener.accept().await.unwrap();
        let supervisor = spawn(async move {
            task_group(|tg| async move {
                let q = queue.clone();
                tg.create_task(async move { q.get().await.unwrap() })?
                    .set_name("consumer");
                let l = lock.clone();
                tg.create_task(async move { drop(l.acquire().await) })?
                    .set_name("locker");
                tg.create_task(async move {
                    let mut buf = [0u8; 8];
                    let _ = client.read(&mut buf).await;
                })?
                .set_name("reader");
                Ok::<_, tulip::Error>(())
            })
            .await
        });
        supervisor.set_name("supervisor");
        for _ in 0..5 {
            yield_now().await;
        }
        // Both loops are up and their tasks parked.
        second_started
            .recv_timeout(Duration::from_secs(60))
            .unwrap();
        println!("ready");
        let _ = supervisor.await;
    })
    .unwrap();
}

/// The demo server, running; killed and reaped when dropped.
struct Server {
    child: Child,
    /// The loops' socket directory (made by the server, `0700`).
    dir: std::path::PathBuf,
    _tmp: tempfile::TempDir,
}

impl Server {
    fn start() -> Server {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("ps");
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "demo_server", "--ignored", "--nocapture"])
            .env(SERVER_ENV, "1")
            .env("TULIP_PS", "1")
            .env("TULIP_PS_DIR", &dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.trim() == "ready" {
                    let _ = tx.send(());
                }
            }
        });
        rx.recv_timeout(Duration::from_secs(60))
            .expect("the demo server said ready");
        Server {
            child,
            dir,
            _tmp: tmp,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn ps(&self, args: &[&str]) -> Output {
        tulip_ps(args, Some(&self.dir))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tulip_ps(args: &[&str], dir: Option<&Path>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tulip-ps"));
    cmd.args(args);
    match dir {
        Some(d) => cmd.env("TULIP_PS_DIR", d),
        None => cmd.env_remove("TULIP_PS_DIR"),
    };
    cmd.output().unwrap()
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

/// The table's rows as cells: split on runs of two or more spaces.
fn rows(table: &str) -> Vec<Vec<String>> {
    table
        .lines()
        .skip(2)
        .map(|l| {
            l.split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .collect()
}

fn row<'a>(rows: &'a [Vec<String>], name: &str) -> &'a [String] {
    rows.iter()
        .find(|r| r[2] == name)
        .unwrap_or_else(|| panic!("no row for task {name} in {rows:?}"))
}

#[test]
fn ps_table_lists_every_loop_and_what_each_task_awaits() {
    let server = Server::start();
    let pid = server.pid().to_string();
    let out = server.ps(&[&pid]);
    let table = text(&out.stdout);
    assert!(out.status.success(), "{table}{}", text(&out.stderr));
    let header: Vec<&str> = table
        .lines()
        .next()
        .unwrap()
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(
        header,
        [
            "tid",
            "task id",
            "task name",
            "state",
            "waiting on",
            "created at",
            "awaiter name",
            "awaiter id",
            "via"
        ]
    );
    let rows = rows(&table);
    // [tid, id, name, state, waiting on, created at, awaiter, awaiter id, via]
    let main = row(&rows, "main");
    let sup = row(&rows, "supervisor");
    assert_eq!(main[4], format!("Task (task {})", sup[1]));
    assert_eq!(
        (sup[6].as_str(), sup[7].as_str(), sup[8].as_str()),
        ("main", main[1].as_str(), "await")
    );
    assert_eq!(sup[4], "TaskGroup (3 pending)");
    for (name, what) in [
        ("consumer", "Queue.get"),
        ("locker", "Lock.acquire"),
        ("reader", "socket read (fd "),
    ] {
        let r = row(&rows, name);
        assert!(r[4].starts_with(what), "{name}: {r:?}");
        assert_eq!(
            (r[6].as_str(), r[8].as_str()),
            ("supervisor", "TaskGroup"),
            "{name}: {r:?}"
        );
        assert_eq!(r[3], "pending");
        assert!(r[5].contains("ps_cli.rs:"), "{name} created at {}", r[5]);
    }
    // The second loop, on another thread.
    let second = row(&rows, "second-main");
    assert!(second[4].starts_with("sleep ("), "{second:?}");
    assert_ne!(second[0], main[0], "the two loops run on two threads");
    // Both sockets are private: the directory 0700, each socket 0600.
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&server.dir), 0o700);
    let socks: Vec<_> = std::fs::read_dir(&server.dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(socks.len(), 2, "{socks:?}");
    for s in &socks {
        assert_eq!(mode(s), 0o600, "{}", s.display());
        assert!(
            s.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with(&format!("{pid}-"))
        );
    }
}

#[test]
fn ps_tree_hangs_each_task_under_its_awaiter() {
    let server = Server::start();
    let out = server.ps(&["--tree", &server.pid().to_string()]);
    let tree = text(&out.stdout);
    assert!(out.status.success(), "{tree}{}", text(&out.stderr));
    let lines: Vec<&str> = tree.lines().collect();
    let at = |needle: &str| {
        lines
            .iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no '{needle}' in\n{tree}"))
    };
    let main = at("(T) main #");
    assert!(
        lines[main].starts_with("└── ") || lines[main].starts_with("├── "),
        "{tree}"
    );
    let sup = at("(T) supervisor #");
    assert!(
        lines[sup].starts_with("    └── (T) supervisor #") && lines[sup].contains("via await"),
        "{tree}"
    );
    assert!(
        lines[sup].contains("waiting on TaskGroup (3 pending)"),
        "{tree}"
    );
    for name in ["consumer", "locker", "reader"] {
        let l = lines[at(&format!("(T) {name} #"))];
        assert!(
            l.starts_with("        ├── ") || l.starts_with("        └── "),
            "{name}: {tree}"
        );
        assert!(l.contains("via TaskGroup"), "{l}");
    }
    assert!(
        lines[0].starts_with("Thread ") && lines[0].contains(", loop "),
        "{tree}"
    );
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("Thread ")).count(),
        2,
        "{tree}"
    );
    assert!(tree.contains("(T) second-main #"), "{tree}");
    let cycle = at("cycle (each task awaited by the next): ");
    let l = lines[cycle];
    assert!(
        l.ends_with("ping #2 -> pong #3 -> ping #2")
            || l.ends_with("pong #3 -> ping #2 -> pong #3"),
        "{tree}"
    );
    assert!(lines[cycle + 1].trim_start().starts_with("(T) "), "{tree}");
}

#[test]
fn ps_json_gives_the_snapshots_as_sent() {
    let server = Server::start();
    let out = server.ps(&["--json", &server.pid().to_string()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    for snap in &lines {
        assert_eq!(snap["version"], 1);
        assert_eq!(snap["pid"].as_u64(), Some(u64::from(server.pid())));
        assert!(!snap["tasks"].as_array().unwrap().is_empty());
    }
}

#[test]
fn errors_say_what_is_wrong() {
    // No such process: one that has exited and been reaped.
    let mut gone = Command::new("true").spawn().unwrap();
    let gone_pid = gone.id();
    gone.wait().unwrap();
    let out = tulip_ps(&[&gone_pid.to_string()], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains(&format!("no such process: {gone_pid}")),
        "{}",
        text(&out.stderr)
    );

    // A live process whose loops did not enable the view.
    let dir = tempfile::tempdir().unwrap();
    let mut plain = Command::new("sleep").arg("30").spawn().unwrap();
    let out = tulip_ps(&[&plain.id().to_string()], Some(dir.path()));
    let _ = plain.kill();
    let _ = plain.wait();
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("has no tulip loop answering tulip-ps") && err.contains("TULIP_PS=1"),
        "{err}"
    );

    // Another user's process (pid 1 is root's): refused, unless we are root.
    let out = tulip_ps(&["1"], Some(dir.path()));
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    if rustix_is_root() {
        assert!(err.contains("has no tulip loop answering"), "{err}");
    } else {
        assert!(
            err.contains("permission denied: process 1 belongs to another user"),
            "{err}"
        );
    }

    // Usage.
    for bad in [&["--tree"][..], &["abc"], &["0"], &["1", "2"], &["--dir"]] {
        let out = tulip_ps(bad, None);
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        assert!(text(&out.stderr).contains("usage: tulip-ps"), "{bad:?}");
    }
}

#[test]
fn a_killed_server_leaves_no_answer_and_the_error_says_so() {
    let mut server = Server::start();
    let pid = server.pid();
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    // Its sockets outlive a SIGKILL; nobody listens on them any more.
    let out = server.ps(&[&pid.to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains(&format!("no such process: {pid}")),
        "{}",
        text(&out.stderr)
    );
}

fn rustix_is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}
