//! `getaddrinfo` and `getnameinfo` off the loop thread: numeric and named
//! hosts, numeric ports, flags, typed failures, and proof that the loop
//! keeps running while a lookup is in progress.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use tulip_executor::{Error as LoopError, EventLoop, Executor, Job, sleep, spawn, timeout};
use tulip_test::run_with_loop;
use tulip_transport::{
    AddrInfo, AddrInfoOptions, AddressFamily, Error, GaiError, LoopNetExt, NameInfoFlags, SockType,
};

fn addrs(infos: &[AddrInfo]) -> Vec<SocketAddr> {
    infos.iter().map(|i| i.address).collect()
}

#[test]
fn localhost_resolves_to_loopback() {
    let infos = run_with_loop(async |lp| {
        lp.getaddrinfo(
            Some("localhost"),
            Some("80"),
            AddrInfoOptions::new().socktype(SockType::Stream),
        )
        .await
        .unwrap()
    });
    assert!(!infos.is_empty());
    assert!(
        addrs(&infos).contains(&"127.0.0.1:80".parse().unwrap()),
        "{infos:?}"
    );
    for info in &infos {
        assert!(info.address.ip().is_loopback(), "{info:?}");
        assert_eq!(info.socktype, SockType::Stream);
        let family = if info.address.is_ipv4() {
            AddressFamily::Inet
        } else {
            AddressFamily::Inet6
        };
        assert_eq!(info.family, family);
    }
}

#[test]
fn numeric_host_and_port() {
    let infos = run_with_loop(async |lp| {
        lp.getaddrinfo(
            Some("127.0.0.1"),
            Some("8080"),
            AddrInfoOptions::new()
                .socktype(SockType::Stream)
                .flags(AddrInfoOptions::AI_NUMERICHOST | AddrInfoOptions::AI_NUMERICSERV),
        )
        .await
        .unwrap()
    });
    assert_eq!(addrs(&infos), vec!["127.0.0.1:8080".parse().unwrap()]);
    assert_eq!(infos[0].family, AddressFamily::Inet);
    assert_eq!(infos[0].canonname, None);

    let v6 = run_with_loop(async |lp| {
        lp.getaddrinfo(
            Some("::1"),
            Some("443"),
            AddrInfoOptions::new()
                .socktype(SockType::Stream)
                .flags(AddrInfoOptions::AI_NUMERICHOST),
        )
        .await
        .unwrap()
    });
    assert_eq!(addrs(&v6), vec!["[::1]:443".parse().unwrap()]);
    assert_eq!(v6[0].family, AddressFamily::Inet6);
}

#[test]
fn without_a_socket_type_one_entry_per_type() {
    let infos = run_with_loop(async |lp| {
        lp.getaddrinfo(Some("127.0.0.1"), Some("53"), AddrInfoOptions::new())
            .await
            .unwrap()
    });
    let types: Vec<SockType> = infos.iter().map(|i| i.socktype).collect();
    assert!(types.contains(&SockType::Stream), "{infos:?}");
    assert!(types.contains(&SockType::Datagram), "{infos:?}");
    assert!(
        infos
            .iter()
            .all(|i| i.address == "127.0.0.1:53".parse().unwrap())
    );
}

#[test]
fn passive_without_host_is_the_wildcard() {
    let infos = run_with_loop(async |lp| {
        lp.getaddrinfo(
            None,
            Some("9999"),
            AddrInfoOptions::new()
                .family(AddressFamily::Inet)
                .socktype(SockType::Stream)
                .flags(AddrInfoOptions::AI_PASSIVE),
        )
        .await
        .unwrap()
    });
    assert_eq!(addrs(&infos), vec!["0.0.0.0:9999".parse().unwrap()]);
}

#[test]
fn canonical_name_on_request() {
    let infos = run_with_loop(async |lp| {
        lp.getaddrinfo(
            Some("localhost"),
            None,
            AddrInfoOptions::new()
                .socktype(SockType::Stream)
                .flags(AddrInfoOptions::AI_CANONNAME),
        )
        .await
        .unwrap()
    });
    assert_eq!(
        infos[0].canonname.as_deref(),
        Some("localhost"),
        "{infos:?}"
    );
    assert_eq!(infos[0].address.port(), 0);
}

#[test]
fn unknown_host_is_a_typed_error() {
    let err = run_with_loop(async |lp| {
        lp.getaddrinfo(
            Some("no-such-host.invalid"),
            Some("80"),
            AddrInfoOptions::new(),
        )
        .await
        .unwrap_err()
    });
    let gai = GaiError::find(&err).unwrap_or_else(|| panic!("not a resolution error: {err:?}"));
    // Without a reachable DNS server the C library may answer "try again"
    // rather than "no such name"; both are resolution failures.
    assert!(gai.is_not_found() || gai.is_temporary(), "{gai}");
    assert_ne!(gai.code(), 0);
    assert!(!gai.message().is_empty());
    let text = err.to_string();
    assert!(text.contains("no-such-host.invalid"), "{text}");
    if gai.is_not_found() {
        assert_eq!(err.io_kind(), Some(io::ErrorKind::NotFound));
    }
}

