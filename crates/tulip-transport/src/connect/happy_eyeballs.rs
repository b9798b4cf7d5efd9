//! Opening a TCP connection to a host and port, the part of asyncio's
//! `create_connection` before the transport exists: resolution without
//! blocking the loop (a numeric host never leaves the loop thread), the
//! order of the addresses (`interleave`, asyncio's `_interleave_addrinfos`),
//! one attempt per address, one after the other or staggered by Happy
//! Eyeballs (RFC 8305, asyncio's `staggered_race`), and the error reported
//! when every attempt failed.
//!
//! Every attempt is a future owned by the connecting future itself (no task
//! is spawned), and each owns its socket: the attempts that lose, and all of
//! them when the connecting future is dropped, close their sockets as they
//! are dropped.

use std::collections::VecDeque;
use std::future::{Future, poll_fn};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsFd, OwnedFd};
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use rustix::net::SocketType;
use tulip_executor::{Loop, Sleep, sleep};

use crate::address::AddressFamily;
use crate::connect::dns::{self, AddrInfoOptions, SockType, family_of};
use crate::connect::options::ConnectOptions;
use crate::error::{AttemptError, Error, Result, bind_error};
use crate::sock;

/// Resolves `host` and connects to `port` on one of its addresses, as
/// `options` say; the connected non-blocking socket.
pub(crate) async fn connect(
    lp: &Loop,
    host: &str,
    port: u16,
    options: &ConnectOptions,
) -> Result<OwnedFd> {
    if host.is_empty() && port == 0 {
        return Err(Error::InvalidInput(String::from(
            "host and port was not specified and no sock specified",
        )));
    }
    let mut addrs = resolve(lp, host, port, options).await?;
    if addrs.is_empty() {
        return Err(io::Error::other("getaddrinfo() returned empty list").into());
    }
    // asyncio: a Happy Eyeballs delay without `interleave` means 1.
    let interleave = options
        .interleave
        .or(options.happy_eyeballs_delay.map(|_| 1));
    if let Some(first) = interleave.filter(|n| *n > 0) {
        addrs = interleave_addrs(addrs, first);
    }
    connect_addrs(lp, &addrs, options.local_addr, options.happy_eyeballs_delay)
        .await
        .map_err(|errors| combine_errors(errors, options.all_errors))
}

/// The addresses of `host`: a numeric host (of the wanted family) as it
/// is, without a trip to a worker thread; any other through
/// `getaddrinfo` (an empty host: `getaddrinfo(None, port)`, the loopback
/// addresses).
pub(crate) async fn resolve(
    lp: &Loop,
    host: &str,
    port: u16,
    options: &ConnectOptions,
) -> Result<Vec<SocketAddr>> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        let addr = SocketAddr::new(ip, port);
        if options.family.is_none_or(|f| f == family_of(&addr)) {
            return Ok(vec![addr]);
        }
    }
    let hints = AddrInfoOptions {
        family: options.family,
        socktype: Some(SockType::Stream),
        protocol: options.proto,
        flags: options.flags,
    };
    let host = (!host.is_empty()).then_some(host);
    let port = port.to_string();
    let infos = dns::getaddrinfo(lp, host, Some(&port), hints).await?;
    Ok(infos.into_iter().map(|info| info.address).collect())
}

/// Reorders `addrs` by family, as asyncio's `_interleave_addrinfos`: the
/// families in the order they first appear, the first
/// `first_family_count - 1` addresses of the first family first, then one
/// address of each family in turn.
pub(crate) fn interleave_addrs(
    addrs: Vec<SocketAddr>,
    first_family_count: usize,
) -> Vec<SocketAddr> {
    let total = addrs.len();
    let mut by_family: Vec<(AddressFamily, VecDeque<SocketAddr>)> = Vec::new();
    for addr in addrs {
        let family = family_of(&addr);
        match by_family.iter_mut().find(|(f, _)| *f == family) {
            Some((_, list)) => list.push_back(addr),
            None => by_family.push((family, VecDeque::from([addr]))),
        }
    }
    let mut out = Vec::with_capacity(total);
    if let Some((_, first)) = by_family.first_mut() {
        let head = first_family_count.saturating_sub(1).min(first.len());
        out.extend(first.drain(..head));
    }
    while out.len() < total {
        for (_, list) in &mut by_family {
            out.extend(list.pop_front());
        }
    }
    out
}

