//! A grace period for enrolment (Zitadel's `mfa_init_skip_lifetime`, Kratos' soft MFA):
//! a user who must enroll may skip it until a date, or for a number of sign-ins,
//! whichever ends first; after that [`Decision::Enroll`](crate::Decision::Enroll)
//! carries no grace and cannot be skipped.
//!
//! ```toml
//! [enrollment]
//! grace_until = 1_800_000_000   # Unix time: skipping ends then
//! grace_sign_ins = 5            # at most five skips per user
//! ```
//!
//! Evaluation is pure and does not know how often a user skipped; the service reads that
//! count and fills in the decision's grace (`mfa::Service::evaluate`), and records a skip
//! atomically (`mfa::Service::skip_enrollment`). A policy without either setting has no
//! grace period.

use mfa_core::Timestamp;
use serde::Serialize;

use crate::Policy;

/// How much grace is left: both limits that apply, each optional.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Eq, PartialEq, Serialize)]
pub struct Grace {
    /// Skipping ends at this time.
    pub until: Option<Timestamp>,
    /// Skips left, this one included.
    pub sign_ins_left: Option<u32>,
}

impl Grace {
    /// Whole days until `until` (rounded up), for "set up later (N days left)".
    pub fn days_left(&self, now: Timestamp) -> Option<u64> {
        self.until.map(|u| {
            u.unix_secs()
                .saturating_sub(now.unix_secs())
                .div_ceil(86_400)
        })
    }
}

/// The grace settings of a policy.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub(crate) struct GraceRules {
    pub(crate) until: Option<Timestamp>,
    pub(crate) sign_ins: Option<u32>,
}

impl Policy {
    /// The grace a user who has skipped enrolment `skips` times has at `now`: `None`
    /// when the policy has no grace period, its date has passed, or the skips are used
    /// up — enrolment cannot be skipped then.
    pub fn enrollment_grace(&self, skips: u32, now: Timestamp) -> Option<Grace> {
        let rules = self.enrollment.grace;
        if rules.until.is_none() && rules.sign_ins.is_none() {
            return None;
        }
        if rules.until.is_some_and(|u| now >= u) {
            return None;
        }
        let sign_ins_left = rules.sign_ins.map(|n| n.saturating_sub(skips));
        if sign_ins_left == Some(0) {
            return None;
        }
        Some(Grace {
            until: rules.until,
            sign_ins_left,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(extra: &str) -> Policy {
        Policy::from_toml(&format!(
            "version = 1\nmode = \"always\"\n[enrollment]\n{extra}"
        ))
        .unwrap()
    }

    const NOW: u64 = 1_700_000_000;

    /// Expected grace: (days left, skips left), or none.
    type Left = Option<(Option<u64>, Option<u32>)>;

    /// (settings, skips, seconds after NOW, expected grace)
    const TABLE: &[(&str, u32, u64, Left)] = &[
        ("", 0, 0, None),
        ("grace_sign_ins = 3", 0, 0, Some((None, Some(3)))),
        ("grace_sign_ins = 3", 2, 0, Some((None, Some(1)))),
        ("grace_sign_ins = 3", 3, 0, None),
        ("grace_until = 1700864000", 99, 0, Some((Some(10), None))),
        ("grace_until = 1700864000", 0, 864_000, None),
        (
            "grace_until = 1700864000\ngrace_sign_ins = 2",
            1,
            1,
            Some((Some(10), Some(1))),
        ),
        ("grace_until = 1700864000\ngrace_sign_ins = 2", 2, 1, None),
    ];

    #[test]
    fn grace_table() {
        for (i, (settings, skips, later, want)) in TABLE.iter().enumerate() {
            let now = Timestamp::from_unix_secs(NOW + later);
            let got = policy(settings)
                .enrollment_grace(*skips, now)
                .map(|g| (g.days_left(now), g.sign_ins_left));
            assert_eq!(got, *want, "#{i}: {settings:?} after {skips} skips");
        }
    }

    #[test]
    fn bad_settings_are_refused() {
        let e =
            Policy::from_toml("version = 1\nmode = \"always\"\n[enrollment]\ngrace_sign_ins = 0\n")
                .unwrap_err();
        assert!(e.to_string().contains("grace_sign_ins"), "{e}");
    }
}
