//! A store wrapper for tests: forwards every operation to an inner store, except where
//! its [`Hook`] fails the operation or does it another way.

use std::future::Future;
use std::time::Duration;
use std::vec::Vec;

use crate::clock::Timestamp;
use crate::id::{FactorId, UserId};
use crate::store::{
    AttemptCount, AttemptRequest, AttemptStore, Begun, ChallengeId, ChallengeOwner, ChallengeStore,
    DeviceStore, FactorRecord, FactorStore, FailureKey, FailureStore, Failures, Generation,
    LookupKey, PendingChallenge, RememberedDevice, ResetSummary, Store, StoreError, Success,
    UserState, UserStore, VerificationStore, Version, Versioned,
};

/// One store operation, as a [`Hook`] sees it before the call.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Operation {
    /// The trait: `"FactorStore"`, `"ChallengeStore"`, `"FailureStore"`,
    /// `"DeviceStore"`, `"UserStore"`, `"AttemptStore"` or `"VerificationStore"`.
    pub store: &'static str,
    /// The method, such as `"update_factor_if_version"`.
    pub name: &'static str,
}

/// A store that runs every operation through its hook `H` over the store `S`: by
/// default the hook forwards each call unchanged, so a test overrides only the
/// operation it breaks (or makes [`Hook::check`] fail the ones it takes down).
#[derive(Debug, Default)]
pub struct Faulty<S, H> {
    inner: S,
    hook: H,
}

impl<S: Store, H: Hook<S>> Faulty<S, H> {
    /// Wraps `inner`.
    pub fn new(inner: S, hook: H) -> Self {
        Self { inner, hook }
    }

    /// The wrapped store, to read or write past the hook.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The hook, to switch its faults on and off.
    pub fn hook(&self) -> &H {
        &self.hook
    }
}

macro_rules! faulty {
    ([] $( $store:ident { $( $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty; )* } )*) => {
        /// What a [`Faulty`] store does with each operation. Every method has a default:
        /// [`check`](Hook::check) lets every operation through, and each operation
        /// forwards to the inner store. An override may call the inner store and the
        /// hook's other operations in any order, with awaits between them, as a broken
        /// backend would.
        #[allow(missing_docs, reason = "each operation is the store trait method of that name")]
        pub trait Hook<S: Store>: Send + Sync {
            /// Called before every operation: an error is returned in its place, and
            /// the operation does not run.
            ///
            /// # Errors
            ///
            /// Whichever the test injects.
            fn check(&self, op: Operation) -> Result<(), StoreError> {
                let _ = op;
                Ok(())
            }
            $( $(
                fn $name(&self, inner: &S, $($arg: $ty),*) -> impl Future<Output = Result<$ret, StoreError>> + Send {
                    inner.$name($($arg),*)
                }
            )* )*
        }
        $(
            impl<S: Store, H: Hook<S>> $store for Faulty<S, H> { $(
                async fn $name(&self, $($arg: $ty),*) -> Result<$ret, StoreError> {
                    self.hook.check(Operation { store: stringify!($store), name: stringify!($name) })?;
                    self.hook.$name(&self.inner, $($arg),*).await
                }
            )* }
        )*
    };
}

crate::store_operations!(faulty!);

/// A `Faulty` store keeps no journal (the [`JournalStore`](crate::store::JournalStore)
/// defaults: `keeps_journal` is false and every journal operation is
/// `StoreError::Unsupported`), whatever its inner store does: the journal's guarantees are
/// tested on the backends themselves, and a service asked to journal over a `Faulty`
/// store refuses to build.
impl<S: Store, H: Hook<S>> crate::store::JournalStore for Faulty<S, H> {}

/// Forwards everything: `Faulty<S, ()>` behaves as `S`.
impl<S: Store> Hook<S> for () {}