#[test]
fn bad_service_family_and_name_are_typed_errors() {
    let (service, family, nul) = run_with_loop(async |lp| {
        let service = lp
            .getaddrinfo(
                Some("127.0.0.1"),
                Some("not-a-number"),
                AddrInfoOptions::new().flags(AddrInfoOptions::AI_NUMERICSERV),
            )
            .await
            .unwrap_err();
        let family = lp
            .getaddrinfo(
                Some("127.0.0.1"),
                Some("80"),
                AddrInfoOptions::new().family(AddressFamily::Unix),
            )
            .await
            .unwrap_err();
        let nul = lp
            .getaddrinfo(Some("local\0host"), None, AddrInfoOptions::new())
            .await
            .unwrap_err();
        (service, family, nul)
    });
    assert!(GaiError::find(&service).is_some(), "{service:?}");
    let family = GaiError::find(&family).expect("EAI_FAMILY");
    assert!(!family.is_not_found());
    assert!(matches!(nul, Error::InvalidInput(_)), "{nul:?}");
}

#[test]
fn a_numeric_host_of_another_family_is_a_resolution_error_naming_the_host() {
    // glibc answers EAI_ADDRFAMILY (a code dns-lookup has no name for).
    let err = run_with_loop(async |lp| {
        lp.getaddrinfo(
            Some("127.0.0.1"),
            Some("80"),
            AddrInfoOptions::new()
                .family(AddressFamily::Inet6)
                .flags(AddrInfoOptions::AI_NUMERICHOST),
        )
        .await
        .unwrap_err()
    });
    let gai = GaiError::find(&err).unwrap_or_else(|| panic!("a GaiError: {err:?}"));
    assert_ne!(gai.code(), 0);
    assert!(err.to_string().contains("127.0.0.1"), "{err}");
}

#[test]
fn getnameinfo_numeric_and_named() {
    let addr: SocketAddr = "127.0.0.1:80".parse().unwrap();
    let (numeric, named, v6) = run_with_loop(async move |lp| {
        let numeric = lp
            .getnameinfo(
                addr,
                NameInfoFlags::NUMERICHOST | NameInfoFlags::NUMERICSERV,
            )
            .await
            .unwrap();
        let named = lp
            .getnameinfo(addr, NameInfoFlags::NUMERICSERV)
            .await
            .unwrap();
        let v6 = lp
            .getnameinfo(
                "[::1]:8443".parse().unwrap(),
                NameInfoFlags::NUMERICHOST | NameInfoFlags::NUMERICSERV,
            )
            .await
            .unwrap();
        (numeric, named, v6)
    });
    assert_eq!(numeric, ("127.0.0.1".to_owned(), "80".to_owned()));
    assert_eq!(named, ("localhost".to_owned(), "80".to_owned()));
    assert_eq!(v6, ("::1".to_owned(), "8443".to_owned()));
}

/// An executor that runs each job on its own thread once the test lets it,
/// counting the jobs.
struct GatedExecutor {
    jobs: AtomicUsize,
    gate: Mutex<Option<mpsc::Receiver<()>>>,
}

impl Executor for GatedExecutor {
    fn submit(&self, job: Job) -> Result<(), LoopError> {
        self.jobs.fetch_add(1, Ordering::SeqCst);
        let gate = self.gate.lock().unwrap().take();
        std::thread::spawn(move || {
            if let Some(gate) = gate {
                let _ = gate.recv();
            }
            job();
        });
        Ok(())
    }

    fn shutdown(&self, _wait: bool) {}
}

#[test]
fn lookups_run_on_the_executor_while_the_loop_runs() {
    let (open, gate) = mpsc::channel();
    let executor = Arc::new(GatedExecutor {
        jobs: AtomicUsize::new(0),
        gate: Mutex::new(Some(gate)),
    });
    let ev = EventLoop::new().unwrap();
    let lp = ev.handle();
    lp.set_default_executor(executor.clone());
    let (ticks, infos, name) = ev
        .run_until_complete(async move {
            let lookup = {
                let lp = lp.clone();
                spawn(async move {
                    lp.getaddrinfo(Some("localhost"), Some("80"), AddrInfoOptions::new())
                        .await
                })
            };
            // The lookup is held on its thread: the loop still runs.
            let mut ticks = 0;
            for _ in 0..5 {
                sleep(Duration::from_millis(5)).await;
                ticks += 1;
            }
            open.send(()).unwrap();
            let infos = timeout(Duration::from_secs(10))
                .run(lookup)
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            let name = lp
                .getnameinfo("127.0.0.1:80".parse().unwrap(), NameInfoFlags::NUMERICHOST)
                .await
                .unwrap();
            (ticks, infos, name)
        })
        .unwrap();
    assert_eq!(ticks, 5);
    assert!(!infos.is_empty());
    assert_eq!(name.0, "127.0.0.1");
    assert_eq!(executor.jobs.load(Ordering::SeqCst), 2);
}
