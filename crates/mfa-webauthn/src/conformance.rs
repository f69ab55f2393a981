//! A runner for `mfa-webauthn-case/1` conformance cases (the format of the shared
//! WebAuthn vectors' SCHEMA.md).
//!
//! Each case configures an [`Expectations`] from its `expected` block alone and goes
//! through the same [`verify_registration`] / [`verify_authentication`] a relying party
//! uses. The verdict never looks at `expected_outcome`; [`score`] compares afterwards.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::config::{Expectations, SignCountPolicy};
use crate::cose::Algorithm;
use crate::crypto::Backend;
use crate::error::{Error, ReasonCode};
use crate::json::{AuthenticationResponseJson, Base64UrlBytes, RegistrationResponseJson};
use crate::registration::CredentialRecord;
use crate::{verify_authentication, verify_registration};

/// The verdict on one case.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Verdict {
    /// Every check passed; the extracted values, as the runner prints them.
    Valid(Map<String, Value>),
    /// A check failed.
    Invalid(ReasonCode),
}

/// One case's outcome.
#[derive(Clone, Debug)]
pub struct CaseResult {
    /// The case file.
    pub path: PathBuf,
    /// The case's `name`.
    pub name: String,
    /// The verdict.
    pub verdict: Verdict,
    /// Whether it agrees with `expected_outcome`; `None` when the case has none.
    pub passed: Option<bool>,
    /// The whole case, for filtering by informational fields.
    pub case: Value,
}

impl CaseResult {
    /// The runner's output line for this case.
    pub fn line(&self) -> String {
        let mut obj = Map::new();
        obj.insert("name".into(), json!(self.name));
        match &self.verdict {
            Verdict::Valid(extra) => {
                obj.insert("result".into(), json!("valid"));
                obj.extend(extra.clone());
            }
            Verdict::Invalid(code) => {
                obj.insert("result".into(), json!("invalid"));
                obj.insert("reason".into(), json!(code.as_str()));
            }
        }
        Value::Object(obj).to_string()
    }
}

