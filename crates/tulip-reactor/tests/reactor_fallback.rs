//! The uring backend's fallback: where the kernel refuses io_uring, a
//! reactor (and a loop) asked for `Uring` runs on epoll and says why in one
//! warning. The refusal is real: a seccomp filter on the test's own thread
//! makes `io_uring_setup` fail with `EPERM` (what a container's default
//! seccomp profile does) or `ENOSYS` (a kernel without io_uring).

use std::sync::Mutex;
use std::thread::ThreadId;

use tulip_reactor::{BackendKind, Reactor};

/// Warnings logged, with the thread that logged them.
static LOGGED: Mutex<Vec<(ThreadId, log::Level, String)>> = Mutex::new(Vec::new());

struct Recorder;

impl log::Log for Recorder {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        LOGGED.lock().unwrap_or_else(|e| e.into_inner()).push((
            std::thread::current().id(),
            record.level(),
            record.args().to_string(),
        ));
    }
    fn flush(&self) {}
}

static RECORDER: Recorder = Recorder;

fn install_logger() {
    // Every test of this binary installs it; the first one wins.
    let _ = log::set_logger(&RECORDER);
    log::set_max_level(log::LevelFilter::Trace);
}

/// Makes `io_uring_setup` fail with `errno` on the calling thread (and only
/// there: no `SECCOMP_FILTER_FLAG_TSYNC`).
fn refuse_io_uring(errno: i32) {
    let nr = libc::SYS_io_uring_setup as u32;
    let filter = [
        // A = seccomp_data.nr
        libc::sock_filter {
            code: (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16,
            jt: 0,
            jf: 0,
            k: 0,
        },
        // if A == nr: next, else skip one
        libc::sock_filter {
            code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
            jt: 0,
            jf: 1,
            k: nr,
        },
        libc::sock_filter {
            code: (libc::BPF_RET | libc::BPF_K) as u16,
            jt: 0,
            jf: 0,
            k: libc::SECCOMP_RET_ERRNO | (errno as u32 & libc::SECCOMP_RET_DATA),
        },
        libc::sock_filter {
            code: (libc::BPF_RET | libc::BPF_K) as u16,
            jt: 0,
            jf: 0,
            k: libc::SECCOMP_RET_ALLOW,
        },
    ];
    let prog = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_ptr().cast_mut(),
    };
    // SAFETY: plain prctl calls; `prog` and `filter` outlive them (the
    // kernel copies the program), and the filter only answers one system
    // call with an error, on this thread.
    unsafe {
        assert_eq!(
            libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0),
            0,
            "no_new_privs"
        );
        assert_eq!(
            libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER,
                &prog as *const libc::sock_fprog
            ),
            0,
            "seccomp filter: {}",
            std::io::Error::last_os_error()
        );
    }
}

fn warnings_of(thread: ThreadId) -> Vec<String> {
    LOGGED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter(|(t, level, _)| *t == thread && *level == log::Level::Warn)
        .map(|(_, _, m)| m.clone())
        .collect()
}

fn falls_back(errno: i32, says: &'static str) {
    install_logger();
    std::thread::spawn(move || {
        refuse_io_uring(errno);
        let me = std::thread::current().id();
        let reactor: Reactor<()> =
            Reactor::new(BackendKind::Uring).expect("a reactor all the same");
        assert_eq!(
            reactor.backend_kind(),
            BackendKind::Epoll,
            "fell back to epoll"
        );
        assert!(!reactor.has_completions());
        let warned = warnings_of(me);
        assert_eq!(warned.len(), 1, "one warning line: {warned:?}");
        assert!(
            warned[0].contains("io_uring") && warned[0].contains("epoll"),
            "{}",
            warned[0]
        );
        assert!(
            warned[0].contains(says),
            "names the reason ({says}): {}",
            warned[0]
        );

        // A loop asked for uring runs too, on epoll.
        let event_loop = tulip::EventLoop::builder()
            .backend(BackendKind::Uring)
            .build()
            .unwrap();
        assert_eq!(event_loop.backend_kind(), BackendKind::Epoll);
        assert!(!event_loop.has_completions());
        let out = event_loop.run_until_complete(async { 42 }).unwrap();
        assert_eq!(out, 42);
        assert_eq!(
            warnings_of(me).len(),
            2,
            "one more line for the loop's reactor"
        );
    })
    .join()
    .expect("the fallback thread");
}

#[test]
fn refused_by_seccomp_with_eperm_falls_back_to_epoll() {
    falls_back(libc::EPERM, "Operation not permitted");
}

#[test]
fn missing_from_the_kernel_falls_back_to_epoll() {
    falls_back(libc::ENOSYS, "not implemented");
}

#[test]
fn where_io_uring_works_it_is_used() {
    install_logger();
    let reactor: Reactor<()> = Reactor::new(BackendKind::Uring).unwrap();
    assert_eq!(reactor.backend_kind(), BackendKind::Uring);
    assert!(warnings_of(std::thread::current().id()).is_empty());
}
