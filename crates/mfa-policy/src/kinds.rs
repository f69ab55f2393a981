//! Sets of factor kinds as bit sets, so checks on the hot path never allocate.

use std::fmt;

use mfa_core::{Attachment, FactorKind};

/// A set of [`FactorKind`]s (a bit set over [`FactorKind::ALL`]).
///
/// Kinds that a future `mfa-core` adds are never members: a policy written today cannot
/// accidentally admit them.
#[derive(Clone, Copy, Default, Eq, Hash, PartialEq)]
pub struct KindSet(u16);

impl KindSet {
    /// No kind.
    pub const EMPTY: Self = Self(0);
    /// Every kind known to this version.
    pub const ALL: Self = Self((1 << FactorKind::ALL.len()) - 1);

    /// Whether `kind` is in the set.
    pub fn contains(self, kind: FactorKind) -> bool {
        bit(kind).is_some_and(|b| self.0 & b != 0)
    }

    /// The set with `kind` added.
    #[must_use]
    pub fn with(self, kind: FactorKind) -> Self {
        Self(self.0 | bit(kind).unwrap_or(0))
    }

    /// The kinds in both sets.
    #[must_use]
    pub fn intersection(self, other: Self) -> Self {
        Self(self.0 & other.0)
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The members, in [`FactorKind::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = FactorKind> {
        FactorKind::ALL
            .into_iter()
            .filter(move |k| self.contains(*k))
    }
}

impl FromIterator<FactorKind> for KindSet {
    fn from_iter<I: IntoIterator<Item = FactorKind>>(iter: I) -> Self {
        iter.into_iter().fold(Self::EMPTY, Self::with)
    }
}

impl fmt::Debug for KindSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set()
            .entries(self.iter().map(FactorKind::as_str))
            .finish()
    }
}

/// Parses a kind name of a policy document. Besides every [`FactorKind`] string form,
/// `"webauthn"` means every WebAuthn attachment (reported or not).
pub(crate) fn parse_kind_name(name: &str) -> Option<KindSet> {
    if name == "webauthn" {
        return Some(webauthn_all());
    }
    FactorKind::try_from(name)
        .ok()
        .map(|k| KindSet::EMPTY.with(k))
}

/// Every WebAuthn kind.
pub(crate) fn webauthn_all() -> KindSet {
    KindSet::EMPTY
        .with(FactorKind::WebAuthn { attachment: None })
        .with(FactorKind::WebAuthn {
            attachment: Some(Attachment::CrossPlatform),
        })
        .with(FactorKind::WebAuthn {
            attachment: Some(Attachment::Platform),
        })
}

fn bit(kind: FactorKind) -> Option<u16> {
    FactorKind::ALL
        .iter()
        .position(|k| *k == kind)
        .and_then(|i| 1u16.checked_shl(u32::try_from(i).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_operations() {
        let s: KindSet = [FactorKind::Totp, FactorKind::Sms].into_iter().collect();
        assert!(s.contains(FactorKind::Totp));
        assert!(!s.contains(FactorKind::Email));
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            [FactorKind::Sms, FactorKind::Totp]
        );
        assert_eq!(KindSet::ALL.iter().count(), FactorKind::ALL.len());
        assert!(s.intersection(webauthn_all()).is_empty());
        assert_eq!(parse_kind_name("webauthn").unwrap().iter().count(), 3);
        assert_eq!(
            parse_kind_name("webauthn-platform").unwrap().iter().count(),
            1
        );
        assert!(parse_kind_name("fax").is_none());
        assert_eq!(format!("{s:?}"), "{\"sms\", \"totp\"}");
    }
}
