//! A runner for `mfa-webauthn-case/1` conformance cases (the format of the shared
//! WebAuthn vectors' SCHEMA.md).
//!
//! Each case configures an [`Expectations`] from its `expected` block (and its
//! `stored_credential`) alone and goes through the same [`verify_registration_with`] /
//! [`verify_authentication`] a relying party uses. The verdict never looks at
//! `expected_outcome`; [`score`] compares afterwards.
//!
//! # Scoring
//!
//! Every field of `expected_outcome` that SCHEMA.md defines is compared, and a field
//! the verdict does not produce counts as a disagreement: `result`; `reason` for an
//! invalid case; for a valid registration `credential_id`, `public_key_cose`, `aaguid`,
//! `sign_count`, `attestation_type`, `attestation_trust` and `flags`; for a valid
//! authentication `sign_count` and `flags`.
//!
//! - `attestation_type`: this crate reports a verified `packed` x5c chain as
//!   [`AttestationType::Basic`](crate::AttestationType::Basic), meaning "basic or
//!   attestation CA, not told apart" (§8.2 allows that uncertainty), so it agrees with
//!   `basic` and `basic_or_attca (x5c)`; `tpm` is `attca` and `apple` `anonca`.
//! - `attestation_trust`: `trusted` (the chain validated to one of the case's
//!   `trust_anchors` at its `verification_time`) agrees with an expectation starting
//!   with `trusted`, `not-evaluated` with one starting with `not-evaluated`.
//!
//! # The runner's policy
//!
//! Each case's `trust_anchors` become a [`TrustAnchors`] set (any format, any AAGUID),
//! its `verification_time` the instant of [`verify_registration_with`] (a case without
//! one is checked at the Unix epoch: SCHEMA.md says no time-dependent check matters
//! then), and `require_cts_profile_match` (default true) the SafetyNet switch. The
//! runner **opts in to RS1 attestation statement signatures**
//! ([`AttestationPolicy::danger_allow_rs1_attestation`]), as SCHEMA.md's policy notes
//! expect for Windows Hello TPMs; a relying party refuses them unless it opts in too
//! ([`RelyingPartyBuilder::danger_allow_rs1_attestation`](crate::RelyingPartyBuilder::danger_allow_rs1_attestation)).
//! RS1 credential keys are the other opt-in
//! ([`Expectations::danger_allow_rs1`]): the runner sets it only for a case whose
//! relying party offers RS1 (-65535) in `allowed_algorithms`, as a relying party must
//! opt in to offer it.
//!
//! An authentication case with `expected.discoverable: true` is a usernameless sign-in:
//! the allow list is empty, so a response without `userHandle` (or with another one) is
//! `user_handle_mismatch`, as the service's passkey sign-in decides. Otherwise the allow
//! list is the stored credential.
//!
//! Two modelling choices, both from the inputs only: credProps is taken as requested
//! (the format has no extension inputs, and a client returns credProps only when asked),
//! and a `stored_credential` without `user_handle` in a case that is not discoverable is
//! a relying party that tracks none, so [`Expectations::danger_unbound_user_handle`] is
//! set for it (its allow list is the stored credential, so the user is identified
//! before).

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::config::{Expectations, SignCountPolicy};
use crate::cose::Algorithm;
use crate::credential::CredentialRecord;
use crate::crypto::Backend;
use crate::error::{Error, FailureCode};
use crate::hazmat::authdata::Flags;
use crate::hazmat::{verify_authentication, verify_registration_with};
use crate::json::{AuthenticationResponseJson, Base64UrlBytes, RegistrationResponseJson};
use crate::trust::{AttestationPolicy, TrustAnchor, TrustAnchors};

/// The verdict on one case.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Verdict {
    /// Every check passed; the extracted values, as the runner prints them.
    Valid(Map<String, Value>),
    /// A check failed.
    Invalid(FailureCode),
    /// Every check this crate can make passed, but the case asks for one it cannot make;
    /// the extracted values, and why. Trust anchors are evaluated now, so no case of
    /// `mfa-webauthn-case/1` produces it; it stays for inputs a later schema adds.
    NotSupported {
        /// The check that is missing.
        why: &'static str,
        /// The extracted values, as for [`Verdict::Valid`].
        values: Map<String, Value>,
    },
}

