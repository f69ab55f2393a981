//! Google Authenticator's export: `otpauth-migration://offline?data=BASE64`, the
//! base64 of a protobuf `MigrationPayload` (as reverse-engineered by every exporter,
//! e.g. `dim13/otpauth`'s `migration.proto`):
//!
//! ```text
//! message MigrationPayload {
//!   repeated OtpParameters otp_parameters = 1;
//!   int32 version = 2; int32 batch_size = 3; int32 batch_index = 4; int32 batch_id = 5;
//! }
//! message OtpParameters {
//!   bytes secret = 1; string name = 2; string issuer = 3;
//!   Algorithm algorithm = 4;   // 0 unspecified (SHA1), 1 SHA1, 2 SHA256, 3 SHA512, 4 MD5
//!   DigitCount digits = 5;     // 0 unspecified (6), 1 six, 2 eight
//!   OtpType type = 6;          // 0 unspecified, 1 HOTP, 2 TOTP
//!   int64 counter = 7;
//! }
//! ```
//!
//! A large export is split over several QR codes (`batch_size`, `batch_index`, one
//! `batch_id`): give every code's URI, one per line; a batch with codes missing is
//! reported. The decoder below reads only these fields, by hand: smaller and easier
//! to fuzz than a protobuf dependency. TOTP entries always have a 30-second period
//! (the format has no field for it).

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use mfa_otp::{Algorithm, Digits, HotpParams, HotpRecord, Secret, TotpParams, TotpRecord};
use zeroize::Zeroizing;

use super::otpauth::truncate_label;
use super::{Format, ImportRecord, ImportedFactor, Parsed, Problem, RecordError, user_id};

const PREFIX: &str = "otpauth-migration://offline?";
/// The most entries read from one payload (Google puts about ten per QR code).
const MAX_ENTRIES: usize = 1_000;

/// Parses `otpauth-migration://offline?data=…` URIs, one per line (blank lines and
/// `#` comments skipped). Records are numbered over all lines, in order. The user is
/// the entry's name after any `issuer:` prefix (use [`Parsed::for_user`] for one
/// person's export).
pub fn parse_google_migration(input: &str) -> Parsed {
    let mut records = Vec::new();
    let mut next = 1usize;
    // batch id -> (size, indexes seen)
    let mut batches: BTreeMap<i64, (i64, Vec<i64>)> = BTreeMap::new();
    for line in input.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match decode_line(line) {
            Ok(payload) => {
                if payload.batch_size > 1 {
                    let entry = batches
                        .entry(payload.batch_id)
                        .or_insert_with(|| (payload.batch_size, Vec::new()));
                    entry.1.push(payload.batch_index);
                }
                for entry in payload.entries {
                    records.push(
                        entry
                            .and_then(|e| e.into_record(next))
                            .map_err(|p| RecordError::new(next, p)),
                    );
                    next = next.saturating_add(1);
                }
            }
            Err(p) => {
                records.push(Err(RecordError::new(next, p)));
                next = next.saturating_add(1);
            }
        }
    }
    for (batch_id, (size, mut seen)) in batches {
        seen.sort_unstable();
        seen.dedup();
        let present = i64::try_from(seen.iter().filter(|i| (0..size).contains(*i)).count())
            .unwrap_or(i64::MAX);
        if present < size {
            records.push(Err(RecordError::new(
                0,
                Problem::BatchIncomplete {
                    batch_id,
                    size,
                    missing: size.saturating_sub(present),
                },
            )));
        }
    }
    Parsed {
        format: Format::GoogleMigration,
        records,
    }
}

/// One decoded payload.
struct Payload {
    entries: Vec<Result<Entry, Problem>>,
    batch_size: i64,
    batch_index: i64,
    batch_id: i64,
}

/// One `OtpParameters`.
#[derive(Default)]
struct Entry {
    secret: Zeroizing<Vec<u8>>,
    name: String,
    issuer: String,
    algorithm: u64,
    digits: u64,
    kind: u64,
    counter: u64,
}

