//! The audit chain's hash and its verification, shared by every backend that keeps a
//! journal ([`mfa_core::store::JournalStore`]) and by tools that check one (`mfactl audit
//! verify`).
//!
//! Each entry's hash is hex SHA-256 over `prev_hash "\n" seq "\n" at "\n" body` (the
//! previous entry's hash, its position, its Unix time, its JSON line). The first entry's
//! `prev_hash` is [`GENESIS`]. Because each hash covers the one before, changing, removing
//! or swapping any row breaks every link after it; [`verify_chain`] names the first
//! broken one. Removing the *last* rows leaves a shorter valid chain: compare the head
//! with a signed head published earlier ([`ChainBreak::Truncated`], via
//! [`verify_against_head`]).

use mfa_core::Timestamp;
use mfa_core::store::{AuditEntry, NewAuditEntry};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The `prev_hash` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The hash of an entry at `seq` after `prev_hash` (lowercase hex SHA-256).
pub fn entry_hash(prev_hash: &str, seq: u64, at: Timestamp, body: &str) -> String {
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(b"\n");
    h.update(seq.to_string().as_bytes());
    h.update(b"\n");
    h.update(at.unix_secs().to_string().as_bytes());
    h.update(b"\n");
    h.update(body.as_bytes());
    hex(&h.finalize())
}

/// Chains `new` entries after the head `(seq, hash)` (`(0, GENESIS)` for an empty log).
pub fn chain(head: (u64, String), new: Vec<NewAuditEntry>) -> Vec<AuditEntry> {
    let (mut seq, mut prev) = head;
    new.into_iter()
        .map(|e| {
            seq = seq.saturating_add(1);
            let hash = entry_hash(&prev, seq, e.at, &e.body);
            let entry = AuditEntry::new(seq, e.at, e.body, prev.clone(), hash.clone());
            prev = hash;
            entry
        })
        .collect()
}

/// The first place where a chain is not what was written.
#[non_exhaustive]
#[derive(Clone, Debug, Eq, PartialEq, Deserialize, Serialize, thiserror::Error)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum ChainBreak {
    /// Entries `from..=to` are missing (the entry after them links to one before).
    #[error("entries {from} to {to} were deleted")]
    Deleted {
        /// The first missing sequence number.
        from: u64,
        /// The last missing one.
        to: u64,
    },
    /// The entry at `seq` was changed after it was written.
    #[error("entry {seq} was edited")]
    Edited {
        /// Its sequence number.
        seq: u64,
    },
    /// The entry at `seq` is not the one that was written there: the entry that
    /// belongs there appears later (rows were swapped or renumbered).
    #[error("entry {seq} is out of order")]
    Reordered {
        /// The sequence number where the order breaks.
        seq: u64,
    },
    /// The log ends before the entry a signed head names: its tail was removed.
    #[error("the log ends at entry {last} but a signed head names entry {head}")]
    Truncated {
        /// The last entry present.
        last: u64,
        /// The entry the head names.
        head: u64,
    },
    /// The entry a signed head names has another hash.
    #[error("entry {seq} does not match the signed head")]
    HeadMismatch {
        /// The entry's sequence number.
        seq: u64,
    },
}

/// Walks `entries` (in the order read, by `seq`) from the start of the log.
///
/// # Errors
///
/// The first [`ChainBreak`]: a link to the wrong predecessor (a deletion, or a
/// reordering when the right successor appears later), or a hash that does not match
/// the entry (an edit).
pub fn verify_chain(entries: &[AuditEntry]) -> Result<(), ChainBreak> {
    let mut prev = GENESIS.to_owned();
    let mut expected = 1u64;
    for (i, e) in entries.iter().enumerate() {
        if e.prev_hash != prev {
            let later = entries.get(i.saturating_add(1)..).unwrap_or_default();
            if later.iter().any(|l| l.prev_hash == prev) {
                return Err(ChainBreak::Reordered { seq: expected });
            }
            if e.seq > expected {
                return Err(ChainBreak::Deleted {
                    from: expected,
                    to: e.seq.saturating_sub(1),
                });
            }
            return Err(ChainBreak::Edited { seq: e.seq });
        }
        if e.seq != expected {
            return Err(ChainBreak::Reordered { seq: expected });
        }
        if entry_hash(&e.prev_hash, e.seq, e.at, &e.body) != e.hash {
            return Err(ChainBreak::Edited { seq: e.seq });
        }
        prev.clone_from(&e.hash);
        expected = expected.saturating_add(1);
    }
    Ok(())
}

/// [`verify_chain`], then checks that the chain still holds entry `head_seq` with hash
/// `head_hash` (a head signed and published earlier), so a removed tail shows.
///
/// # Errors
///
/// As [`verify_chain`]; [`ChainBreak::Truncated`] when the log is shorter than the head;
/// [`ChainBreak::HeadMismatch`] when that entry's hash differs.
pub fn verify_against_head(
    entries: &[AuditEntry],
    head_seq: u64,
    head_hash: &str,
) -> Result<(), ChainBreak> {
    verify_chain(entries)?;
    if head_seq == 0 {
        return Ok(());
    }
    match entries.iter().find(|e| e.seq == head_seq) {
        Some(e) if e.hash == head_hash => Ok(()),
        Some(_) => Err(ChainBreak::HeadMismatch { seq: head_seq }),
        None => Err(ChainBreak::Truncated {
            last: entries.last().map_or(0, |e| e.seq),
            head: head_seq,
        }),
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len().saturating_mul(2));
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(n: u64) -> Vec<AuditEntry> {
        let new = (1..=n)
            .map(|i| NewAuditEntry::new(Timestamp::from_unix_secs(i), format!("{{\"n\":{i}}}")))
            .collect();
        chain((0, GENESIS.to_owned()), new)
    }

    #[test]
    fn an_untouched_chain_verifies_and_each_tampering_is_named() {
        let good = log(5);
        assert_eq!(verify_chain(&good), Ok(()));
        let mut edited = good.clone();
        edited[2].body = "{\"n\":9}".into();
        assert_eq!(verify_chain(&edited), Err(ChainBreak::Edited { seq: 3 }));
        let mut deleted = good.clone();
        deleted.remove(1);
        assert_eq!(
            verify_chain(&deleted),
            Err(ChainBreak::Deleted { from: 2, to: 2 })
        );
        let mut swapped = good.clone();
        swapped.swap(1, 2);
        assert_eq!(
            verify_chain(&swapped),
            Err(ChainBreak::Reordered { seq: 2 })
        );
        let truncated = &good[..3];
        assert_eq!(verify_chain(truncated), Ok(()));
        assert_eq!(
            verify_against_head(truncated, 5, &good[4].hash),
            Err(ChainBreak::Truncated { last: 3, head: 5 })
        );
        assert_eq!(verify_against_head(&good, 5, &good[4].hash), Ok(()));
        assert_eq!(
            verify_against_head(&good, 4, &good[4].hash),
            Err(ChainBreak::HeadMismatch { seq: 4 })
        );
    }
}
