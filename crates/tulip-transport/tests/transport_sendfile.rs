//! `sock_sendfile` and `sendfile` over real loopback sockets: the
//! zero-copy path, offsets and counts, the file position afterwards, the
//! fallback (forced by a pipe as the file), transports (order of writes,
//! writes refused meanwhile, protocol restored, cancellation, abort).

mod common;

use std::cell::RefCell;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::{TcpStream, UdpSocket};
use std::os::fd::OwnedFd;
use std::rc::Rc;
use std::sync::RwLock;
use std::thread::JoinHandle;
use std::time::Duration;

use common::Recorder;
use tulip_executor::{Loop, sleep, spawn, to_thread, wait_for};
use tulip_test::{run_with_loop, tcp_streams};
use tulip_transport::{Error, LoopNetExt, Transport};

/// The descriptor-counting test takes this for writing, the others for
/// reading (tests share one process).
static FDS: RwLock<()> = RwLock::new(());

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i % 251) as u8 ^ seed.wrapping_mul((i / 251) as u8))
        .collect()
}

/// A temporary file holding `data`, positioned at its start.
fn temp_file(data: &[u8]) -> File {
    let mut f = tempfile::tempfile().unwrap();
    f.write_all(data).unwrap();
    f.seek(SeekFrom::Start(0)).unwrap();
    f
}

fn position(f: &File) -> u64 {
    let mut f = f;
    f.stream_position().unwrap()
}

/// A connected TCP pair: (blocking std client for the test's threads,
/// non-blocking server side).
fn tcp_pair() -> (TcpStream, TcpStream) {
    let (c, s) = tcp_streams();
    s.set_nonblocking(true).unwrap();
    (c, s)
}

/// A [`tcp_pair`] with small kernel buffers, so that a transport writing
/// to a peer that is not reading yet soon buffers (and pauses).
fn small_buffered_pair() -> (TcpStream, TcpStream) {
    let (c, s) = tcp_pair();
    rustix::net::sockopt::set_socket_send_buffer_size(&s, 64 * 1024).unwrap();
    rustix::net::sockopt::set_socket_recv_buffer_size(&c, 64 * 1024).unwrap();
    (c, s)
}

/// Reads `stream` to its end on a thread, after `delay`.
fn read_all(stream: TcpStream, delay: Duration) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        std::thread::sleep(delay);
        let mut got = Vec::new();
        let mut s = stream;
        let _ = s.read_to_end(&mut got);
        got
    })
}

async fn joined(h: JoinHandle<Vec<u8>>) -> Vec<u8> {
    to_thread(move || h.join().unwrap()).await.unwrap()
}

/// A pipe whose read end is a `File`; `data` is written into it by a
/// thread, which then closes the write end.
fn pipe_file(data: Vec<u8>) -> (File, JoinHandle<()>) {
    let (r, w) = rustix::pipe::pipe().unwrap();
    let writer = std::thread::spawn(move || {
        let mut w = File::from(w);
        w.write_all(&data).unwrap();
    });
    (File::from(r), writer)
}

fn assert_same(got: &[u8], want: &[u8]) {
    assert_eq!(got.len(), want.len(), "lengths differ");
    assert!(got == want, "the bytes differ");
}

#[test]
fn sock_sendfile_sends_the_whole_file_and_moves_its_position() {
    let _g = FDS.read().unwrap_or_else(|e| e.into_inner());
    run_with_loop(|lp| async move {
        let data = pattern(3 * 1024 * 1024 + 17, 3);
        let file = temp_file(&data);
        let (c, s) = tcp_pair();
        let reader = read_all(c, Duration::from_millis(20));
        let sent = lp.sock_sendfile(&s, &file, 0, None, false).await.unwrap();
        drop(s);
        assert_eq!(sent, data.len() as u64);
        assert_eq!(position(&file), data.len() as u64);
        assert_same(&joined(reader).await, &data);
    });
}

