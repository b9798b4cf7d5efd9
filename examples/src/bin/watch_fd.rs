//! Watch a file descriptor for read events, from the asyncio documentation
//! (event loop page, "Event loop examples").
//!
//! The reading end of a socket pair is watched with
//! [`add_reader`](tulip::Loop::add_reader); a callback scheduled with
//! [`call_soon`](tulip::Loop::call_soon) "receives data from the network" by
//! writing `abc` to the other end. The reader prints what it got,
//! unregisters itself with [`remove_reader`](tulip::Loop::remove_reader) and
//! stops the loop. Output:
//!
//! ```text
//! Received: abc
//! ```
//!
//! The Python original:
//!
//! ```python
//! import asyncio
//! from socket import socketpair
//!
//! # Create a pair of connected file descriptors
//! rsock, wsock = socketpair()
//! loop = asyncio.get_event_loop()
//!
//! def reader():
//!     data = rsock.recv(100)
//!     print("Received:", data.decode())
//!     # We are done: unregister the file descriptor
//!     loop.remove_reader(rsock)
//!     # Stop the event loop
//!     loop.stop()
//!
//! # Register the file descriptor for read event
//! loop.add_reader(rsock, reader)
//!
//! # Simulate the reception of data from the network
//! loop.call_soon(wsock.send, 'abc'.encode())
//!
//! # Run the event loop
//! loop.run_forever()
//!
//! # We are done, close sockets and the event loop
//! rsock.close()
//! wsock.close()
//! loop.close()
//! ```
//!
//! Run it with `cargo run -p tulip-examples --bin watch_fd`.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::rc::Rc;

fn main() -> Result<(), tulip::Error> {
    // Create a pair of connected file descriptors
    let (rsock, wsock) = UnixStream::pair()?;
    let (rsock, wsock) = (Rc::new(rsock), Rc::new(wsock));
    let event_loop = tulip::new_event_loop()?;
    let lp = event_loop.handle();

    let reader = {
        let (rsock, lp) = (rsock.clone(), lp.clone());
        move || {
            let mut data = [0u8; 100];
            let n = (&*rsock).read(&mut data).expect("recv on the socket pair");
            println!("Received: {}", String::from_utf8_lossy(&data[..n]));
            // We are done: unregister the file descriptor
            lp.remove_reader(rsock.as_raw_fd());
            // Stop the event loop
            lp.stop();
        }
    };

    // Register the file descriptor for read event
    lp.add_reader(&*rsock, reader)?;

    // Simulate the reception of data from the network
    let sender = wsock.clone();
    lp.call_soon(move || {
        (&*sender)
            .write_all(b"abc")
            .expect("send on the socket pair")
    })?;

    // Run the event loop
    event_loop.run_forever()?;

    // We are done, close sockets and the event loop
    drop(rsock);
    drop(wsock);
    event_loop.close()?;
    Ok(())
}
