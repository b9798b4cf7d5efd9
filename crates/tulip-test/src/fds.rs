//! Counting this process's open descriptors (`/proc/self/fd`), for tests
//! that an operation leaks none.

use std::time::Duration;

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