/// Connects to one of `addrs`, in order: one after the other when `delay`
/// is `None`, else staggered (Happy Eyeballs). The first socket connected,
/// or every attempt's error in the order the attempts started.
pub(crate) async fn connect_addrs(
    lp: &Loop,
    addrs: &[SocketAddr],
    local: Option<SocketAddr>,
    delay: Option<Duration>,
) -> std::result::Result<OwnedFd, Vec<Error>> {
    match delay {
        Some(delay) => staggered(lp, addrs, local, delay).await,
        None => {
            let mut errors = Vec::with_capacity(addrs.len());
            for addr in addrs {
                match connect_one(lp, *addr, local).await {
                    Ok(fd) => return Ok(fd),
                    Err(e) => errors.push(e),
                }
            }
            Err(errors)
        }
    }
}

/// asyncio's `staggered_race` over the addresses: attempt `i + 1` starts
/// when attempt `i` has failed or `delay` after attempt `i` started,
/// whichever is first; the first attempt to connect wins and every other
/// one is dropped (its socket closed).
async fn staggered(
    lp: &Loop,
    addrs: &[SocketAddr],
    local: Option<SocketAddr>,
    delay: Duration,
) -> std::result::Result<OwnedFd, Vec<Error>> {
    // One slot per started attempt: its future while it runs, then its
    // error.
    let mut attempts = Vec::with_capacity(addrs.len());
    let mut errors: Vec<Option<Error>> = Vec::with_capacity(addrs.len());
    let mut timer: Option<Sleep> = None;
    let mut start_next = true;
    poll_fn(|cx| {
        loop {
            if start_next && attempts.len() < addrs.len() {
                let addr = addrs[attempts.len()];
                attempts.push(Some(Box::pin(connect_one(lp, addr, local))));
                errors.push(None);
                start_next = false;
                timer = (attempts.len() < addrs.len()).then(|| sleep(delay));
            }
            let latest = attempts.len() - 1;
            for (i, slot) in attempts.iter_mut().enumerate() {
                let Some(attempt) = slot else { continue };
                match attempt.as_mut().poll(cx) {
                    Poll::Ready(Ok(fd)) => return Poll::Ready(Ok(fd)),
                    Poll::Ready(Err(e)) => {
                        errors[i] = Some(e);
                        *slot = None;
                        if i == latest {
                            start_next = true;
                        }
                    }
                    Poll::Pending => {}
                }
            }
            if let Some(t) = &mut timer {
                if Pin::new(t).poll(cx).is_ready() {
                    timer = None;
                    start_next = true;
                }
            }
            if start_next && attempts.len() < addrs.len() {
                continue;
            }
            if attempts.len() == addrs.len() && attempts.iter().all(Option::is_none) {
                return Poll::Ready(Err(errors.iter_mut().filter_map(Option::take).collect()));
            }
            return Poll::Pending;
        }
    })
    .await
}

/// One attempt: a new non-blocking socket, bound to `local` if given (of
/// the same family, as asyncio skips local addresses of another family),
/// connected to `addr`. The socket is closed if the attempt fails or is
/// dropped.
async fn connect_one(lp: &Loop, addr: SocketAddr, local: Option<SocketAddr>) -> Result<OwnedFd> {
    let family = family_of(&addr);
    let fd = sock::new_socket(sock::family_of(&addr.into()), SocketType::STREAM)?;
    if let Some(laddr) = local {
        if family_of(&laddr) != family {
            return Err(io::Error::new(
                io::ErrorKind::AddrNotAvailable,
                format!(
                    "no matching local address with family={} found",
                    family_name(family)
                ),
            )
            .into());
        }
        rustix::net::bind(&fd, &laddr).map_err(|e| bind_error(&laddr, e.into()))?;
    }
    sock::connect(lp, fd.as_fd(), &addr)
        .await
        .map_err(|e| match e.as_io() {
            Some(io) => AttemptError::wrap(format!("connect call failed {addr}"), clone_io(io)),
            None => e,
        })?;
    Ok(fd)
}

/// asyncio's spelling of an IP family.
fn family_name(family: AddressFamily) -> &'static str {
    match family {
        AddressFamily::Inet => "AF_INET",
        AddressFamily::Inet6 => "AF_INET6",
        AddressFamily::Unix => "AF_UNIX",
    }
}

