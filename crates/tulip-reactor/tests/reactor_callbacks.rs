//! Level-triggered reader and writer callbacks (asyncio's `add_reader` /
//! `add_writer`) on both backends, over Unix socket pairs, pipes and TCP on
//! loopback: reporting while ready and only while ready, reader-before-writer
//! order, replacing and removing callbacks, interest changes that keep the
//! other direction, hang-ups and errors, `len`/`is_empty`, `clear`, and the
//! error (not a panic) for a descriptor the poller refuses.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::UnixStream;
use std::task::Context;
use std::time::Duration;

use common::{PATIENCE, drain, each_backend, fill, poll_now, poll_some, reactor};
use tulip_reactor::{BackendKind, Interest, Reactor};
use tulip_test::Counter;

#[test]
fn reader_is_reported_on_every_poll_while_readable_and_stops_when_drained() {
    each_backend(|kind| {
        let (mut a, mut b) = UnixStream::pair().unwrap();
        let mut r = reactor(kind);
        assert_eq!(r.set_reader(a.as_fd(), "read a").unwrap(), None);
        assert!(poll_now(&mut r).is_empty(), "nothing to read yet");

        b.write_all(b"hello").unwrap();
        assert_eq!(poll_some(&mut r), ["read a"]);
        // Level-triggered: still readable, so reported again, poll after poll.
        for _ in 0..3 {
            assert_eq!(poll_some(&mut r), ["read a"]);
        }
        // Reading part of the data leaves it readable.
        let mut two = [0u8; 2];
        a.read_exact(&mut two).unwrap();
        assert_eq!(poll_some(&mut r), ["read a"]);

        assert_eq!(drain(&mut a), 3);
        assert!(poll_now(&mut r).is_empty(), "drained: no longer reported");
        assert!(poll_now(&mut r).is_empty());

        b.write_all(b"again").unwrap();
        assert_eq!(poll_some(&mut r), ["read a"]);
    });
}

#[test]
fn writer_is_reported_while_writable_and_not_while_the_buffer_is_full() {
    each_backend(|kind| {
        let (mut a, mut b) = UnixStream::pair().unwrap();
        let mut r = reactor(kind);
        assert_eq!(r.set_writer(a.as_fd(), "write a").unwrap(), None);
        assert_eq!(poll_some(&mut r), ["write a"]);
        assert_eq!(poll_some(&mut r), ["write a"], "level-triggered");

        assert!(fill(&mut a) > 0);
        assert!(poll_now(&mut r).is_empty(), "full: not writable");
        drain(&mut b);
        assert_eq!(
            poll_some(&mut r),
            ["write a"],
            "writable again once the peer read"
        );
    });
}

#[test]
fn reader_comes_before_writer_for_one_descriptor() {
    each_backend(|kind| {
        let (a, mut b) = UnixStream::pair().unwrap();
        let mut r = reactor(kind);
        // Writer registered first: the order reported is still reader, writer.
        r.set_writer(a.as_fd(), "write a").unwrap();
        r.set_reader(a.as_fd(), "read a").unwrap();
        assert_eq!(poll_some(&mut r), ["write a"], "writable, not readable");
        b.write_all(b"x").unwrap();
        assert_eq!(poll_some(&mut r), ["read a", "write a"]);
        assert_eq!(poll_some(&mut r), ["read a", "write a"]);
    });
}

#[test]
fn set_reader_replaces_and_returns_the_old_callback() {
    each_backend(|kind| {
        let (a, mut b) = UnixStream::pair().unwrap();
        let mut r = reactor(kind);
        assert_eq!(r.set_reader(a.as_fd(), "first").unwrap(), None);
        assert_eq!(r.set_reader(a.as_fd(), "second").unwrap(), Some("first"));
        assert_eq!(r.len(), 1);
        b.write_all(b"x").unwrap();
        assert_eq!(poll_some(&mut r), ["second"]);

        assert_eq!(r.set_writer(a.as_fd(), "w1").unwrap(), None);
        assert_eq!(r.set_writer(a.as_fd(), "w2").unwrap(), Some("w1"));
        assert_eq!(poll_some(&mut r), ["second", "w2"]);
        assert_eq!(r.len(), 1);
    });
}