/// How a verdict compares with the case's `expected_outcome`.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Score {
    /// Every scored field agrees.
    Passed,
    /// The fields that disagree (or that the verdict does not produce).
    Failed(Vec<String>),
    /// The case needs a check this crate cannot make, and every field it could check
    /// agrees (a disagreement there is [`Score::Failed`]).
    NotSupported,
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
    /// How it compares with `expected_outcome`; `None` when the case has none.
    pub score: Option<Score>,
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
            Verdict::NotSupported { why, values } => {
                obj.insert("result".into(), json!("not_supported"));
                obj.insert("why".into(), json!(why));
                obj.extend(values.clone());
            }
        }
        if let Some(Score::Failed(fields)) = &self.score {
            obj.insert("disagrees".into(), json!(fields));
        }
        Value::Object(obj).to_string()
    }

    /// Whether the case passed.
    pub fn passed(&self) -> bool {
        self.score == Some(Score::Passed)
    }
}

/// The tally of a run: what the runner's last line says.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub struct Tally {
    /// Cases whose every scored field agrees.
    pub passed: usize,
    /// Cases with a disagreeing field.
    pub failed: usize,
    /// Cases that need a check this crate cannot make.
    pub not_supported: usize,
}

impl Tally {
    /// Counts the scored results.
    pub fn of<'a>(results: impl IntoIterator<Item = &'a CaseResult>) -> Self {
        let mut t = Self::default();
        for r in results {
            match &r.score {
                Some(Score::Passed) => t.passed += 1,
                Some(Score::Failed(_)) => t.failed += 1,
                Some(Score::NotSupported) => t.not_supported += 1,
                None => {}
            }
        }
        t
    }
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} passed, {} failed, {} not supported",
            self.passed, self.failed, self.not_supported
        )
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
    #[serde(default)]
    trust_anchors: Option<Vec<String>>,
    #[serde(default)]
    verification_time: Option<String>,
    #[serde(default = "yes")]
    require_cts_profile_match: bool,
    /// Authentication: the user was not identified before (a usernameless sign-in), so
    /// the allow list is empty and the response must carry the stored user handle.
    #[serde(default)]
    discoverable: bool,
}

