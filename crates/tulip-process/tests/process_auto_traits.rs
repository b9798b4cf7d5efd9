//! The `Send` / `Sync` status of every public type of `tulip-process`,
//! checked at compile time (design §8). A subprocess lives on its loop's
//! thread (`Rc`, `RefCell`, its streams): the transport and the process
//! are `!Send` and `!Sync`; errors, options and plain enums cross threads.
//!
//! | type | Send | Sync | why |
//! |---|---|---|---|
//! | `SubprocessTransport`, `Process` | no | no | `Rc` state, the loop's streams |
//! | `Error` | yes | yes | plain data and `Arc`ed OS errors |
//! | `SubprocessOptions`, `Stdio` | yes | yes | paths, strings, owned descriptors |
//! | `ChildWatcherKind` | yes | yes | a plain enum |
//!
//! `!Send`/`!Sync` is proven with the ambiguous-impl technique of
//! `tulip_test::auto_traits`: the
//! `some_item` path resolves only when exactly one impl applies, i.e. when
//! the type is not `Send` (or not `Sync`).

use tulip_process::{
    ChildWatcherKind, Error, Process, Stdio, SubprocessOptions, SubprocessTransport,
};

use tulip_test::auto_traits::{AmbiguousIfSend, AmbiguousIfSync, is_send, is_sync};

#[test]
fn subprocesses_stay_on_their_thread() {
    let _ = <SubprocessTransport as AmbiguousIfSend<_>>::some_item;
    let _ = <SubprocessTransport as AmbiguousIfSync<_>>::some_item;
    let _ = <Process as AmbiguousIfSend<_>>::some_item;
    let _ = <Process as AmbiguousIfSync<_>>::some_item;
}

#[test]
fn errors_options_and_kinds_cross_threads() {
    is_send::<Error>();
    is_sync::<Error>();
    is_send::<SubprocessOptions>();
    is_sync::<SubprocessOptions>();
    is_send::<Stdio>();
    is_sync::<Stdio>();
    is_send::<ChildWatcherKind>();
    is_sync::<ChildWatcherKind>();
}
