//! What only a completion loop can get wrong when a transport ends: it is
//! closed (or aborted) with its multishot receive in flight, and its
//! descriptor must still really close (the peer sees EOF or a reset, the
//! process's descriptor count comes back); and its descriptor number is
//! reused by a new connection while the old operations finish, and none of
//! the old connection's bytes may reach the new one.
//!
//! The loops are built on the uring backend; where the kernel refuses
//! io_uring they fall back to epoll and the tests still pass.

mod common;
mod uring_support;

use std::cell::RefCell;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::time::Duration;

use common::Recorder;
use tulip::Loop;
use tulip::transport::{AcceptedSocketOptions, LoopNetExt, Transport};
use tulip_test::{fd_count, settled_fd_count, tcp_pair, wait_until};
use uring_support::{first_mismatch, pattern_from, run_uring, serial, stream_pattern};

/// Wraps our end of a fresh TCP pair in a recording transport.
async fn transport_over(lp: &Loop, ours: OwnedFd) -> (Transport, Rc<RefCell<Recorder>>) {
    lp.connect_accepted_socket(Recorder::default, ours, AcceptedSocketOptions::new())
        .await
        .unwrap()
}

/// Reads `peer` to its end on a worker thread (the loop runs meanwhile):
/// what it got, and how it ended.
async fn read_to_end(mut peer: TcpStream) -> (Vec<u8>, std::io::Result<()>) {
    tulip::to_thread(move || {
        peer.set_read_timeout(Some(Duration::from_secs(20)))?;
        let mut got = Vec::new();
        let end = peer.read_to_end(&mut got).map(drop);
        Ok::<_, std::io::Error>((got, end))
    })
    .await
    .unwrap()
    .unwrap()
}

#[test]
fn a_transport_closed_with_a_receive_in_flight_closes_its_socket() {
    let _serial = serial();
    let before = fd_count();
    run_uring(|lp| async move {
        let (peer, ours) = tcp_pair();
        let (t, p) = transport_over(&lp, ours).await;
        // Some bytes both ways first: the receive is armed and working.
        let mut writer = peer.try_clone().unwrap();
        std::io::Write::write_all(&mut writer, b"ping").unwrap();
        assert!(wait_until(|| p.borrow().data == b"ping").await);
        t.write(b"bye").unwrap();
        // Closed with the receive in flight (nothing more is coming).
        t.close();
        let (got, end) = read_to_end(peer).await;
        assert_eq!(got, b"bye");
        end.expect("a clean EOF");
        assert!(wait_until(|| p.borrow().lost()).await);
        assert_eq!(p.borrow().count("lost"), 1);
        drop(writer);
    });
    assert!(settled_fd_count(before) <= before, "a descriptor leaked");
}

#[test]
fn a_transport_aborted_with_a_receive_in_flight_resets_its_peer() {
    let _serial = serial();
    let before = fd_count();
    run_uring(|lp| async move {
        let (peer, ours) = tcp_pair();
        let (t, p) = transport_over(&lp, ours).await;
        // The peer keeps sending: receives complete while the abort lands.
        let mut sender = peer.try_clone().unwrap();
        let feeding = std::thread::spawn(move || {
            let mut at = 0;
            loop {
                if let Err(e) = sender.write_all(&pattern_from(1, at, 4096)) {
                    return e.kind();
                }
                at += 4096;
            }
        });
        assert!(wait_until(|| p.borrow().data.len() > 100_000).await);
        t.abort();
        let (_, end) = read_to_end(peer).await;
        let read_end = end.err().map(|e| e.kind());
        let write_end = tulip::to_thread(move || feeding.join())
            .await
            .unwrap()
            .unwrap();
        // The reset is reported once, to whichever of the peer's reader
        // and writer asks first (the other then sees EOF or EPIPE).
        assert!(
            read_end == Some(ErrorKind::ConnectionReset) || write_end == ErrorKind::ConnectionReset,
            "the peer sees a reset: read {read_end:?}, write {write_end:?}"
        );
        assert!(wait_until(|| p.borrow().lost()).await);
        assert_eq!(p.borrow().count("lost"), 1);
        let got = p.borrow().data.clone();
        assert_eq!(first_mismatch(1, &got), None, "what came before is intact");
    });
    assert!(settled_fd_count(before) <= before, "a descriptor leaked");
}

#[test]
fn a_descriptor_number_reused_after_close_gets_none_of_the_old_bytes() {
    const ROUNDS: usize = 40;
    let _serial = serial();
    let before = fd_count();
    run_uring(|lp| async move {
        let mut reused = 0;
        for round in 0..ROUNDS {
            // The old connection: its peer streams without pause, so
            // receives are completing when it closes.
            let (old_ours, old_peer) = UnixStream::pair().unwrap();
            let old_number = old_ours.as_raw_fd();
            let (old_t, old_p) = transport_over(&lp, OwnedFd::from(old_ours)).await;
            let feeding = std::thread::spawn(move || stream_pattern(old_peer, 2 * round, 8 << 20));
            assert!(wait_until(|| !old_p.borrow().data.is_empty()).await);
            old_t.close();
            if round % 2 == 1 {
                // Half the rounds wait for the number to be free: the new
                // connection takes it (the lowest free number) while the
                // old peer still sends.
                let path = format!("/proc/self/fd/{old_number}");
                assert!(wait_until(|| !std::path::Path::new(&path).exists()).await);
            }
            let (new_ours, new_peer) = UnixStream::pair().unwrap();
            if new_ours.as_raw_fd() == old_number {
                reused += 1;
            }
            let (_new_t, new_p) = transport_over(&lp, OwnedFd::from(new_ours)).await;
            let new_seed = 2 * round + 1;
            let writing = std::thread::spawn(move || stream_pattern(new_peer, new_seed, 100_000));
            assert!(wait_until(|| new_p.borrow().count("eof") == 1).await);
            let got = new_p.borrow().data.clone();
            assert_eq!(got.len(), 100_000, "round {round}");
            assert_eq!(
                first_mismatch(new_seed, &got),
                None,
                "round {round}: foreign bytes"
            );
            let old = old_p.borrow().data.clone();
            assert_eq!(first_mismatch(2 * round, &old), None, "round {round}");
            assert!(wait_until(|| old_p.borrow().lost()).await);
            tulip::to_thread(move || (feeding.join(), writing.join()))
                .await
                .map(|(a, b)| a.and(b))
                .unwrap()
                .unwrap();
        }
        assert!(
            reused >= ROUNDS / 2,
            "the old number was reused in {reused} rounds"
        );
    });
    assert!(settled_fd_count(before) <= before, "a descriptor leaked");
}
