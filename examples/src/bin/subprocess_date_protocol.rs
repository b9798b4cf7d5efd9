//! Getting the current date from a subprocess with a `SubprocessProtocol`,
//! from the asyncio documentation (transports and protocols page,
//! "Loop.subprocess_exec() and SubprocessProtocol").
//!
//! [`subprocess_exec`](tulip::process::LoopProcessExt::subprocess_exec)
//! starts a child whose stdout is a pipe; `DateProtocol` collects what
//! arrives on it (`pipe_data_received`) and completes a future when the
//! child exits (`process_exited`). The output is one line:
//!
//! ```text
//! Current date: 2024-05-04 12:34:56.789012
//! ```
//!
//! The Python original:
//!
//! ```python
//! import asyncio
//! import sys
//!
//! class DateProtocol(asyncio.SubprocessProtocol):
//!     def __init__(self, exit_future):
//!         self.exit_future = exit_future
//!         self.output = bytearray()
//!         self.pipe_closed = False
//!         self.exited = False
//!
//!     def pipe_connection_lost(self, fd, exc):
//!         self.pipe_closed = True
//!         self.check_for_exit()
//!
//!     def pipe_data_received(self, fd, data):
//!         self.output.extend(data)
//!
//!     def process_exited(self):
//!         self.exited = True
//!         # process_exited() method can be called before
//!         # pipe_connection_lost() method: wait until both methods are
//!         # called.
//!         self.check_for_exit()
//!
//!     def check_for_exit(self):
//!         if self.pipe_closed and self.exited:
//!             self.exit_future.set_result(True)
//!
//! async def get_date():
//!     # Get a reference to the event loop as we plan to use
//!     # low-level APIs.
//!     loop = asyncio.get_running_loop()
//!
//!     code = 'import datetime as dt; print(dt.datetime.now())'
//!     exit_future = asyncio.Future(loop=loop)
//!
//!     # Create the subprocess controlled by DateProtocol;
//!     # redirect the standard output into a pipe.
//!     transport, protocol = await loop.subprocess_exec(
//!         lambda: DateProtocol(exit_future),
//!         sys.executable, '-c', code,
//!         stdin=None, stderr=None)
//!
//!     # Wait for the subprocess exit using the process_exited()
//!     # method of the protocol.
//!     await exit_future
//!
//!     # Close the stdout pipe.
//!     transport.close()
//!
//!     # Read the output which was collected by the
//!     # pipe_data_received() method of the protocol.
//!     data = bytes(protocol.output)
//!     return data.decode('ascii').rstrip()
//!
//! date = asyncio.run(get_date())
//! print(f"Current date: {date}")
//! ```
//!
//! The child is Python running one line of code (`sys.executable -c
//! code`); here it is this very program run again with the argument
//! `--print-date`, which prints the date as Python's
//! `str(datetime.datetime.now())` does.
//!
//! Run it with `cargo run -p tulip-examples --bin subprocess_date_protocol`.

use tulip::prelude::*;
use tulip::process::{Stdio, SubprocessOptions};

/// The argument that makes this program the child: it prints the date.
const PRINT_DATE: &str = "--print-date";

struct DateProtocol {
    exit_future: LoopFuture<bool>,
    output: Vec<u8>,
    pipe_closed: bool,
    exited: bool,
}

impl DateProtocol {
    fn check_for_exit(&mut self) {
        if self.pipe_closed && self.exited {
            let _ = self.exit_future.set_result(true);
        }
    }
}

impl BaseProtocol for DateProtocol {}

impl SubprocessProtocol for DateProtocol {
    fn pipe_connection_lost(&mut self, _fd: i32, _exc: Option<tulip::transport::Error>) {
        self.pipe_closed = true;
        self.check_for_exit();
    }

    fn pipe_data_received(&mut self, _fd: i32, data: &[u8]) {
        self.output.extend_from_slice(data);
    }

    fn process_exited(&mut self) {
        self.exited = true;
        // process_exited() can be called before pipe_connection_lost():
        // wait until both are called.
        self.check_for_exit();
    }
}

async fn get_date() -> Result<String, Error> {
    // Get a reference to the event loop as we plan to use
    // low-level APIs.
    let lp = get_running_loop()?;

    // Python's `sys.executable, '-c', code`.
    let program = std::env::current_exe()?;
    let exit_future = lp.create_future();

    // Create the subprocess controlled by DateProtocol;
    // redirect the standard output into a pipe.
    let factory = {
        let exit_future = exit_future.clone();
        move || DateProtocol {
            exit_future: exit_future.clone(),
            output: Vec::new(),
            pipe_closed: false,
            exited: false,
        }
    };
    let (transport, protocol) = lp
        .subprocess_exec(
            factory,
            program,
            [PRINT_DATE],
            SubprocessOptions::new()
                .stdin(Stdio::Inherit)
                .stderr(Stdio::Inherit),
        )
        .await?;

    // Wait for the subprocess exit using the process_exited()
    // method of the protocol.
    exit_future.await?;

    // Close the stdout pipe.
    transport.close();

    // Read the output which was collected by the
    // pipe_data_received() method of the protocol.
    let data = protocol.borrow().output.clone();
    Ok(String::from_utf8_lossy(&data).trim_end().to_string())
}

fn main() -> Result<(), Error> {
    if std::env::args().nth(1).as_deref() == Some(PRINT_DATE) {
        // Python's str(datetime.datetime.now())
        println!("{}", chrono::Local::now().format("%Y-%m-%d %H:%M:%S%.6f"));
        return Ok(());
    }
    let date = tulip::run(get_date())??;
    println!("Current date: {date}");
    Ok(())
}
