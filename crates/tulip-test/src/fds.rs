//! Counting this process's open descriptors (`/proc/self/fd`), for tests
//! that an operation leaks none; and running out of them, for tests of
//! what a server does then (a lowered `RLIMIT_NOFILE`, a full table, a
//! socket made beforehand).

use std::fs::File;
use std::os::fd::OwnedFd;
use std::time::Duration;

use rustix::net::{AddressFamily, SocketFlags, SocketType};
use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

/// How many descriptors this process has open (the entries of
/// `/proc/self/fd`; the count includes the one reading the directory).
///
/// ```
/// use tulip_test::fd_count;
///
/// let before = fd_count();
/// let file = std::fs::File::open("/dev/null").unwrap();
/// assert_eq!(fd_count(), before + 1);
/// drop(file);
/// assert_eq!(fd_count(), before);
/// ```
///
/// # Panics
///
/// If `/proc/self/fd` cannot be read (no `/proc`).
pub fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("read /proc/self/fd")
        .count()
}

/// The descriptor count once it is back to `before` or lower, or after a
/// second of waiting: a thread of an earlier test (or of the harness) may
/// close a descriptor of its own a moment late, which can also make
/// `before` too high; a leak stays and shows.
///
/// It blocks the thread: call it outside a loop, or where nothing on the
/// loop has to run for the descriptors to close.
///
/// ```
/// use tulip_test::{fd_count, settled_fd_count};
///
/// let before = fd_count();
/// let worker = std::thread::spawn(|| drop(std::fs::File::open("/dev/null")));
/// worker.join().unwrap();
/// assert!(settled_fd_count(before) <= before);
/// ```
pub fn settled_fd_count(before: usize) -> usize {
    for _ in 0..100 {
        if fd_count() <= before {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    fd_count()
}

/// A blocking TCP (IPv4) socket, not connected yet: made before a test
/// fills the descriptor table (see [`fill_descriptor_table`]), it can
/// connect later without a new descriptor.
///
/// ```
/// use tulip_test::unconnected_tcp_socket;
///
/// let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
/// let sock = unconnected_tcp_socket();
/// rustix::net::connect(&sock, &listener.local_addr().unwrap()).unwrap();
/// let stream = std::net::TcpStream::from(sock);
/// assert_eq!(stream.peer_addr().unwrap(), listener.local_addr().unwrap());
/// ```
///
/// # Panics
///
/// If the socket cannot be made (the table is full already).
pub fn unconnected_tcp_socket() -> OwnedFd {
    rustix::net::socket_with(
        AddressFamily::INET,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )
    .expect("a TCP socket")
}

/// Opens `/dev/null` until the process is out of descriptors (`EMFILE`);
/// dropping the files frees the table again. Lower the limit first
/// ([`FdLimit::lower`]), or this opens as many files as the limit allows.
///
/// ```
/// use tulip_test::{FdLimit, fill_descriptor_table};
///
/// let limit = FdLimit::lower(16);
/// let fillers = fill_descriptor_table();
/// assert!(std::fs::File::open("/dev/null").is_err());
/// drop(fillers);
/// assert!(std::fs::File::open("/dev/null").is_ok());
/// limit.restore();
/// ```
///
/// # Panics
///
/// On another error than `EMFILE`, or when no limit applied within 100,000
/// files.
pub fn fill_descriptor_table() -> Vec<File> {
    let mut fillers = Vec::new();
    loop {
        match File::open("/dev/null") {
            Ok(f) => fillers.push(f),
            Err(e) if e.raw_os_error() == Some(libc::EMFILE) => return fillers,
            Err(e) => panic!("filling the descriptor table: {e}"),
        }
        assert!(
            fillers.len() < 100_000,
            "the descriptor limit did not apply"
        );
    }
}

/// The process's descriptor limit (`RLIMIT_NOFILE`), lowered to what is
/// open now plus some headroom; the previous limit comes back with
/// [`restore`](FdLimit::restore), or when the guard drops (a failing test
/// restores it too).
///
/// The limit concerns the whole process: a test binary that lowers it
/// holds that one test.
///
/// ```
/// use tulip_test::{FdLimit, fd_count};
///
/// let limit = FdLimit::lower(8);
/// let files: Vec<_> = (0..100).map(|_| std::fs::File::open("/dev/null")).collect();
/// assert!(files.iter().any(Result::is_err), "at most 8 more descriptors");
/// drop(files);
/// limit.restore();
/// let files: Vec<_> = (0..100).map(|_| std::fs::File::open("/dev/null")).collect();
/// assert!(files.iter().all(Result::is_ok));
/// ```
#[derive(Debug)]
pub struct FdLimit {
    previous: Rlimit,
}

impl FdLimit {
    /// Lowers the soft limit to [`fd_count`] + `headroom` (never above the
    /// current one).
    ///
    /// # Panics
    ///
    /// If the limit cannot be set.
    pub fn lower(headroom: u64) -> FdLimit {
        let previous = getrlimit(Resource::Nofile);
        let low = (fd_count() as u64 + headroom).min(previous.current.unwrap_or(u64::MAX));
        setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(low),
                maximum: previous.maximum,
            },
        )
        .expect("lowering RLIMIT_NOFILE");
        FdLimit { previous }
    }

    /// Puts the previous limit back.
    pub fn restore(self) {
        drop(self);
    }
}

impl Drop for FdLimit {
    fn drop(&mut self) {
        let previous = Rlimit {
            current: self.previous.current,
            maximum: self.previous.maximum,
        };
        if let Err(e) = setrlimit(Resource::Nofile, previous) {
            eprintln!("tulip-test: could not restore RLIMIT_NOFILE: {e}");
        }
    }
}
