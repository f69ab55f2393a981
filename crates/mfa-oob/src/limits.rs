//! Resend and abuse limits as configuration and pure decisions.
//!
//! The counters live in the service's store (the facade's failure counters, keyed by
//! destination, user and client IP); this module only decides, from counts the service
//! read, whether one more send or push may go out. See the crate docs, "Wiring the
//! limits", for the order of the calls.

use std::collections::BTreeSet;
use std::time::Duration;

use mfa_core::{InvalidInput, Timestamp};
use serde::{Deserialize, Serialize};

use crate::destination::{Destination, DestinationError};

/// Why a send or a push was refused. Safe to show: it names a limit, not a secret.
#[non_exhaustive]
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
pub enum LimitError {
    /// This challenge already had its maximum number of sends.
    #[error("no more codes can be sent for this sign-in (at most {max}); start again")]
    ChallengeSends {
        /// The limit.
        max: u32,
    },
    /// Too many sends from this client IP address in the window.
    #[error("too many codes requested from this network (at most {max} an hour)")]
    ClientIpCap {
        /// The limit.
        max: u32,
    },
    /// The last send was too recent.
    #[error("wait {} s before asking for another code", retry_after.as_secs())]
    Cooldown {
        /// How long until a send is allowed.
        retry_after: Duration,
    },
    /// The destination's country calling code is not allowed.
    #[error(transparent)]
    Country(#[from] DestinationError),
    /// Too many sends to this destination in the window.
    #[error("too many codes sent to this destination (at most {max} an hour)")]
    DestinationCap {
        /// The limit.
        max: u32,
    },
    /// Too many push approvals are waiting for an answer.
    #[error("too many sign-in approvals are waiting (at most {max})")]
    PendingPushes {
        /// The limit.
        max: u32,
    },
    /// Too many pushes since the last approved one: possible push bombing.
    #[error("too many sign-in approvals without success (at most {max}); use another factor")]
    PushesSinceSuccess {
        /// The limit.
        max: u32,
    },
    /// Too many sends to this user's destinations in the window.
    #[error("too many codes sent to this account (at most {max} an hour)")]
    UserCap {
        /// The limit.
        max: u32,
    },
}

/// Which country calling codes phone numbers may have.
#[non_exhaustive]
#[derive(Clone, Debug, Eq, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CountryCodes {
    /// Every country: only for services that truly serve the whole world and watch
    /// their SMS bill; see [`SendLimits::danger_allow_all_countries`].
    All,
    /// Only these calling codes (`1`, `44`, `49`).
    Only(BTreeSet<u16>),
}

/// Resend and abuse limits for out-of-band codes.
///
/// | limit | default | enforced by |
/// | --- | --- | --- |
/// | cooldown between sends of one challenge | 30 s | [`OobFactor::resend`](crate::OobFactor::resend) (from the state) and [`check_cooldown`](Self::check_cooldown) |
/// | sends per challenge | 3 | [`OobFactor::resend`](crate::OobFactor::resend) |
/// | sends per destination per hour | 5 | [`check_send`](Self::check_send) |
/// | sends per user per hour | 10 | [`check_send`](Self::check_send) |
/// | sends per client IP per hour | 20 | [`check_send`](Self::check_send) |
/// | country calling codes | **none allowed** | [`check_destination`](Self::check_destination), at enrollment and at every send |
///
/// The country allow-list starts empty on purpose: SMS pumping (toll fraud through
/// premium ranges of far-away carriers) is the main real cost of SMS factors, and the
/// only robust defence is sending only where the service has users. Email needs no
/// list.
#[derive(Clone, Debug, Eq, PartialEq, Deserialize, Serialize)]
pub struct SendLimits {
    cooldown: Duration,
    max_sends_per_challenge: u32,
    per_destination_per_hour: u32,
    per_user_per_hour: u32,
    per_ip_per_hour: u32,
    countries: CountryCodes,
}

impl Default for SendLimits {
    fn default() -> Self {
        Self {
            cooldown: Duration::from_secs(30),
            max_sends_per_challenge: 3,
            per_destination_per_hour: 5,
            per_user_per_hour: 10,
            per_ip_per_hour: 20,
            countries: CountryCodes::Only(BTreeSet::new()),
        }
    }
}