/// An owned copy of a shared I/O error (the OS error code kept).
fn clone_io(e: &io::Error) -> io::Error {
    match e.raw_os_error() {
        Some(code) => io::Error::from_raw_os_error(code),
        None => io::Error::new(e.kind(), e.to_string()),
    }
}

/// The error of a `create_connection` whose every attempt failed: all of
/// them with `all_errors`; else the one error, or the first when all read
/// the same, or one error naming them all (of their common kind, if any),
/// as asyncio does.
fn combine_errors(mut errors: Vec<Error>, all_errors: bool) -> Error {
    if all_errors {
        return Error::AllAttemptsFailed(errors);
    }
    if errors.len() <= 1 {
        return errors
            .pop()
            .unwrap_or_else(|| io::Error::other("no address to connect to").into());
    }
    let model = errors[0].to_string();
    if errors.iter().all(|e| e.to_string() == model) {
        return errors.swap_remove(0);
    }
    let first_kind = errors[0].io_kind();
    let kind = first_kind
        .filter(|k| errors.iter().all(|e| e.io_kind() == Some(*k)))
        .unwrap_or(io::ErrorKind::Other);
    let messages: Vec<String> = errors.iter().map(Error::to_string).collect();
    io::Error::new(
        kind,
        format!("Multiple exceptions: {}", messages.join(", ")),
    )
    .into()
}

#[cfg(test)]
mod tests {
    use std::net::{TcpListener, TcpStream};
    use std::time::Instant;

    use tulip_executor::{EventLoop, spawn, timeout};

    use super::*;

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn interleave_as_asyncio() {
        let v6a = a("[::1]:1");
        let v6b = a("[::1]:2");
        let v6c = a("[::1]:3");
        let v4a = a("127.0.0.1:1");
        let v4b = a("127.0.0.1:2");
        let input = vec![v6a, v6b, v6c, v4a, v4b];
        assert_eq!(
            interleave_addrs(input.clone(), 1),
            vec![v6a, v4a, v6b, v4b, v6c]
        );
        assert_eq!(
            interleave_addrs(input.clone(), 2),
            vec![v6a, v6b, v4a, v6c, v4b]
        );
        assert_eq!(
            interleave_addrs(input.clone(), 3),
            vec![v6a, v6b, v6c, v4a, v4b]
        );
        assert_eq!(interleave_addrs(input.clone(), 10), input);
        assert_eq!(
            interleave_addrs(vec![v4a, v6a, v4b], 1),
            vec![v4a, v6a, v4b]
        );
        assert!(interleave_addrs(Vec::new(), 1).is_empty());
    }

    #[test]
    fn combined_errors() {
        let refused = || Error::io(io::Error::from(io::ErrorKind::ConnectionRefused));
        let e = combine_errors(vec![refused(), refused()], false);
        assert_eq!(e.io_kind(), Some(io::ErrorKind::ConnectionRefused));
        assert!(!e.to_string().contains("Multiple"));
        let other = Error::io(io::Error::new(io::ErrorKind::ConnectionRefused, "other"));
        let e = combine_errors(vec![refused(), other], false);
        assert_eq!(e.io_kind(), Some(io::ErrorKind::ConnectionRefused));
        assert!(e.to_string().starts_with("Multiple exceptions: "));
        let mixed = Error::io(io::Error::from(io::ErrorKind::TimedOut));
        let e = combine_errors(vec![refused(), mixed], false);
        assert_eq!(e.io_kind(), Some(io::ErrorKind::Other));
        match combine_errors(vec![refused(), refused()], true) {
            Error::AllAttemptsFailed(all) => assert_eq!(all.len(), 2),
            other => panic!("{other:?}"),
        }
    }