#[test]
fn sock_sendfile_with_an_offset_and_a_count() {
    let _g = FDS.read().unwrap_or_else(|e| e.into_inner());
    run_with_loop(|lp| async move {
        let data = pattern(100_000, 5);
        let file = temp_file(&data);
        let (c, s) = tcp_pair();
        let reader = read_all(c, Duration::ZERO);

        // A slice in the middle; the position ends after it.
        let sent = lp
            .sock_sendfile(&s, &file, 1000, Some(5000), false)
            .await
            .unwrap();
        assert_eq!((sent, position(&file)), (5000, 6000));
        // A count past the end stops at the end.
        let sent = lp
            .sock_sendfile(&s, &file, 99_990, Some(100), false)
            .await
            .unwrap();
        assert_eq!((sent, position(&file)), (10, 100_000));
        // An offset past the end sends nothing and leaves the position.
        let mut f = &file;
        f.seek(SeekFrom::Start(7)).unwrap();
        let sent = lp
            .sock_sendfile(&s, &file, 200_000, None, false)
            .await
            .unwrap();
        assert_eq!((sent, position(&file)), (0, 7));
        // An empty file sends nothing.
        let empty = temp_file(b"");
        assert_eq!(
            lp.sock_sendfile(&s, &empty, 0, None, false).await.unwrap(),
            0
        );
        drop(s);

        let mut want = data[1000..6000].to_vec();
        want.extend_from_slice(&data[99_990..]);
        assert_same(&joined(reader).await, &want);
    });
}

#[test]
fn sock_sendfile_rejects_bad_input() {
    let _g = FDS.read().unwrap_or_else(|e| e.into_inner());
    run_with_loop(|lp| async move {
        let file = temp_file(b"some bytes");
        let (_c, s) = tcp_pair();
        let err = lp.sock_sendfile(&s, &file, 0, Some(0), true).await;
        assert!(matches!(err, Err(Error::InvalidInput(_))), "{err:?}");

        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        udp.set_nonblocking(true).unwrap();
        let err = lp.sock_sendfile(&udp, &file, 0, None, true).await;
        assert!(matches!(err, Err(Error::InvalidInput(_))), "{err:?}");

        s.set_nonblocking(false).unwrap();
        let err = lp.sock_sendfile(&s, &file, 0, None, true).await;
        assert!(matches!(err, Err(Error::InvalidInput(_))), "{err:?}");
        assert_eq!(position(&file), 0);
    });
}

#[test]
fn a_pipe_needs_the_fallback() {
    let _g = FDS.read().unwrap_or_else(|e| e.into_inner());
    run_with_loop(|lp| async move {
        let data = pattern(600 * 1024, 7);
        let (c, s) = tcp_pair();
        let reader = read_all(c, Duration::ZERO);

        let (pipe, writer) = pipe_file(data.clone());
        let err = lp.sock_sendfile(&s, &pipe, 0, None, false).await;
        assert!(
            matches!(err, Err(Error::SendfileNotAvailable(_))),
            "{err:?}"
        );
        // Nothing was read from the pipe: the fallback sends it all.
        let sent = lp.sock_sendfile(&s, &pipe, 0, None, true).await.unwrap();
        assert_eq!(sent, data.len() as u64);
        writer.join().unwrap();

        // With a count, the rest stays in the pipe.
        let (pipe, writer) = pipe_file(b"0123456789".to_vec());
        let sent = lp.sock_sendfile(&s, &pipe, 0, Some(4), true).await.unwrap();
        assert_eq!(sent, 4);
        writer.join().unwrap();
        let mut rest = String::new();
        (&pipe).read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "456789");

        // A pipe cannot seek to an offset.
        let (pipe, writer) = pipe_file(b"abc".to_vec());
        let err = lp
            .sock_sendfile(&s, &pipe, 1, None, true)
            .await
            .unwrap_err();
        assert_eq!(
            err.io_kind(),
            Some(std::io::ErrorKind::NotSeekable),
            "{err}"
        );
        writer.join().unwrap();
        drop(s);

        let mut want = data;
        want.extend_from_slice(b"0123");
        assert_same(&joined(reader).await, &want);
    });
}

