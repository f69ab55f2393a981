//! Exhaustive checks of "distinct factors" over every pair of RFC 8176 methods, with
//! the expected answer computed from mfa-core's `AuthMethod` properties alone.

use mfa_core::{AuthMethod, FactorId, FactorKind, Timestamp};
use mfa_policy::Policy;
use mfa_policy::assurance::Aal;
use mfa_policy::input::{CompletedMethod, EnrolledFactor, Session};

fn policy() -> Policy {
    Policy::from_toml("version = 1\nmode = \"always\"\n").unwrap()
}

fn method(m: AuthMethod, factor: &str, at: Timestamp) -> CompletedMethod {
    CompletedMethod {
        method: m,
        factor: Some(FactorId::new(factor).unwrap()),
        at,
    }
}

#[test]
fn one_factor_is_multi_factor_only_as_a_key_with_user_verification() {
    let p = policy();
    let now = Timestamp::from_unix_secs(1_000_000);
    let enrolled = [EnrolledFactor::new(
        FactorId::new("f1").unwrap(),
        "webauthn-cross-platform".parse().unwrap(),
    )];
    let mut multi = 0;
    for a in AuthMethod::ALL {
        for b in AuthMethod::ALL {
            let session = Session {
                methods: vec![method(a, "f1", now), method(b, "f1", now)],
                last_activity: Some(now),
            };
            // A key proof with user verification from one WebAuthn factor, reported as
            // a PIN or biometric, or as RFC 8176 `mfa` (a user-verified passkey).
            let uv = |m: AuthMethod| m.is_user_verifying() || m == AuthMethod::Mfa;
            let want = (a.is_phishing_resistant() && uv(b)) || (b.is_phishing_resistant() && uv(a));
            let got = p.assurance(&session, &enrolled, now) >= Some(Aal::Aal2);
            assert_eq!(got, want, "{a} + {b} from one factor");
            multi += usize::from(got);
            assert_eq!(
                p.amr(&session, &enrolled, now).contains(AuthMethod::Mfa),
                want,
                "{a} + {b}"
            );
        }
    }
    assert!(multi > 0);
}

#[test]
fn two_factors_are_multi_factor_when_their_categories_differ() {
    let p = policy();
    let now = Timestamp::from_unix_secs(1_000_000);
    let enrolled = [
        EnrolledFactor::new(FactorId::new("f1").unwrap(), FactorKind::Totp),
        EnrolledFactor::new(FactorId::new("f2").unwrap(), FactorKind::Totp),
    ];
    for a in AuthMethod::ALL {
        for b in AuthMethod::ALL {
            let session = Session {
                methods: vec![method(a, "f1", now), method(b, "f2", now)],
                last_activity: Some(now),
            };
            let want =
                a.category().is_some() && b.category().is_some() && a.category() != b.category();
            let got = p.assurance(&session, &enrolled, now) >= Some(Aal::Aal2);
            assert_eq!(got, want, "{a} (f1) + {b} (f2)");
            // TOTP factors are never AAL3, whatever they claim.
            assert_ne!(
                p.assurance(&session, &enrolled, now),
                Some(Aal::Aal3),
                "{a} + {b}"
            );
        }
    }
}

/// Issue 9 item 7: a user-verified passkey reports `hwk`/`swk`, `user` and `mfa` (not
/// `pin`/`fpt`/`face`); before the fix policy saw one category and no user verification,
/// so it was AAL1 and `amr` dropped `mfa`.
#[test]
fn user_verified_passkey_reporting_mfa_is_multi_factor() {
    let p = policy();
    let now = Timestamp::from_unix_secs(1_000_000);
    for (kind, key, aal) in [
        ("webauthn-platform", AuthMethod::Hwk, Aal::Aal3),
        ("webauthn", AuthMethod::Swk, Aal::Aal2),
    ] {
        let enrolled = [EnrolledFactor::new(
            FactorId::new("pk").unwrap(),
            kind.parse().unwrap(),
        )];
        let session = Session {
            methods: vec![
                method(key, "pk", now),
                method(AuthMethod::User, "pk", now),
                method(AuthMethod::Mfa, "pk", now),
            ],
            last_activity: Some(now),
        };
        assert_eq!(p.assurance(&session, &enrolled, now), Some(aal), "{kind}");
        let amr = p.amr(&session, &enrolled, now).to_strings();
        let mut want = [key.as_str(), "mfa", "user"];
        want.sort_unstable();
        assert_eq!(amr, want, "{kind}");
        // Without `mfa` (user presence only) it is one factor.
        let presence = Session {
            methods: vec![method(key, "pk", now), method(AuthMethod::User, "pk", now)],
            last_activity: Some(now),
        };
        assert_eq!(p.assurance(&presence, &enrolled, now), Some(Aal::Aal1));
        assert!(!p.amr(&presence, &enrolled, now).contains(AuthMethod::Mfa));
    }
    // A factor that is not a WebAuthn credential claiming `mfa` proves nothing more.
    let enrolled = [EnrolledFactor::new(
        FactorId::new("t").unwrap(),
        FactorKind::Totp,
    )];
    let session = Session {
        methods: vec![
            method(AuthMethod::Otp, "t", now),
            method(AuthMethod::Mfa, "t", now),
        ],
        last_activity: Some(now),
    };
    assert_eq!(p.assurance(&session, &enrolled, now), Some(Aal::Aal1));
    assert_eq!(p.amr(&session, &enrolled, now).to_strings(), ["otp"]);
}

/// Issue 9 item 4: an inactivity limit with no known last activity counts as expired
/// (before the fix a session without `last_activity` skipped the AAL2/AAL3 idle limits).
#[test]
fn unknown_last_activity_is_expired() {
    let p = policy();
    let now = Timestamp::from_unix_secs(1_000_000);
    let enrolled = [EnrolledFactor::new(
        FactorId::new("t").unwrap(),
        FactorKind::Totp,
    )];
    let mut session = Session {
        methods: vec![
            CompletedMethod {
                method: AuthMethod::Pwd,
                factor: None,
                at: now,
            },
            method(AuthMethod::Otp, "t", now),
        ],
        last_activity: None,
    };
    assert_eq!(p.assurance(&session, &enrolled, now), Some(Aal::Aal1));
    session.last_activity = Some(now);
    assert_eq!(p.assurance(&session, &enrolled, now), Some(Aal::Aal2));
}