#[test]
fn remove_reader_returns_the_callback_once_and_nothing_is_reported_after() {
    each_backend(|kind| {
        let (a, mut b) = UnixStream::pair().unwrap();
        let fd = a.as_raw_fd();
        let mut r = reactor(kind);
        assert_eq!(r.remove_reader(fd).unwrap(), None, "never registered");
        assert_eq!(
            r.remove_reader(-1).unwrap(),
            None,
            "not a descriptor number"
        );
        assert_eq!(r.remove_reader(1 << 20).unwrap(), None, "beyond the table");

        r.set_reader(a.as_fd(), "read a").unwrap();
        assert_eq!(r.remove_writer(fd).unwrap(), None, "only a reader is set");
        b.write_all(b"x").unwrap();
        assert_eq!(
            poll_some(&mut r),
            ["read a"],
            "removing the absent writer kept the reader"
        );

        assert_eq!(r.remove_reader(fd).unwrap(), Some("read a"));
        assert_eq!(r.remove_reader(fd).unwrap(), None, "already removed");
        assert!(r.is_empty());
        // Still readable, but no longer watched: an event the poll collected
        // before the removal is not reported after it either.
        assert!(poll_now(&mut r).is_empty());
        let mut out = Vec::new();
        assert_eq!(
            r.poll(Some(Duration::from_millis(20)), &mut out).unwrap(),
            0
        );
        assert!(out.is_empty());

        // Re-adding works, with the new callback.
        assert_eq!(r.set_reader(a.as_fd(), "read a again").unwrap(), None);
        assert_eq!(poll_some(&mut r), ["read a again"]);
        assert_eq!(r.len(), 1);
    });
}

#[test]
fn removing_one_direction_keeps_the_other() {
    each_backend(|kind| {
        let (mut a, mut b) = UnixStream::pair().unwrap();
        let fd = a.as_raw_fd();
        let mut r = reactor(kind);

        // Remove the reader: the writer keeps working, reading is not watched.
        r.set_reader(a.as_fd(), "read a").unwrap();
        r.set_writer(a.as_fd(), "write a").unwrap();
        b.write_all(b"x").unwrap();
        assert_eq!(poll_some(&mut r), ["read a", "write a"]);
        assert_eq!(r.remove_reader(fd).unwrap(), Some("read a"));
        assert_eq!(r.len(), 1, "still registered for writing");
        assert_eq!(poll_some(&mut r), ["write a"]);
        fill(&mut a);
        assert!(
            poll_now(&mut r).is_empty(),
            "readable but only writing is watched"
        );
        drain(&mut b);
        assert_eq!(poll_some(&mut r), ["write a"]);

        // Remove the writer: the reader keeps working, writing is not watched.
        r.set_reader(a.as_fd(), "read a").unwrap();
        assert_eq!(r.remove_writer(fd).unwrap(), Some("write a"));
        assert_eq!(
            poll_some(&mut r),
            ["read a"],
            "the byte b sent is still unread"
        );
        drain(&mut a);
        assert!(
            poll_now(&mut r).is_empty(),
            "writable but only reading is watched"
        );
        b.write_all(b"y").unwrap();
        assert_eq!(poll_some(&mut r), ["read a"]);

        assert_eq!(r.remove_reader(fd).unwrap(), Some("read a"));
        assert!(r.is_empty());
        assert!(poll_now(&mut r).is_empty());
    });
}

#[test]
fn descriptors_are_independent() {
    each_backend(|kind| {
        let (a, mut a_peer) = UnixStream::pair().unwrap();
        let (c, mut c_peer) = UnixStream::pair().unwrap();
        let mut r = reactor(kind);
        r.set_reader(a.as_fd(), "read a").unwrap();
        r.set_reader(c.as_fd(), "read c").unwrap();
        a_peer.write_all(b"x").unwrap();
        assert_eq!(poll_some(&mut r), ["read a"]);
        c_peer.write_all(b"x").unwrap();
        let mut both = poll_some(&mut r);
        both.sort_unstable();
        assert_eq!(both, ["read a", "read c"]);
        r.remove_reader(a.as_raw_fd()).unwrap();
        assert_eq!(poll_some(&mut r), ["read c"]);
    });
}