#[test]
fn the_fallback_reads_a_nonblocking_pipe_on_the_loop() {
    let _g = FDS.read().unwrap_or_else(|e| e.into_inner());
    run_with_loop(|lp| async move {
        let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::NONBLOCK).unwrap();
        let pipe = File::from(r);
        let (c, s) = tcp_pair();
        let reader = read_all(c, Duration::ZERO);
        let feeder = spawn(async move {
            let mut w = File::from(w);
            for i in 0..5u8 {
                sleep(Duration::from_millis(5)).await;
                w.write_all(&[b'a' + i; 100]).unwrap();
            }
        });
        let sent = lp.sock_sendfile(&s, &pipe, 0, None, true).await.unwrap();
        feeder.await.unwrap();
        assert_eq!(sent, 500);
        drop(s);
        let got = joined(reader).await;
        assert_eq!(got.len(), 500);
        assert!(got[..100].iter().all(|b| *b == b'a') && got[400..].iter().all(|b| *b == b'e'));
    });
}

async fn accepted(lp: &Loop, fd: OwnedFd) -> (Transport, Rc<RefCell<Recorder>>) {
    lp.connect_accepted_socket(
        Recorder::default,
        fd,
        tulip_transport::AcceptedSocketOptions::new(),
    )
    .await
    .unwrap()
}

#[test]
fn sendfile_over_a_transport_comes_after_earlier_writes_and_before_later_ones() {
    let _g = FDS.read().unwrap_or_else(|e| e.into_inner());
    run_with_loop(|lp| async move {
        let head = pattern(1024 * 1024, 11);
        let data = pattern(2 * 1024 * 1024 + 5, 13);
        let file = temp_file(&data);
        let (c, s) = small_buffered_pair();
        let mut peer = c.try_clone().unwrap();
        // The peer starts reading late: the head waits in the buffer.
        let reader = read_all(c, Duration::from_millis(50));
        let (t, proto) = accepted(&lp, OwnedFd::from(s)).await;
        t.write(&head).unwrap();
        assert!(t.get_write_buffer_size() > 0);
        let sent = lp.sendfile(&t, &file, 0, None, false).await.unwrap();
        assert_eq!(sent, data.len() as u64);
        assert_eq!(position(&file), data.len() as u64);
        t.write(b"TAIL").unwrap();

        // Reading goes on after the sendfile.
        assert!(t.is_reading());
        peer.write_all(b"from the peer").unwrap();
        assert!(tulip_test::wait_until(|| proto.borrow().data == b"from the peer").await);
        t.close();
        let mut want = head;
        want.extend_from_slice(&data);
        want.extend_from_slice(b"TAIL");
        assert_same(&joined(reader).await, &want);
    });
}

#[test]
fn writes_are_refused_while_a_native_sendfile_runs() {
    let _g = FDS.read().unwrap_or_else(|e| e.into_inner());
    run_with_loop(|lp| async move {
        let data = pattern(16 * 1024 * 1024, 17);
        let file = temp_file(&data);
        let (c, s) = tcp_pair();
        let reader = read_all(c, Duration::from_millis(50));
        let (t, _proto) = accepted(&lp, OwnedFd::from(s)).await;
        let sending = spawn({
            let (lp, t) = (lp.clone(), t.clone());
            async move { lp.sendfile(&t, &file, 0, None, false).await }
        });
        sleep(Duration::from_millis(10)).await;
        assert!(!sending.done(), "the peer is not reading yet");
        assert!(matches!(t.write(b"x"), Err(Error::Unsupported(_))));
        assert!(!t.is_reading());
        // A second sendfile on the same transport is refused.
        let other = temp_file(b"other");
        let err = lp.sendfile(&t, &other, 0, None, true).await;
        assert!(matches!(err, Err(Error::Unsupported(_))), "{err:?}");

        assert_eq!(sending.await.unwrap().unwrap(), data.len() as u64);
        t.write(b"!").unwrap();
        assert!(t.is_reading());
        t.close();
        let mut want = data;
        want.push(b'!');
        assert_same(&joined(reader).await, &want);
    });
}

