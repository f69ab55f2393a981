//! One-time codes: the whole life of a challenge, and every way it is refused.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mfa_core::{
    AuthMethod, Channel, Factor, FactorKind, KeyId, Keyring, OsRandom, RejectReason, SecretBytes,
    StartOptions, UserVerification,
};
use mfa_oob::{
    Error, LimitError, OobChallenge, OobFactor, OobRecord, OobState, OutboxSender, Sender,
};

use crate::common::{T0, at, codes, codes_with, config, email_record, reason, sms_record};

fn start(codes: &OobFactor, record: &OobRecord) -> (OobChallenge, OobState, String) {
    let (mut ch, state) = codes
        .start(Some(record), &StartOptions::new(), T0, &mut OsRandom)
        .unwrap();
    let code = ch.take_message().unwrap().expose_code().to_owned();
    assert!(ch.message().is_none());
    (ch, state, code)
}

/// One pass of the attempt loop without a store: begin, then verify the begun state.
fn attempt(
    codes: &OobFactor,
    record: &OobRecord,
    state: &OobState,
    code: &str,
    now: mfa_core::Timestamp,
) -> (OobState, Result<(), Error>) {
    match codes.begin_code_attempt(state, now) {
        Ok(next) => {
            let r = codes.verify_code(record, &next, code, now).map(|_| ());
            (next, r)
        }
        Err(e) => (state.clone(), Err(e)),
    }
}

#[test]
fn a_code_verifies_once_begun_and_proves_the_channel_method() {
    let f = codes();
    let rec = sms_record(&f, "+1 201 555 0123");
    assert_eq!(f.kind(&rec), FactorKind::Sms);
    let (ch, state, code) = start(&f, &rec);
    assert_eq!(code.len(), 6);
    assert_eq!(ch.attempts_left(), 5);
    assert_eq!(ch.expires_at(), at(600));
    assert_eq!(ch.resend_after(), at(30));
    let json = serde_json::to_value(&ch).unwrap();
    assert_eq!(json["destination"], "+1 ••• ••• 0123");
    assert_eq!(json["channel"], "sms");
    assert!(json.get("message").is_none());
    assert!(!json.to_string().contains(&code));
    // The state keeps a hash only.
    let stored = serde_json::to_string(&state).unwrap();
    assert!(!stored.contains(&code), "{stored}");
    let back: OobState = serde_json::from_str(&stored).unwrap();
    assert_eq!(back, state);

    let begun = f.begin_attempt(&state, at(5)).unwrap().unwrap();
    assert_eq!(begun.attempts_left(), 4);
    let spaced = format!("{} {}", &code[..3], &code[3..]);
    let ok = f
        .verify(&rec, &begun, &spaced, at(5), &mut OsRandom)
        .unwrap();
    assert_eq!(ok.methods, [AuthMethod::Sms]);
    assert_eq!(ok.details.attempts_used, 1);
    assert_eq!(ok.record, rec);
}

#[test]
fn verifying_a_state_on_which_no_attempt_was_begun_is_a_misuse() {
    let f = codes();
    let rec = sms_record(&f, "+12015550123");
    let (_, state, code) = start(&f, &rec);
    let err = f.verify_code(&rec, &state, &code, T0).unwrap_err();
    assert!(!err.is_rejection());
    assert!(matches!(err, Error::Invalid(_)), "{err:?}");
}

#[test]
fn expired_codes_are_refused_at_both_steps() {
    let f = codes();
    let rec = sms_record(&f, "+12015550123");
    let (_, state, code) = start(&f, &rec);
    // Exactly at the expiry it still works; one second later it does not.
    let (_, r) = attempt(&f, &rec, &state, &code, at(600));
    r.unwrap();
    assert_eq!(
        reason(f.begin_code_attempt(&state, at(601))),
        RejectReason::Expired
    );
    // A state begun in time but checked too late.
    let begun = f.begin_code_attempt(&state, at(599)).unwrap();
    assert_eq!(
        reason(f.verify_code(&rec, &begun, &code, at(601))),
        RejectReason::Expired
    );
}

