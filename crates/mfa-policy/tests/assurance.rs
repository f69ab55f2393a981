//! Exhaustive checks of "distinct factors" over every pair of RFC 8176 methods, with
//! the expected answer computed from mfa-core's `AuthMethod` properties alone.

use mfa_core::{AuthMethod, FactorId, FactorKind, Timestamp};
use mfa_policy::{Aal, CompletedMethod, EnrolledFactor, Policy, Session};

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
            let key_and_uv = (a.is_phishing_resistant() && b.is_user_verifying())
                || (b.is_phishing_resistant() && a.is_user_verifying());
            let distinct =
                a.category().is_some() && b.category().is_some() && a.category() != b.category();
            let want = key_and_uv && distinct;
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
                last_activity: None,
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
