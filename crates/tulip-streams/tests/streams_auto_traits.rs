//! The `Send` / `Sync` status of every public type of `tulip-streams`,
//! checked at compile time (design §8). Streams live on their loop's
//! thread (`Rc`, `RefCell`): the readers, writers, feeders, protocols and
//! factories are `!Send` and `!Sync`; the errors cross threads.
//!
//! | type | Send | Sync | why |
//! |---|---|---|---|
//! | `StreamReader`, `StreamWriter`, `StreamFeeder` | no | no | `Rc` connection state |
//! | `StreamReaderProtocol`, `StreamProtocolFactory` | no | no | `Rc`/`Weak` state and callbacks |
//! | `Error`, `IncompleteReadError`, `LimitOverrunError` | yes | yes | plain data and `Arc`ed OS errors |
//! | `StreamOptions<O>` | as `O` | as `O` | a limit and the transport options |
//!
//! `!Send`/`!Sync` is proven with the ambiguous-impl technique of
//! `tulip_test::auto_traits`: the
//! `some_item` path resolves only when exactly one impl applies, i.e. when
//! the type is not `Send` (or not `Sync`).

use tulip_streams::{
    ConnectOptions, Error, IncompleteReadError, LimitOverrunError, StreamFeeder, StreamOptions,
    StreamProtocolFactory, StreamReader, StreamReaderProtocol, StreamWriter,
};

use tulip_test::auto_traits::{is_send, is_sync};
use tulip_test::neither_send_nor_sync;

#[test]
fn streams_stay_on_their_thread() {
    neither_send_nor_sync!(
        StreamReader,
        StreamWriter,
        StreamFeeder,
        StreamReaderProtocol,
        StreamProtocolFactory,
    );
}

#[test]
fn errors_cross_threads() {
    is_send::<Error>();
    is_sync::<Error>();
    is_send::<IncompleteReadError>();
    is_sync::<IncompleteReadError>();
    is_send::<LimitOverrunError>();
    is_sync::<LimitOverrunError>();
    is_send::<StreamOptions<ConnectOptions>>();
    is_sync::<StreamOptions<ConnectOptions>>();
}
