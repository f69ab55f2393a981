//! The service's error.

use mfa_core::Timestamp;
use mfa_policy::assurance::Aal;
use mfa_policy::device::DeviceTokenError;
use mfa_policy::enroll::EnrollRefusal;

/// Why a service call failed.
///
/// What to show the end user: [`Error::Core`] with a rejection is one opaque
/// "that did not work" (its [`mfa_core::RejectReason`] is for logs); `Locked` and
/// `Backoff` may be shown with their time, `AccountLocked` with the way back (support);
/// the rest are the caller's or the operator's concern.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A rejection (no oracle), bad input, a random-source failure, or a store failure
    /// (including [`mfa_core::store::StoreError::Corrupt`] for an envelope that does not
    /// open: tampered, or moved from another row).
    #[error(transparent)]
    Core(#[from] mfa_core::Error),
    /// Too many failures: no verification is attempted until `until` (or an admin's
    /// [`unlock`](crate::Admin::unlock)). Attempts while locked are counted too.
    #[error("too many failed attempts; locked until {}", .until.unix_secs())]
    Locked {
        /// When the lockout ends if no further attempt is made.
        until: Timestamp,
    },
    /// The account reached its limit of consecutive failures over all its factors
    /// ([`ServiceBuilder::user_failure_limit`](crate::ServiceBuilder::user_failure_limit)):
    /// every verification is refused unverified until an operator unlocks it
    /// ([`unlock`](crate::Admin::unlock)) or resets the user. Time never ends it (NIST
    /// SP 800-63B-4 §3.2.2).
    #[error("too many failed attempts; the account is locked until an administrator unlocks it")]
    AccountLocked,
    /// Failures are being throttled: try again at `until`. Not counted.
    #[error("too many failed attempts; wait until {}", .until.unix_secs())]
    Backoff {
        /// The earliest next attempt.
        until: Timestamp,
    },
    /// Changing the account's factors needs a session at the account's assurance level
    /// (NIST SP 800-63B rev4 §4.1.2): sign in with a second factor first.
    #[error("this needs a session at {}", .required.as_str())]
    StepUpRequired {
        /// The level the session must hold.
        required: Aal,
    },
    /// The policy's enrollment rules refuse this change.
    #[error(transparent)]
    Enroll(#[from] EnrollRefusal),
    /// The user has no factor with this id (management calls; verification rejects
    /// instead, without saying why).
    #[error("no such factor")]
    UnknownFactor,
    /// The WebAuthn credential is already registered (to this or another user; §7.1
    /// step 26).
    #[error("this credential is already registered")]
    CredentialAlreadyRegistered,
    /// The user already has a confirmed factor with this phone number or email address.
    #[error("this phone number or address is already enrolled")]
    DestinationAlreadyEnrolled,
    /// The user already has recovery codes: regenerate them instead.
    #[error("recovery codes already enrolled; regenerate them instead")]
    RecoveryCodesExist,
    /// The service was built without what this call needs (a WebAuthn relying party,
    /// a recovery keyring, an issuer, a device key).
    #[error("not configured: {0}")]
    NotConfigured(&'static str),
    /// The factor kind is not built into this service (a kind added to `mfa-core`
    /// later).
    #[error("factor kind {0} is not supported by this service yet")]
    Unsupported(&'static str),
    /// An out-of-band send (or push) was refused by an abuse limit: a cooldown, an
    /// hourly cap, the sends of one challenge, a country that is not allowed, push
    /// fatigue. Safe to show: it names the limit. Nothing was sent.
    #[error(transparent)]
    Limited(#[from] mfa_oob::LimitError),
    /// The [`Sender`](mfa_oob::Sender) or push transport failed: nothing was
    /// delivered (offer another channel). The challenge was not stored.
    #[error(transparent)]
    Delivery(#[from] mfa_oob::SendError),
    /// A remembered-device token could not be issued.
    #[error(transparent)]
    DeviceToken(#[from] DeviceTokenError),
    /// Another request changed the record at the same time; nothing was written. Try
    /// again.
    #[error("concurrent change; try again")]
    Conflict,
    /// Enrolment cannot be skipped: the policy has no grace period, it has ended, or the
    /// user has a factor already.
    #[error("enrollment can no longer be skipped")]
    NoGrace,
}

impl Error {
    /// Why a verification was rejected, for logs and audit only — never for the end
    /// user, who sees one "that did not work" whatever the reason (no oracle). `None`
    /// for anything that is not a rejection (a lockout, bad input, a store failure).
    ///
    /// ```
    /// use mfa::Error;
    /// use mfa::core::{Error, RejectReason};
    ///
    /// let e = Error::from(Error::rejected(RejectReason::Replay));
    /// assert_eq!(e.reject_reason(), Some(RejectReason::Replay));
    /// assert_eq!(Error::AccountLocked.reject_reason(), None);
    /// ```
    pub fn reject_reason(&self) -> Option<mfa_core::RejectReason> {
        match self {
            Self::Core(mfa_core::Error::Rejected(r)) => Some(r.reason()),
            _ => None,
        }
    }

    /// Whether this is a failed verification (or a refusal by lockout), as opposed to
    /// bad input or an infrastructure failure.
    pub fn is_rejection(&self) -> bool {
        match self {
            Self::Core(e) => e.is_rejection(),
            Self::Locked { .. } | Self::AccountLocked | Self::Backoff { .. } => true,
            _ => false,
        }
    }
}

impl From<mfa_core::store::StoreError> for Error {
    fn from(e: mfa_core::store::StoreError) -> Self {
        Self::Core(e.into())
    }
}

impl From<mfa_core::InvalidInput> for Error {
    fn from(e: mfa_core::InvalidInput) -> Self {
        Self::Core(e.into())
    }
}

impl From<mfa_core::Rejected> for Error {
    fn from(e: mfa_core::Rejected) -> Self {
        Self::Core(e.into())
    }
}

impl From<mfa_oob::Error> for Error {
    fn from(e: mfa_oob::Error) -> Self {
        match e {
            mfa_oob::Error::Limited(l) => Self::Limited(l),
            e => Self::Core(e.into()),
        }
    }
}

impl From<mfa_core::RandomError> for Error {
    fn from(e: mfa_core::RandomError) -> Self {
        Self::Core(e.into())
    }
}

/// The service's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;