#[test]
fn the_transport_fallback_keeps_order_and_flow_control_to_itself() {
    let _g = FDS.read().unwrap_or_else(|e| e.into_inner());
    run_with_loop(|lp| async move {
        let data = pattern(3 * 1024 * 1024, 19);
        let (c, s) = small_buffered_pair();
        let reader = read_all(c, Duration::from_millis(50));
        let (t, proto) = accepted(&lp, OwnedFd::from(s)).await;
        t.write(b"HEAD").unwrap();

        let (pipe, writer) = pipe_file(data.clone());
        let err = lp.sendfile(&t, &pipe, 0, None, false).await;
        assert!(
            matches!(err, Err(Error::SendfileNotAvailable(_))),
            "{err:?}"
        );
        // Refused before anything: the transport is as it was.
        assert!(t.is_reading());

        let sent = lp.sendfile(&t, &pipe, 0, None, true).await.unwrap();
        assert_eq!(sent, data.len() as u64);
        writer.join().unwrap();
        assert!(t.is_reading());
        assert!(
            t.get_protocol()
                .unwrap()
                .ptr_eq(&tulip_transport::ProtocolRef::plain(proto.clone()))
        );
        t.write(b"TAIL").unwrap();
        t.close();
        let mut want = b"HEAD".to_vec();
        want.extend_from_slice(&data);
        want.extend_from_slice(b"TAIL");
        assert_same(&joined(reader).await, &want);

        // The protocol never saw the fallback's pauses, or only a pause
        // that was then resumed.
        let p = proto.borrow();
        let flow: Vec<&str> = p
            .events
            .iter()
            .map(String::as_str)
            .filter(|e| *e == "pause" || *e == "resume")
            .collect();
        assert!(flow.is_empty() || flow == ["pause", "resume"], "{flow:?}");
    });
}

#[test]
fn data_arriving_during_the_fallback_reaches_the_protocol() {
    let _g = FDS.read().unwrap_or_else(|e| e.into_inner());
    run_with_loop(|lp| async move {
        let data = pattern(2 * 1024 * 1024, 43);
        let (c, s) = small_buffered_pair();
        let mut peer = c.try_clone().unwrap();
        let reader = read_all(c, Duration::from_millis(100));
        let (t, proto) = accepted(&lp, OwnedFd::from(s)).await;
        let (pipe, writer) = pipe_file(data.clone());
        let sending = spawn({
            let (lp, t) = (lp.clone(), t.clone());
            async move { lp.sendfile(&t, &pipe, 0, None, true).await }
        });
        sleep(Duration::from_millis(20)).await;
        assert!(!sending.done() && !t.is_reading());
        // Reading resumed by hand meanwhile: the data goes to the
        // protocol, not to the stand-in.
        t.resume_reading();
        peer.write_all(b"meanwhile").unwrap();
        assert!(tulip_test::wait_until(|| proto.borrow().data == b"meanwhile").await);
        assert_eq!(sending.await.unwrap().unwrap(), data.len() as u64);
        writer.join().unwrap();
        t.close();
        assert_same(&joined(reader).await, &data);
    });
}

/// A `BufferedProtocol` that keeps what it reads.
#[derive(Default)]
struct Collect {
    buf: Vec<u8>,
    got: Vec<u8>,
}

impl tulip_transport::BaseProtocol for Collect {}

