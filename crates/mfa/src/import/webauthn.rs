//! WebAuthn credentials as JSON (the shape documented in [the module](super)).

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use mfa_webauthn::CredentialRecord;
use mfa_webauthn::cose::PublicKey;
use serde::Deserialize;
use serde_json::Value;

use super::otpauth::truncate_label;
use super::{
    Format, FormatError, ImportRecord, ImportedFactor, Parsed, Problem, RecordError, user_id,
};

/// One credential as other relying parties store it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CredentialJson {
    user: String,
    #[serde(alias = "id")]
    credential_id: String,
    #[serde(alias = "credentialPublicKey")]
    public_key: String,
    #[serde(default, alias = "counter")]
    sign_count: u32,
    #[serde(default)]
    transports: Vec<String>,
    #[serde(default)]
    user_handle: Option<String>,
    #[serde(default, alias = "credentialDeviceType")]
    backup_eligible: Option<BackupEligible>,
    #[serde(default, alias = "credentialBackedUp")]
    backup_state: bool,
    #[serde(default)]
    aaguid: Option<String>,
    #[serde(default)]
    label: Option<String>,
}

/// `true`/`false`, or SimpleWebAuthn's `"multiDevice"` / `"singleDevice"`.
#[derive(Deserialize)]
#[serde(untagged)]
enum BackupEligible {
    Flag(bool),
    DeviceType(String),
}

/// Parses a JSON array of credentials (or `{"credentials": [...]}`); each element is
/// one record, its index the 1-based position. The COSE key is decoded and checked
/// (an algorithm mfa-webauthn verifies, a point on its curve).
///
/// # Errors
///
/// [`FormatError::Json`] when the document is not JSON or not such an array.
pub fn parse_webauthn_json(input: &str) -> Result<Parsed, FormatError> {
    let doc: Value = serde_json::from_str(input).map_err(|e| FormatError::Json(e.to_string()))?;
    let items = match doc {
        Value::Array(items) => items,
        Value::Object(mut o) => match o.remove("credentials") {
            Some(Value::Array(items)) => items,
            _ => {
                return Err(FormatError::Json(
                    "expected an array or {\"credentials\": [...]}".to_owned(),
                ));
            }
        },
        _ => {
            return Err(FormatError::Json(
                "expected an array or {\"credentials\": [...]}".to_owned(),
            ));
        }
    };
    let records = items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let index = i.saturating_add(1);
            let user = item.get("user").and_then(Value::as_str).map(str::to_owned);
            let error = |p| RecordError::new(index, p).for_user(user.as_deref());
            let c: CredentialJson = serde_json::from_value(item)
                .map_err(|e| error(Problem::WebAuthn(e.to_string())))?;
            record(index, c).map_err(error)
        })
        .collect();
    Ok(Parsed {
        format: Format::WebAuthnJson,
        records,
    })
}

fn record(index: usize, c: CredentialJson) -> Result<ImportRecord, Problem> {
    let user = user_id(index, &c.user).map_err(|e| e.problem)?;
    let id = b64(&c.credential_id).ok_or(Problem::Field {
        field: "credentialId",
        why: "is not base64url",
    })?;
    if id.is_empty() || id.len() > 1023 {
        return Err(Problem::Field {
            field: "credentialId",
            why: "must be 1 to 1023 bytes",
        });
    }
    let cose = b64(&c.public_key).ok_or(Problem::Field {
        field: "publicKey",
        why: "is not base64url",
    })?;
    let key = PublicKey::from_cose(&cose).map_err(|e| Problem::WebAuthn(e.to_string()))?;
    key.validate()
        .map_err(|e| Problem::WebAuthn(e.to_string()))?;
    let alg = mfa_webauthn::cose::cose_alg(&cose).map_err(|e| Problem::WebAuthn(e.to_string()))?;
    let mut record = CredentialRecord::from_parts(id, cose, alg, c.sign_count);
    record.transports = c.transports;
    record.user_handle = match c.user_handle {
        None => None,
        Some(h) => Some(mfa_webauthn::json::Base64UrlBytes(b64(&h).ok_or(
            Problem::Field {
                field: "userHandle",
                why: "is not base64url",
            },
        )?)),
    };
    record.backup_eligible = match c.backup_eligible {
        None => None,
        Some(BackupEligible::Flag(b)) => Some(b),
        Some(BackupEligible::DeviceType(t)) => match t.as_str() {
            "multiDevice" => Some(true),
            "singleDevice" => Some(false),
            _ => {
                return Err(Problem::Field {
                    field: "backupEligible",
                    why: "is not a boolean, multiDevice or singleDevice",
                });
            }
        },
    };
    record.backup_state = c.backup_state;
    if let Some(aaguid) = c.aaguid {
        if !is_uuid(&aaguid) {
            return Err(Problem::Field {
                field: "aaguid",
                why: "is not a UUID",
            });
        }
        record.aaguid = aaguid.to_ascii_lowercase();
    }
    Ok(ImportRecord {
        index,
        user,
        label: truncate_label(c.label.as_deref().unwrap_or("Imported security key")),
        factor: ImportedFactor::WebAuthn(Box::new(record)),
    })
}

