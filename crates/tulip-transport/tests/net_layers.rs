//! Mixing layers, as asyncio users do: a `tulip::net` stream handed to a
//! transport and protocol (`into_std`, then `connect_accepted_socket`),
//! to asyncio's streams (`open_connection` and `open_unix_connection`
//! with `sock`), and a socket accepted with `sock_accept` taken into
//! `tulip::net` with `from_std`. Real data goes both ways each time, and
//! EOF crosses the layers.

mod net_support;

use std::os::fd::OwnedFd;

use net_support::{pattern, tcp_pair};
use tulip::get_running_loop;
use tulip::net::{TcpListener, TcpStream, UnixStream};
use tulip::streams::{ConnectOptions, open_connection, open_unix_connection};
use tulip::transport::{
    AcceptedSocketOptions, BaseProtocol, Error, LoopNetExt, Protocol, Transport, UnixConnectOptions,
};
use tulip_test::{run, wait_until};

/// Greets, answers every chunk in capitals, and records the EOF and the
/// end of the connection.
#[derive(Default)]
struct Shout {
    transport: Option<Transport>,
    received: usize,
    eof: bool,
    lost: bool,
}

impl BaseProtocol for Shout {
    fn connection_lost(&mut self, _exc: Option<Error>) {
        self.lost = true;
    }
}

impl Protocol for Shout {
    fn connection_made(&mut self, transport: Transport) {
        transport.write(b"hello\n").unwrap();
        self.transport = Some(transport);
    }
    fn data_received(&mut self, data: &[u8]) {
        self.received += data.len();
        let t = self.transport.as_ref().unwrap();
        t.write(&data.to_ascii_uppercase()).unwrap();
    }
    fn eof_received(&mut self) -> bool {
        self.eof = true;
        // Keep the writing side open to say goodbye, then close.
        let t = self.transport.as_ref().unwrap();
        t.write(b"bye\n").unwrap();
        t.close();
        true
    }
}

#[test]
fn a_net_stream_becomes_a_transport_with_a_protocol() {
    run(async {
        let lp = get_running_loop().unwrap();
        let (client, served) = tcp_pair().await;
        let fd = OwnedFd::from(served.into_std().unwrap());
        let (transport, shout) = lp
            .connect_accepted_socket(Shout::default, fd, AcceptedSocketOptions::new())
            .await
            .unwrap();
        let mut greeting = [0; 6];
        client.read_exact(&mut greeting).await.unwrap();
        assert_eq!(&greeting, b"hello\n");
        // A megabyte through the protocol and back, read as it comes.
        let data: Vec<u8> = pattern(1 << 20, 0).iter().map(|b| b'a' + b % 26).collect();
        let (sent, got) = futures_util::future::join(client.write_all(&data), async {
            let mut got = vec![0; data.len()];
            client.read_exact(&mut got).await.map(|_| got)
        })
        .await;
        sent.unwrap();
        assert!(got.unwrap() == data.to_ascii_uppercase());
        // EOF from the net stream reaches eof_received; the protocol's
        // goodbye and close reach the net stream.
        client.close().await.unwrap();
        let mut rest = Vec::new();
        tulip::io::AsyncReadExt::read_to_end(&mut &client, &mut rest)
            .await
            .unwrap();
        assert_eq!(rest, b"bye\n");
        assert!(wait_until(|| shout.borrow().lost).await);
        assert!(shout.borrow().eof);
        assert_eq!(shout.borrow().received, data.len());
        assert!(transport.is_closing());
    });
}

#[test]
fn a_net_tcp_stream_becomes_asyncio_streams() {
    run(async {
        let (client, peer) = tcp_pair().await;
        let fd = OwnedFd::from(client.into_std().unwrap());
        let (mut reader, writer) = open_connection("", 0, ConnectOptions::new().sock(fd))
            .await
            .unwrap();
        // streams -> net
        writer.write(b"from the streams\n").unwrap();
        writer.drain().await.unwrap();
        let mut buf = [0; 17];
        peer.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"from the streams\n");
        // net -> streams, a large body and a line.
        let data = pattern(500_000, 4);
        peer.write_all(&data).await.unwrap();
        peer.write_all(b"line\n").await.unwrap();
        assert!(reader.readexactly(data.len()).await.unwrap() == data);
        assert_eq!(reader.readline().await.unwrap(), b"line\n");
        // EOF both ways.
        peer.close().await.unwrap();
        assert!(reader.read_to_eof().await.unwrap().is_empty());
        assert!(reader.at_eof());
        writer.write_eof().unwrap();
        let mut end = [0; 1];
        assert_eq!(peer.read(&mut end).await.unwrap(), 0);
        writer.close();
        writer.wait_closed().await.unwrap();
    });
}

#[test]
fn a_net_unix_stream_becomes_asyncio_streams() {
    run(async {
        let (ours, peer) = UnixStream::pair().unwrap();
        let fd = OwnedFd::from(ours.into_std().unwrap());
        let (mut reader, writer) = open_unix_connection(None, UnixConnectOptions::new().sock(fd))
            .await
            .unwrap();
        peer.write_all(b"ping\n").await.unwrap();
        assert_eq!(reader.readline().await.unwrap(), b"ping\n");
        writer.write(b"pong\n").unwrap();
        writer.drain().await.unwrap();
        let mut buf = [0; 5];
        peer.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"pong\n");
        writer.close();
        writer.wait_closed().await.unwrap();
        let mut end = [0; 1];
        assert_eq!(peer.read(&mut end).await.unwrap(), 0);
    });
}

#[test]
fn a_socket_accepted_with_sock_accept_comes_into_net() {
    run(async {
        let lp = get_running_loop().unwrap();
        // A listener of the low-level layer, its connection taken into
        // tulip::net; and the reverse for the listener itself.
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        std_listener.set_nonblocking(true).unwrap();
        let port = std_listener.local_addr().unwrap().port();
        let connecting = tulip::spawn(TcpStream::connect("127.0.0.1", port));
        let (fd, peer) = lp.sock_accept(&std_listener).await.unwrap();
        let client = connecting.await.unwrap().unwrap();
        assert!(peer.is_some());
        let served = TcpStream::from_std(std::net::TcpStream::from(fd)).unwrap();
        assert_eq!(served.peer_addr().unwrap(), client.local_addr().unwrap());
        served.write_all(b"from sock_accept").await.unwrap();
        let mut buf = [0; 16];
        client.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"from sock_accept");
        client.write_all(b"back").await.unwrap();
        served.read_exact(&mut buf[..4]).await.unwrap();
        assert_eq!(&buf[..4], b"back");
        // The std listener under tulip::net now.
        let listener = TcpListener::from_std(std_listener).unwrap();
        let _c = TcpStream::connect("127.0.0.1", port).await.unwrap();
        listener.accept().await.unwrap();
    });
}
