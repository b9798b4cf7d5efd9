//! Cancellation racing completion: `pause_reading` cancels the multishot
//! receive while the peer streams without pause, so chunks complete
//! between the pause and the cancel landing, and `resume_reading` comes
//! back (on the next pass, or later) while the cancel may not have
//! finished yet. Whatever the timing, the protocol must get the stream
//! exactly: nothing lost, nothing twice, nothing out of order, and no call
//! while it is paused. Both a `Protocol` and a `BufferedProtocol` (with a
//! buffer smaller than a chunk, so one completion takes several rounds,
//! and pausing in `buffer_updated` stops midway through one).
//!
//! The loops are built on the uring backend; where the kernel refuses
//! io_uring they fall back to epoll and the tests still pass.

mod uring_support;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use tulip::Loop;
use tulip::transport::{
    AcceptedSocketOptions, BaseProtocol, Buffered, BufferedProtocol, Error, LoopNetExt, Protocol,
    Transport,
};
use tulip_test::{tcp_pair, wait_until};
use uring_support::{first_mismatch, run_uring, serial, stream_pattern};

const TOTAL: usize = 16 << 20;

/// What the protocol saw.
#[derive(Default)]
struct Seen {
    data: Vec<u8>,
    pauses: usize,
    /// Data (or EOF) delivered while reading was paused.
    while_paused: usize,
    eof: bool,
    lost: bool,
}

/// Pauses reading every `every` deliveries and resumes it from a callback
/// a varying distance away (the next pass, a timer, or the same pass).
struct Pauser {
    lp: Loop,
    transport: Option<Transport>,
    seen: Rc<RefCell<Seen>>,
    paused: Rc<Cell<bool>>,
    calls: usize,
    every: usize,
}

impl Pauser {
    fn new(lp: &Loop, seen: &Rc<RefCell<Seen>>, every: usize) -> Pauser {
        Pauser {
            lp: lp.clone(),
            transport: None,
            seen: seen.clone(),
            paused: Rc::new(Cell::new(false)),
            calls: 0,
            every,
        }
    }

    fn took(&mut self, data: &[u8]) {
        let mut seen = self.seen.borrow_mut();
        if self.paused.get() {
            seen.while_paused += 1;
        }
        seen.data.extend_from_slice(data);
        drop(seen);
        self.calls += 1;
        if self.calls % self.every != 0 {
            return;
        }
        let Some(t) = self.transport.clone() else {
            return;
        };
        t.pause_reading();
        self.paused.set(true);
        self.seen.borrow_mut().pauses += 1;
        let paused = self.paused.clone();
        let resume = move || {
            paused.set(false);
            t.resume_reading();
        };
        let _ = match self.calls % 4 {
            0 => self.lp.call_soon(resume).map(drop),
            1 => self
                .lp
                .call_later(Duration::from_millis(1), resume)
                .map(drop),
            2 => self
                .lp
                .call_soon({
                    // Two passes away.
                    let lp = self.lp.clone();
                    move || drop(lp.call_soon(resume))
                })
                .map(drop),
            _ => {
                // Resumed at once: the cancel is still on its way.
                resume();
                Ok(())
            }
        };
    }
}

impl BaseProtocol for Pauser {
    fn connection_lost(&mut self, _exc: Option<Error>) {
        self.seen.borrow_mut().lost = true;
        self.transport = None;
    }
}

impl Protocol for Pauser {
    fn connection_made(&mut self, transport: Transport) {
        self.transport = Some(transport);
    }
    fn data_received(&mut self, data: &[u8]) {
        self.took(data);
    }
    fn eof_received(&mut self) -> bool {
        let mut seen = self.seen.borrow_mut();
        if self.paused.get() {
            seen.while_paused += 1;
        }
        seen.eof = true;
        false
    }
}

/// The same through `get_buffer`, with a 1000-byte buffer.
struct BufferedPauser {
    inner: Pauser,
    buf: Vec<u8>,
}

impl BaseProtocol for BufferedPauser {
    fn connection_lost(&mut self, exc: Option<Error>) {
        self.inner.connection_lost(exc);
    }
}

