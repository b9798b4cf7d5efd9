//! The loop's buffer ring running dry: a thousand connections on one
//! loop, each sending 64 KiB at once and reading its echo, is far more
//! than the ring holds (256 buffers of 16 KiB), so multishot receives end
//! up waiting for buffers to come back. Every byte must still arrive, in
//! order, on every connection, within a bounded time.
//!
//! The loop is built on the uring backend; where the kernel refuses
//! io_uring it falls back to epoll and the test still passes.

mod server_support;
mod uring_support;

use std::cell::RefCell;
use std::rc::Rc;

use server_support::Counts;
use tulip::transport::{
    BaseProtocol, ConnectOptions, Error, LoopNetExt, Protocol, ServerOptions, Transport,
};
use tulip_test::wait_until;
use uring_support::{byte_at, pattern_from, run_uring, serial};

const CONNECTIONS: usize = 1000;
const SIZE: usize = 64 * 1024;

/// What a client saw: bytes checked against its pattern, the first wrong
/// one, and whether its echo ended (EOF) or the connection was lost.
#[derive(Default)]
struct Seen {
    got: usize,
    wrong_at: Option<usize>,
    eof: bool,
    lost_error: Option<String>,
}

/// Sends its pattern at once, then checks the echo as it comes.
struct Client {
    seed: usize,
    seen: Rc<RefCell<Seen>>,
}

impl BaseProtocol for Client {
    fn connection_lost(&mut self, exc: Option<Error>) {
        self.seen.borrow_mut().lost_error = exc.map(|e| e.to_string());
    }
}

impl Protocol for Client {
    fn connection_made(&mut self, transport: Transport) {
        transport.write(&pattern_from(self.seed, 0, SIZE)).unwrap();
        transport.write_eof().unwrap();
    }
    fn data_received(&mut self, data: &[u8]) {
        let mut seen = self.seen.borrow_mut();
        for &b in data {
            if seen.wrong_at.is_none() && b != byte_at(self.seed, seen.got) {
                seen.wrong_at = Some(seen.got);
            }
            seen.got += 1;
        }
    }
    fn eof_received(&mut self) -> bool {
        self.seen.borrow_mut().eof = true;
        false
    }
}

#[test]
fn a_thousand_connections_through_a_dry_buffer_ring_lose_nothing() {
    let _serial = serial();
    run_uring(|lp| async move {
        let counts = Counts::default();
        let server = lp
            .create_server(
                counts.factory(),
                "127.0.0.1",
                0,
                ServerOptions::new().backlog(4096),
            )
            .await
            .unwrap();
        let port = server.sockets()[0].inet_addr().unwrap().port();
        let mut seen = Vec::new();
        let mut connecting = Vec::new();
        for seed in 0..CONNECTIONS {
            let s = Rc::new(RefCell::new(Seen::default()));
            seen.push(s.clone());
            let lp = lp.clone();
            connecting.push(tulip::spawn(async move {
                let factory = move || Client {
                    seed,
                    seen: s.clone(),
                };
                lp.create_connection(factory, "127.0.0.1", port, ConnectOptions::new())
                    .await
                    .map(drop)
            }));
        }
        for c in connecting {
            c.await.unwrap().unwrap();
        }
        let all_done = wait_until(|| seen.iter().all(|s| s.borrow().eof)).await;
        for (seed, s) in seen.iter().enumerate() {
            let s = s.borrow();
            assert_eq!(s.lost_error, None, "connection {seed}");
            assert_eq!(s.wrong_at, None, "connection {seed}: a wrong byte");
            assert_eq!(s.got, SIZE, "connection {seed}");
        }
        assert!(all_done);
        assert!(wait_until(|| counts.lost() == CONNECTIONS).await);
        assert_eq!(counts.made(), CONNECTIONS);
        assert_eq!(counts.violations(), 0);
        server.close();
        server.wait_closed().await;
    });
}