/// How many sends the store counted in the last [`SendLimits::WINDOW`], **including
/// the one being decided** (the service increments first, then asks).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub struct SendCounts {
    /// Sends to this destination. Whose sends these are is the caller's choice: the
    /// `mfa` service counts a confirmed factor's sign-in codes per factor (only its owner
    /// reaches them) and enrollment codes per destination (anyone can ask for those), so
    /// one account cannot use up another's codes.
    pub destination: u32,
    /// Sends to any destination of this user.
    pub user: u32,
    /// Sends requested from this client IP address, when it is known.
    pub client_ip: Option<u32>,
}

impl SendCounts {
    /// Counts as read from the store (each including the send being decided).
    pub fn new(destination: u32, user: u32, client_ip: Option<u32>) -> Self {
        Self {
            destination,
            user,
            client_ip,
        }
    }
}

impl SendLimits {
    /// The window the hourly caps count over.
    pub const WINDOW: Duration = Duration::from_secs(3600);

    /// The defaults (see the table above): no country allowed yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Allows phone numbers with these country calling codes (`[1, 44, 49]`).
    ///
    /// # Errors
    ///
    /// [`InvalidInput`] for a code outside 1..=999.
    pub fn with_allowed_country_codes(
        mut self,
        codes: impl IntoIterator<Item = u16>,
    ) -> Result<Self, InvalidInput> {
        let codes: BTreeSet<u16> = codes.into_iter().collect();
        if codes.iter().any(|c| !(1..=999).contains(c)) {
            return Err(InvalidInput::new(
                "country calling code",
                "must be between 1 and 999",
            ));
        }
        self.countries = CountryCodes::Only(codes);
        Ok(self)
    }

    /// Allows every country. Named for what it risks: anyone can make the service
    /// send texts and calls to premium ranges anywhere, at the service's cost.
    #[must_use]
    pub fn danger_allow_all_countries(mut self) -> Self {
        self.countries = CountryCodes::All;
        self
    }

    /// With a cooldown between two sends of one challenge.
    #[must_use]
    pub fn with_cooldown(mut self, cooldown: Duration) -> Self {
        self.cooldown = cooldown;
        self
    }

    /// With caps per hour: per destination, per user, per client IP.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`] when a cap is zero (that would refuse every send; remove the
    /// channel instead).
    pub fn with_hourly_caps(
        mut self,
        per_destination: u32,
        per_user: u32,
        per_ip: u32,
    ) -> Result<Self, InvalidInput> {
        if per_destination == 0 || per_user == 0 || per_ip == 0 {
            return Err(InvalidInput::new("send cap", "must be at least 1"));
        }
        self.per_destination_per_hour = per_destination;
        self.per_user_per_hour = per_user;
        self.per_ip_per_hour = per_ip;
        Ok(self)
    }

    /// With a maximum number of sends per challenge (the first send included).
    ///
    /// # Errors
    ///
    /// [`InvalidInput`] when it is zero.
    pub fn with_max_sends_per_challenge(mut self, max: u32) -> Result<Self, InvalidInput> {
        if max == 0 {
            return Err(InvalidInput::new(
                "sends per challenge",
                "must be at least 1",
            ));
        }
        self.max_sends_per_challenge = max;
        Ok(self)
    }

    /// The cooldown between sends.
    pub fn cooldown(&self) -> Duration {
        self.cooldown
    }

    /// The maximum number of sends per challenge.
    pub fn max_sends_per_challenge(&self) -> u32 {
        self.max_sends_per_challenge
    }

    /// The allowed country calling codes.
    pub fn countries(&self) -> &CountryCodes {
        &self.countries
    }

    /// Whether a code may be sent to `destination` at all: a phone number's country
    /// calling code must be allowed. Checked at enrollment and at every send, so
    /// narrowing the list takes effect at once.
    ///
    /// # Errors
    ///
    /// [`LimitError::Country`] when the country calling code is not allowed.
    pub fn check_destination(&self, destination: &Destination) -> Result<(), LimitError> {
        let Destination::Phone(n) = destination else {
            return Ok(());
        };
        match &self.countries {
            CountryCodes::All => Ok(()),
            CountryCodes::Only(codes) if codes.contains(&n.country_code()) => Ok(()),
            CountryCodes::Only(_) => {
                Err(DestinationError::CountryNotAllowed(n.country_code()).into())
            }
        }
    }

