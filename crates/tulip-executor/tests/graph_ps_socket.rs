//! The live process view's socket, from the loop's side: absent unless
//! enabled; private (directory 0700, socket 0600); answering a snapshot of
//! the loop's tasks (taken on the loop) and refusing other requests; a
//! silent client does not stall the loop; removed when the loop closes; a
//! directory open to others (or another user's) refused with its path.
//!
//! One test: the directory comes from `TULIP_PS_DIR`, set here before any
//! loop is built, and nothing else in this binary reads it meanwhile.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use tulip::EventLoop;
use tulip::prelude::*;

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn request(path: &Path, line: &str) -> String {
    let mut s = UnixStream::connect(path).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(line.as_bytes()).unwrap();
    let mut answer = String::new();
    BufReader::new(s).read_line(&mut answer).unwrap();
    answer
}

/// Sets or removes an environment variable.
fn set_env(key: &str, value: Option<&str>) {
    // SAFETY: this binary's only test is the only code that reads or
    // writes the environment; the other threads it starts (the thread
    // pool's, the socket's answering threads) never touch it.
    unsafe {
        match value {
            Some(v) => std::env::set_var(key, v),
            None => std::env::remove_var(key),
        }
    }
}

#[test]
fn ps_socket_lifecycle() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ps");
    set_env("TULIP_PS_DIR", Some(dir.to_str().unwrap()));
    set_env("TULIP_PS", None);

    // Not enabled: no socket, not even the directory.
    let plain = EventLoop::new().unwrap();
    assert!(plain.ps_socket_path().is_none());
    assert!(!dir.exists());

    let el = EventLoop::builder().ps(true).build().unwrap();
    let path = el.ps_socket_path().unwrap();
    assert_eq!(path.parent().unwrap(), dir);
    let name = path.file_name().unwrap().to_str().unwrap().to_owned();
    assert!(
        name.starts_with(&format!("{}-", std::process::id())) && name.ends_with(".sock"),
        "{name}"
    );
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&path), 0o600);

    let p = path.clone();
    let (snapshot, refused, stalled_for) = el
        .run_until_complete(async move {
            let sleepy = spawn(sleep(Duration::from_secs(3600)));
            sleepy.set_name("sleepy \"quoted\"");
            yield_now().await;
            let p2 = p.clone();
            let snapshot = to_thread(move || request(&p2, "snapshot\n")).await.unwrap();
            let p3 = p.clone();
            let refused = to_thread(move || request(&p3, "hello\n")).await.unwrap();
            // A client that connects and says nothing: the loop runs on.
            let silent = UnixStream::connect(&p).unwrap();
            let started = Instant::now();
            sleep(Duration::from_millis(50)).await;
            let stalled_for = started.elapsed();
            drop(silent);
            sleepy.cancel();
            (snapshot, refused, stalled_for)
        })
        .unwrap();
    let snapshot = snapshot.trim_end();
    assert!(
        snapshot.starts_with("{\"version\":1,\"pid\":"),
        "{snapshot}"
    );
    assert!(
        snapshot.contains(&format!("\"pid\":{}", std::process::id())),
        "{snapshot}"
    );
    assert!(
        snapshot.contains("\"name\":\"sleepy \\\"quoted\\\"\""),
        "{snapshot}"
    );
    assert!(snapshot.contains("\"waiting_on\":\"sleep\""), "{snapshot}");
    assert!(snapshot.contains("\"via\":null"), "{snapshot}");
    assert_eq!(
        refused.trim_end(),
        "{\"error\":\"unknown request 'hello' (expected 'snapshot')\"}"
    );
    assert!(stalled_for < Duration::from_secs(4), "{stalled_for:?}");

    // Closed: the socket is gone.
    el.close().unwrap();
    assert!(!path.exists());
    assert!(el.ps_socket_path().is_none());

    // A directory others can enter is refused, naming it.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let err = EventLoop::builder()
        .ps(true)
        .build()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(dir.to_str().unwrap()) && err.contains("open to other users"),
        "{err}"
    );
    // Enabled by the environment only, the loop runs without the view.
    set_env("TULIP_PS", Some("1"));
    let by_env = EventLoop::new().unwrap();
    assert!(by_env.ps_socket_path().is_none());
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let by_env = EventLoop::new().unwrap();
    assert!(by_env.ps_socket_path().is_some());
    set_env("TULIP_PS", None);
    drop(by_env);

    // Another user's directory (checkable only as root, who can chown).
    if std::fs::metadata("/proc/self").unwrap().uid() == 0 {
        std::os::unix::fs::chown(&dir, Some(65534), None).unwrap();
        let err = EventLoop::builder()
            .ps(true)
            .build()
            .unwrap_err()
            .to_string();
        assert!(err.contains("belongs to uid 65534"), "{err}");
    }
}
