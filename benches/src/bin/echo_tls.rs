//! tulip's TLS echo server for the network benches: the Protocol API echo
//! of `echo_protocol` over TLS (`ServerOptions::tls`), so the protocol is
//! unchanged and the TLS layer sits between it and the socket.
//!
//! ```text
//! echo_tls [--addr HOST:PORT] [--cert CERT.pem --key KEY.pem]   # prints `listening on HOST:PORT`
//! ```

use tulip::transport::{LoopNetExt, ServerOptions, TlsServerConfig};
use tulip_benches::echo_protocol::Echo;
use tulip_benches::netbench::run_tulip_server_at;
use tulip_benches::tls::server_args;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = server_args("echo_tls");
    let tls = TlsServerConfig::from_pem(&args.cert_pem, &args.key_pem)?;
    run_tulip_server_at(args.addr, async move |host: String, port: u16| {
        let lp = tulip::get_running_loop()?;
        let options = ServerOptions::new().tls(tls);
        Ok(lp
            .create_server(Echo::default, host.as_str(), port, options)
            .await?)
    })
}