/// Seconds since the Unix epoch of an RFC 3339 UTC instant `YYYY-MM-DDTHH:MM:SS[.f]Z`.
fn parse_rfc3339(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> { s.get(r)?.parse().ok() };
    if b.len() < 20 || b.get(4) != Some(&b'-') || b.get(10) != Some(&b'T') || !s.ends_with('Z') {
        return None;
    }
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + hh * 3600 + mm * 60 + ss).ok()
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
    // A case whose relying party offers RS1 (-65535) has opted in to it.
    let discoverable = expected.discoverable;
    let danger_allow_rs1 = expected
        .allowed_algorithms
        .as_ref()
        .is_some_and(|a| a.contains(&Algorithm::Rs1.cose_id()));
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
        cred_props_requested: true,
        danger_unbound_user_handle: false,
        danger_allow_rs1,
        backup_eligibility: crate::BackupEligibilityRule::Reject,
    };
    let mut anchors = TrustAnchors::new();
    for a in expected.trust_anchors.iter().flatten() {
        use base64::Engine as _;
        let der = base64::engine::general_purpose::STANDARD
            .decode(a)
            .map_err(|e| format!("trust anchor: {e}"))?;
        anchors = anchors.with(TrustAnchor::from_der(der).map_err(|e| e.to_string())?);
    }
    let now = match &expected.verification_time {
        Some(t) => parse_rfc3339(t).ok_or(format!("verification_time {t}"))?,
        None => 0,
    };
    let policy = AttestationPolicy {
        anchors: (!anchors.is_empty()).then(|| std::sync::Arc::new(anchors) as _),
        require_trusted: false,
        danger_allow_rs1_attestation: true,
        require_cts_profile_match: expected.require_cts_profile_match,
        ..AttestationPolicy::default()
    };
    let credential = field("credential")?;
    let verdict = match kind.as_str() {
        Some("registration") => {
            match serde_json::from_value::<RegistrationResponseJson>(credential) {
                Err(_) => Verdict::Invalid(FailureCode::Malformed),
                Ok(resp) => match verify_registration_with(
                    &exp,
                    &resp,
                    &policy,
                    mfa_core::Timestamp::from_unix_secs(now),
                    backend,
                ) {
                    Ok(reg) => {
                        let r = reg.record;
                        let mut m = Map::new();
                        m.insert("flags".into(), flags_json(reg.flags));
                        m.insert("credential_id".into(), json!(r.id.encode()));
                        m.insert("public_key_cose".into(), json!(r.public_key.encode()));
                        m.insert("sign_count".into(), json!(r.sign_count));
                        m.insert("fmt".into(), json!(r.attestation_format));
                        m.insert("aaguid".into(), json!(r.aaguid));
                        m.insert("attestation_type".into(), json!(r.attestation_type));
                        m.insert("user_verified".into(), json!(r.user_verified));
                        m.insert("attestation_trust".into(), json!(reg.trust.as_str()));
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
            let mut exp = exp;
            exp.cred_props_requested = false;
            // A relying party without stored handles identified the user first; a
            // usernameless one never relaxes the handle check.
            exp.danger_unbound_user_handle = record.user_handle.is_none() && !discoverable;
            match serde_json::from_value::<AuthenticationResponseJson>(credential) {
                Err(_) => Verdict::Invalid(FailureCode::Malformed),
                Ok(resp) => {
                    // `discoverable`: the ceremony had an empty allow list (§7.2 step 5
                    // skipped, step 6 requires the user handle).
                    let allowed = if discoverable {
                        Vec::new()
                    } else {
                        vec![record.id.clone()]
                    };
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
                            m.insert("flags".into(), flags_json(a.flags));
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

fn code(e: &Error) -> FailureCode {
    e.failure_code().unwrap_or(FailureCode::Malformed)
}

/// The flags as SCHEMA.md's `flags` object spells them.
fn flags_json(f: Flags) -> Value {
    json!({
        "UP": f.user_present(),
        "UV": f.user_verified(),
        "BE": f.backup_eligible(),
        "BS": f.backup_state(),
        "AT": f.attested_credential_data(),
        "ED": f.extension_data(),
    })
}

/// The `expected_outcome` fields SCHEMA.md defines for a valid case of `kind`.
fn valid_fields(kind: &str) -> &'static [&'static str] {
    match kind {
        "registration" => &[
            "credential_id",
            "public_key_cose",
            "aaguid",
            "sign_count",
            "attestation_type",
            "attestation_trust",
            "flags",
        ],
        _ => &["sign_count", "flags"],
    }
}

/// Whether an extracted value agrees with an expected one (see the module docs for
/// `attestation_type` and `attestation_trust`).
fn agrees(field: &str, want: &Value, got: &Value) -> bool {
    match field {
        "attestation_type" => match (want.as_str(), got.as_str()) {
            (Some("basic" | "basic_or_attca (x5c)"), Some("basic")) => true,
            (Some(w), Some(g)) => w == g,
            _ => false,
        },
        "attestation_trust" => match (want.as_str(), got.as_str()) {
            (Some(w), Some(g @ ("not-evaluated" | "trusted"))) => w
                .strip_prefix(g)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', ':'])),
            _ => false,
        },
        _ => want == got,
    }
}

/// How `verdict` compares with the case's `expected_outcome` (`None` without one);
/// see the module docs for what is scored.
pub fn score(case: &Value, verdict: &Verdict) -> Option<Score> {
    let outcome = case.get("expected_outcome")?;
    let want_result = outcome.get("result").and_then(Value::as_str);
    let kind = case.get("type").and_then(Value::as_str).unwrap_or_default();
    let mut off = Vec::new();
    let mut compare_values = |values: &Map<String, Value>, skip_trust: bool| {
        for field in valid_fields(kind) {
            if skip_trust && *field == "attestation_trust" {
                continue;
            }
            if let Some(want) = outcome.get(*field)
                && !values
                    .get(*field)
                    .is_some_and(|got| agrees(field, want, got))
            {
                off.push((*field).to_owned());
            }
        }
    };
    match verdict {
        Verdict::Invalid(code) => {
            if want_result != Some("invalid") {
                off.push("result".to_owned());
            } else if outcome.get("reason").and_then(Value::as_str) != Some(code.as_str()) {
                off.push("reason".to_owned());
            }
            Some(if off.is_empty() {
                Score::Passed
            } else {
                Score::Failed(off)
            })
        }
        Verdict::Valid(values) => {
            if want_result == Some("valid") {
                compare_values(values, false);
            } else {
                off.push("result".to_owned());
            }
            Some(if off.is_empty() {
                Score::Passed
            } else {
                Score::Failed(off)
            })
        }
        Verdict::NotSupported { values, .. } => {
            // The trust verdict is the missing check: an expected `untrusted_attestation`
            // (or a trusted chain) cannot be confirmed; any other expectation is checked.
            match (want_result, outcome.get("reason").and_then(Value::as_str)) {
                (Some("valid"), _) => compare_values(values, true),
                (Some("invalid"), Some("untrusted_attestation")) => {}
                _ => off.push("result".to_owned()),
            }
            Some(if off.is_empty() {
                Score::NotSupported
            } else {
                Score::Failed(off)
            })
        }
    }
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
        let score = score(&case, &verdict);
        results.push(CaseResult {
            path,
            name: case
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            verdict,
            score,
            case,
        });
    }
    Ok(results)
}
