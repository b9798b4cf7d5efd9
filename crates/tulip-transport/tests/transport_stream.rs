//! The stream transport's behaviour over real sockets: half-close both
//! ways, pause/resume reading, peer reset, flow-control marks at their
//! exact boundaries, the re-entrancy rule, abort, writes after close,
//! BufferedProtocol, set_protocol, extra info, protocol panics.

mod common;

use std::cell::RefCell;
use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::fd::OwnedFd;
use std::rc::Rc;
use std::time::Duration;

use common::Recorder;
use tulip_executor::{get_running_loop, run, sleep};
use tulip_test::{tcp_fds, tcp_pair, wait_until};
use tulip_transport::{
    BaseProtocol, Buffered, BufferedProtocol, Error, ExtraInfo, LoopNetExt, Protocol, ProtocolRef,
    SockAddr, Transport,
};

async fn accept(fd: OwnedFd, proto: Recorder) -> (Transport, Rc<RefCell<Recorder>>) {
    let lp = get_running_loop().unwrap();
    let mut slot = Some(proto);
    lp.connect_accepted_socket(
        move || slot.take().unwrap(),
        fd,
        tulip_transport::AcceptedSocketOptions::new(),
    )
    .await
    .unwrap()
}

#[test]
fn eof_received_true_keeps_the_write_side_open() {
    let (mut peer, fd) = tcp_pair();
    run(async move {
        let (t, p) = accept(
            fd,
            Recorder {
                keep_open: true,
                ..Recorder::default()
            },
        )
        .await;
        peer.write_all(b"question").unwrap();
        peer.shutdown(Shutdown::Write).unwrap();
        assert!(wait_until(|| p.borrow().count("eof") == 1).await);
        assert!(!t.is_closing());
        // Reading never resumes after the peer's EOF.
        t.pause_reading();
        t.resume_reading();
        sleep(Duration::from_millis(20)).await;
        assert_eq!(p.borrow().count("eof"), 1);
        t.write(b"answer").unwrap();
        t.close();
        assert!(wait_until(|| p.borrow().lost()).await);
        let mut got = Vec::new();
        peer.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"answer");
        assert_eq!(p.borrow().data, b"question");
        assert_eq!(p.borrow().events, ["made", "data", "eof", "lost"]);
    })
    .unwrap();
}

#[test]
fn eof_received_false_closes() {
    let (peer, fd) = tcp_pair();
    run(async move {
        let (t, p) = accept(fd, Recorder::default()).await;
        peer.shutdown(Shutdown::Write).unwrap();
        assert!(wait_until(|| p.borrow().lost()).await);
        assert!(t.is_closing());
        assert_eq!(p.borrow().events, ["made", "eof", "lost"]);
        // Nothing after connection_lost, and writes are ignored.
        t.write(b"late").unwrap();
        sleep(Duration::from_millis(20)).await;
        assert_eq!(p.borrow().events.len(), 3);
    })
    .unwrap();
}

#[test]
fn write_eof_half_closes_our_side_and_reading_goes_on() {
    let (mut peer, fd) = tcp_pair();
    run(async move {
        let (t, p) = accept(fd, Recorder::default()).await;
        assert!(t.can_write_eof());
        t.write(b"bye").unwrap();
        t.write_eof().unwrap();
        assert!(matches!(t.write(b"more"), Err(Error::WriteAfterEof)));
        let got = tulip_executor::to_thread(move || {
            let mut got = Vec::new();
            peer.read_to_end(&mut got).unwrap();
            peer.write_all(b"still here").unwrap();
            got
        })
        .await
        .unwrap();
        assert_eq!(got, b"bye");
        assert!(wait_until(|| p.borrow().data == b"still here").await);
        t.close();
        assert!(wait_until(|| p.borrow().lost()).await);
    })
    .unwrap();
}

#[test]
fn pause_reading_stops_data_until_resumed() {
    let (mut peer, fd) = tcp_pair();
    run(async move {
        let (t, p) = accept(fd, Recorder::default()).await;
        assert!(t.is_reading());
        t.pause_reading();
        t.pause_reading();
        assert!(!t.is_reading());
        peer.write_all(b"held back").unwrap();
        sleep(Duration::from_millis(50)).await;
        assert!(p.borrow().data.is_empty());
        t.resume_reading();
        t.resume_reading();
        assert!(t.is_reading());
        assert!(wait_until(|| p.borrow().data == b"held back").await);
        t.close();
        assert!(!t.is_reading());
    })
    .unwrap();
}

#[test]
fn peer_reset_gives_connection_lost_with_an_error_once() {
    let (peer, fd) = tcp_pair();
    run(async move {
        let (t, p) = accept(fd, Recorder::default()).await;
        // SO_LINGER 0 makes close() send a RST.
        rustix::net::sockopt::set_socket_linger(&peer, Some(Duration::ZERO)).unwrap();
        drop(peer);
        assert!(wait_until(|| p.borrow().lost()).await);
        // Writing into the reset connection afterwards stays quiet.
        for _ in 0..10 {
            t.write(b"x").unwrap();
        }
        sleep(Duration::from_millis(30)).await;
        let p = p.borrow();
        assert_eq!(p.count("lost:err") + p.count("lost"), 1);
        assert_eq!(p.events.last().map(String::as_str), Some("lost:err"));
        let err = p.lost_error.as_ref().unwrap();
        assert_eq!(err.io_kind(), Some(std::io::ErrorKind::ConnectionReset));
    })
    .unwrap();
}

