//! The `Send` / `Sync` status of every public type of `tulip-transport`,
//! checked at compile time (design §8). Everything tied to a loop is
//! `!Send`; addresses, errors, options and DNS results cross threads.
//!
//! | type | Send | Sync | why |
//! |---|---|---|---|
//! | `Transport`, `DatagramTransport`, `Server`, `ProtocolRef` | no | no | `Rc` of loop-side state |
//! | `FlowControl` | yes | no | `Cell`s; lives inside a transport |
//! | `Error`, `GaiError` | yes | yes | `Arc`ed I/O errors, plain values |
//! | `SockAddr`, `UnixAddr`, `AddressFamily`, `SockType`, `ExtraInfo` | yes | yes | plain values |
//! | `AddrInfo`, `AddrInfoOptions`, `NameInfoFlags` | yes | yes | plain values |
//! | `ConnectOptions`, `ServerOptions`, `DatagramOptions`, `UnixConnectOptions`, `UnixServerOptions` | yes | yes | plain values and `OwnedFd`s |
//! | `Hosts`, `ServerSocket` | yes | yes | plain values |
//! | `AcceptedSocketOptions`, `StartTlsOptions`, `TlsClientConfig`, `TlsServerConfig`, `TlsConfig`, `TlsError`, `TlsInfo` | yes | yes | plain values and `Arc`ed rustls configurations |
//! | `Buffered<F>` | as `F` | as `F` | a wrapper |
//! | `net::{TcpListener, TcpStream, UnixListener, UnixStream, UdpSocket}` | no | no | registered with one loop (an `Rc` of its reactor source) |
//! | `net::{ReadHalf, WriteHalf, OwnedReadHalf, OwnedWriteHalf}` | no | no | a borrow or an `Rc` of a stream |
//! | `net::ReuniteError` | no | no | holds two owned halves |
//!
//! `!Send` is proven with `tulip_test::auto_traits`, the ambiguous-impl technique of the
//! `static_assertions` crate, as in `tulip-executor`'s table; the
//! `compile_fail` doctests on `Server` and `DatagramTransport` prove it
//! from the outside.

use tulip_transport::{
    AcceptedSocketOptions, StartTlsOptions, TlsClientConfig, TlsConfig, TlsError, TlsInfo,
    TlsServerConfig,
};
use tulip_transport::{
    AddrInfo, AddrInfoOptions, AddressFamily, Buffered, ConnectOptions, DatagramOptions,
    DatagramTransport, Error, ExtraInfo, FlowControl, GaiError, Hosts, NameInfoFlags, ProtocolRef,
    Server, ServerOptions, ServerSocket, SockAddr, SockType, Transport, UnixAddr,
    UnixConnectOptions, UnixServerOptions,
};

use tulip_transport::net::{
    OwnedReadHalf, OwnedWriteHalf, ReadHalf, ReuniteError, TcpListener, TcpStream, UdpSocket,
    UnixListener, UnixStream, WriteHalf,
};

use tulip_test::{auto_traits::is_send, not_send, not_sync, send_sync};

#[test]
fn sockets_belong_to_their_loop() {
    not_send!(
        TcpListener,
        TcpStream,
        UnixListener,
        UnixStream,
        UdpSocket,
        ReadHalf<'static, TcpStream>,
        WriteHalf<'static, TcpStream>,
        OwnedReadHalf<TcpStream>,
        OwnedWriteHalf<UnixStream>,
        ReuniteError<TcpStream>
    );
    not_sync!(
        TcpListener,
        TcpStream,
        UnixListener,
        UnixStream,
        UdpSocket,
        ReadHalf<'static, TcpStream>,
        WriteHalf<'static, TcpStream>,
        OwnedReadHalf<TcpStream>,
        OwnedWriteHalf<UnixStream>,
        ReuniteError<TcpStream>
    );
}

#[test]
fn loop_side_types_are_neither_send_nor_sync() {
    not_send!(Transport, DatagramTransport, Server, ProtocolRef);
    not_sync!(
        Transport,
        DatagramTransport,
        Server,
        ProtocolRef,
        FlowControl
    );
    is_send::<FlowControl>();
}

#[test]
fn values_cross_threads() {
    send_sync!(
        Error,
        GaiError,
        SockAddr,
        UnixAddr,
        AddressFamily,
        SockType,
        ExtraInfo,
        AddrInfo,
        AddrInfoOptions,
        NameInfoFlags,
        ConnectOptions,
        ServerOptions,
        DatagramOptions,
        UnixConnectOptions,
        UnixServerOptions,
        Hosts,
        ServerSocket,
        Buffered<fn() -> u8>,
        AcceptedSocketOptions,
        StartTlsOptions,
        TlsClientConfig,
        TlsServerConfig,
        TlsConfig,
        TlsError,
        TlsInfo,
    );
}