#[test]
fn attempts_run_out_and_the_right_code_then_fails() {
    let f = codes();
    let rec = sms_record(&f, "+12015550123");
    let (_, mut state, code) = start(&f, &rec);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for i in 0..5 {
        let (next, r) = attempt(&f, &rec, &state, wrong, at(1));
        assert_eq!(reason(r), RejectReason::WrongCode, "attempt {i}");
        state = next;
    }
    assert_eq!(state.attempts_left(), 0);
    let (_, r) = attempt(&f, &rec, &state, &code, at(2));
    assert_eq!(reason(r), RejectReason::Exhausted);
}

#[test]
fn malformed_input_costs_an_attempt_and_says_malformed() {
    let f = codes();
    let rec = sms_record(&f, "+12015550123");
    let (_, state, _) = start(&f, &rec);
    for bad in ["", "12345", "1234567", "12a456", "١٢٣٤٥٦"] {
        let (next, r) = attempt(&f, &rec, &state, bad, at(1));
        assert_eq!(reason(r), RejectReason::Malformed, "{bad:?}");
        assert_eq!(next.attempts_used(), 1);
    }
}

#[test]
fn a_code_is_bound_to_the_destination_it_was_sent_to() {
    let f = codes();
    let rec = sms_record(&f, "+12015550123");
    let (_, state, code) = start(&f, &rec);
    // The user changed their number between send and check.
    let other = sms_record(&f, "+12015550124");
    let begun = f.begin_code_attempt(&state, at(1)).unwrap();
    assert_eq!(
        reason(f.verify_code(&other, &begun, &code, at(1))),
        RejectReason::WrongDestination
    );
    assert_eq!(
        reason(f.resend(&other, &state, None, at(60), &mut OsRandom)),
        RejectReason::WrongDestination
    );
    // The same code against a state for the other number (same key) does not verify:
    // the destination is in the hash.
    let (_, other_state, other_code) = start(&f, &other);
    if other_code == code {
        return; // a one-in-a-million coincidence, not a binding failure
    }
    let begun = f.begin_code_attempt(&other_state, at(1)).unwrap();
    let r = f.verify_code(&other, &begun, &code, at(1));
    assert_eq!(reason(r), RejectReason::WrongCode);
}

#[test]
fn a_new_code_keeps_the_failure_count_and_replaces_the_old_code() {
    let f = codes();
    let rec = sms_record(&f, "+12015550123");
    let (_, state, old) = start(&f, &rec);
    let wrong = if old == "000000" { "111111" } else { "000000" };
    let (state, r) = attempt(&f, &rec, &state, wrong, at(1));
    assert_eq!(reason(r), RejectReason::WrongCode);
    let (state, _) = attempt(&f, &rec, &state, wrong, at(2));

    // Too early: the cooldown is 30 s from the last send.
    let err = f
        .resend(&rec, &state, None, at(29), &mut OsRandom)
        .unwrap_err();
    assert!(
        matches!(err, Error::Limited(LimitError::Cooldown { retry_after }) if retry_after == Duration::from_secs(1)),
        "{err:?}"
    );
    let (mut ch, state) = f.resend(&rec, &state, None, at(30), &mut OsRandom).unwrap();
    assert_eq!(state.attempts_used(), 2);
    assert_eq!(ch.attempts_left(), 3);
    assert_eq!(state.sends(), 2);
    assert_eq!(state.expires_at(), at(630));
    let new = ch.take_message().unwrap().expose_code().to_owned();
    if new != old {
        let (_, r) = attempt(&f, &rec, &state, &old, at(31));
        assert_eq!(reason(r), RejectReason::WrongCode);
    }
    let (_, r) = attempt(&f, &rec, &state, &new, at(31));
    r.unwrap();
}