    /// A listener whose accept queue is full: a new connection's SYN is
    /// dropped, so connecting to it stays pending (a black hole on
    /// loopback). The clients that filled it are kept alive with it.
    fn black_hole() -> (OwnedFd, Vec<TcpStream>, SocketAddr) {
        let fd = rustix::net::socket(rustix::net::AddressFamily::INET, SocketType::STREAM, None)
            .unwrap();
        rustix::net::bind(&fd, &a("127.0.0.1:0")).unwrap();
        rustix::net::listen(&fd, 0).unwrap();
        let addr = TcpListener::from(fd.try_clone().unwrap())
            .local_addr()
            .unwrap();
        let mut fillers = Vec::new();
        for _ in 0..64 {
            match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
                Ok(s) => fillers.push(s),
                Err(_) => return (fd, fillers, addr),
            }
        }
        panic!("the accept queue of a listen(0) socket never filled");
    }

    fn closed_port() -> SocketAddr {
        TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
    }

    #[test]
    fn staggered_second_address_wins_after_the_delay() {
        let (_hole, _fillers, hole) = black_hole();
        let good = TcpListener::bind("127.0.0.1:0").unwrap();
        let good_addr = good.local_addr().unwrap();
        let ev = EventLoop::new().unwrap();
        let lp = ev.handle();
        let delay = Duration::from_millis(150);
        let (fd, elapsed, pending_during) = ev
            .run_until_complete(async move {
                let start = Instant::now();
                let race = spawn({
                    let lp = lp.clone();
                    async move {
                        timeout(Duration::from_secs(10))
                            .run(connect_addrs(&lp, &[hole, good_addr], None, Some(delay)))
                            .await
                    }
                });
                tulip_executor::sleep(delay / 2).await;
                let pending_during = syn_sent_to(hole);
                let fd = race
                    .await
                    .unwrap()
                    .expect("no timeout")
                    .expect("the second address connects");
                (fd, start.elapsed(), pending_during)
            })
            .unwrap();
        assert_eq!(pending_during, 1, "the first attempt was pending");
        assert!(elapsed >= delay, "the second attempt waited for the delay");
        let peer = sock::peer_addr(fd.as_fd()).unwrap();
        assert_eq!(peer.as_inet(), Some(good_addr));
        assert_eq!(
            syn_sent_to(hole),
            0,
            "the losing attempt's socket is closed"
        );
    }

    /// How many sockets of this network namespace are still trying to
    /// connect (SYN_SENT) to the IPv4 address `to` (/proc/net/tcp).
    fn syn_sent_to(to: SocketAddr) -> usize {
        let SocketAddr::V4(to) = to else {
            unreachable!("an IPv4 address")
        };
        let want = format!(
            "{:08X}:{:04X}",
            u32::from_ne_bytes(to.ip().octets()),
            to.port()
        );
        std::fs::read_to_string("/proc/net/tcp")
            .unwrap()
            .lines()
            .skip(1)
            .filter(|line| {
                let cols: Vec<&str> = line.split_whitespace().collect();
                cols.get(2) == Some(&want.as_str()) && cols.get(3) == Some(&"02")
            })
            .count()
    }

    #[test]
    fn staggered_failure_starts_the_next_attempt_at_once() {
        let good = TcpListener::bind("127.0.0.1:0").unwrap();
        let good_addr = good.local_addr().unwrap();
        let refused = closed_port();
        let ev = EventLoop::new().unwrap();
        let lp = ev.handle();
        // A delay far longer than the test's timeout: only the failure of
        // the first attempt can start the second one in time.
        let fd = ev
            .run_until_complete(async move {
                timeout(Duration::from_secs(10))
                    .run(connect_addrs(
                        &lp,
                        &[refused, good_addr],
                        None,
                        Some(Duration::from_secs(3600)),
                    ))
                    .await
            })
            .unwrap()
            .expect("no timeout")
            .expect("the second address connects");
        let peer = sock::peer_addr(fd.as_fd()).unwrap();
        assert_eq!(peer.as_inet(), Some(good_addr));
    }

    #[test]
    fn staggered_errors_in_start_order() {
        let ports = [closed_port(), closed_port(), closed_port()];
        let ev = EventLoop::new().unwrap();
        let lp = ev.handle();
        let errors = ev
            .run_until_complete(async move {
                connect_addrs(&lp, &ports, None, Some(Duration::from_millis(10))).await
            })
            .unwrap()
            .unwrap_err();
        assert_eq!(errors.len(), 3);
        for (e, addr) in errors.iter().zip(ports) {
            assert_eq!(e.io_kind(), Some(io::ErrorKind::ConnectionRefused));
            assert!(e.to_string().contains(&addr.to_string()), "{e}");
        }
    }

    #[test]
    fn local_addr_of_another_family_fails_the_attempt() {
        let ev = EventLoop::new().unwrap();
        let lp = ev.handle();
        let errors = ev
            .run_until_complete(async move {
                connect_addrs(&lp, &[closed_port()], Some(a("[::1]:0")), None).await
            })
            .unwrap()
            .unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].io_kind(), Some(io::ErrorKind::AddrNotAvailable));
        assert!(errors[0].to_string().contains("family=AF_INET"));
    }
}