impl Entry {
    /// The name after any `issuer:` prefix.
    fn account(&self) -> &str {
        match self.name.split_once(':') {
            Some((_, account)) => account.trim(),
            None => self.name.trim(),
        }
    }

    fn into_record(self, index: usize) -> Result<ImportRecord, Problem> {
        let algorithm = match self.algorithm {
            0 | 1 => Algorithm::Sha1,
            2 => Algorithm::Sha256,
            3 => Algorithm::Sha512,
            4 => return Err(Problem::Algorithm("MD5".to_owned())),
            n => return Err(Problem::Algorithm(format!("enum value {n}"))),
        };
        let digits = match self.digits {
            0 | 1 => Digits::SIX,
            2 => Digits::EIGHT,
            n => return Err(Problem::Digits(format!("enum value {n}"))),
        };
        let secret =
            Secret::danger_from_short_bytes(self.secret.to_vec()).map_err(Problem::Secret)?;
        // The name is "account" or "issuer:account".
        let user = user_id(index, self.account()).map_err(|e| e.problem)?;
        let label = if self.issuer.is_empty() {
            match self.name.split_once(':') {
                Some((issuer, _)) => issuer.trim().to_owned(),
                None => "Imported".to_owned(),
            }
        } else {
            self.issuer.clone()
        };
        let factor = match self.kind {
            1 => ImportedFactor::Hotp(HotpRecord {
                secret,
                params: HotpParams { algorithm, digits },
                counter: self.counter,
            }),
            2 => ImportedFactor::Totp(TotpRecord::new(
                secret,
                TotpParams {
                    algorithm,
                    digits,
                    ..TotpParams::default()
                },
            )),
            n => return Err(Problem::Type(format!("enum value {n}"))),
        };
        Ok(ImportRecord {
            index,
            user,
            label: truncate_label(&label),
            factor,
        })
    }
}

fn decode_line(line: &str) -> Result<Payload, Problem> {
    let query = line
        .get(..PREFIX.len())
        .filter(|p| p.eq_ignore_ascii_case(PREFIX))
        .and_then(|_| line.get(PREFIX.len()..))
        .ok_or(Problem::Field {
            field: "uri",
            why: "does not start with otpauth-migration://offline?",
        })?;
    let data = query
        .split('&')
        .find_map(|p| p.strip_prefix("data="))
        .ok_or(Problem::Missing("data parameter"))?;
    let data = percent_decode(data).ok_or(Problem::Field {
        field: "data",
        why: "bad percent-encoding",
    })?;
    let bytes = decode_base64(&data).ok_or(Problem::Field {
        field: "data",
        why: "not base64",
    })?;
    decode_payload(&bytes)
}

fn decode_base64(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    const LENIENT: GeneralPurposeConfig =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let standard = GeneralPurpose::new(&base64::alphabet::STANDARD, LENIENT);
    let url = GeneralPurpose::new(&base64::alphabet::URL_SAFE, LENIENT);
    standard
        .decode(text)
        .or_else(|_| url.decode(text))
        .ok()
        .map(Zeroizing::new)
}

/// `%XX` decoding (and `+` as a space, which base64 never contains unencoded in a
/// query: a literal `+` from a careless copy is kept as `+`).
fn percent_decode(s: &str) -> Option<Zeroizing<String>> {
    let bytes = s.as_bytes();
    let mut out = Zeroizing::new(Vec::with_capacity(bytes.len()));
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hi = bytes
                .get(i.saturating_add(1))
                .and_then(|c| (*c as char).to_digit(16))?;
            let lo = bytes
                .get(i.saturating_add(2))
                .and_then(|c| (*c as char).to_digit(16))?;
            out.push(u8::try_from(hi * 16 + lo).ok()?);
            i = i.saturating_add(3);
        } else {
            out.push(b);
            i = i.saturating_add(1);
        }
    }
    String::from_utf8(out.to_vec()).ok().map(Zeroizing::new)
}

