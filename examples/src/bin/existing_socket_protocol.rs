//! Connecting existing sockets, from the asyncio documentation (transports
//! and protocols page, "Examples": "Connecting Existing Sockets").
//!
//! One end of a socket pair is handed to
//! [`create_connection`](tulip::transport::LoopNetExt::create_connection)
//! through [`ConnectOptions::sock`] (host `""` and port `0`, as asyncio's
//! `sock=` argument excludes them), which wraps it in a transport driving
//! `MyProtocol`. A callback scheduled with
//! [`call_soon`](tulip::Loop::call_soon) "receives data from the network"
//! by writing `abc` to the other end; the protocol prints it and closes its
//! transport, and its `connection_lost` completes the future `main` waits
//! for. Output:
//!
//! ```text
//! Received: abc
//! ```
//!
//! The Python original:
//!
//! ```python
//! import asyncio
//! import socket
//!
//!
//! class MyProtocol(asyncio.Protocol):
//!
//!     def __init__(self, loop):
//!         self.transport = None
//!         self.on_con_lost = loop.create_future()
//!
//!     def connection_made(self, transport):
//!         self.transport = transport
//!
//!     def data_received(self, data):
//!         print("Received:", data.decode())
//!
//!         # We are done: close the transport;
//!         # connection_lost() will be called automatically.
//!         self.transport.close()
//!
//!     def connection_lost(self, exc):
//!         # The socket has been closed
//!         self.on_con_lost.set_result(True)
//!
//!
//! async def main():
//!     # Get a reference to the event loop as we plan to use
//!     # low-level APIs.
//!     loop = asyncio.get_running_loop()
//!
//!     # Create a pair of connected sockets
//!     rsock, wsock = socket.socketpair()
//!
//!     # Register the socket to wait for data.
//!     transport, protocol = await loop.create_connection(
//!         lambda: MyProtocol(loop), sock=rsock)
//!
//!     # Simulate the reception of data from the network.
//!     loop.call_soon(wsock.send, 'abc'.encode())
//!
//!     try:
//!         await protocol.on_con_lost
//!     finally:
//!         transport.close()
//!         wsock.close()
//!
//! asyncio.run(main())
//! ```
//!
//! Python's `socket.socketpair()` makes a pair of connected Unix-domain
//! stream sockets on Linux; [`UnixStream::pair`] does the same.
//!
//! The same reception watched with the low-level `add_reader` is the
//! `watch_fd` example.
//!
//! Run it with `cargo run -p tulip-examples --bin existing_socket_protocol`.

use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::rc::Rc;

use tulip::prelude::*;
use tulip::transport::ConnectOptions;

struct MyProtocol {
    transport: Option<Transport>,
    on_con_lost: LoopFuture<bool>,
}

impl MyProtocol {
    fn new(lp: &Loop) -> MyProtocol {
        MyProtocol {
            transport: None,
            on_con_lost: lp.create_future(),
        }
    }
}

impl Protocol for MyProtocol {
    fn connection_made(&mut self, transport: Transport) {
        self.transport = Some(transport);
    }

    fn data_received(&mut self, data: &[u8]) {
        println!("Received: {}", String::from_utf8_lossy(data));

        // We are done: close the transport;
        // connection_lost() will be called automatically.
        if let Some(transport) = &self.transport {
            transport.close();
        }
    }
}

impl BaseProtocol for MyProtocol {
    fn connection_lost(&mut self, _exc: Option<tulip::transport::Error>) {
        // The socket has been closed
        let _ = self.on_con_lost.set_result(true);
    }
}

async fn main_task() -> Result<(), Error> {
    // Get a reference to the event loop as we plan to use
    // low-level APIs.
    let lp = get_running_loop()?;

    // Create a pair of connected sockets
    let (rsock, wsock) = UnixStream::pair()?;
    let wsock = Rc::new(wsock);

    // Register the socket to wait for data.
    let factory = {
        let lp = lp.clone();
        move || MyProtocol::new(&lp)
    };
    let options = ConnectOptions::new().sock(OwnedFd::from(rsock));
    let (transport, protocol) = lp.create_connection(factory, "", 0, options).await?;

    // Simulate the reception of data from the network.
    let sender = wsock.clone();
    lp.call_soon(move || {
        (&*sender)
            .write_all(b"abc")
            .expect("send on the socket pair")
    })?;

    let on_con_lost = protocol.borrow().on_con_lost.clone();
    let outcome = on_con_lost.await;
    // `finally`:
    transport.close();
    drop(wsock);
    outcome.map(drop)
}

fn main() -> Result<(), Error> {
    tulip::run(main_task())?
}