#[derive(Deserialize)]
struct CaseExpected {
    rp_id: String,
    origins: Vec<String>,
    challenge: String,
    #[serde(default = "yes")]
    user_presence_required: bool,
    #[serde(default)]
    user_verification_required: bool,
    #[serde(default)]
    allow_cross_origin: bool,
    #[serde(default)]
    allowed_top_origins: Vec<String>,
    #[serde(default)]
    allowed_algorithms: Option<Vec<i64>>,
    #[serde(default)]
    appid: Option<String>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
struct StoredCredential {
    id: String,
    public_key_cose: String,
    alg: i64,
    sign_count: u32,
    #[serde(default)]
    backup_eligible: Option<bool>,
    #[serde(default)]
    user_handle: Option<String>,
}

/// Decides one case (a JSON text) with `backend`. Never reads `expected_outcome`.
///
/// # Errors
///
/// A description when the case file itself is not in the schema's shape (this is a
/// broken case, not an invalid credential).
pub fn decide(case: &Value, backend: Backend) -> Result<Verdict, String> {
    let field = |k: &str| case.get(k).cloned().ok_or(format!("case without {k}"));
    let kind = field("type")?;
    let expected: CaseExpected =
        serde_json::from_value(field("expected")?).map_err(|e| format!("expected: {e}"))?;
    let exp = Expectations {
        rp_id: expected.rp_id,
        origins: expected.origins,
        allow_subdomains: false,
        challenge: Base64UrlBytes::decode(&expected.challenge)
            .map_err(|e| format!("expected.challenge: {e}"))?,
        user_presence_required: expected.user_presence_required,
        user_verification_required: expected.user_verification_required,
        allow_cross_origin: expected.allow_cross_origin,
        allowed_top_origins: expected.allowed_top_origins,
        allowed_algorithms: expected.allowed_algorithms.unwrap_or_else(|| {
            Algorithm::DEFAULT_PREFERENCE
                .iter()
                .map(|a| a.cose_id())
                .collect()
        }),
        appid: expected.appid,
    };
    let credential = field("credential")?;
    let verdict = match kind.as_str() {
        Some("registration") => {
            match serde_json::from_value::<RegistrationResponseJson>(credential) {
                Err(_) => Verdict::Invalid(ReasonCode::Malformed),
                Ok(resp) => match verify_registration(&exp, &resp, backend) {
                    Ok(reg) => {
                        let r = reg.record;
                        let mut m = Map::new();
                        m.insert("credential_id".into(), json!(r.id.encode()));
                        m.insert("public_key_cose".into(), json!(r.public_key.encode()));
                        m.insert("sign_count".into(), json!(r.sign_count));
                        m.insert("fmt".into(), json!(r.attestation_format));
                        m.insert("aaguid".into(), json!(r.aaguid));
                        m.insert("attestation_type".into(), json!(r.attestation_type));
                        m.insert("user_verified".into(), json!(r.user_verified));
                        Verdict::Valid(m)
                    }
                    Err(e) => Verdict::Invalid(code(&e)),
                },
            }
        }
        Some("authentication") => {
            let stored: StoredCredential = serde_json::from_value(field("stored_credential")?)
                .map_err(|e| format!("stored_credential: {e}"))?;
            let b64 = |s: &str| Base64UrlBytes::decode(s).map_err(|e| format!("stored: {e}"));
            let mut record = CredentialRecord::from_parts(
                b64(&stored.id)?.0,
                b64(&stored.public_key_cose)?.0,
                stored.alg,
                stored.sign_count,
            );
            record.backup_eligible = stored.backup_eligible;
            record.user_handle = stored.user_handle.as_deref().map(b64).transpose()?;
            match serde_json::from_value::<AuthenticationResponseJson>(credential) {
                Err(_) => Verdict::Invalid(ReasonCode::Malformed),
                Ok(resp) => {
                    let allowed = [record.id.clone()];
                    match verify_authentication(
                        &exp,
                        &allowed,
                        &resp,
                        &record,
                        SignCountPolicy::Reject,
                        backend,
                    ) {
                        Ok(a) => {
                            let mut m = Map::new();
                            m.insert("sign_count".into(), json!(a.sign_count));
                            m.insert("user_verified".into(), json!(a.user_verified));
                            Verdict::Valid(m)
                        }
                        Err(e) => Verdict::Invalid(code(&e)),
                    }
                }
            }
        }
        _ => return Err("type is neither registration nor authentication".into()),
    };
    Ok(verdict)
}

fn code(e: &Error) -> ReasonCode {
    e.reason_code().unwrap_or(ReasonCode::Malformed)
}

/// Whether `verdict` agrees with the case's `expected_outcome` (`None` without one):
/// the result, the reason of an invalid case, and the extracted values a valid case
/// lists (`credential_id`, `public_key_cose`, `sign_count`, `aaguid`).
pub fn score(case: &Value, verdict: &Verdict) -> Option<bool> {
    let outcome = case.get("expected_outcome")?;
    let result = outcome.get("result").and_then(Value::as_str);
    Some(match verdict {
        Verdict::Invalid(code) => {
            result == Some("invalid")
                && outcome.get("reason").and_then(Value::as_str) == Some(code.as_str())
        }
        Verdict::Valid(extra) => {
            result == Some("valid")
                && ["credential_id", "public_key_cose", "sign_count", "aaguid"]
                    .iter()
                    .all(|k| match (outcome.get(*k), extra.get(*k)) {
                        (Some(want), Some(got)) => want == got,
                        _ => true,
                    })
        }
    })
}

/// Every `*.json` case file under `dir`, recursively, in file-name order.
///
/// # Errors
///
/// When a directory cannot be read.
pub fn case_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let p = entry?.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "json") {
                out.push(p);
            }
        }
    }
    out.sort_by(|a, b| a.file_name().cmp(&b.file_name()).then_with(|| a.cmp(b)));
    Ok(out)
}

/// Runs every case file in `dir` that declares `"schema": "mfa-webauthn-case/1"`.
///
/// # Errors
///
/// When a directory or file cannot be read, or a case is not in the schema's shape.
pub fn run_dir(dir: &Path, backend: Backend) -> Result<Vec<CaseResult>, String> {
    let mut results = Vec::new();
    for path in case_files(dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let case: Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        if case.get("schema").and_then(Value::as_str) != Some("mfa-webauthn-case/1") {
            continue;
        }
        let verdict = decide(&case, backend).map_err(|e| format!("{}: {e}", path.display()))?;
        let passed = score(&case, &verdict);
        results.push(CaseResult {
            path,
            name: case
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            verdict,
            passed,
            case,
        });
    }
    Ok(results)
}