/// Fills the kernel's buffers so that the next write is buffered whole.
fn fill(t: &Transport) {
    let chunk = vec![1u8; 64 * 1024];
    while t.get_write_buffer_size() == 0 {
        t.write(&chunk).unwrap();
    }
}

#[test]
fn flow_control_marks_at_exact_boundaries() {
    let (peer, fd) = tcp_pair();
    run(async move {
        let (t, p) = accept(fd, Recorder::default()).await;
        assert_eq!(t.get_write_buffer_limits(), (16 * 1024, 64 * 1024));
        assert!(matches!(
            t.set_write_buffer_limits(Some(1), Some(2)),
            Err(Error::InvalidInput(_))
        ));
        t.set_write_buffer_limits(None, Some(100)).unwrap();
        assert_eq!(t.get_write_buffer_limits(), (100, 400));
        t.set_write_buffer_limits(Some(1000), None).unwrap();
        assert_eq!(t.get_write_buffer_limits(), (250, 1000));
        // Room for everything while filling, then exact marks.
        t.set_write_buffer_limits(Some(usize::MAX / 2), None)
            .unwrap();
        fill(&t);
        let size = t.get_write_buffer_size();
        t.set_write_buffer_limits(Some(size + 10), Some(0)).unwrap();
        t.write(&[2u8; 10]).unwrap();
        assert_eq!(t.get_write_buffer_size(), size + 10);
        assert_eq!(p.borrow().count("pause"), 0, "at the mark: not over it");
        t.write(&[3u8; 1]).unwrap();
        assert_eq!(p.borrow().count("pause"), 1, "strictly over the mark");
        t.write(&[3u8; 1]).unwrap();
        assert_eq!(p.borrow().count("pause"), 1, "paused once");
        // Drain: low == 0 resumes only when the buffer is empty.
        let total = tulip_executor::to_thread(move || {
            let mut peer = peer;
            let mut buf = vec![0u8; 1 << 16];
            let mut total = 0usize;
            peer.set_read_timeout(Some(Duration::from_millis(500)))
                .unwrap();
            while let Ok(n) = peer.read(&mut buf) {
                if n == 0 {
                    break;
                }
                total += n;
            }
            total
        });
        assert!(wait_until(|| p.borrow().count("resume") == 1).await);
        assert_eq!(t.get_write_buffer_size(), 0);
        t.close();
        assert!(total.await.unwrap() > size);
    })
    .unwrap();
}

#[test]
fn high_water_zero_pauses_whenever_anything_is_buffered() {
    let (_peer, fd) = tcp_pair();
    run(async move {
        let (t, p) = accept(fd, Recorder::default()).await;
        t.set_write_buffer_limits(Some(0), None).unwrap();
        assert_eq!(t.get_write_buffer_limits(), (0, 0));
        fill(&t);
        assert_eq!(p.borrow().count("pause"), 1);
        t.abort();
        assert!(wait_until(|| p.borrow().lost()).await);
        assert_eq!(t.get_write_buffer_size(), 0, "abort drops the buffer");
    })
    .unwrap();
}

/// Writes a lot from inside data_received: pause_writing comes right
/// after data_received returns, never nested in it.
#[derive(Default)]
struct Flooder {
    transport: Option<Transport>,
    inside: bool,
    log: Vec<&'static str>,
}

impl BaseProtocol for Flooder {
    fn pause_writing(&mut self) {
        assert!(!self.inside, "pause_writing nested in data_received");
        self.log.push("pause");
    }
    fn connection_lost(&mut self, _exc: Option<Error>) {
        self.log.push("lost");
        self.transport = None;
    }
}

impl Protocol for Flooder {
    fn connection_made(&mut self, transport: Transport) {
        self.transport = Some(transport);
    }
    fn data_received(&mut self, _data: &[u8]) {
        self.inside = true;
        self.log.push("data");
        let t = self.transport.clone().unwrap();
        t.set_write_buffer_limits(Some(1024), None).unwrap();
        fill(&t);
        // Re-entrant calls from inside a callback are fine.
        assert!(t.get_write_buffer_size() > 1024);
        self.inside = false;
    }
}

#[test]
fn notifications_raised_inside_a_callback_come_after_it() {
    let (mut peer, fd) = tcp_pair();
    run(async move {
        let lp = get_running_loop().unwrap();
        let (t, p) = lp
            .connect_accepted_socket(
                Flooder::default,
                fd,
                tulip_transport::AcceptedSocketOptions::new(),
            )
            .await
            .unwrap();
        peer.write_all(b"go").unwrap();
        assert!(wait_until(|| p.borrow().log.contains(&"pause")).await);
        assert_eq!(p.borrow().log[..2], ["data", "pause"]);
        t.abort();
        assert!(wait_until(|| p.borrow().log.contains(&"lost")).await);
    })
    .unwrap();
}