fn decode_payload(bytes: &[u8]) -> Result<Payload, Problem> {
    let mut payload = Payload {
        entries: Vec::new(),
        batch_size: 1,
        batch_index: 0,
        batch_id: 0,
    };
    let mut r = Reader(bytes);
    while !r.0.is_empty() {
        let (field, value) = r.field()?;
        match (field, value) {
            (1, Value::Bytes(b)) => {
                if payload.entries.len() >= MAX_ENTRIES {
                    return Err(Problem::Protobuf("too many entries"));
                }
                payload.entries.push(decode_entry(b));
            }
            (3, Value::Varint(v)) => payload.batch_size = as_i32(v),
            (4, Value::Varint(v)) => payload.batch_index = as_i32(v),
            (5, Value::Varint(v)) => payload.batch_id = as_i32(v),
            (1 | 3 | 4 | 5, _) => return Err(Problem::Protobuf("field of the wrong wire type")),
            _ => {} // version, and fields added later
        }
    }
    Ok(payload)
}

fn decode_entry(bytes: &[u8]) -> Result<Entry, Problem> {
    let mut e = Entry::default();
    let mut r = Reader(bytes);
    while !r.0.is_empty() {
        let (field, value) = r.field()?;
        match (field, value) {
            (1, Value::Bytes(b)) => e.secret = Zeroizing::new(b.to_vec()),
            (2, Value::Bytes(b)) => e.name = utf8(b)?,
            (3, Value::Bytes(b)) => e.issuer = utf8(b)?,
            (4, Value::Varint(v)) => e.algorithm = v,
            (5, Value::Varint(v)) => e.digits = v,
            (6, Value::Varint(v)) => e.kind = v,
            (7, Value::Varint(v)) => e.counter = v,
            (1..=7, _) => return Err(Problem::Protobuf("field of the wrong wire type")),
            _ => {}
        }
    }
    Ok(e)
}

fn utf8(b: &[u8]) -> Result<String, Problem> {
    String::from_utf8(b.to_vec()).map_err(|_| Problem::Protobuf("text is not UTF-8"))
}

/// An int32 as protobuf sends it (negative values as ten-byte varints): the low 32
/// bits, as two's complement.
fn as_i32(v: u64) -> i64 {
    let low = u32::try_from(v & 0xffff_ffff).unwrap_or(0);
    i64::from(i32::from_ne_bytes(low.to_ne_bytes()))
}