#[test]
fn resends_are_capped_per_challenge_and_stop_when_attempts_are_gone() {
    let f = codes();
    let rec = sms_record(&f, "+12015550123");
    let (_, state, _) = start(&f, &rec);
    let (_, state) = f.resend(&rec, &state, None, at(30), &mut OsRandom).unwrap();
    let (_, state) = f.resend(&rec, &state, None, at(60), &mut OsRandom).unwrap();
    let err = f
        .resend(&rec, &state, None, at(90), &mut OsRandom)
        .unwrap_err();
    assert!(
        matches!(err, Error::Limited(LimitError::ChallengeSends { max: 3 })),
        "{err:?}"
    );
    assert!(!err.is_rejection());

    let f = codes_with(config().with_max_attempts(1).unwrap());
    let (_, state, _) = start(&f, &rec);
    let (state, _) = attempt(&f, &rec, &state, "999999", at(1));
    assert_eq!(
        reason(f.resend(&rec, &state, None, at(60), &mut OsRandom)),
        RejectReason::Exhausted
    );
}

#[test]
fn call_me_instead_switches_to_voice_and_reads_the_digits() {
    let f = codes();
    let rec = sms_record(&f, "+447400123456");
    let (_, state, _) = start(&f, &rec);
    let (mut ch, state) = f
        .resend(&rec, &state, Some(Channel::Voice), at(30), &mut OsRandom)
        .unwrap();
    assert_eq!(ch.channel(), Channel::Voice);
    let msg = ch.take_message().unwrap();
    let code = msg.expose_code().to_owned();
    let spoken: Vec<String> = code.chars().map(String::from).collect();
    assert!(
        msg.expose_body().contains(&spoken.join(", ")),
        "{}",
        msg.expose_body()
    );
    let begun = f.begin_code_attempt(&state, at(31)).unwrap();
    let ok = f.verify_code(&rec, &begun, &code, at(31)).unwrap();
    assert_eq!(ok.methods, [AuthMethod::Tel]);
    // Voice to an email address is refused, as is email to a phone.
    let email = email_record(&f, "a@example.com");
    let (_, es, _) = start(&f, &email);
    let err = f
        .resend(&email, &es, Some(Channel::Voice), at(30), &mut OsRandom)
        .unwrap_err();
    assert!(matches!(err, Error::Destination(_)), "{err:?}");
    let opts = StartOptions::new().with_channel(Channel::Email);
    assert!(matches!(
        f.start(Some(&rec), &opts, T0, &mut OsRandom).unwrap_err(),
        Error::Destination(_)
    ));
}

#[test]
fn start_refuses_what_a_code_cannot_honour() {
    let f = codes();
    let rec = sms_record(&f, "+12015550123");
    let refused = [
        StartOptions::new().with_user_verification(UserVerification::Required),
        StartOptions::new().with_conditional_mediation(true),
    ];
    for opts in refused {
        let err = f.start(Some(&rec), &opts, T0, &mut OsRandom).unwrap_err();
        assert!(matches!(err, Error::Invalid(_)), "{err:?}");
    }
    let err = f
        .start(None, &StartOptions::new(), T0, &mut OsRandom)
        .unwrap_err();
    assert!(matches!(err, Error::Invalid(_)));
}

#[test]
fn countries_off_the_allow_list_are_refused_at_enrollment_and_at_send() {
    let f = codes();
    let fr = mfa_oob::Destination::parse(Channel::Sms, "+33 6 12 34 56 78", None).unwrap();
    let err = f.enroll(Channel::Sms, fr.clone()).unwrap_err();
    assert!(
        matches!(err, Error::Limited(LimitError::Country(_))),
        "{err:?}"
    );
    assert!(err.to_string().contains("+33"), "{err}");
    // A record enrolled while France was allowed stops working when it is removed.
    let open =
        codes_with(config().with_limits(mfa_oob::SendLimits::new().danger_allow_all_countries()));
    let rec = open.enroll(Channel::Sms, fr).unwrap();
    assert!(matches!(
        f.start(Some(&rec), &StartOptions::new(), T0, &mut OsRandom)
            .unwrap_err(),
        Error::Limited(LimitError::Country(_))
    ));
    // The default allows no country at all; email needs no list.
    let default = codes_with(mfa_oob::OobConfig::new(
        mfa_oob::Templates::new("Example", "example.com").unwrap(),
    ));
    let us = mfa_oob::Destination::parse(Channel::Sms, "+12015550123", None).unwrap();
    assert!(default.enroll(Channel::Sms, us).is_err());
    email_record(&default, "a@example.com");
}

