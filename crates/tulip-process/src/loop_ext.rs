//! The loop's subprocess methods (asyncio's `loop.subprocess_exec` and
//! `loop.subprocess_shell`), as an extension trait on [`Loop`] so that
//! `lp.subprocess_exec(...)` reads as in asyncio. It is in
//! `tulip::prelude`.

use std::cell::RefCell;
use std::ffi::OsStr;
use std::process::Command;
use std::rc::Rc;

use tulip_executor::Loop;

use crate::base_subprocess::{self, PipeMode, SubprocessTransport};
use crate::error::Result;
use crate::options::SubprocessOptions;
use crate::protocol::SubprocessProtocolFactory;
use crate::spawn::{self, Defaults};

/// A subprocess's transport and its protocol.
///
/// ```
/// use tulip::prelude::*;
/// use tulip::process::{SubprocessConnection, SubprocessOptions};
///
/// struct Quiet;
/// impl BaseProtocol for Quiet {}
/// impl SubprocessProtocol for Quiet {}
///
/// tulip::run(async {
///     let lp = get_running_loop()?;
///     let connection: SubprocessConnection<Quiet> =
///         lp.subprocess_exec(|| Quiet, "true", [] as [&str; 0], SubprocessOptions::new()).await?;
///     let (transport, _protocol) = connection;
///     assert!(transport.get_pid() > 0);
///     transport.close(); // kills the child if it still runs
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub type SubprocessConnection<P> = (SubprocessTransport, Rc<RefCell<P>>);

