//! tulip's poll-based socket echo server for the network benches, written
//! as a Rust user writes one on `tulip::net`: an accept loop spawning a
//! task per connection (`tulip::spawn`), each task reading into the
//! connection's own 16 KiB buffer and writing it back with `write_all`
//! (so reading waits for the write), until the client's EOF; then `close`
//! shuts down the write side. The peer is `echo_net_tokio`, the same
//! program on tokio's `TcpStream`.
//!
//! ```text
//! echo_net [--addr HOST:PORT]     # prints `listening on HOST:PORT`
//! ```
//!
//! SIGINT or SIGTERM stops it cleanly: the accept loop ends, the
//! connections' tasks are cancelled as the run ends (their sockets
//! closed), and the process exits 0.

use std::error::Error;
use std::io;
use std::rc::Rc;

use tulip::net::{TcpListener, TcpStream};
use tulip::sync::Event;
use tulip_benches::netbench::echo::is_disconnect;
use tulip_benches::netbench::{ACCEPT_BACKOFF, announce, server_addr};

/// The size of each connection's buffer.
const BUF_SIZE: usize = 16 * 1024;

/// Echoes until EOF, then shuts down the write side (the stream is closed
/// when the task drops it).
async fn echo(stream: TcpStream) -> io::Result<()> {
    let mut buf = vec![0; BUF_SIZE];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        stream.write_all(&buf[..n]).await?;
    }
    stream.close().await
}

/// Accepts forever: `TCP_NODELAY` on each connection (the bench contract)
/// and a task of its own. The peer going away is not worth reporting;
/// other errors of a connection are printed on stderr.
async fn accept_loop(listener: TcpListener) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                eprintln!("echo_net: accept: {e}");
                tulip::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        if let Err(e) = stream.set_nodelay(true) {
            eprintln!("echo_net: TCP_NODELAY: {e}");
            continue;
        }
        tulip::spawn(async move {
            if let Err(e) = echo(stream).await {
                if !is_disconnect(&e) {
                    eprintln!("echo_net: {e}");
                }
            }
        })
        .detach();
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let addr = server_addr("echo_net");
    tulip::run(async move {
        let listener = TcpListener::bind(&addr.ip().to_string(), addr.port()).await?;
        announce(listener.local_addr()?)?;
        // A clean shutdown on SIGINT/SIGTERM: the accept loop stops, and
        // the connections' tasks are cancelled when the run ends.
        let stop = Rc::new(Event::new());
        let lp = tulip::get_running_loop()?;
        for signum in [tulip::signal::SIGINT, tulip::signal::SIGTERM] {
            let stop = stop.clone();
            lp.add_signal_handler(signum, move || stop.set())?;
        }
        futures_lite::future::or(accept_loop(listener), async {
            stop.wait().await;
        })
        .await;
        Ok::<(), Box<dyn Error>>(())
    })?
}
