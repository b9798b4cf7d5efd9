//! Getting the current date from a subprocess with
//! `create_subprocess_exec`, from the asyncio documentation (subprocesses
//! page, "Examples").
//!
//! [`create_subprocess_exec`]
//! starts a child with its stdout on a pipe, which the [`Process`] holds
//! as a [`StreamReader`]: one `readline`
//! gives the date, then `wait` waits for the exit. The output is one line:
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
//! async def get_date():
//!     code = 'import datetime as dt; print(dt.datetime.now())'
//!
//!     # Create the subprocess; redirect the standard output
//!     # into a pipe.
//!     proc = await asyncio.create_subprocess_exec(
//!         sys.executable, '-c', code,
//!         stdout=asyncio.subprocess.PIPE)
//!
//!     # Read one line of output.
//!     data = await proc.stdout.readline()
//!     line = data.decode('ascii').rstrip()
//!
//!     # Wait for the subprocess exit.
//!     await proc.wait()
//!     return line
//!
//! date = asyncio.run(get_date())
//! print(f"Current date: {date}")
//! ```
//!
//! As in `subprocess_date_protocol`, the child is this very program run
//! again with the argument `--print-date` (Python's `sys.executable -c
//! code`).
//!
//! Run it with `cargo run -p tulip-examples --bin subprocess_date`.
//!
//! [`Process`]: tulip::process::Process

use tulip::prelude::*;
use tulip::process::{Stdio, SubprocessOptions};

/// The argument that makes this program the child: it prints the date.
const PRINT_DATE: &str = "--print-date";

async fn get_date() -> Result<String, Error> {
    // Python's `sys.executable, '-c', code`.
    let program = std::env::current_exe()?;

    // Create the subprocess; redirect the standard output
    // into a pipe.
    let mut proc = create_subprocess_exec(
        program,
        [PRINT_DATE],
        SubprocessOptions::new().stdout(Stdio::Pipe),
    )
    .await?;

    // Read one line of output.
    let stdout = proc
        .stdout
        .as_mut()
        .ok_or(Error::InvalidState("no stdout pipe"))?;
    let data = stdout.readline().await?;
    let line = String::from_utf8_lossy(&data).trim_end().to_string();

    // Wait for the subprocess exit.
    proc.wait().await;
    Ok(line)
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
