//! What the datagram endpoint tests share: the one lock they all hold
//! (the leak test counts descriptors), the recording protocol (its
//! `BaseProtocol` part from `common`, which each test binary declares),
//! numbered datagrams, and receiving on the test's own sockets.

#![allow(dead_code)]

use std::cell::RefCell;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::rc::Rc;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tulip_executor::{Loop, sleep};
use tulip_transport::{
    DatagramOptions, DatagramProtocol, DatagramTransport, Error, LoopNetExt, SockAddr, UnixAddr,
};

pub static SERIAL: Mutex<()> = Mutex::new(());

pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Records every callback.
#[derive(Default)]
pub struct Rec {
    pub events: Vec<String>,
    pub datagrams: Vec<(Vec<u8>, Option<SockAddr>)>,
    pub errors: Vec<Error>,
    pub transport: Option<DatagramTransport>,
    pub lost_error: Option<Error>,
    /// Send each datagram back to its sender.
    pub echo: bool,
    /// Panic in `datagram_received`.
    pub panic_on_data: bool,
    /// In `datagram_received`, send to this address (an error).
    pub bad_dest: Option<SockAddr>,
    /// In `datagram_received`, send this many 1 KiB datagrams.
    pub burst: usize,
    /// In `connection_made`, send this many 1 KiB datagrams.
    pub burst_on_made: usize,
}

crate::recording_base_protocol!(Rec);

impl DatagramProtocol for Rec {
    fn connection_made(&mut self, transport: DatagramTransport) {
        self.events.push("made".into());
        for i in 0..self.burst_on_made {
            transport.sendto(&numbered(i), None).unwrap();
        }
        if self.burst_on_made > 0 {
            self.events.push("burst-done".into());
        }
        self.transport = Some(transport);
    }
    fn datagram_received(&mut self, data: &[u8], addr: Option<SockAddr>) {
        self.events.push("dgram".into());
        self.datagrams.push((data.to_vec(), addr.clone()));
        if self.panic_on_data {
            panic!("protocol bug");
        }
        let t = self.transport.clone().unwrap();
        if self.echo {
            t.sendto(data, addr.as_ref()).unwrap();
        }
        if let Some(bad) = &self.bad_dest {
            t.sendto(b"nowhere", Some(bad)).unwrap();
            self.events.push("sent-bad".into());
        }
        for i in 0..self.burst {
            t.sendto(&numbered(i), None).unwrap();
        }
        if self.burst > 0 {
            self.events.push("burst-done".into());
        }
    }
    fn error_received(&mut self, exc: Error) {
        self.events.push("error".into());
        self.errors.push(exc);
    }
}

/// A 1 KiB datagram starting with `i`.
pub fn numbered(i: usize) -> Vec<u8> {
    let mut d = vec![0u8; 1024];
    d[..8].copy_from_slice(&(i as u64).to_le_bytes());
    d
}

pub fn number_of(d: &[u8]) -> usize {
    u64::from_le_bytes(d[..8].try_into().unwrap()) as usize
}

pub fn inet(s: &str) -> SockAddr {
    SockAddr::Inet(s.parse::<SocketAddr>().unwrap())
}

pub fn unix(path: &Path) -> SockAddr {
    SockAddr::Unix(UnixAddr::path(path))
}

/// Opens an endpoint with a default [`Rec`].
pub async fn endpoint(
    lp: &Loop,
    options: DatagramOptions,
) -> (DatagramTransport, Rc<RefCell<Rec>>) {
    lp.create_datagram_endpoint(Rec::default, options)
        .await
        .unwrap()
}

/// A receive on a test socket that lets the loop run meanwhile (on a
/// loop with completions, `sendto` sends with the loop's next poll), with
/// a 10 s timeout.
pub async fn recv_from(sock: &UdpSocket) -> (Vec<u8>, SocketAddr) {
    sock.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 64];
    for _ in 0..2000 {
        match sock.recv_from(&mut buf) {
            Ok((n, from)) => return (buf[..n].to_vec(), from),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                sleep(Duration::from_millis(5)).await;
            }
            Err(e) => panic!("receiving: {e}"),
        }
    }
    panic!("nothing arrived in 10 s");
}

/// Drains `sock` until nothing comes for a while; the sequence numbers.
pub fn drain(sock: &UnixDatagram) -> Vec<usize> {
    sock.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let mut got = Vec::new();
    while let Ok(n) = sock.recv(&mut buf) {
        got.push(number_of(&buf[..n]));
    }
    got
}
