//! Compile-time checks of the auto traits: that a type is `Send`, `Sync`
//! or `Clone`, and that it is *not* `Send` or `Sync`.
//!
//! The positive checks are generic functions whose bounds the compiler
//! proves ([`is_send`], [`is_sync`], [`is_clone`], and the
//! [`send_sync!`](crate::send_sync) macro for a list of types).
//!
//! The negative checks ([`not_send!`](crate::not_send),
//! [`not_sync!`](crate::not_sync),
//! [`neither_send_nor_sync!`](crate::neither_send_nor_sync)) use the
//! ambiguous-impl technique of the `static_assertions` crate: every type
//! implements [`AmbiguousIfSend<()>`], and a `Send` type also implements
//! `AmbiguousIfSend<InvalidSend>`; the path
//! `<T as AmbiguousIfSend<_>>::some_item` resolves only when exactly one
//! impl applies, i.e. when `T` is not `Send`. For a `Send` type the test
//! does not compile.

/// Compiles only if `T` is `Send`.
///
/// ```
/// use tulip_test::auto_traits::is_send;
///
/// is_send::<tulip::RemoteLoop>();
/// ```
pub fn is_send<T: ?Sized + Send>() {}

/// Compiles only if `T` is `Sync`.
///
/// ```
/// use tulip_test::auto_traits::is_sync;
///
/// is_sync::<tulip::RemoteLoop>();
/// ```
pub fn is_sync<T: ?Sized + Sync>() {}

/// Compiles only if `T` is `Clone`.
///
/// ```
/// use tulip_test::auto_traits::is_clone;
///
/// is_clone::<tulip::RemoteLoop>();
/// ```
pub fn is_clone<T: Clone>() {}

/// Implemented twice for `Send` types, once for the others: naming its
/// [`some_item`](AmbiguousIfSend::some_item) with an inferred parameter
/// compiles only for a type that is not `Send`.
///
/// ```
/// use tulip_test::auto_traits::AmbiguousIfSend;
///
/// let _ = <tulip::Loop as AmbiguousIfSend<_>>::some_item;
/// ```
///
/// ```compile_fail
/// use tulip_test::auto_traits::AmbiguousIfSend;
///
/// let _ = <u32 as AmbiguousIfSend<_>>::some_item;
/// ```
pub trait AmbiguousIfSend<A> {
    /// The item whose path is ambiguous for a `Send` type.
    fn some_item() {}
}

impl<T: ?Sized> AmbiguousIfSend<()> for T {}

/// The marker of [`AmbiguousIfSend`]'s second impl, for `Send` types.
#[derive(Debug)]
pub struct InvalidSend;

impl<T: ?Sized + Send> AmbiguousIfSend<InvalidSend> for T {}

/// Implemented twice for `Sync` types, once for the others: naming its
/// [`some_item`](AmbiguousIfSync::some_item) with an inferred parameter
/// compiles only for a type that is not `Sync`.
///
/// ```
/// use tulip_test::auto_traits::AmbiguousIfSync;
///
/// let _ = <tulip::Loop as AmbiguousIfSync<_>>::some_item;
/// ```
///
/// ```compile_fail
/// use tulip_test::auto_traits::AmbiguousIfSync;
///
/// let _ = <u32 as AmbiguousIfSync<_>>::some_item;
/// ```
pub trait AmbiguousIfSync<A> {
    /// The item whose path is ambiguous for a `Sync` type.
    fn some_item() {}
}

impl<T: ?Sized> AmbiguousIfSync<()> for T {}

/// The marker of [`AmbiguousIfSync`]'s second impl, for `Sync` types.
#[derive(Debug)]
pub struct InvalidSync;

impl<T: ?Sized + Sync> AmbiguousIfSync<InvalidSync> for T {}

/// Compiles only if every type listed is `Send` and `Sync`.
///
/// ```
/// use tulip_test::send_sync;
///
/// send_sync!(tulip::RemoteLoop, tulip::Error);
/// ```
///
/// ```compile_fail
/// use tulip_test::send_sync;
///
/// send_sync!(tulip::Loop);
/// ```
#[macro_export]
macro_rules! send_sync {
    ($($t:ty),* $(,)?) => {$(
        $crate::auto_traits::is_send::<$t>();
        $crate::auto_traits::is_sync::<$t>();
    )*};
}

/// Compiles only if none of the types listed is `Send`.
///
/// ```
/// use tulip_test::not_send;
///
/// not_send!(tulip::Loop, tulip::Task<u32>);
/// ```
///
/// ```compile_fail
/// use tulip_test::not_send;
///
/// not_send!(tulip::RemoteLoop);
/// ```
#[macro_export]
macro_rules! not_send {
    ($($t:ty),* $(,)?) => {$(
        let _ = <$t as $crate::auto_traits::AmbiguousIfSend<_>>::some_item;
    )*};
}

/// Compiles only if none of the types listed is `Sync`.
///
/// ```
/// use tulip_test::not_sync;
///
/// not_sync!(tulip::Loop, std::cell::Cell<u8>);
/// ```
///
/// ```compile_fail
/// use tulip_test::not_sync;
///
/// not_sync!(tulip::RemoteLoop);
/// ```
#[macro_export]
macro_rules! not_sync {
    ($($t:ty),* $(,)?) => {$(
        let _ = <$t as $crate::auto_traits::AmbiguousIfSync<_>>::some_item;
    )*};
}

/// Compiles only if every type listed is neither `Send` nor `Sync`.
///
/// ```
/// use tulip_test::neither_send_nor_sync;
///
/// neither_send_nor_sync!(tulip::Loop, std::rc::Rc<u8>);
/// ```
///
/// ```compile_fail
/// use tulip_test::neither_send_nor_sync;
///
/// // `Cell` is `Send`.
/// neither_send_nor_sync!(std::cell::Cell<u8>);
/// ```
#[macro_export]
macro_rules! neither_send_nor_sync {
    ($($t:ty),* $(,)?) => {$(
        $crate::not_send!($t);
        $crate::not_sync!($t);
    )*};
}