impl tulip_transport::BufferedProtocol for Collect {
    fn get_buffer(&mut self, sizehint: usize) -> &mut [u8] {
        self.buf.resize(sizehint.max(1), 0);
        &mut self.buf
    }
    fn buffer_updated(&mut self, nbytes: usize) {
        let data = self.buf[..nbytes].to_vec();
        self.got.extend_from_slice(&data);
    }
}

#[test]
fn the_fallback_restores_a_buffered_protocol() {
    let _g = FDS.read().unwrap_or_else(|e| e.into_inner());
    run_with_loop(|lp| async move {
        let data = pattern(700 * 1024, 47);
        let (c, s) = small_buffered_pair();
        let mut peer = c.try_clone().unwrap();
        let reader = read_all(c, Duration::from_millis(20));
        let (t, proto) = lp
            .connect_accepted_socket(
                tulip_transport::Buffered(Collect::default),
                OwnedFd::from(s),
                tulip_transport::AcceptedSocketOptions::new(),
            )
            .await
            .unwrap();
        let (pipe, writer) = pipe_file(data.clone());
        let sent = lp.sendfile(&t, &pipe, 0, None, true).await.unwrap();
        assert_eq!(sent, data.len() as u64);
        writer.join().unwrap();
        assert!(
            t.get_protocol()
                .unwrap()
                .ptr_eq(&tulip_transport::ProtocolRef::buffered(proto.clone()))
        );
        peer.write_all(b"still read").unwrap();
        assert!(tulip_test::wait_until(|| proto.borrow().got == b"still read").await);
        t.close();
        assert_same(&joined(reader).await, &data);
    });
}

#[test]
fn a_paused_protocol_is_resumed_after_the_fallback() {
    let _g = FDS.read().unwrap_or_else(|e| e.into_inner());
    run_with_loop(|lp| async move {
        let data = pattern(512 * 1024, 23);
        let (c, s) = small_buffered_pair();
        let reader = read_all(c, Duration::from_millis(50));
        let (t, proto) = accepted(&lp, OwnedFd::from(s)).await;
        // Over the high-water mark: the protocol is paused.
        let head = pattern(4 * 1024 * 1024, 29);
        t.write(&head).unwrap();
        assert_eq!(proto.borrow().count("pause"), 1);

        let (pipe, writer) = pipe_file(data.clone());
        let sent = lp.sendfile(&t, &pipe, 0, None, true).await.unwrap();
        assert_eq!(sent, data.len() as u64);
        writer.join().unwrap();
        // Whatever the transport's state now, the protocol hears it, and
        // ends up resumed once the buffer drains.
        assert!(tulip_test::wait_until(|| t.get_write_buffer_size() == 0).await);
        assert!(tulip_test::wait_until(|| proto.borrow().count("resume") >= 1).await);
        {
            let p = proto.borrow();
            let flow: Vec<&str> = p
                .events
                .iter()
                .map(String::as_str)
                .filter(|e| *e == "pause" || *e == "resume")
                .collect();
            assert!(
                flow.chunks(2).all(|pair| pair == ["pause", "resume"]),
                "{flow:?}"
            );
        }
        t.close();
        let mut want = head;
        want.extend_from_slice(&data);
        assert_same(&joined(reader).await, &want);
    });
}

#[test]
fn a_closing_transport_refuses_sendfile() {
    let _g = FDS.read().unwrap_or_else(|e| e.into_inner());
    run_with_loop(|lp| async move {
        let (_c, s) = tcp_pair();
        let (t, _proto) = accepted(&lp, OwnedFd::from(s)).await;
        let file = temp_file(b"data");
        let err = lp.sendfile(&t, &file, 0, Some(0), true).await;
        assert!(matches!(err, Err(Error::InvalidInput(_))), "{err:?}");
        t.close();
        let err = lp.sendfile(&t, &file, 0, None, true).await;
        assert!(matches!(err, Err(Error::Closed)), "{err:?}");
    });
}

