//! TLS against real external peers over loopback: `openssl s_server`
//! and `openssl s_client` (OpenSSL), and Python's `ssl` module as a
//! client. Certificates are made by the test (rcgen) and written to a
//! temporary directory for them.

mod common;
mod tls_support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rustls::CertificateError;
use tls_support::{Collect, Pki, Rec, tls_connect};
use tulip_test::{run, wait_until};
use tulip_transport::{ConnectOptions, LoopNetExt, ServerOptions};

/// `openssl s_server` answering each line reversed, for one connection.
struct SServer {
    child: Child,
    port: u16,
}

impl SServer {
    fn start(pki: &Pki, extra: &[&str]) -> SServer {
        let mut child = Command::new("openssl")
            .args([
                "s_server",
                "-accept",
                "127.0.0.1:0",
                "-naccept",
                "1",
                "-rev",
                "-cert",
            ])
            .arg(pki.cert_file())
            .arg("-key")
            .arg(pki.key_file())
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl is installed (.ci/run installs it)");
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        let port = loop {
            line.clear();
            assert!(
                out.read_line(&mut line).unwrap() > 0,
                "s_server ended early"
            );
            if let Some(addr) = line.trim().strip_prefix("ACCEPT ") {
                break addr.rsplit(':').next().unwrap().parse().unwrap();
            }
        };
        // Keep draining its output so it never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = std::io::Read::read_to_end(&mut out, &mut sink);
        });
        SServer { child, port }
    }
}

impl Drop for SServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn tulip_client_against_openssl_s_server() {
    let pki = Pki::new("tulip test CA");
    for (version, flags) in [("TLSv1.3", &[][..]), ("TLSv1.2", &["-tls1_2"][..])] {
        let alpn = [&["-alpn", "h2,http/1.1"], flags].concat();
        let server = SServer::start(&pki, &alpn);
        let port = server.port;
        let client = pki.client().alpn_protocols(&[b"http/1.1"]);
        run(async move {
            let (t, p) = tls_connect("localhost", port, ConnectOptions::new().tls(client))
                .await
                .unwrap();
            let info = t.tls_info().unwrap();
            assert_eq!(info.protocol_version.as_deref(), Some(version));
            assert_eq!(info.alpn_protocol.as_deref(), Some(&b"http/1.1"[..]));
            t.write(b"hello openssl\n").unwrap();
            assert!(wait_until(|| p.borrow().data.ends_with(b"\n")).await);
            assert_eq!(p.borrow().data, b"lssnepo olleh\n");
            t.close();
            assert!(wait_until(|| p.borrow().lost()).await);
            assert_eq!(
                p.borrow().lost_error.as_ref().map(ToString::to_string),
                None
            );
        });
        drop(server);
    }
}

#[test]
fn openssl_s_server_with_an_unknown_ca_is_refused() {
    let pki = Pki::new("tulip test CA");
    let other = Pki::new("another CA");
    let server = SServer::start(&pki, &[]);
    let port = server.port;
    run(async move {
        let err = tls_connect("localhost", port, ConnectOptions::new().tls(other.client()))
            .await
            .unwrap_err();
        assert_eq!(
            err.as_tls().and_then(|e| e.certificate_error()),
            Some(&CertificateError::UnknownIssuer),
            "{err:?}"
        );
    });
}

