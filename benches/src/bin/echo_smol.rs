//! The echo server of the network benches on smol, single-threaded (a
//! `LocalExecutor` driven by `smol::block_on`), the peer of tulip's
//! `echo_protocol`: transport-style, one read buffer per thread, reading
//! paused while a write is pending, write side shut down after the client's
//! EOF (`tulip_benches::netbench::echo`).
//!
//! ```text
//! echo_smol [--addr HOST:PORT]      # prints `listening on HOST:PORT`
//! ```

use std::io;
use std::net::TcpListener;

use smol::{Async, LocalExecutor, Timer};
use tulip_benches::netbench::{ACCEPT_BACKOFF, announce, echo, server_addr};

fn main() -> io::Result<()> {
    let addr = server_addr("echo_smol");
    let executor = LocalExecutor::new();
    smol::block_on(executor.run(async {
        let listener = Async::<TcpListener>::bind(addr)?;
        announce(listener.get_ref().local_addr()?)?;
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(e) => {
                    eprintln!("echo_smol: accept: {e}");
                    Timer::after(ACCEPT_BACKOFF).await;
                    continue;
                }
            };
            stream.get_ref().set_nodelay(true)?;
            executor
                .spawn(async move {
                    if let Err(e) = echo::echo(stream).await {
                        if !echo::is_disconnect(&e) {
                            eprintln!("echo_smol: {e}");
                        }
                    }
                })
                .detach();
        }
    }))
}