#[test]
fn pipes_report_data_hang_up_and_broken_pipe() {
    each_backend(|kind| {
        let (rd, wr) = rustix::pipe::pipe().unwrap();
        let mut r = reactor(kind);
        r.set_reader(rd.as_fd(), "read pipe").unwrap();
        r.set_writer(wr.as_fd(), "write pipe").unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(poll_some(&mut r), ["write pipe"]);

        assert_eq!(rustix::io::write(&wr, b"data").unwrap(), 4);
        let mut got = poll_some(&mut r);
        got.sort_unstable();
        assert_eq!(got, ["read pipe", "write pipe"]);
        let mut buf = [0u8; 16];
        assert_eq!(rustix::io::read(&rd, &mut buf).unwrap(), 4);
        assert_eq!(poll_some(&mut r), ["write pipe"]);

        // Closing the write end makes the read end readable (end of file).
        assert_eq!(r.remove_writer(wr.as_raw_fd()).unwrap(), Some("write pipe"));
        drop(wr);
        assert_eq!(poll_some(&mut r), ["read pipe"]);
        assert_eq!(
            poll_some(&mut r),
            ["read pipe"],
            "end of file stays readable"
        );
        assert_eq!(rustix::io::read(&rd, &mut buf).unwrap(), 0);
        assert_eq!(r.remove_reader(rd.as_raw_fd()).unwrap(), Some("read pipe"));
        assert!(r.is_empty());

        // Closing the read end makes the write end report (an error), so its
        // writer runs and learns EPIPE from its write.
        let (rd, wr) = rustix::pipe::pipe().unwrap();
        r.set_writer(wr.as_fd(), "write pipe").unwrap();
        assert_eq!(poll_some(&mut r), ["write pipe"]);
        drop(rd);
        assert_eq!(poll_some(&mut r), ["write pipe"]);
        assert_eq!(rustix::io::write(&wr, b"x"), Err(rustix::io::Errno::PIPE));
        assert_eq!(r.remove_writer(wr.as_raw_fd()).unwrap(), Some("write pipe"));
    });
}

#[test]
fn tcp_listener_and_stream_on_loopback() {
    each_backend(|kind| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let mut r = reactor(kind);
        r.set_reader(listener.as_fd(), "accept").unwrap();
        assert!(poll_now(&mut r).is_empty(), "no connection yet");

        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        assert_eq!(poll_some(&mut r), ["accept"]);
        assert_eq!(
            poll_some(&mut r),
            ["accept"],
            "pending connection stays readable"
        );
        let (mut server, _) = listener.accept().unwrap();
        assert!(poll_now(&mut r).is_empty(), "backlog empty");

        r.set_reader(server.as_fd(), "read server").unwrap();
        r.set_writer(client.as_fd(), "write client").unwrap();
        assert_eq!(poll_some(&mut r), ["write client"]);
        assert_eq!(
            r.remove_writer(client.as_raw_fd()).unwrap(),
            Some("write client")
        );

        client.write_all(b"ping").unwrap();
        assert_eq!(poll_some(&mut r), ["read server"]);
        assert_eq!(poll_some(&mut r), ["read server"]);
        let mut buf = [0u8; 4];
        server.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"ping");
        assert!(poll_now(&mut r).is_empty());

        // The peer closing makes the stream readable (end of file).
        drop(client);
        assert_eq!(poll_some(&mut r), ["read server"]);
        assert_eq!(server.read(&mut buf).unwrap(), 0);
        assert_eq!(
            r.remove_reader(server.as_raw_fd()).unwrap(),
            Some("read server")
        );
        assert_eq!(
            r.remove_reader(listener.as_raw_fd()).unwrap(),
            Some("accept")
        );
        assert!(r.is_empty());
    });
}

#[test]
fn len_and_is_empty_count_descriptors_not_callbacks() {
    each_backend(|kind| {
        let (a, b) = UnixStream::pair().unwrap();
        let (c, _d) = UnixStream::pair().unwrap();
        let mut r: Reactor<&str> = reactor(kind);
        assert!(r.is_empty());
        assert_eq!(r.len(), 0);

        r.set_reader(a.as_fd(), "ra").unwrap();
        assert_eq!(r.len(), 1);
        r.set_writer(a.as_fd(), "wa").unwrap();
        assert_eq!(r.len(), 1, "one descriptor, two callbacks");
        r.set_reader(a.as_fd(), "ra2").unwrap();
        assert_eq!(r.len(), 1, "replacing adds nothing");
        r.set_writer(b.as_fd(), "wb").unwrap();
        assert_eq!(r.len(), 2);
        let source = r.register(c.as_fd()).unwrap();
        assert_eq!(r.len(), 3);
        assert!(!r.is_empty());

        r.remove_reader(a.as_raw_fd()).unwrap();
        assert_eq!(r.len(), 3, "a still has its writer");
        r.remove_writer(a.as_raw_fd()).unwrap();
        assert_eq!(r.len(), 2);
        r.remove_writer(a.as_raw_fd()).unwrap();
        assert_eq!(r.len(), 2, "removing twice counts once");
        r.deregister(&source).unwrap();
        assert_eq!(r.len(), 1);
        r.deregister(&source).unwrap();
        assert_eq!(r.len(), 1, "deregistering twice counts once");
        r.remove_writer(b.as_raw_fd()).unwrap();
        assert_eq!(r.len(), 0);
        assert!(r.is_empty());
    });
}

