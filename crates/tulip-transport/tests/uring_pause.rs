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

/// Pauses reading every few deliveries and resumes it from a callback a
/// varying distance away (the next pass, a timer, or the same pass).
struct Pauser {
    lp: Loop,
    transport: Option<Transport>,
    seen: Rc<RefCell<Seen>>,
    paused: Rc<Cell<bool>>,
    calls: usize,
}

impl Pauser {
    fn new(lp: &Loop, seen: &Rc<RefCell<Seen>>) -> Pauser {
        Pauser {
            lp: lp.clone(),
            transport: None,
            seen: seen.clone(),
            paused: Rc::new(Cell::new(false)),
            calls: 0,
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
        if self.calls % 3 != 0 {
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

/// Streams [`TOTAL`] bytes at the transport `connect` makes and checks
/// what its protocol got.
async fn check_stream(seen: &Rc<RefCell<Seen>>, connect: impl AsyncFnOnce()) {
    connect().await;
    assert!(wait_until(|| seen.borrow().lost).await);
    let seen = seen.borrow();
    assert!(seen.eof);
    assert_eq!(seen.data.len(), TOTAL);
    assert_eq!(
        first_mismatch(7, &seen.data),
        None,
        "lost, doubled or reordered"
    );
    assert_eq!(seen.while_paused, 0, "a delivery while paused");
    assert!(seen.pauses > 10, "paused {} times", seen.pauses);
}

#[test]
fn pausing_as_chunks_complete_loses_and_doubles_nothing() {
    let _serial = serial();
    run_uring(|lp| async move {
        let seen = Rc::new(RefCell::new(Seen::default()));
        let (peer, ours) = tcp_pair();
        let writer = std::thread::spawn(move || stream_pattern(peer, 7, TOTAL));
        check_stream(&seen, async || {
            let factory = {
                let (lp, seen) = (lp.clone(), seen.clone());
                move || Pauser::new(&lp, &seen)
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
        check_stream(&seen, async || {
            let factory = {
                let (lp, seen) = (lp.clone(), seen.clone());
                Buffered(move || BufferedPauser {
                    inner: Pauser::new(&lp, &seen),
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
