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
//! `!Send`/`!Sync` is proven with the ambiguous-impl technique: the
//! `some_item` path resolves only when exactly one impl applies, i.e. when
//! the type is not `Send` (or not `Sync`).

use tulip_streams::{
    ConnectOptions, Error, IncompleteReadError, LimitOverrunError, StreamFeeder, StreamOptions,
    StreamProtocolFactory, StreamReader, StreamReaderProtocol, StreamWriter,
};

fn is_send<T: ?Sized + Send>() {}
fn is_sync<T: ?Sized + Sync>() {}

trait AmbiguousIfSend<A> {
    fn some_item() {}
}
impl<T: ?Sized> AmbiguousIfSend<()> for T {}
#[allow(dead_code)]
struct InvalidSend;
impl<T: ?Sized + Send> AmbiguousIfSend<InvalidSend> for T {}

trait AmbiguousIfSync<A> {
    fn some_item() {}
}
impl<T: ?Sized> AmbiguousIfSync<()> for T {}
#[allow(dead_code)]
struct InvalidSync;
impl<T: ?Sized + Sync> AmbiguousIfSync<InvalidSync> for T {}

macro_rules! neither_send_nor_sync {
    ($($t:ty),* $(,)?) => {$(
        let _ = <$t as AmbiguousIfSend<_>>::some_item;
        let _ = <$t as AmbiguousIfSync<_>>::some_item;
    )*};
}

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