#[test]
fn clear_returns_callbacks_and_wakers_and_forgets_everything() {
    each_backend(|kind| {
        let (a, mut a_peer) = UnixStream::pair().unwrap();
        let (b, mut b_peer) = UnixStream::pair().unwrap();
        let (c, mut c_peer) = UnixStream::pair().unwrap();
        let mut r = reactor(kind);
        r.set_reader(a.as_fd(), "read a").unwrap();
        r.set_writer(a.as_fd(), "write a").unwrap();
        r.set_reader(b.as_fd(), "read b").unwrap();
        let source = r.register(c.as_fd()).unwrap();
        let (count, waker) = Counter::waker();
        source.clear_ready(Interest::BOTH);
        assert!(
            source
                .poll_ready(Interest::READ, &mut Context::from_waker(&waker))
                .is_pending()
        );
        assert!(
            source
                .poll_ready(Interest::WRITE, &mut Context::from_waker(&waker))
                .is_pending()
        );
        assert_eq!(r.len(), 3);

        let (mut callbacks, wakers) = r.clear();
        callbacks.sort_unstable();
        assert_eq!(callbacks, ["read a", "read b", "write a"]);
        assert_eq!(
            wakers.len(),
            2,
            "the read and the write waiter of the source"
        );
        assert_eq!(count.count(), 0, "clear wakes nothing itself");
        wakers.into_iter().for_each(std::task::Waker::wake);
        assert_eq!(count.count(), 2);
        assert!(r.is_empty());

        // Everything is ready, nothing is watched any more.
        a_peer.write_all(b"x").unwrap();
        b_peer.write_all(b"x").unwrap();
        c_peer.write_all(b"x").unwrap();
        let mut out = Vec::new();
        r.poll(Some(Duration::from_millis(20)), &mut out).unwrap();
        assert!(out.is_empty());
        assert_eq!(r.remove_reader(a.as_raw_fd()).unwrap(), None);
        assert!(r.deregister(&source).unwrap().is_empty());
        let (callbacks, wakers) = r.clear();
        assert!(
            callbacks.is_empty() && wakers.is_empty(),
            "a second clear finds nothing"
        );

        // The descriptors can be registered afresh.
        r.set_reader(a.as_fd(), "read a again").unwrap();
        let source = r.register(c.as_fd()).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(poll_some(&mut r), ["read a again"]);
        assert!(source.readiness().readable);
    });
}

#[test]
fn a_regular_file_is_an_error_not_a_panic() {
    each_backend(|kind| {
        let file = tempfile::tempfile().unwrap();
        let mut r = reactor(kind);
        let res = r.set_reader(file.as_fd(), "read file");
        let linux = matches!(std::env::consts::OS, "linux" | "android");
        if kind != BackendKind::Uring && (kind == BackendKind::Epoll || linux) {
            // epoll refuses regular files with EPERM; `polling` on Linux is
            // epoll too and refuses it the same way.
            let err = res.expect_err("epoll cannot watch a regular file");
            assert_eq!(
                err.raw_os_error(),
                Some(rustix::io::Errno::PERM.raw_os_error()),
                "{err}"
            );
            let err = r.register(file.as_fd()).expect_err("nor register it");
            assert_eq!(
                err.raw_os_error(),
                Some(rustix::io::Errno::PERM.raw_os_error()),
                "{err}"
            );
            assert!(r.is_empty(), "a failed registration is not counted");
            assert_eq!(
                r.remove_reader(file.as_raw_fd()).unwrap(),
                None,
                "and not remembered"
            );
            assert!(
                r.set_writer(file.as_fd(), "write file").is_err(),
                "nor for writing"
            );
            assert!(r.is_empty());
        } else {
            // Elsewhere (kqueue, poll, io_uring's poll operations) a
            // regular file is always ready.
            res.unwrap();
            assert_eq!(poll_some(&mut r), ["read file"]);
            r.remove_reader(file.as_raw_fd()).unwrap();
        }
        let (a, mut b) = UnixStream::pair().unwrap();
        r.set_reader(a.as_fd(), "read a").unwrap();
        b.write_all(b"x").unwrap();
        assert_eq!(poll_some(&mut r), ["read a"]);
    });
}

#[test]
fn a_long_poll_returns_when_a_descriptor_becomes_ready() {
    each_backend(|kind| {
        let (a, mut b) = UnixStream::pair().unwrap();
        let mut r = reactor(kind);
        r.set_reader(a.as_fd(), "read a").unwrap();
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            b.write_all(b"x").unwrap();
            b
        });
        let start = std::time::Instant::now();
        let mut out = Vec::new();
        let n = r.poll(Some(PATIENCE * 2), &mut out).unwrap();
        let elapsed = start.elapsed();
        assert_eq!(n, 1);
        assert_eq!(common::callbacks(out), ["read a"]);
        assert!(elapsed < PATIENCE, "woke after {elapsed:?}");
        drop(writer.join().unwrap());
    });
}