impl BufferedProtocol for BufferedPauser {
    fn connection_made(&mut self, transport: Transport) {
        self.inner.connection_made(transport);
    }
    fn get_buffer(&mut self, _sizehint: usize) -> &mut [u8] {
        self.buf.resize(1000, 0);
        &mut self.buf
    }
    fn buffer_updated(&mut self, nbytes: usize) {
        let data = self.buf[..nbytes].to_vec();
        self.inner.took(&data);
    }
    fn eof_received(&mut self) -> bool {
        self.inner.eof_received()
    }
}

/// Runs `connect` (the transport it makes gets `total` bytes of stream 7)
/// and checks what its protocol got: everything, once, in order, never
/// while paused, with more than `pauses` pauses.
async fn check_stream(
    seen: &Rc<RefCell<Seen>>,
    total: usize,
    pauses: usize,
    connect: impl AsyncFnOnce(),
) {
    connect().await;
    assert!(wait_until(|| seen.borrow().lost).await);
    let seen = seen.borrow();
    assert!(seen.eof);
    assert_eq!(seen.data.len(), total);
    assert_eq!(
        first_mismatch(7, &seen.data),
        None,
        "lost, doubled or reordered"
    );
    assert_eq!(seen.while_paused, 0, "a delivery while paused");
    assert!(seen.pauses > pauses, "paused {} times", seen.pauses);
}

#[test]
fn pausing_as_chunks_complete_loses_and_doubles_nothing() {
    let _serial = serial();
    run_uring(|lp| async move {
        let seen = Rc::new(RefCell::new(Seen::default()));
        let (peer, ours) = tcp_pair();
        let writer = std::thread::spawn(move || stream_pattern(peer, 7, TOTAL));
        check_stream(&seen, TOTAL, 10, async || {
            let factory = {
                let (lp, seen) = (lp.clone(), seen.clone());
                move || Pauser::new(&lp, &seen, 3)
            };
            lp.connect_accepted_socket(factory, ours, AcceptedSocketOptions::new())
                .await
                .unwrap();
        })
        .await;
        tulip::to_thread(move || writer.join())
            .await
            .unwrap()
            .unwrap();
    });
}

#[test]
fn a_buffered_protocol_pausing_midway_through_a_chunk_loses_nothing() {
    let _serial = serial();
    run_uring(|lp| async move {
        let seen = Rc::new(RefCell::new(Seen::default()));
        let (peer, ours) = tcp_pair();
        let writer = std::thread::spawn(move || stream_pattern(peer, 7, TOTAL));
        check_stream(&seen, TOTAL, 10, async || {
            let factory = {
                let (lp, seen) = (lp.clone(), seen.clone());
                Buffered(move || BufferedPauser {
                    inner: Pauser::new(&lp, &seen, 3),
                    buf: Vec::new(),
                })
            };
            lp.connect_accepted_socket(factory, ours, AcceptedSocketOptions::new())
                .await
                .unwrap();
        })
        .await;
        tulip::to_thread(move || writer.join())
            .await
            .unwrap()
            .unwrap();
    });
}

/// The peer's bytes and its EOF are all in the socket before reading
/// starts, so one pass completes several chunks and the end of the stream:
/// the first chunk pauses reading (resumed by a timer), the rest and the
/// end are held. When the held chunks are delivered after the resume, the
/// protocol pauses again, and the held end must then wait for the next
/// resume instead of reaching `eof_received` while paused.
#[test]
fn a_held_end_of_stream_waits_while_the_held_bytes_pause_reading() {
    let _serial = serial();
    run_uring(|lp| async move {
        const SENT: usize = 100 * 1024;
        let seen = Rc::new(RefCell::new(Seen::default()));
        let (mut peer, ours) = tcp_pair();
        {
            use std::io::Write;
            peer.write_all(&uring_support::pattern_from(7, 0, SENT))
                .unwrap();
            peer.shutdown(std::net::Shutdown::Write).unwrap();
        }
        check_stream(&seen, SENT, 1, async || {
            let factory = {
                let (lp, seen) = (lp.clone(), seen.clone());
                move || Pauser::new(&lp, &seen, 1)
            };
            lp.connect_accepted_socket(factory, ours, AcceptedSocketOptions::new())
                .await
                .unwrap();
        })
        .await;
        drop(peer);
    });
}