/// Writes the WebAuthn records (others are skipped) in the documented JSON shape, which
/// [`parse_webauthn_json`] reads back: public data only (credential id, COSE public key,
/// sign count, transports, user handle, backup flags, AAGUID), so it may be stored and
/// sent like any public key.
pub fn write_webauthn_json(records: &[ImportRecord]) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let items: Vec<Value> = records
        .iter()
        .filter_map(|r| match &r.factor {
            ImportedFactor::WebAuthn(c) => Some(serde_json::json!({
                "user": r.user.as_str(),
                "credentialId": URL_SAFE_NO_PAD.encode(&c.id.0),
                "publicKey": URL_SAFE_NO_PAD.encode(&c.public_key.0),
                "signCount": c.sign_count,
                "transports": c.transports,
                "userHandle": c.user_handle.as_ref().map(|h| URL_SAFE_NO_PAD.encode(&h.0)),
                "backupEligible": c.backup_eligible,
                "backupState": c.backup_state,
                "aaguid": c.aaguid,
                "label": r.label,
            })),
            _ => None,
        })
        .collect();
    Value::Array(items).to_string()
}

fn b64(text: &str) -> Option<Vec<u8>> {
    const LENIENT: GeneralPurposeConfig =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT)
        .decode(text)
        .or_else(|_| GeneralPurpose::new(&alphabet::STANDARD, LENIENT).decode(text))
        .ok()
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ES256 COSE key (the P-256 generator point, a valid public key).
    pub(crate) const COSE_ES256: &str = "pQECAyYgASFYIGsX0fLhLEJH-Lzm5WOkQPJ3A32BLeszoPShOUXYmMKWIlggT-NC4v4af5uO5-tKfA-eFivOM1drMV7Oy7ZAaDe_UfU";

    #[test]
    fn fields_are_kept_and_bad_elements_are_per_record() {
        let json = format!(
            r#"{{"credentials": [
              {{"user": "alice", "credentialId": "AAEC", "publicKey": "{COSE_ES256}", "signCount": 17,
                "transports": ["usb"], "userHandle": "q83v", "backupEligible": "multiDevice",
                "backupState": true, "aaguid": "CB69481E-8FF7-4039-93EC-0A2729A154A8", "label": "Key", "extra": 1}},
              {{"user": "bob", "credentialId": "AAEC", "publicKey": "AAAA"}},
              {{"user": "carol", "publicKey": "{COSE_ES256}"}},
              {{"user": "", "credentialId": "AAEC", "publicKey": "{COSE_ES256}"}}
            ]}}"#
        );
        let parsed = parse_webauthn_json(&json).unwrap();
        let alice = parsed.records[0].as_ref().unwrap();
        let ImportedFactor::WebAuthn(c) = &alice.factor else {
            panic!("webauthn")
        };
        assert_eq!(
            (c.id.0.as_slice(), c.sign_count, c.alg),
            (&[0u8, 1, 2][..], 17, -7)
        );
        assert_eq!((c.backup_eligible, c.backup_state), (Some(true), true));
        assert_eq!(c.aaguid, "cb69481e-8ff7-4039-93ec-0a2729a154a8");
        assert_eq!(c.user_handle.as_ref().unwrap().0, vec![0xab, 0xcd, 0xef]);
        assert!(matches!(
            parsed.records[1],
            Err(RecordError {
                index: 2,
                problem: Problem::WebAuthn(_),
                ..
            })
        ));
        assert!(matches!(
            parsed.records[2],
            Err(RecordError {
                index: 3,
                problem: Problem::WebAuthn(_),
                ..
            })
        ));
        assert!(matches!(
            parsed.records[3],
            Err(RecordError {
                index: 4,
                problem: Problem::User(_),
                ..
            })
        ));
        assert!(parse_webauthn_json("{}").is_err());
        assert!(parse_webauthn_json("[").is_err());
    }
}
