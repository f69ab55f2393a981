//! The failure-limit table in `tests/data/failures.toml`.

use mfa_core::Timestamp;
use mfa_policy::lockout::FailureState;
use serde::Deserialize;

use crate::common::{policy, read};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    policy: String,
    case: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    failures: u32,
    last_failure_ago: Option<u64>,
    expect: Expect,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    state: String,
    until_in: Option<u64>,
}

#[test]
fn failure_table() {
    let table: Table = toml::from_str(&read("failures.toml")).unwrap();
    let policy = policy(&table.policy);
    let now = Timestamp::from_unix_secs(1_700_000_000);
    for case in &table.case {
        let last = case
            .last_failure_ago
            .map(|a| Timestamp::from_unix_secs(now.unix_secs() - a));
        let state = policy.failure_state(case.failures, last, now);
        let got = match state {
            FailureState::Open => ("open", None),
            FailureState::Backoff { until } => {
                ("backoff", Some(until.unix_secs() - now.unix_secs()))
            }
            FailureState::LockedOut { until } => {
                ("locked_out", Some(until.unix_secs() - now.unix_secs()))
            }
            other => panic!("unexpected {other:?}"),
        };
        assert_eq!(
            got,
            (case.expect.state.as_str(), case.expect.until_in),
            "{}",
            case.name
        );
        assert_eq!(
            state.is_open(),
            case.expect.state == "open",
            "{}",
            case.name
        );
    }
}

#[test]
fn nist_limit_of_100_is_accepted_and_enforced() {
    let doc =
        "version = 1\nmode = \"always\"\n[failures]\nmax_consecutive = 100\nbackoff_after = 100\n";
    let policy = mfa_policy::Policy::from_toml(doc).unwrap();
    assert_eq!(policy.failure_limits().max_consecutive, 100);
    let now = Timestamp::from_unix_secs(1_000);
    assert!(policy.failure_state(99, Some(now), now).is_open());
    assert!(matches!(
        policy.failure_state(100, Some(now), now),
        FailureState::LockedOut { .. }
    ));
}