#[test]
fn sendfile_over_pipe_transports() {
    let _g = FDS.read().unwrap_or_else(|e| e.into_inner());
    run_with_loop(|lp| async move {
        let data = pattern(300 * 1024, 31);
        let file = temp_file(&data);

        let (r, w) = rustix::pipe::pipe().unwrap();
        let (rt, _rp) = lp.connect_read_pipe(Recorder::default, r).await.unwrap();
        let err = lp.sendfile(&rt, &file, 0, None, true).await;
        assert!(matches!(err, Err(Error::Unsupported(_))), "{err:?}");
        rt.close();
        drop(w);

        let (r, w) = rustix::pipe::pipe().unwrap();
        let (wt, _wp) = lp.connect_write_pipe(Recorder::default, w).await.unwrap();
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            File::from(r).read_to_end(&mut got).unwrap();
            got
        });
        let err = lp.sendfile(&wt, &file, 0, None, false).await;
        assert!(
            matches!(err, Err(Error::SendfileNotAvailable(_))),
            "{err:?}"
        );
        let sent = lp.sendfile(&wt, &file, 100, None, true).await.unwrap();
        assert_eq!(sent, data.len() as u64 - 100);
        assert_eq!(position(&file), data.len() as u64);
        wt.close();
        assert_same(&joined(reader).await, &data[100..]);
    });
}

#[test]
fn a_cancelled_sendfile_gives_the_transport_back() {
    let _g = FDS.read().unwrap_or_else(|e| e.into_inner());
    run_with_loop(|lp| async move {
        let data = pattern(32 * 1024 * 1024, 37);
        let file = temp_file(&data);
        let (c, s) = tcp_pair();
        let (t, _proto) = accepted(&lp, OwnedFd::from(s)).await;
        // Nobody reads yet: the sendfile fills the socket and waits.
        let timed_out = wait_for(
            lp.sendfile(&t, &file, 1000, None, false),
            Duration::from_millis(50),
        )
        .await;
        assert!(timed_out.unwrap_err().is_timeout());

        // The position says how far it went.
        let end = position(&file);
        assert!(end > 1000 && end < data.len() as u64, "{end}");
        assert!(t.is_reading());
        t.write(b"after").unwrap();
        let reader = read_all(c, Duration::ZERO);
        t.close();
        let mut want = data[1000..end as usize].to_vec();
        want.extend_from_slice(b"after");
        assert_same(&joined(reader).await, &want);
    });
}

#[test]
fn aborting_the_transport_stops_a_native_sendfile_and_closes_the_socket() {
    let _g = FDS.write().unwrap_or_else(|e| e.into_inner());
    let before = tulip_test::fd_count();
    run_with_loop(|lp| async move {
        let data = pattern(32 * 1024 * 1024, 41);
        let file = temp_file(&data);
        let (c, s) = tcp_pair();
        let (t, proto) = accepted(&lp, OwnedFd::from(s)).await;
        let sending = spawn({
            let (lp, t) = (lp.clone(), t.clone());
            async move { lp.sendfile(&t, &file, 0, None, false).await }
        });
        sleep(Duration::from_millis(30)).await;
        assert!(!sending.done(), "nobody reads: it waits");
        t.abort();
        let err = sending.await.unwrap().unwrap_err();
        assert!(matches!(err, Error::Closed), "{err:?}");
        assert!(tulip_test::wait_until(|| proto.borrow().lost()).await);
        // The socket is closed: the peer reads what was sent, then the end.
        let reader = read_all(c, Duration::ZERO);
        let got = joined(reader).await;
        assert!(got.len() < data.len());
        assert!(got[..] == data[..got.len()]);
        drop(t);
    });
    let after = tulip_test::settled_fd_count(before);
    assert!(
        after <= before,
        "a descriptor leaked: {before} before, {after} after"
    );
}
