//! The Argon2id scheme for short codes: a public index picks one entry, so a
//! verification costs exactly one Argon2id evaluation however many codes there are.

use mfa_core::{RandomError, RejectReason, SecretBytes, SecureRandom};
use subtle::ConstantTimeEq;

use crate::code::RecoveryCode;
use crate::config::{Argon2Params, CodeFormat};
use crate::error::Error;
use crate::factor::MAX_EXTRA_ATTEMPTS;
use crate::hash::argon2_hash;
use crate::record::{Argon2Entry, Bytes, INDEX_LEN, NONCE_LEN, RecoveryRecord, SALT_LEN};

/// Generates `count` codes of `INDEX_LEN + format.symbols()` symbols whose indexes (the
/// first [`INDEX_LEN`] symbols) are unique in the set, pushing them onto `codes`.
pub(crate) fn issue(
    key: &SecretBytes,
    params: Argon2Params,
    nonce: &[u8; NONCE_LEN],
    format: CodeFormat,
    count: usize,
    codes: &mut Vec<RecoveryCode>,
    rng: &mut dyn SecureRandom,
) -> Result<Vec<Argon2Entry>, Error> {
    let mut entries: Vec<Argon2Entry> = Vec::with_capacity(count);
    let mut attempts = 0;
    while entries.len() < count {
        attempts += 1;
        if attempts > 4 * count + MAX_EXTRA_ATTEMPTS {
            // 256 codes among 1024 indexes need about 40 redraws in all.
            return Err(RandomError.into());
        }
        let code = RecoveryCode::generate(INDEX_LEN + format.symbols(), format.group_size(), rng)?;
        let Some(index) = code.expose_secret().get(..INDEX_LEN) else {
            return Err(RandomError.into());
        };
        if entries.iter().any(|e| e.index == index) {
            continue;
        }
        let index = index.to_owned();
        let mut salt = [0u8; SALT_LEN];
        rng.fill(&mut salt)?;
        let hash = argon2_hash(key, params, nonce, &salt, &code)?;
        entries.push(Argon2Entry {
            index,
            salt: Bytes(salt),
            hash,
        });
        codes.push(code);
    }
    Ok(entries)
}

/// The position of the entry `code` matches. Exactly one Argon2id evaluation: when no
/// entry has the code's index, the first entry's salt stands in and the result is
/// thrown away, so a miss costs what a hit costs.
pub(crate) fn verify(
    key: &SecretBytes,
    params: Argon2Params,
    record: &RecoveryRecord,
    entries: &[Argon2Entry],
    code: &RecoveryCode,
) -> Result<usize, Error> {
    let index = code.as_bytes().get(..INDEX_LEN);
    let found = entries
        .iter()
        .position(|e| Some(e.index.as_bytes()) == index);
    let candidate = found
        .and_then(|i| entries.get(i))
        .or_else(|| entries.first())
        .ok_or_else(|| Error::rejected(RejectReason::FactorDisabled))?;
    let hash = argon2_hash(key, params, record.nonce(), &candidate.salt.0, code)?;
    let matched = bool::from(hash.ct_eq(&candidate.hash));
    match found {
        Some(i) if matched => Ok(i),
        _ => Err(Error::rejected(RejectReason::WrongCode)),
    }
}
