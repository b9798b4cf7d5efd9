//! A protocol echo server on every core: a [`LoopGroup`] runs one event
//! loop per CPU, and each loop serves the same [`Protocol`] with its own
//! `create_server`. The loops share 127.0.0.1:8888 in one of two ways:
//!
//! - `--balance reuse-port` (the default): every loop binds the port with
//!   [`ServerOptions::reuse_port`] (`SO_REUSEPORT`) and the kernel spreads
//!   the connections by a hash of their addresses;
//! - `--balance acceptor`: one listening socket, a [`BalancedAcceptor`],
//!   hands each connection to the loop with the fewest live ones
//!   ([`ServerOptions::acceptor`]).
//!
//! `--loops N` sets the number of loops (default: one per CPU). Each loop
//! prints `loop I listening` once it serves. Ctrl-C stops the group: every
//! loop's main task is cancelled, which closes its server and its
//! connections; the program then prints how many connections each loop
//! served and exits.
//!
//! ```text
//! $ cargo run -p tulip-examples --bin echo_per_core -- --balance acceptor
//! echo_per_core: 2 loops, acceptor, 127.0.0.1:8888
//! loop 0 listening
//! loop 1 listening
//! ^C
//! loop 0 served 3 connections
//! loop 1 served 3 connections
//! 6 connections served
//! ```
//!
//! The port is 8888 unless `TULIP_EXAMPLE_PORT` names another.

use std::error::Error;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tulip::prelude::*;
use tulip::transport::{BalancedAcceptor, Server, ServerOptions};
use tulip::{GroupStop, LoopGroup};

/// Echoes every byte back; at the client's EOF the transport closes
/// (after writing what is left).
#[derive(Default)]
struct Echo {
    transport: Option<Transport>,
}

impl BaseProtocol for Echo {
    fn connection_lost(&mut self, _exc: Option<tulip::transport::Error>) {
        self.transport = None;
    }

    // Flow control: no reading while the client does not read its echo.
    fn pause_writing(&mut self) {
        if let Some(t) = &self.transport {
            t.pause_reading();
        }
    }

    fn resume_writing(&mut self) {
        if let Some(t) = &self.transport {
            t.resume_reading();
        }
    }
}

impl Protocol for Echo {
    fn connection_made(&mut self, transport: Transport) {
        self.transport = Some(transport);
    }

    fn data_received(&mut self, data: &[u8]) {
        if let Some(t) = &self.transport {
            // A write to a lost connection is ignored: nothing to do.
            let _ = t.write(data);
        }
    }
}

/// How the loops share the port.
#[derive(Clone)]
enum Listening {
    ReusePort(u16),
    Acceptor(BalancedAcceptor),
}

impl Listening {
    /// The `create_server` arguments of one loop.
    fn server_args(&self) -> (&'static str, u16, ServerOptions) {
        match self {
            Listening::ReusePort(port) => {
                ("127.0.0.1", *port, ServerOptions::new().reuse_port(true))
            }
            Listening::Acceptor(acceptor) => {
                ("", 0, ServerOptions::new().acceptor(acceptor.clone()))
            }
        }
    }
}

/// One loop's life: its server until the group stops. If the server
/// cannot be made (the port is taken), the whole group stops.
async fn serve(
    lp: Loop,
    index: usize,
    listening: Listening,
    served: Arc<[AtomicU64]>,
    stop: GroupStop,
) -> Result<(), tulip::transport::Error> {
    let (host, port, options) = listening.server_args();
    let server = match lp.create_server(Echo::default, host, port, options).await {
        Ok(server) => server,
        Err(e) => {
            stop.stop();
            return Err(e);
        }
    };
    let _count = CountOnClose {
        server: server.clone(),
        served,
        index,
    };
    println!("loop {index} listening");
    server.serve_forever().await
}

/// When its loop's main task ends (Ctrl-C cancels it), records how many
/// connections the server accepted and closes the server and its
/// connections.
struct CountOnClose {
    server: Server,
    served: Arc<[AtomicU64]>,
    index: usize,
}

impl Drop for CountOnClose {
    fn drop(&mut self) {
        self.served[self.index].store(self.server.accepted_total(), Ordering::SeqCst);
        self.server.close();
        self.server.abort_clients();
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let (balance, loops) = parse_args()?;
    let mut builder = LoopGroup::builder().thread_name("echo-loop");
    if let Some(loops) = loops {
        builder = builder.loops(loops);
    }
    let group = builder.build()?;
    let port = port()?;
    let listening = if balance == "acceptor" {
        // Bound once on a short-lived loop; the first loop's server to
        // register watches it.
        let bound = tulip::run(async move {
            BalancedAcceptor::bind("127.0.0.1", port, &ServerOptions::new()).await
        })??;
        Listening::Acceptor(bound)
    } else {
        Listening::ReusePort(port)
    };
    println!(
        "echo_per_core: {} loops, {balance}, 127.0.0.1:{port}",
        group.len()
    );
    let served: Arc<[AtomicU64]> = (0..group.len()).map(|_| AtomicU64::new(0)).collect();
    let counts = served.clone();
    let stop = group.stopper();
    let results = group
        .run(move |lp, index| serve(lp, index, listening.clone(), counts.clone(), stop.clone()))?;
    for (index, count) in served.iter().enumerate() {
        println!(
            "loop {index} served {} connections",
            count.load(Ordering::SeqCst)
        );
    }
    let total: u64 = served.iter().map(|c| c.load(Ordering::SeqCst)).sum();
    println!("{total} connections served");
    // Ctrl-C ends every main task as Interrupted: the normal way out.
    for result in results {
        match result {
            Ok(Ok(())) | Err(tulip::Error::Interrupted | tulip::Error::Cancelled) => {}
            Ok(Err(e)) => return Err(e.into()),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// `--balance reuse-port|acceptor` and `--loops N`.
fn parse_args() -> Result<(String, Option<usize>), String> {
    let mut balance = "reuse-port".to_string();
    let mut loops = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().ok_or_else(|| format!("{arg} needs a value"))?;
        match arg.as_str() {
            "--balance" if value == "reuse-port" || value == "acceptor" => balance = value,
            "--loops" => match value.parse::<usize>() {
                Ok(n) if n > 0 => loops = Some(n),
                _ => return Err(format!("--loops {value:?}: want a count above 0")),
            },
            _ => {
                return Err(format!(
                    "{arg} {value}: usage: echo_per_core [--balance reuse-port|acceptor] [--loops N]"
                ));
            }
        }
    }
    Ok((balance, loops))
}

/// The port: asyncio's 8888, or the one `TULIP_EXAMPLE_PORT` names (the
/// tests use free ports).
fn port() -> std::io::Result<u16> {
    match std::env::var("TULIP_EXAMPLE_PORT") {
        Ok(p) if !p.is_empty() => p.parse().map_err(|_| {
            let why = format!("TULIP_EXAMPLE_PORT={p:?} is not a port number");
            std::io::Error::new(std::io::ErrorKind::InvalidInput, why)
        }),
        _ => Ok(8888),
    }
}