/// Runs `command` on a worker thread; its exit status and standard
/// output.
async fn output(mut command: Command) -> (bool, String) {
    let out = tulip_executor::to_thread(move || command.stdin(Stdio::null()).output())
        .await
        .unwrap()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn openssl_s_client_against_a_tulip_server() {
    let pki = Pki::new("tulip test CA");
    run(async move {
        let lp = tulip_executor::get_running_loop().unwrap();
        let (factory, made) = Collect::new(Rec::echo);
        let tls = pki.server().alpn_protocols(&[b"h2"]);
        let server = lp
            .create_server(factory, "127.0.0.1", 0, ServerOptions::new().tls(tls))
            .await
            .unwrap();
        let port = server.sockets()[0].inet_addr().unwrap().port();

        let mut client = Command::new("openssl");
        client
            .args([
                "s_client",
                "-quiet",
                "-verify_return_error",
                "-servername",
                "localhost",
            ])
            .args(["-verify_hostname", "localhost", "-alpn", "h2", "-CAfile"])
            .arg(pki.ca_file())
            .args(["-connect", &format!("127.0.0.1:{port}")])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = client.spawn().expect("openssl is installed");
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"ping from s_client\n").unwrap();
        assert!(
            wait_until(|| made
                .borrow()
                .first()
                .is_some_and(|p| p.borrow().data.ends_with(b"\n")))
            .await
        );
        let sp = made.borrow()[0].clone();
        let st = sp.borrow().transport.clone().unwrap();
        let info = st.tls_info().unwrap();
        assert_eq!(info.server_name.as_deref(), Some("localhost"));
        assert_eq!(info.alpn_protocol.as_deref(), Some(&b"h2"[..]));
        // Our close sends close_notify; s_client ends on it.
        st.close();
        let out = tulip_executor::to_thread(move || child.wait_with_output())
            .await
            .unwrap()
            .unwrap();
        drop(stdin);
        assert_eq!(String::from_utf8_lossy(&out.stdout), "ping from s_client\n");
        assert!(wait_until(|| sp.borrow().lost()).await);

        // A client that cannot verify us fails its handshake; we go on.
        let other = Pki::new("another CA");
        let mut refused = Command::new("openssl");
        refused
            .args(["s_client", "-verify_return_error", "-CAfile"])
            .arg(other.ca_file())
            .args(["-connect", &format!("127.0.0.1:{port}")]);
        let (ok, _) = output(refused).await;
        assert!(!ok, "s_client must refuse a certificate of an unknown CA");
        server.close();
        server.wait_closed().await;
    });
}

const PYTHON_CLIENT: &str = r#"
import socket, ssl, sys
cafile, port, hostname = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ctx = ssl.create_default_context(cafile=cafile)
ctx.set_alpn_protocols(["h2", "http/1.1"])
try:
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        with ctx.wrap_socket(sock, server_hostname=hostname) as tls:
            tls.sendall(b"hello from python\n")
            data = b""
            while not data.endswith(b"\n"):
                data += tls.recv(4096)
            big = bytes(range(256)) * 4096
            tls.sendall(big)
            back = b""
            while len(back) < len(big):
                back += tls.recv(65536)
            assert back == big, "the 1 MiB echo differs"
            print(tls.version(), tls.selected_alpn_protocol(), data.decode().strip())
            tls.unwrap()
except ssl.SSLCertVerificationError as e:
    print("verify failed:", e.verify_message)
"#;

#[test]
fn python_ssl_client_against_a_tulip_server() {
    let pki = Pki::new("tulip test CA");
    run(async move {
        let lp = tulip_executor::get_running_loop().unwrap();
        let (factory, made) = Collect::new(Rec::echo);
        let tls = pki.server().alpn_protocols(&[b"http/1.1"]);
        let server = lp
            .create_server(factory, "127.0.0.1", 0, ServerOptions::new().tls(tls))
            .await
            .unwrap();
        let port = server.sockets()[0].inet_addr().unwrap().port();
        let python = |hostname: &str| {
            let mut c = Command::new("python3");
            c.args(["-c", PYTHON_CLIENT])
                .arg(pki.ca_file())
                .arg(port.to_string())
                .arg(hostname)
                .stderr(Stdio::inherit());
            c
        };
        let (ok, out) = output(python("localhost")).await;
        assert!(ok);
        assert_eq!(out.trim(), "TLSv1.3 http/1.1 hello from python");
        assert!(wait_until(|| made.borrow().first().is_some_and(|p| p.borrow().lost())).await);
        {
            let p = made.borrow()[0].clone();
            let p = p.borrow();
            // Python's unwrap(): a close_notify each way, no error.
            assert_eq!(p.events_but_flow(), ["made", "eof", "lost"]);
            assert_eq!(p.data.len(), 18 + (1 << 20));
        }
        let (ok, out) = output(python("wrong.example")).await;
        assert!(ok);
        assert!(out.starts_with("verify failed"), "{out}");
        tulip_executor::sleep(Duration::from_millis(20)).await;
        assert!(made.borrow()[1].borrow().events.is_empty());
        server.close();
        server.wait_closed().await;
    });
}
