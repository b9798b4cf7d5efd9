//! The TLS echo server of the network benches on tokio's current-thread
//! runtime with tokio-rustls (the same rustls and ring provider as tulip),
//! the peer of `echo_tls`: accept, handshake, then read and write back
//! until the client's close_notify, then close_notify in turn.
//!
//! ```text
//! echo_tls_tokio [--addr HOST:PORT] [--cert CERT.pem --key KEY.pem]   # prints `listening on HOST:PORT`
//! ```

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsAcceptor;
use tulip_benches::netbench::serve_tokio_at;
use tulip_benches::tls::{rustls_server_config, server_args};

/// Bytes read at once (a TLS record's worth).
const BUF: usize = 16 * 1024;

fn main() -> std::io::Result<()> {
    let args = server_args("echo_tls_tokio");
    let acceptor = TlsAcceptor::from(rustls_server_config(&args.cert_pem, &args.key_pem)?);
    serve_tokio_at("echo_tls_tokio", args.addr, move |stream| {
        let acceptor = acceptor.clone();
        async move {
            let mut tls = acceptor.accept(stream).await?;
            let mut buf = vec![0u8; BUF];
            loop {
                let n = tls.read(&mut buf).await?;
                if n == 0 {
                    break;
                }
                tls.write_all(&buf[..n]).await?;
            }
            tls.shutdown().await
        }
    })
}