/// asyncio's subprocess methods of the event loop.
///
/// Each starts the child at once (through `std::process::Command`),
/// connects its pipes, calls the protocol's `connection_made`, and
/// returns the transport and the protocol. The standard streams default
/// to pipes, as asyncio's loop methods (see [`SubprocessOptions`]).
///
/// Options are [`SubprocessOptions`] (the standard streams, `cwd`, `env`,
/// `process_group`, `kill_on_drop`); each method lists its errors.
///
/// # Cancel safety
///
/// Cancelled before it returns, the child is killed (and reaped) and its
/// pipes closed; the protocol hears nothing.
///
/// ```
/// use tulip::prelude::*;
/// use tulip::process::SubprocessOptions;
///
/// /// Collects the child's stdout; `done` is set once everything is over.
/// struct Collect {
///     output: Vec<u8>,
///     done: LoopFuture<()>,
/// }
///
/// impl BaseProtocol for Collect {
///     // Comes once, last: the child has exited and its pipes are closed.
///     fn connection_lost(&mut self, _exc: Option<tulip::transport::Error>) {
///         let _ = self.done.set_result(());
///     }
/// }
///
/// impl SubprocessProtocol for Collect {
///     fn pipe_data_received(&mut self, fd: i32, data: &[u8]) {
///         if fd == 1 {
///             self.output.extend_from_slice(data);
///         }
///     }
/// }
///
/// async fn main_task() -> Result<(), Box<dyn std::error::Error>> {
///     let lp = get_running_loop()?;
///     let done = lp.create_future();
///     let factory = {
///         let done = done.clone();
///         move || Collect { output: Vec::new(), done: done.clone() }
///     };
///     let (transport, protocol) = lp
///         .subprocess_shell(factory, "echo one; echo two", SubprocessOptions::new())
///         .await?;
///     done.await?;
///     assert_eq!(protocol.borrow().output, b"one\ntwo\n");
///     assert_eq!(transport.get_returncode(), Some(0));
///     Ok(())
/// }
///
/// tulip::run(main_task())??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
// The futures are !Send by design (one loop per thread), so the lint about
// unnameable Send bounds of async trait methods does not apply.
#[allow(async_fn_in_trait)]
pub trait LoopProcessExt {
    /// Runs `program` with `args` (asyncio's `subprocess_exec`). `program`
    /// is looked up in `PATH` unless it contains a `/`.
    ///
    /// Errors: [`Error::Io`](crate::Error::Io) when the program cannot be
    /// started (`NotFound` for a missing one) or a pipe cannot be made;
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) for
    /// `Stdio::Stdout` on stdin or stdout; a closed loop; a
    /// `tulip::transport::Fallible` factory's error (see
    /// [`Error::as_protocol_factory`](crate::Error::as_protocol_factory)),
    /// returned before anything is spawned.
    ///
    /// ```
    /// use tulip::prelude::*;
    /// use tulip::process::SubprocessOptions;
    ///
    /// /// Hands the child's stdout to `done` once everything is over.
    /// struct Output {
    ///     data: Vec<u8>,
    ///     done: LoopFuture<Vec<u8>>,
    /// }
    /// impl BaseProtocol for Output {
    ///     fn connection_lost(&mut self, _exc: Option<tulip::transport::Error>) {
    ///         let _ = self.done.set_result(std::mem::take(&mut self.data));
    ///     }
    /// }
    /// impl SubprocessProtocol for Output {
    ///     fn pipe_data_received(&mut self, fd: i32, data: &[u8]) {
    ///         if fd == 1 {
    ///             self.data.extend_from_slice(data);
    ///         }
    ///     }
    /// }
    ///
    /// tulip::run(async {
    ///     let lp = get_running_loop()?;
    ///     let done = lp.create_future();
    ///     let factory = {
    ///         let done = done.clone();
    ///         move || Output { data: Vec::new(), done: done.clone() }
    ///     };
    ///     // No shell: the arguments reach the program as they are.
    ///     let (transport, _) = lp
    ///         .subprocess_exec(factory, "printf", ["%s|%s", "a b", "$HOME"], SubprocessOptions::new())
    ///         .await?;
    ///     assert_eq!(done.await?, b"a b|$HOME");
    ///     assert_eq!(transport.get_returncode(), Some(0));
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    async fn subprocess_exec<F, I, S>(
        &self,
        factory: F,
        program: impl AsRef<OsStr>,
        args: I,
        options: SubprocessOptions,
    ) -> Result<SubprocessConnection<F::Protocol>>
    where
        F: SubprocessProtocolFactory,
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>;

    /// Runs `cmd` with the shell, `/bin/sh -c cmd` (asyncio's
    /// `subprocess_shell`). Quote what goes into `cmd` yourself.
    ///
    /// ```
    /// use tulip::prelude::*;
    /// use tulip::process::SubprocessOptions;
    ///
    /// # // Hands the child's stdout to `done` once everything is over.
    /// # struct Output {
    /// #     data: Vec<u8>,
    /// #     done: LoopFuture<Vec<u8>>,
    /// # }
    /// # impl BaseProtocol for Output {
    /// #     fn connection_lost(&mut self, _exc: Option<tulip::transport::Error>) {
    /// #         let _ = self.done.set_result(std::mem::take(&mut self.data));
    /// #     }
    /// # }
    /// # impl SubprocessProtocol for Output {
    /// #     fn pipe_data_received(&mut self, fd: i32, data: &[u8]) {
    /// #         if fd == 1 {
    /// #             self.data.extend_from_slice(data);
    /// #         }
    /// #     }
    /// # }
    ///
    /// tulip::run(async {
    ///     let lp = get_running_loop()?;
    ///     let done = lp.create_future();
    ///     let factory = {
    ///         let done = done.clone();
    ///         move || Output { data: Vec::new(), done: done.clone() }
    ///     };
    ///     let (transport, _) = lp
    ///         .subprocess_shell(factory, "echo one | tr a-z A-Z", SubprocessOptions::new())
    ///         .await?;
    ///     assert_eq!(done.await?, b"ONE\n");
    ///     assert_eq!(transport.get_returncode(), Some(0));
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    async fn subprocess_shell<F>(
        &self,
        factory: F,
        cmd: impl AsRef<OsStr>,
        options: SubprocessOptions,
    ) -> Result<SubprocessConnection<F::Protocol>>
    where
        F: SubprocessProtocolFactory;

    /// Runs a `Command` built by hand, for what the options do not cover
    /// (`uid`, `gid`, `arg0`, a `pre_exec` hook). Its standard streams
    /// stay as set on it (`Stdio::piped()` ones become pipe transports)
    /// unless the options set them.
    ///
    /// ```
    /// use tulip::prelude::*;
    /// use tulip::process::SubprocessOptions;
    /// use std::os::unix::process::CommandExt;
    /// use std::process::Command;
    ///
    /// # // Hands the child's stdout to `done` once everything is over.
    /// # struct Output {
    /// #     data: Vec<u8>,
    /// #     done: LoopFuture<Vec<u8>>,
    /// # }
    /// # impl BaseProtocol for Output {
    /// #     fn connection_lost(&mut self, _exc: Option<tulip::transport::Error>) {
    /// #         let _ = self.done.set_result(std::mem::take(&mut self.data));
    /// #     }
    /// # }
    /// # impl SubprocessProtocol for Output {
    /// #     fn pipe_data_received(&mut self, fd: i32, data: &[u8]) {
    /// #         if fd == 1 {
    /// #             self.data.extend_from_slice(data);
    /// #         }
    /// #     }
    /// # }
    ///
    /// tulip::run(async {
    ///     let lp = get_running_loop()?;
    ///     let done = lp.create_future();
    ///     let factory = {
    ///         let done = done.clone();
    ///         move || Output { data: Vec::new(), done: done.clone() }
    ///     };
    ///     // `arg0`: what the child sees as its own name.
    ///     let mut command = Command::new("sh");
    ///     command.arg0("renamed").args(["-c", "echo $0"]);
    ///     command.stdout(std::process::Stdio::piped()); // becomes a pipe transport
    ///     let (transport, _) = lp.subprocess_command(factory, command, SubprocessOptions::new()).await?;
    ///     assert_eq!(done.await?, b"renamed\n");
    ///     assert_eq!(transport.get_returncode(), Some(0));
    ///     Ok::<(), Box<dyn std::error::Error>>(())
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    async fn subprocess_command<F>(
        &self,
        factory: F,
        command: Command,
        options: SubprocessOptions,
    ) -> Result<SubprocessConnection<F::Protocol>>
    where
        F: SubprocessProtocolFactory;
}