#[test]
fn abort_drops_buffered_data() {
    let (mut peer, fd) = tcp_pair();
    run(async move {
        let (t, p) = accept(fd, Recorder::default()).await;
        fill(&t);
        let buffered = t.get_write_buffer_size();
        assert!(buffered > 0);
        t.abort();
        assert!(t.is_closing());
        assert!(wait_until(|| p.borrow().lost()).await);
        assert_eq!(p.borrow().events, ["made", "lost"]);
        let got = tulip_executor::to_thread(move || {
            let mut got = Vec::new();
            let _ = peer.read_to_end(&mut got);
            got.len()
        })
        .await
        .unwrap();
        assert!(got < 16 * 1024 * 1024);
    })
    .unwrap();
}

/// Reads into its own buffer.
struct Collect {
    buf: Vec<u8>,
    got: Vec<u8>,
    eof: bool,
}

impl BaseProtocol for Collect {}

impl BufferedProtocol for Collect {
    fn get_buffer(&mut self, sizehint: usize) -> &mut [u8] {
        assert!(sizehint > 0);
        &mut self.buf
    }
    fn buffer_updated(&mut self, nbytes: usize) {
        let data = self.buf[..nbytes].to_vec();
        self.got.extend_from_slice(&data);
    }
    fn eof_received(&mut self) -> bool {
        self.eof = true;
        false
    }
}

#[test]
fn buffered_protocol_reads_into_its_own_buffer() {
    let (mut peer, fd) = tcp_pair();
    run(async move {
        let lp = get_running_loop().unwrap();
        let (_t, p) = lp
            .connect_accepted_socket(
                Buffered(|| Collect {
                    buf: vec![0; 7],
                    got: Vec::new(),
                    eof: false,
                }),
                fd,
                tulip_transport::AcceptedSocketOptions::new(),
            )
            .await
            .unwrap();
        let payload: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
        peer.write_all(&payload).unwrap();
        peer.shutdown(Shutdown::Write).unwrap();
        assert!(wait_until(|| p.borrow().eof).await);
        assert_eq!(p.borrow().got, payload);
    })
    .unwrap();
}

#[test]
fn extra_info_and_set_protocol() {
    let (a, b) = tcp_fds();
    run(async move {
        let (ta, pa) = accept(a, Recorder::default()).await;
        let (tb, _pb) = accept(b, Recorder::default()).await;
        let peer = ta.peer_addr().unwrap();
        assert_eq!(Some(peer.clone()), tb.local_addr());
        assert!(matches!(peer, SockAddr::Inet(a) if a.ip().is_loopback()));
        assert_eq!(
            ta.get_extra_info("peername"),
            Some(ExtraInfo::Addr(peer.clone()))
        );
        assert!(ta.fd().is_some());
        assert_eq!(ta.get_extra_info("no such key"), None);
        // Swap the protocol: later data goes to the new one.
        let second = Rc::new(RefCell::new(Recorder::default()));
        ta.set_protocol(ProtocolRef::plain(second.clone()));
        assert!(
            ta.get_protocol()
                .unwrap()
                .ptr_eq(&ProtocolRef::plain(second.clone()))
        );
        tb.write(b"to the second").unwrap();
        assert!(wait_until(|| second.borrow().data == b"to the second").await);
        assert!(pa.borrow().data.is_empty());
        ta.close();
        assert!(wait_until(|| second.borrow().lost()).await);
        assert!(ta.get_protocol().is_none());
        assert_eq!(ta.fd(), None);
    })
    .unwrap();
}

struct Panicky;

impl BaseProtocol for Panicky {}

impl Protocol for Panicky {
    fn data_received(&mut self, _data: &[u8]) {
        panic!("protocol bug");
    }
}

#[test]
fn a_panicking_protocol_is_reported_and_its_transport_closed() {
    let (mut peer, fd) = tcp_pair();
    run(async move {
        let lp = get_running_loop().unwrap();
        let reports = Rc::new(RefCell::new(Vec::new()));
        let r = reports.clone();
        lp.set_exception_handler(move |_lp, ctx| r.borrow_mut().push(ctx.message.clone()));
        let (t, _p) = lp
            .connect_accepted_socket(
                || Panicky,
                fd,
                tulip_transport::AcceptedSocketOptions::new(),
            )
            .await
            .unwrap();
        peer.write_all(b"boom").unwrap();
        assert!(wait_until(|| t.is_closing()).await);
        let mut rest = Vec::new();
        let n = tulip_executor::to_thread(move || peer.read_to_end(&mut rest).map(|_| rest.len()))
            .await
            .unwrap();
        assert!(n.is_ok(), "the peer sees the connection end");
        assert_eq!(reports.borrow().len(), 1);
        assert!(reports.borrow()[0].contains("data_received"));
    })
    .unwrap();
}