    /// Whether one more send may go out, given the counts the store returned after
    /// counting it. A cap of `n` allows the `n`th send and refuses the `n + 1`th.
    ///
    /// # Errors
    ///
    /// The first cap exceeded, checked per destination, then per user, then per IP.
    pub fn check_send(&self, counts: &SendCounts) -> Result<(), LimitError> {
        if counts.destination > self.per_destination_per_hour {
            return Err(LimitError::DestinationCap {
                max: self.per_destination_per_hour,
            });
        }
        if counts.user > self.per_user_per_hour {
            return Err(LimitError::UserCap {
                max: self.per_user_per_hour,
            });
        }
        if counts.client_ip.is_some_and(|n| n > self.per_ip_per_hour) {
            return Err(LimitError::ClientIpCap {
                max: self.per_ip_per_hour,
            });
        }
        Ok(())
    }

    /// Whether the cooldown since `last_sent_at` (to this destination, by any
    /// challenge) has passed at `now`.
    ///
    /// # Errors
    ///
    /// [`LimitError::Cooldown`] with the time left.
    pub fn check_cooldown(
        &self,
        last_sent_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<(), LimitError> {
        let Some(last) = last_sent_at else {
            return Ok(());
        };
        let since = now.saturating_since(last);
        if since < self.cooldown {
            return Err(LimitError::Cooldown {
                retry_after: self.cooldown.saturating_sub(since),
            });
        }
        Ok(())
    }
}

/// How many pushes the store counted, **including the one being decided** (the
/// service increments first, then asks), so that concurrent pushes cannot all pass.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub struct PushCounts {
    /// Transactions that may still be waiting for an answer.
    pub pending: u32,
    /// Pushes since the user's last approved one.
    pub since_success: u32,
}

impl PushCounts {
    /// Counts as read from the store (each including the push being decided).
    pub fn new(pending: u32, since_success: u32) -> Self {
        Self {
            pending,
            since_success,
        }
    }
}

/// Push fatigue limits: how many approvals may wait at once, and how many may be sent
/// without one being approved.
///
/// | limit | default |
/// | --- | --- |
/// | pending transactions per user | 2 |
/// | pushes since the last approved one | 5 |
///
/// The service keeps both counts (pushes that may be pending; a counter reset on every
/// approved push), increments them for each push, and asks [`check`](Self::check) with
/// the new counts before sending it.
#[derive(Clone, Copy, Debug, Eq, PartialEq, Deserialize, Serialize)]
pub struct PushLimits {
    max_pending: u32,
    max_since_success: u32,
}

impl Default for PushLimits {
    fn default() -> Self {
        Self {
            max_pending: 2,
            max_since_success: 5,
        }
    }
}

impl PushLimits {
    /// Limits of at most `max_pending` waiting transactions and `max_since_success`
    /// pushes since the last approval.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`] when either is zero.
    pub fn new(max_pending: u32, max_since_success: u32) -> Result<Self, InvalidInput> {
        if max_pending == 0 || max_since_success == 0 {
            return Err(InvalidInput::new("push limit", "must be at least 1"));
        }
        Ok(Self {
            max_pending,
            max_since_success,
        })
    }

    /// Whether one more push may go out, given the counts the store returned after
    /// counting it (both **include the push being decided**, as for
    /// [`SendLimits::check_send`]). A limit of `n` allows the `n`th push and refuses the
    /// `n + 1`th: at most `n` pushes wait at once, at most `n` go out between approvals.
    ///
    /// # Errors
    ///
    /// [`LimitError::PendingPushes`] or [`LimitError::PushesSinceSuccess`].
    pub fn check(&self, counts: &PushCounts) -> Result<(), LimitError> {
        if counts.pending > self.max_pending {
            return Err(LimitError::PendingPushes {
                max: self.max_pending,
            });
        }
        if counts.since_success > self.max_since_success {
            return Err(LimitError::PushesSinceSuccess {
                max: self.max_since_success,
            });
        }
        Ok(())
    }
}
