//! Helpers shared by the table-driven tests.

use std::path::PathBuf;

use mfa_core::{FactorId, FactorKind, Timestamp};
use mfa_policy::Policy;
use mfa_policy::input::EnrolledFactor;
use serde::Deserialize;

pub(crate) fn data(path: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data")).join(path)
}

pub(crate) fn read(path: &str) -> String {
    std::fs::read_to_string(data(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub(crate) fn policy(name: &str) -> Policy {
    Policy::from_toml(&read(&format!("policies/{name}")))
        .unwrap_or_else(|e| panic!("policies/{name}: {e}"))
}

/// Seconds from a relative time like "5m", "-1h", "31d" or "90".
pub(crate) fn secs(ago: &str) -> i64 {
    let (neg, s) = match ago.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, ago),
    };
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: i64 = n
        .parse()
        .unwrap_or_else(|_| panic!("bad relative time {ago:?}"));
    let mult = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => panic!("bad unit in {ago:?}"),
    };
    if neg { -n * mult } else { n * mult }
}

pub(crate) fn before(now: u64, ago: &str) -> Timestamp {
    Timestamp::from_unix_secs(now.checked_add_signed(-secs(ago)).unwrap())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFactor {
    pub(crate) id: String,
    pub(crate) kind: String,
    pub(crate) confirmed: Option<bool>,
    pub(crate) consecutive_failures: Option<u32>,
    pub(crate) last_failure_ago: Option<String>,
}

impl RawFactor {
    pub(crate) fn build(&self, now: u64) -> EnrolledFactor {
        let mut f = EnrolledFactor::new(
            FactorId::new(&self.id).unwrap(),
            self.kind.parse::<FactorKind>().unwrap(),
        );
        f.confirmed = self.confirmed.unwrap_or(true);
        f.consecutive_failures = self.consecutive_failures.unwrap_or(0);
        f.last_failure_at = self.last_failure_ago.as_deref().map(|a| before(now, a));
        f
    }
}

/// `CamelCase` → `snake_case`, to compare enum variants with table strings.
pub(crate) fn snake(debug: &str) -> String {
    let name = debug.split([' ', '{', '(']).next().unwrap_or(debug);
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// A table of cases read from TOML: `[[case]]` entries and nothing else.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Cases<C> {
    pub(crate) case: Vec<C>,
}
