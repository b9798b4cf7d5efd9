//! Options of `create_connection` (asyncio's keyword arguments).

use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::time::Duration;

/// Options of [`LoopNetExt::create_connection`](crate::LoopNetExt::create_connection).
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct ConnectOptions {
    /// An already connected stream socket to use instead of connecting
    /// (host must then be empty and port 0).
    pub sock: Option<OwnedFd>,
    /// Bind the socket to this local address before connecting.
    pub local_addr: Option<SocketAddr>,
    /// Happy Eyeballs (RFC 8305): start the next attempt after this delay
    /// while earlier ones are still pending (RFC 8305 recommends 250 ms).
    /// `None`: attempts are sequential.
    pub happy_eyeballs_delay: Option<Duration>,
    /// Reorder the resolved addresses by family, interleaving families
    /// with this "first address family count" (asyncio's `interleave`).
    /// Defaults to 1 when `happy_eyeballs_delay` is set.
    pub interleave: Option<usize>,
    /// On failure, report every attempt's error
    /// ([`Error::AllAttemptsFailed`](crate::Error::AllAttemptsFailed))
    /// instead of a single one.
    pub all_errors: bool,
}

impl ConnectOptions {
    /// The default options.
    pub fn new() -> ConnectOptions {
        ConnectOptions::default()
    }

    /// Sets [`sock`](ConnectOptions::sock).
    pub fn sock(mut self, sock: OwnedFd) -> ConnectOptions {
        self.sock = Some(sock);
        self
    }

    /// Sets [`local_addr`](ConnectOptions::local_addr).
    pub fn local_addr(mut self, addr: SocketAddr) -> ConnectOptions {
        self.local_addr = Some(addr);
        self
    }

    /// Sets [`happy_eyeballs_delay`](ConnectOptions::happy_eyeballs_delay).
    pub fn happy_eyeballs_delay(mut self, delay: Duration) -> ConnectOptions {
        self.happy_eyeballs_delay = Some(delay);
        self
    }

    /// Sets [`interleave`](ConnectOptions::interleave).
    pub fn interleave(mut self, interleave: usize) -> ConnectOptions {
        self.interleave = Some(interleave);
        self
    }

    /// Sets [`all_errors`](ConnectOptions::all_errors).
    pub fn all_errors(mut self, all_errors: bool) -> ConnectOptions {
        self.all_errors = all_errors;
        self
    }
}
