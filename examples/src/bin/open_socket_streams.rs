//! Register an open socket to wait for data using streams, from the
//! asyncio documentation (streams page, "Examples").
//!
//! One end of a socket pair is handed to [`open_connection`] through
//! [`ConnectOptions::sock`] (host `""` and port `0`, as asyncio's `sock=`
//! argument excludes them), which returns its reader and writer. A
//! callback scheduled with [`call_soon`](tulip::Loop::call_soon) "receives
//! data from the network" by writing `abc` to the other end; the coroutine
//! waits for it with [`read`](tulip::streams::StreamReader::read), prints
//! it and closes both sockets. Output:
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
//! async def wait_for_data():
//!     # Get a reference to the current event loop because
//!     # we want to access low-level APIs.
//!     loop = asyncio.get_running_loop()
//!
//!     # Create a pair of connected sockets.
//!     rsock, wsock = socket.socketpair()
//!
//!     # Register the open socket to wait for data.
//!     reader, writer = await asyncio.open_connection(sock=rsock)
//!
//!     # Simulate the reception of data from the network
//!     loop.call_soon(wsock.send, 'abc'.encode())
//!
//!     # Wait for data
//!     data = await reader.read(100)
//!
//!     # Got data, we are done: close the socket
//!     print("Received:", data.decode())
//!     writer.close()
//!     await writer.wait_closed()
//!
//!     # Close the second socket
//!     wsock.close()
//!
//! asyncio.run(wait_for_data())
//! ```
//!
//! Python's `socket.socketpair()` makes a pair of connected Unix-domain
//! stream sockets on Linux; [`UnixStream::pair`] does the same. The callback
//! borrows the writing end through an `Rc`, so that the coroutine still
//! owns it and closes it at the end, as the original does.
//!
//! The same wait with a protocol is `existing_socket_protocol`; with the
//! low-level `add_reader`, `watch_fd`.
//!
//! Run it with `cargo run -p tulip-examples --bin open_socket_streams`.

use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::rc::Rc;

use tulip::prelude::*;
use tulip::streams::ConnectOptions;

async fn wait_for_data() -> Result<(), Error> {
    // Get a reference to the current event loop because
    // we want to access low-level APIs.
    let lp = get_running_loop()?;

    // Create a pair of connected sockets.
    let (rsock, wsock) = UnixStream::pair()?;
    let wsock = Rc::new(wsock);

    // Register the open socket to wait for data.
    let options = ConnectOptions::new().sock(OwnedFd::from(rsock));
    let (mut reader, writer) = open_connection("", 0, options).await?;

    // Simulate the reception of data from the network
    let sender = wsock.clone();
    lp.call_soon(move || {
        (&*sender)
            .write_all(b"abc")
            .expect("send on the socket pair")
    })?;

    // Wait for data
    let data = reader.read(100).await?;

    // Got data, we are done: close the socket
    println!("Received: {}", String::from_utf8_lossy(&data));
    writer.close();
    writer.wait_closed().await?;

    // Close the second socket
    drop(wsock);
    Ok(())
}

fn main() -> Result<(), Error> {
    tulip::run(wait_for_data())?
}
