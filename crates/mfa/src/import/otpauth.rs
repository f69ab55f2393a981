//! `otpauth://` URIs, one per line, through mfa-otp's parser.

use mfa_otp::{OtpAuthUri, OtpKind, UriError};

use super::{Format, ImportRecord, ImportedFactor, Parsed, Problem, RecordError, user_id};

/// Parses `otpauth://` URIs, one per line; blank lines and lines starting with `#` are
/// skipped (but counted, so indexes are line numbers). The user is the URI's account
/// name (use [`Parsed::for_user`] to assign them all to one user), the label its issuer.
/// Every parameter mfa-otp's [`OtpAuthUri`] reads is kept; HOTP URIs need a `counter`.
pub fn parse_otpauth_lines(input: &str) -> Parsed {
    let records = input
        .lines()
        .enumerate()
        .filter(|(_, l)| {
            let l = l.trim();
            !l.is_empty() && !l.starts_with('#')
        })
        .map(|(i, line)| parse_line(i.saturating_add(1), line.trim()))
        .collect();
    Parsed {
        format: Format::Otpauth,
        records,
    }
}

fn parse_line(index: usize, line: &str) -> Result<ImportRecord, RecordError> {
    let uri = OtpAuthUri::danger_parse_allow_short_secret(line)
        .map_err(|e| RecordError::new(index, uri_problem(e)))?;
    record_from_uri(index, &uri)
}

pub(super) fn record_from_uri(index: usize, uri: &OtpAuthUri) -> Result<ImportRecord, RecordError> {
    let user = user_id(index, uri.account())?;
    let label = uri.issuer().unwrap_or("Imported").to_owned();
    let factor = match uri.kind() {
        OtpKind::Totp { .. } => ImportedFactor::Totp(
            uri.to_totp_record()
                .map_err(|e| RecordError::new(index, Problem::Uri(e)))?,
        ),
        OtpKind::Hotp { .. } => ImportedFactor::Hotp(
            uri.to_hotp_record()
                .map_err(|e| RecordError::new(index, Problem::Uri(e)))?,
        ),
    };
    Ok(ImportRecord {
        index,
        user,
        label: truncate_label(&label),
        factor,
    })
}

/// The specific problems the report counts separately; the rest as the URI error.
fn uri_problem(e: UriError) -> Problem {
    match e {
        UriError::Algorithm(a) => Problem::Algorithm(a),
        UriError::MissingCounter => Problem::MissingCounter,
        UriError::Secret(s) => Problem::Secret(s),
        other => Problem::Uri(other),
    }
}

/// Labels are at most 64 characters without control characters (the service's rule).
pub(super) fn truncate_label(label: &str) -> String {
    label.chars().filter(|c| !c.is_control()).take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

    #[test]
    fn every_parameter_is_kept_and_errors_are_per_line() {
        let input = format!(
            "# exported\n\
             otpauth://totp/ACME:alice?secret={SECRET}&issuer=ACME&algorithm=SHA256&digits=8&period=60\n\
             \n\
             otpauth://hotp/bob?secret={SECRET}&counter=42\n\
             otpauth://hotp/carol?secret={SECRET}\n\
             otpauth://totp/dave?secret={SECRET}&algorithm=MD5\n\
             otpauth://totp/erin?secret=JBSWY3DPEHPK3PXP\n\
             https://example.com\n"
        );
        let parsed = parse_otpauth_lines(&input);
        assert_eq!(parsed.records.len(), 6);
        let alice = parsed.records[0].as_ref().unwrap();
        assert_eq!(
            (alice.index, alice.user.as_str(), alice.label.as_str()),
            (2, "alice", "ACME")
        );
        let ImportedFactor::Totp(t) = &alice.factor else {
            panic!("totp")
        };
        assert_eq!(t.params.algorithm, mfa_otp::Algorithm::Sha256);
        assert_eq!(t.params.digits.get(), 8);
        assert_eq!(t.params.period.secs(), 60);
        assert_eq!(t.secret.expose_secret(), b"12345678901234567890");
        let bob = parsed.records[1].as_ref().unwrap();
        let ImportedFactor::Hotp(h) = &bob.factor else {
            panic!("hotp")
        };
        assert_eq!((bob.index, h.counter), (4, 42));
        assert_eq!(
            parsed.records[2].as_ref().unwrap_err(),
            &RecordError::new(5, Problem::MissingCounter)
        );
        assert!(matches!(
            parsed.records[3],
            Err(RecordError {
                index: 6,
                problem: Problem::Algorithm(_),
                ..
            })
        ));
        let erin = parsed.records[4].as_ref().unwrap();
        assert!(erin.short_secret());
        assert!(matches!(
            parsed.records[5],
            Err(RecordError {
                index: 8,
                problem: Problem::Uri(UriError::Scheme),
                ..
            })
        ));
    }

    #[test]
    fn error_messages_hold_no_secret() {
        let parsed = parse_otpauth_lines(&format!("otpauth://totp/x?secret={SECRET}&digits=99"));
        let e = parsed.records[0].as_ref().unwrap_err().to_string();
        assert!(e.contains("digits") && !e.contains(SECRET), "{e}");
    }
}