#[test]
fn messages_carry_code_service_expiry_and_the_origin_bound_line() {
    let f = codes_with(
        config()
            .with_ttl(Duration::from_secs(300))
            .unwrap()
            .with_digits(8)
            .unwrap(),
    );
    let rec = sms_record(&f, "+12015550123");
    let (mut ch, _) = f
        .start(Some(&rec), &StartOptions::new(), T0, &mut OsRandom)
        .unwrap();
    let sms = ch.take_message().unwrap();
    let code = sms.expose_code();
    assert_eq!(code.len(), 8);
    let body = sms.expose_body();
    assert!(
        body.starts_with(&format!(
            "{code} is your Example verification code. It expires in 5 minutes."
        )),
        "{body}"
    );
    assert_eq!(
        body.lines().last().unwrap(),
        format!("@example.com #{code}")
    );
    assert!(!format!("{sms:?}").contains(code));

    let email = email_record(&f, "Bob@Example.org");
    let (mut ch, _) = f
        .start(Some(&email), &StartOptions::new(), T0, &mut OsRandom)
        .unwrap();
    assert_eq!(ch.masked_destination(), "B•••@example.org");
    let m = ch.take_message().unwrap();
    assert_eq!(m.subject(), Some("Your Example verification code"));
    assert!(m.expose_body().contains(m.expose_code()));
    assert!(!m.expose_body().contains("@example.com #"));

    let custom = mfa_oob::Templates::new("Example", "example.com").unwrap();
    assert!(custom.clone().with_sms("no code here").is_err());
    assert!(custom.clone().with_email("two\nlines", "{code}").is_err());
    assert!(mfa_oob::Templates::new("Example", "https://example.com").is_err());
    assert!(mfa_oob::Templates::new("", "example.com").is_err());
}

#[test]
fn email_is_usable_but_does_not_count_for_aal2_unless_configured() {
    let f = codes();
    let rec = email_record(&f, "a@example.com");
    assert_eq!(f.kind(&rec), FactorKind::Email);
    let (_, state, code) = start(&f, &rec);
    let begun = f.begin_code_attempt(&state, at(1)).unwrap();
    assert_eq!(
        f.verify_code(&rec, &begun, &code, at(1)).unwrap().methods,
        [AuthMethod::Otp]
    );
    let p = f.properties(Channel::Email);
    assert!(!p.counts_for_aal2 && !p.out_of_band_authenticator && !p.restricted);
    let sms = f.properties(Channel::Sms);
    assert!(sms.counts_for_aal2 && sms.restricted && sms.out_of_band_authenticator);
    assert!(f.properties(Channel::Voice).restricted);
    let lax = codes_with(config().with_email_counting_for_aal2(true));
    assert!(lax.properties(Channel::Email).counts_for_aal2);
}

#[test]
fn configuration_ranges_are_enforced() {
    assert!(config().with_digits(5).is_err());
    assert!(config().with_digits(11).is_err());
    assert!(config().with_ttl(Duration::from_secs(59)).is_err());
    assert!(config().with_ttl(Duration::from_secs(3601)).is_err());
    assert!(config().with_max_attempts(0).is_err());
    assert!(config().with_max_attempts(11).is_err());
}

