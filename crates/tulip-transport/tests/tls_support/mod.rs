//! Helpers shared by the TLS tests: certificates made with rcgen (a CA, a
//! server certificate signed by it for `localhost`, `127.0.0.1` and
//! `::1`), their files for external peers, a recording protocol (its
//! `BaseProtocol` part from `common`, which each test binary declares), and
//! a server and a client that use it. The loop runner and `wait_until`
//! come from `tulip-test`.

#![allow(dead_code)]

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use tulip_test::wait_until;
use tulip_transport::{Error, Protocol, TlsClientConfig, TlsServerConfig, Transport};

/// A CA and a server certificate it signed.
pub struct Pki {
    pub ca_pem: String,
    pub ca_der: Vec<u8>,
    pub cert_pem: String,
    pub cert_der: Vec<u8>,
    pub key_pem: String,
    /// The files of the above, for openssl and Python.
    pub dir: tempfile::TempDir,
}

impl Pki {
    /// A fresh CA named `ca_name` and a server certificate for
    /// `localhost`, `127.0.0.1` and `::1`.
    pub fn new(ca_name: &str) -> Pki {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, ca_name);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "::1".to_owned(),
        ])
        .unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let pki = Pki {
            ca_pem: ca.pem(),
            ca_der: ca.der().to_vec(),
            cert_pem: cert.pem(),
            cert_der: cert.der().to_vec(),
            key_pem: key.serialize_pem(),
            dir,
        };
        std::fs::write(pki.ca_file(), &pki.ca_pem).unwrap();
        std::fs::write(pki.cert_file(), &pki.cert_pem).unwrap();
        std::fs::write(pki.key_file(), &pki.key_pem).unwrap();
        pki
    }

    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    pub fn cert_file(&self) -> PathBuf {
        self.dir.path().join("cert.pem")
    }

    pub fn key_file(&self) -> PathBuf {
        self.dir.path().join("key.pem")
    }

    pub fn server(&self) -> TlsServerConfig {
        TlsServerConfig::from_pem(self.cert_pem.as_bytes(), self.key_pem.as_bytes()).unwrap()
    }

    pub fn client(&self) -> TlsClientConfig {
        TlsClientConfig::with_ca_pem(self.ca_pem.as_bytes()).unwrap()
    }
}

/// Records every callback; echoes when asked.
#[derive(Default, Debug)]
pub struct Rec {
    pub events: Vec<String>,
    pub data: Vec<u8>,
    pub transport: Option<Transport>,
    pub echo: bool,
    pub pause_on_connect: bool,
    pub lost_error: Option<Error>,
}

impl Rec {
    pub fn echo() -> Rec {
        Rec {
            echo: true,
            ..Rec::default()
        }
    }

    pub fn has(&self, what: &str) -> bool {
        self.events.iter().any(|e| e == what)
    }

    /// Whether writing is paused now (the last flow-control call was
    /// `pause_writing`). On a loop with completions a pass's writes count
    /// until their send completes, so short pauses come and go even when
    /// the peer reads.
    pub fn paused(&self) -> bool {
        self.events
            .iter()
            .rev()
            .find(|e| *e == "pause" || *e == "resume")
            .is_some_and(|e| e == "pause")
    }

    /// The events but the flow-control ones, which must come in pairs.
    pub fn events_but_flow(&self) -> Vec<&str> {
        let pauses = self.events.iter().filter(|e| *e == "pause").count();
        let resumes = self.events.iter().filter(|e| *e == "resume").count();
        assert_eq!(pauses, resumes, "unpaired flow control: {:?}", self.events);
        self.events
            .iter()
            .map(String::as_str)
            .filter(|e| *e != "pause" && *e != "resume")
            .collect()
    }
}

crate::recording_base_protocol!(Rec);

impl Protocol for Rec {
    fn connection_made(&mut self, transport: Transport) {
        self.events.push("made".into());
        if self.pause_on_connect {
            transport.pause_reading();
        }
        self.transport = Some(transport);
    }
    fn data_received(&mut self, data: &[u8]) {
        self.data.extend_from_slice(data);
        if self.echo {
            if let Some(t) = &self.transport {
                t.write(data).unwrap();
            }
        }
    }
    fn eof_received(&mut self) -> bool {
        self.events.push("eof".into());
        false
    }
}

/// A shared slot a server factory puts each protocol in.
pub type Slot = Rc<RefCell<Vec<Rc<RefCell<Rec>>>>>;

/// A server factory that keeps every protocol it makes in `made`.
pub struct Collect {
    pub made: Slot,
    pub make: Box<dyn FnMut() -> Rec>,
}

impl Collect {
    pub fn new(make: impl FnMut() -> Rec + 'static) -> (Collect, Slot) {
        let made: Slot = Rc::default();
        (
            Collect {
                made: made.clone(),
                make: Box::new(make),
            },
            made,
        )
    }
}

impl tulip_transport::ProtocolFactory for Collect {
    type Protocol = Rec;

    fn build(
        &mut self,
    ) -> tulip_transport::Result<(Rc<RefCell<Rec>>, tulip_transport::ProtocolRef)> {
        let p = Rc::new(RefCell::new((self.make)()));
        self.made.borrow_mut().push(p.clone());
        Ok((p.clone(), tulip_transport::ProtocolRef::plain(p)))
    }
}

/// A server on 127.0.0.1 (with `options`, which give it TLS) whose protocols `make` makes: the server,
/// its port, its protocols.
pub async fn tls_server(
    options: tulip_transport::ServerOptions,
    make: impl FnMut() -> Rec + 'static,
) -> (tulip_transport::Server, u16, Slot) {
    use tulip_transport::LoopNetExt;
    let lp = tulip_executor::get_running_loop().unwrap();
    let (factory, made) = Collect::new(make);
    let server = lp
        .create_server(factory, "127.0.0.1", 0, options)
        .await
        .unwrap();
    let port = server.sockets()[0].inet_addr().unwrap().port();
    (server, port, made)
}

/// A client connection with a recording protocol.
pub async fn tls_connect(
    host: &str,
    port: u16,
    options: tulip_transport::ConnectOptions,
) -> tulip_transport::Result<tulip_transport::Connection<Rec>> {
    use tulip_transport::LoopNetExt;
    let lp = tulip_executor::get_running_loop().unwrap();
    lp.create_connection(Rec::default, host, port, options)
        .await
}

/// The protocol `made[i]` once it is connected, and its transport.
pub async fn connected(made: &Slot, i: usize) -> (Rc<RefCell<Rec>>, Transport) {
    assert!(wait_until(|| made.borrow().get(i).is_some_and(|p| p.borrow().has("made"))).await);
    let p = made.borrow()[i].clone();
    let t = p.borrow().transport.clone().unwrap();
    (p, t)
}

/// A TCP peer on a new port that reads everything (a client hello) and
/// never answers: its port, and the thread that returns how many bytes
/// it read once the other side closed or reset the connection (an
/// aborted connection is reset).
pub fn silent_peer() -> (u16, std::thread::JoinHandle<std::io::Result<usize>>) {
    use std::io::Read;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let peer = std::thread::spawn(move || {
        let (mut s, _) = listener.accept()?;
        let (mut got, mut buf) = (0, [0u8; 4096]);
        loop {
            match s.read(&mut buf) {
                Ok(0) => return Ok(got),
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Ok(got),
                Err(e) => return Err(e),
            }
        }
    });
    (port, peer)
}
