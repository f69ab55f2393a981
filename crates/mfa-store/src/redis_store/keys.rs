//! The key layout: every key an operation touches carries its owner's hash tag, so it
//! lives in one cluster slot (see the crate README's "Redis keys").
//!
//! | key | what |
//! | --- | --- |
//! | `P:c:{uN:USER}:ID` | a user's challenge (hash) |
//! | `P:c:{n:ID}` | a usernameless challenge (hash), its own owner |
//! | `P:ci:{uN:USER}` | the user's challenge keys (set), for a reset |
//! | `P:seq:{uN:USER}` | the user's challenge versions (integer, never reset) |
//! | `P:f:{uN:USER}:KIND:SUBJECT` | a counter a user owns (hash) |
//! | `P:f:{-:KIND:SUBJECT}` | a counter no user owns (hash), its own owner |
//! | `P:fi:{uN:USER}` | the user's counter keys (set), for a reset |
//!
//! `N` is the byte length of `USER`, so the layout is injective whatever a user id
//! holds (`}`, `:`): the tag of a user's keys is the same prefix in every key of that
//! user, so they share one slot even when the id itself contains a brace.

use mfa_core::UserId;
use mfa_core::store::{ChallengeId, ChallengeOwner, FailureKey};

/// Key names under one prefix (which holds no brace, so the owner's tag is the first).
#[derive(Clone, Debug)]
pub(super) struct Keys {
    prefix: String,
}

impl Keys {
    pub(super) fn new(prefix: String) -> Self {
        Self { prefix }
    }

    pub(super) fn prefix(&self) -> &str {
        &self.prefix
    }

    fn tag(user: &UserId) -> String {
        let u = user.as_str();
        format!("{{u{}:{u}}}", u.len())
    }

    pub(super) fn challenge(&self, id: &ChallengeId, owner: &ChallengeOwner) -> String {
        match owner.user() {
            Some(u) => format!("{}:c:{}:{}", self.prefix, Self::tag(u), id.as_str()),
            None => format!("{}:c:{{n:{}}}", self.prefix, id.as_str()),
        }
    }

    pub(super) fn challenge_index(&self, user: &UserId) -> String {
        format!("{}:ci:{}", self.prefix, Self::tag(user))
    }

    pub(super) fn sequence(&self, user: &UserId) -> String {
        format!("{}:seq:{}", self.prefix, Self::tag(user))
    }

    pub(super) fn counter(&self, key: &FailureKey) -> String {
        let (kind, owner, subject) = key.columns();
        self.counter_from_columns(kind, &owner, &subject).0
    }

    /// A counter's key and its owner's index from the stored columns `(kind, owner,
    /// subject)` of [`FailureKey::columns`] (owner empty when no user owns it).
    pub(super) fn counter_from_columns(
        &self,
        kind: &str,
        owner: &str,
        subject: &str,
    ) -> (String, Option<String>) {
        if owner.is_empty() {
            (format!("{}:f:{{-:{kind}:{subject}}}", self.prefix), None)
        } else {
            let tag = format!("{{u{}:{owner}}}", owner.len());
            (
                format!("{}:f:{tag}:{kind}:{subject}", self.prefix),
                Some(format!("{}:fi:{tag}", self.prefix)),
            )
        }
    }

    /// The columns of a counter key of the old layout, `P:f:KIND:LEN:OWNER:SUBJECT`.
    pub(super) fn legacy_counter<'k>(&self, key: &'k str) -> Option<(&'k str, &'k str, &'k str)> {
        let rest = key
            .strip_prefix(self.prefix.as_str())?
            .strip_prefix(":f:")?;
        let (kind, rest) = rest.split_once(':')?;
        let (len, rest) = rest.split_once(':')?;
        let len: usize = len.parse().ok()?;
        let owner = rest.get(..len)?;
        let subject = rest.get(len..)?.strip_prefix(':')?;
        (!kind.starts_with('{')).then_some((kind, owner, subject))
    }

    pub(super) fn escaped_prefix(&self) -> String {
        escape_glob(&self.prefix)
    }

    pub(super) fn counter_index(&self, user: &UserId) -> String {
        format!("{}:fi:{}", self.prefix, Self::tag(user))
    }

    /// `SCAN` patterns of every challenge and every counter in this layout (keys of the
    /// old layout, without a tag, do not match).
    pub(super) fn challenge_pattern(&self) -> String {
        format!("{}:c:{{*", escape_glob(&self.prefix))
    }

    pub(super) fn counter_pattern(&self) -> String {
        format!("{}:f:{{*", escape_glob(&self.prefix))
    }

    pub(super) fn all_pattern(&self) -> String {
        format!("{}:*", escape_glob(&self.prefix))
    }

    /// The index a swept challenge or counter key is listed in: its user's, or the key
    /// itself when no user owns it. `None` for a key not in this layout.
    pub(super) fn index_of(&self, key: &str) -> Option<String> {
        let rest = key.strip_prefix(self.prefix.as_str())?;
        let (kind, index) = if let Some(r) = rest.strip_prefix(":c:") {
            (r, "ci")
        } else {
            (rest.strip_prefix(":f:")?, "fi")
        };
        if kind.starts_with("{n:") || kind.starts_with("{-:") {
            return Some(key.to_owned());
        }
        let tag = user_tag(kind)?;
        Some(format!("{}:{index}:{tag}", self.prefix))
    }
}