/// A code sent before a key rotation verifies while its key stays in the ring (its state
/// names the key), and is refused as expired once that key is removed; codes sent after
/// the rotation are hashed under the new current key.
#[test]
fn codes_survive_a_key_rotation_until_their_key_is_removed() {
    let k1 = KeyId::new("k1").unwrap();
    let k2 = KeyId::new("k2").unwrap();
    let old = Keyring::new(k1.clone(), SecretBytes::from(vec![7u8; 32])).unwrap();
    let before = OobFactor::new(old.clone(), config());
    let rec = sms_record(&before, "+12015550123");
    let (_, state, code) = start(&before, &rec);

    let mut ring = old
        .with_key(k2.clone(), SecretBytes::from(vec![8u8; 32]))
        .unwrap();
    ring.set_current(&k2).unwrap();
    let rotated = OobFactor::new(ring.clone(), config());
    let (_, r) = attempt(&rotated, &rec, &state, &code, at(1));
    r.unwrap();
    // A new code is hashed under k2: a ring without k2 cannot check it.
    let (_, fresh, fresh_code) = start(&rotated, &rec);
    assert_eq!(
        reason(attempt(&before, &rec, &fresh, &fresh_code, at(1)).1),
        RejectReason::Expired
    );
    ring.remove(&k1).unwrap();
    let retired = OobFactor::new(ring, config());
    assert_eq!(
        reason(attempt(&retired, &rec, &state, &code, at(1)).1),
        RejectReason::Expired
    );
    assert!(
        attempt(&retired, &rec, &fresh, &fresh_code, at(1))
            .1
            .is_ok()
    );
}

/// A versioned cell standing in for the challenge store's read / compare-and-swap.
struct Cell(Mutex<(OobState, u64)>);

impl Cell {
    fn read(&self) -> (OobState, u64) {
        self.0.lock().unwrap().clone()
    }
    fn cas(&self, next: OobState, expected: u64) -> bool {
        let mut g = self.0.lock().unwrap();
        if g.1 != expected {
            return false;
        }
        *g = (next, expected + 1);
        true
    }
}

#[test]
fn sixty_four_concurrent_guesses_get_five_checks() {
    let f = Arc::new(codes());
    let rec = Arc::new(sms_record(&f, "+12015550123"));
    let (_, state, code) = start(&f, &rec);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let cell = Arc::new(Cell(Mutex::new((state, 1))));
    let checks = Arc::new(Mutex::new(0u32));
    let barrier = Arc::new(std::sync::Barrier::new(64));
    let threads: Vec<_> = (0..64)
        .map(|_| {
            let (f, rec, cell, checks, barrier) = (
                Arc::clone(&f),
                Arc::clone(&rec),
                Arc::clone(&cell),
                Arc::clone(&checks),
                Arc::clone(&barrier),
            );
            std::thread::spawn(move || {
                barrier.wait();
                // The documented loop: read, pay, compare-and-swap (retry on conflict),
                // then check the state written.
                loop {
                    let (state, version) = cell.read();
                    let Ok(next) = f.begin_code_attempt(&state, at(1)) else {
                        return;
                    };
                    if cell.cas(next.clone(), version) {
                        *checks.lock().unwrap() += 1;
                        assert!(f.verify_code(&rec, &next, wrong, at(1)).is_err());
                        return;
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(*checks.lock().unwrap(), 5);
    assert_eq!(cell.read().0.attempts_left(), 0);
}

#[tokio::test]
async fn the_outbox_writes_one_file_per_message() {
    let dir = std::env::temp_dir().join(format!("mfa-oob-outbox-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let outbox = OutboxSender::new(&dir).unwrap();
    let f = codes();
    let rec = sms_record(&f, "+12015550123");
    let (mut ch, _) = f
        .start(Some(&rec), &StartOptions::new(), T0, &mut OsRandom)
        .unwrap();
    let msg = ch.take_message().unwrap();
    outbox.send(&msg).await.unwrap();
    let email = email_record(&f, "a/b@example.com");
    let (mut ch, _) = f
        .start(Some(&email), &StartOptions::new(), T0, &mut OsRandom)
        .unwrap();
    outbox.send(&ch.take_message().unwrap()).await.unwrap();
    let files = outbox.files().unwrap();
    assert_eq!(files.len(), 2);
    let name = files[0].file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(name, "000001-sms-+12015550123.txt");
    let text = std::fs::read_to_string(&files[0]).unwrap();
    assert!(
        text.starts_with("To: +12015550123\nChannel: sms\n\n"),
        "{text}"
    );
    assert!(text.contains(&format!("@example.com #{}", msg.expose_code())));
    let second = files[1].file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(second, "000002-email-a_b@example.com.txt");
    assert!(
        std::fs::read_to_string(&files[1])
            .unwrap()
            .contains("Subject: Your Example verification code\n")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