impl LoopProcessExt for Loop {
    async fn subprocess_exec<F, I, S>(
        &self,
        factory: F,
        program: impl AsRef<OsStr>,
        args: I,
        options: SubprocessOptions,
    ) -> Result<SubprocessConnection<F::Protocol>>
    where
        F: SubprocessProtocolFactory,
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let cmd = spawn::exec_command(program, args);
        start(self, factory, cmd, options, Defaults::Pipe).await
    }

    async fn subprocess_shell<F>(
        &self,
        factory: F,
        cmd: impl AsRef<OsStr>,
        options: SubprocessOptions,
    ) -> Result<SubprocessConnection<F::Protocol>>
    where
        F: SubprocessProtocolFactory,
    {
        let cmd = spawn::shell_command(cmd);
        start(self, factory, cmd, options, Defaults::Pipe).await
    }

    async fn subprocess_command<F>(
        &self,
        factory: F,
        command: Command,
        options: SubprocessOptions,
    ) -> Result<SubprocessConnection<F::Protocol>>
    where
        F: SubprocessProtocolFactory,
    {
        start(self, factory, command, options, Defaults::Command).await
    }
}

async fn start<F: SubprocessProtocolFactory>(
    lp: &Loop,
    mut factory: F,
    cmd: Command,
    options: SubprocessOptions,
    defaults: Defaults,
) -> Result<SubprocessConnection<F::Protocol>> {
    let protocol = factory.build()?;
    let (transport, _) = base_subprocess::start(
        lp,
        protocol.clone(),
        cmd,
        options,
        defaults,
        PipeMode::Forward,
    )
    .await?;
    Ok((transport, protocol))
}