/// The `{uN:USER}` at the start of `s`.
fn user_tag(s: &str) -> Option<&str> {
    let digits = s.strip_prefix("{u")?;
    let (len, user) = digits.split_once(':')?;
    let len: usize = len.parse().ok()?;
    let head = 2 + digits.find(':')? + 1;
    let end = head.checked_add(len)?;
    if user.as_bytes().get(len) != Some(&b'}') {
        return None;
    }
    s.get(..=end)
}

fn escape_glob(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use mfa_core::FactorId;
    use mfa_core::testkit::SeededRandom;

    use super::*;

    /// The cluster hash slot of a key, as the cluster client computes it.
    fn slot(key: &str) -> redis::cluster_routing::Slot {
        redis::cluster_routing::Slot::for_key(key)
    }

    #[test]
    fn every_key_of_an_owner_shares_a_slot() {
        let keys = Keys::new("mfa".into());
        let id = ChallengeId::generate(&mut SeededRandom::new(1)).unwrap();
        for name in ["alice", "a}b", "{x}", "c:d}:e", "ü"] {
            let u = UserId::new(name).unwrap();
            let owner = ChallengeOwner::User(u.clone());
            let all = [
                keys.challenge(&id, &owner),
                keys.challenge_index(&u),
                keys.sequence(&u),
                keys.counter(&FailureKey::user(&u)),
                keys.counter(&FailureKey::factor(&u, &FactorId::new("f}1").unwrap())),
                keys.counter_index(&u),
            ];
            let s = slot(&all[0]);
            assert!(all.iter().all(|k| slot(k) == s), "{name}: {all:?}");
            assert_eq!(keys.index_of(&all[0]), Some(keys.challenge_index(&u)));
            assert_eq!(keys.index_of(&all[3]), Some(keys.counter_index(&u)));
            assert_eq!(keys.index_of(&all[4]), Some(keys.counter_index(&u)));
        }
        // Users spread over slots instead of sharing one.
        let slots: std::collections::HashSet<_> = (0..64)
            .map(|i| slot(&keys.sequence(&UserId::new(format!("user{i}")).unwrap())))
            .collect();
        assert!(slots.len() > 32, "{slots:?}");
        let unowned = keys.counter(&FailureKey::destination("+15551234567").unwrap());
        assert_eq!(keys.index_of(&unowned), Some(unowned.clone()));
        let nobody = keys.challenge(&id, &ChallengeOwner::Usernameless);
        assert_eq!(keys.index_of(&nobody), Some(nobody.clone()));
        assert_eq!(keys.index_of("mfa:c:oldlayoutid"), None);
        assert_eq!(keys.index_of("mfa:f:user:5:alice:"), None);
        assert_eq!(keys.index_of("other:c:{n:x}"), None);
    }

    #[test]
    fn the_layout_is_injective_whatever_a_user_id_holds() {
        let keys = Keys::new("p".into());
        let a = FailureKey::user(&UserId::new("a}:factor:x").unwrap());
        let b = FailureKey::factor(
            &UserId::new("a").unwrap(),
            &FactorId::new("x}:user:").unwrap(),
        );
        assert_ne!(keys.counter(&a), keys.counter(&b));
        assert_eq!(
            keys.index_of(&keys.counter(&a)),
            Some("p:fi:{u11:a}:factor:x}".into())
        );
        assert_eq!(keys.index_of(&keys.counter(&b)), Some("p:fi:{u1:a}".into()));
        assert_eq!(keys.index_of("p:f:{u99:a}:user:"), None);
    }
}