enum Value<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, Problem> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let (&b, rest) = self
                .0
                .split_first()
                .ok_or(Problem::Protobuf("truncated varint"))?;
            self.0 = rest;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(Problem::Protobuf("varint longer than ten bytes"))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Problem> {
        if n > self.0.len() {
            return Err(Problem::Protobuf("truncated field"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn field(&mut self) -> Result<(u64, Value<'a>), Problem> {
        let key = self.varint()?;
        let field = key >> 3;
        if field == 0 {
            return Err(Problem::Protobuf("field number 0"));
        }
        let value = match key & 7 {
            0 => Value::Varint(self.varint()?),
            1 => {
                self.take(8)?;
                Value::Fixed
            }
            2 => {
                let len = usize::try_from(self.varint()?)
                    .map_err(|_| Problem::Protobuf("length too large"))?;
                Value::Bytes(self.take(len)?)
            }
            5 => {
                self.take(4)?;
                Value::Fixed
            }
            _ => return Err(Problem::Protobuf("unsupported wire type")),
        };
        Ok((field, value))
    }
}

/// Encoding, for [`super::run`]'s tests and the fuzz target's round trip.
#[cfg(test)]
pub(super) fn encode_entry(
    secret: &[u8],
    name: &str,
    issuer: &str,
    algorithm: u64,
    digits: u64,
    kind: u64,
    counter: u64,
) -> Vec<u8> {
    let mut e = Vec::new();
    put_bytes(&mut e, 1, secret);
    put_bytes(&mut e, 2, name.as_bytes());
    put_bytes(&mut e, 3, issuer.as_bytes());
    for (f, v) in [(4, algorithm), (5, digits), (6, kind), (7, counter)] {
        put_varint(&mut e, f << 3);
        put_varint(&mut e, v);
    }
    e
}

#[cfg(test)]
fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(u8::try_from(v & 0x7f).unwrap_or(0) | 0x80);
        v >>= 7;
    }
    out.push(u8::try_from(v).unwrap_or(0));
}

#[cfg(test)]
fn put_bytes(out: &mut Vec<u8>, field: u64, b: &[u8]) {
    put_varint(out, (field << 3) | 2);
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

#[cfg(test)]
pub(super) fn encode_payload(entries: &[Vec<u8>], batch: (u64, u64, u64)) -> String {
    let mut p = Vec::new();
    for e in entries {
        put_bytes(&mut p, 1, e);
    }
    for (f, v) in [(2, 1), (3, batch.0), (4, batch.1), (5, batch.2)] {
        put_varint(&mut p, f << 3);
        put_varint(&mut p, v);
    }
    let data = base64::engine::general_purpose::STANDARD
        .encode(p)
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D");
    format!("otpauth-migration://offline?data={data}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"12345678901234567890";

    #[test]
    fn entries_of_every_type_and_batches() {
        let a = encode_entry(KEY, "ACME:alice", "ACME", 2, 2, 2, 0);
        let b = encode_entry(KEY, "bob", "", 1, 1, 1, 7);
        let md5 = encode_entry(KEY, "carol", "", 4, 1, 2, 0);
        let text = format!(
            "{}\n{}\n",
            encode_payload(&[a, b], (2, 0, 99)),
            encode_payload(&[md5], (2, 1, 99))
        );
        let parsed = parse_google_migration(&text);
        assert_eq!(parsed.records.len(), 3);
        let alice = parsed.records[0].as_ref().unwrap();
        assert_eq!(
            (alice.user.as_str(), alice.label.as_str()),
            ("alice", "ACME")
        );
        let ImportedFactor::Totp(t) = &alice.factor else {
            panic!("totp")
        };
        assert_eq!(
            (
                t.params.algorithm,
                t.params.digits.get(),
                t.params.period.secs()
            ),
            (Algorithm::Sha256, 8, 30)
        );
        assert_eq!(t.secret.expose_secret(), KEY);
        let bob = parsed.records[1].as_ref().unwrap();
        let ImportedFactor::Hotp(h) = &bob.factor else {
            panic!("hotp")
        };
        assert_eq!(h.counter, 7);
        assert!(
            matches!(&parsed.records[2], Err(RecordError { index: 3, problem: Problem::Algorithm(a), .. }) if a == "MD5")
        );

        // Only the first of two QR codes: reported.
        let first = text.lines().next().unwrap();
        let parsed = parse_google_migration(first);
        assert!(matches!(
            parsed.records.last(),
            Some(Err(RecordError {
                index: 0,
                problem: Problem::BatchIncomplete {
                    batch_id: 99,
                    size: 2,
                    missing: 1
                },
                ..
            }))
        ));
    }

    #[test]
    fn malformed_payloads_are_typed_errors() {
        for (data, want) in [
            ("otpauth-migration://offline?data=%ZZ", "percent"),
            ("otpauth-migration://offline?data=!!!!", "base64"),
            ("otpauth-migration://offline?data=CgI%3D", "truncated"), // field 1, len 2, nothing
            ("otpauth-migration://offline?foo=1", "missing"),
            ("otpauth://totp/x?secret=AAAA", "does not start"),
        ] {
            let parsed = parse_google_migration(data);
            let e = parsed.records[0].as_ref().unwrap_err().to_string();
            assert!(e.contains(want), "{data}: {e}");
        }
    }
}
