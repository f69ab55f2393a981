//! CSV with the header documented in [the module](super).

use mfa_otp::{Algorithm, Digits, HotpParams, HotpRecord, Period, Secret, TotpParams, TotpRecord};
use zeroize::Zeroizing;

use super::otpauth::truncate_label;
use super::{
    Format, FormatError, ImportRecord, ImportedFactor, Parsed, Problem, RecordError, user_id,
};

const COLUMNS: [&str; 9] = [
    "user",
    "type",
    "secret",
    "digits",
    "algorithm",
    "period",
    "counter",
    "last_step",
    "label",
];

/// Parses CSV with a header row (see [the module docs](super) for the columns). Each
/// data row is one record, its index the row's line number (the header is line 1).
///
/// # Errors
///
/// [`FormatError::CsvHeader`] when the header is missing, names an unknown or repeated
/// column, or lacks `user`, `type` or `secret`.
pub fn parse_csv(input: &str) -> Result<Parsed, FormatError> {
    let input = input.strip_prefix('\u{feff}').unwrap_or(input);
    let mut rows = Rows::new(input);
    let (_, header) = match rows.next() {
        Some((line, Ok(h))) => (line, h),
        Some((_, Err(why))) => return Err(FormatError::CsvHeader(why.to_owned())),
        None => return Err(FormatError::CsvHeader("no header row".to_owned())),
    };
    let mut columns: Vec<usize> = Vec::with_capacity(header.len());
    for name in header.iter() {
        let name = name.trim().to_ascii_lowercase();
        let i = COLUMNS
            .iter()
            .position(|c| *c == name)
            .ok_or_else(|| FormatError::CsvHeader(format!("unknown column {name:?}")))?;
        if columns.contains(&i) {
            return Err(FormatError::CsvHeader(format!(
                "column {name:?} appears twice"
            )));
        }
        columns.push(i);
    }
    for required in 0..3 {
        if !columns.contains(&required) {
            let name = COLUMNS.get(required).copied().unwrap_or("?");
            return Err(FormatError::CsvHeader(format!("missing column {name:?}")));
        }
    }
    let records = rows
        .filter(|(_, row)| !matches!(row, Ok(fields) if fields.iter().all(|f| f.trim().is_empty())))
        .map(|(line, row)| {
            let fields =
                row.map_err(|why| RecordError::new(line, Problem::Field { field: "row", why }))?;
            if fields.len() != columns.len() {
                return Err(RecordError::new(
                    line,
                    Problem::Field {
                        field: "row",
                        why: "has a different number of fields than the header",
                    },
                ));
            }
            let mut values: [Option<&str>; 9] = [None; 9];
            for (c, v) in columns.iter().zip(fields.iter()) {
                if let Some(slot) = values.get_mut(*c) {
                    let v = v.trim();
                    *slot = (!v.is_empty()).then_some(v);
                }
            }
            record(line, &values)
                .map_err(|p| RecordError::new(line, p).for_user(values.first().copied().flatten()))
        })
        .collect();
    Ok(Parsed {
        format: Format::Csv,
        records,
    })
}

fn record(line: usize, v: &[Option<&str>; 9]) -> Result<ImportRecord, Problem> {
    let [
        user,
        kind,
        secret,
        digits,
        algorithm,
        period,
        counter,
        last_step,
        label,
    ] = *v;
    let user = user_id(line, user.ok_or(Problem::Missing("user"))?).map_err(|e| e.problem)?;
    let secret = decode_secret(secret.ok_or(Problem::Missing("secret"))?)?;
    let digits = match digits {
        None => Digits::SIX,
        Some(d) => d
            .parse::<u8>()
            .ok()
            .and_then(|n| Digits::new(n).ok())
            .ok_or_else(|| Problem::Digits(shown(d)))?,
    };
    let algorithm = match algorithm {
        None => Algorithm::Sha1,
        Some(a) => a.parse().map_err(|_| Problem::Algorithm(shown(a)))?,
    };
    let kind = kind.ok_or(Problem::Missing("type"))?;
    let factor = if kind.eq_ignore_ascii_case("totp") {
        if counter.is_some() {
            return Err(Problem::Field {
                field: "counter",
                why: "is for hotp rows",
            });
        }
        let period = match period {
            None => Period::default(),
            Some(p) => p
                .parse::<u64>()
                .ok()
                .and_then(|n| Period::new(n).ok())
                .ok_or_else(|| Problem::Period(shown(p)))?,
        };
        let mut record = TotpRecord::new(
            secret,
            TotpParams {
                algorithm,
                digits,
                period,
                t0: 0,
            },
        );
        record.last_step = match last_step {
            None => None,
            Some(s) => Some(s.parse::<u64>().map_err(|_| Problem::Field {
                field: "last_step",
                why: "is not a number from 0 to 2^64-1",
            })?),
        };
        ImportedFactor::Totp(record)
    } else if kind.eq_ignore_ascii_case("hotp") {
        if period.is_some() || last_step.is_some() {
            return Err(Problem::Field {
                field: "period",
                why: "period and last_step are for totp rows",
            });
        }
        let c = counter.ok_or(Problem::MissingCounter)?;
        let counter = c.parse::<u64>().map_err(|_| Problem::Counter(shown(c)))?;
        ImportedFactor::Hotp(HotpRecord {
            secret,
            params: HotpParams { algorithm, digits },
            counter,
        })
    } else {
        return Err(Problem::Type(shown(kind)));
    };
    Ok(ImportRecord {
        index: line,
        user,
        label: truncate_label(label.unwrap_or("Imported")),
        factor,
    })
}

/// A value for an error message: short values as they are; a longer one (a secret in
/// the wrong column, say) only by its length, so no message ever carries a secret.
fn shown(value: &str) -> String {
    if value.chars().count() <= 10 {
        value.to_owned()
    } else {
        format!("<{} characters>", value.chars().count())
    }
}

/// Base32, or hex after `hex:`.
pub(super) fn decode_secret(text: &str) -> Result<Secret, Problem> {
    match text.get(..4).filter(|p| p.eq_ignore_ascii_case("hex:")) {
        Some(_) => {
            let hex = text.get(4..).unwrap_or("");
            let bytes = decode_hex(hex).ok_or(Problem::Field {
                field: "secret",
                why: "is not hex",
            })?;
            Secret::danger_from_short_bytes(bytes.to_vec()).map_err(Problem::Secret)
        }
        None => Secret::danger_from_base32_short(text).map_err(Problem::Secret),
    }
}

pub(super) fn decode_hex(hex: &str) -> Option<Zeroizing<Vec<u8>>> {
    let digits: Zeroizing<Vec<u8>> =
        Zeroizing::new(hex.bytes().filter(|b| !b.is_ascii_whitespace()).collect());
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    let mut out = Zeroizing::new(Vec::with_capacity(digits.len() / 2));
    for pair in digits.chunks_exact(2) {
        let [hi, lo] = pair else { return None };
        let hi = (*hi as char).to_digit(16)?;
        let lo = (*lo as char).to_digit(16)?;
        out.push(u8::try_from(hi * 16 + lo).ok()?);
    }
    Some(out)
}

/// RFC 4180 rows with their starting line numbers.
struct Rows<'a> {
    rest: &'a str,
    line: usize,
}

impl<'a> Rows<'a> {
    fn new(input: &'a str) -> Self {
        Self {
            rest: input,
            line: 1,
        }
    }
}

impl Iterator for Rows<'_> {
    type Item = (usize, Result<Zeroizing<Vec<String>>, &'static str>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let start = self.line;
        let mut fields = Zeroizing::new(Vec::new());
        let mut field = String::new();
        let mut chars = self.rest.char_indices().peekable();
        let mut quoted = false;
        let mut was_quoted = false;
        let mut end = self.rest.len();
        let mut error = None;
        while let Some((i, c)) = chars.next() {
            if quoted {
                match c {
                    '"' if chars.peek().map(|p| p.1) == Some('"') => {
                        chars.next();
                        field.push('"');
                    }
                    '"' => quoted = false,
                    '\n' => {
                        self.line = self.line.saturating_add(1);
                        field.push(c);
                    }
                    _ => field.push(c),
                }
                continue;
            }
            match c {
                '"' if field.trim().is_empty() && !was_quoted => {
                    field.clear();
                    quoted = true;
                    was_quoted = true;
                }
                '"' => error = error.or(Some("a quote inside an unquoted field")),
                ',' => {
                    fields.push(std::mem::take(&mut field));
                    was_quoted = false;
                }
                '\n' => {
                    end = i.saturating_add(1);
                    break;
                }
                '\r' if chars.peek().map(|p| p.1) == Some('\n') => {}
                _ if was_quoted && !c.is_whitespace() => {
                    error = error.or(Some("text after a closing quote"));
                }
                _ => field.push(c),
            }
        }
        if quoted {
            error = error.or(Some("a quoted field is not closed"));
        }
        fields.push(field);
        self.rest = self.rest.get(end..).unwrap_or("");
        self.line = self.line.saturating_add(1);
        Some((start, error.map_or(Ok(fields), Err)))
    }
}

#[cfg(test)]
mod tests {
    use mfa_core::UserId;

    use super::*;

    #[test]
    fn documented_columns_in_any_order() {
        let csv = "label,user,type,secret,digits,algorithm,period,counter,last_step\r\n\
                   \"Phone, old\",alice,totp,GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ,8,SHA256,60,,1000\r\n\
                   ,bob,HOTP,hex:3132333435363738393031323334353637383930,,,,5,\r\n\
                   \n\
                   ,carol,hotp,GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ,,,,,\n\
                   ,dave,totp,GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ,,MD5,,,\n\
                   ,erin,totp,not base32!,,,,,\n\
                   ,frank,push,GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ,,,,,\n\
                   ,gina,totp\n";
        let parsed = parse_csv(csv).unwrap();
        assert_eq!(parsed.records.len(), 7);
        let alice = parsed.records[0].as_ref().unwrap();
        assert_eq!((alice.index, alice.label.as_str()), (2, "Phone, old"));
        let ImportedFactor::Totp(t) = &alice.factor else {
            panic!("totp")
        };
        assert_eq!(
            (t.params.digits.get(), t.params.period.secs(), t.last_step),
            (8, 60, Some(1000))
        );
        let ImportedFactor::Hotp(h) = &parsed.records[1].as_ref().unwrap().factor else {
            panic!("hotp")
        };
        assert_eq!(
            (h.counter, h.secret.expose_secret()),
            (5, &b"12345678901234567890"[..])
        );
        let problems: Vec<_> = parsed.records[2..]
            .iter()
            .map(|r| r.as_ref().unwrap_err().clone())
            .collect();
        let carol = RecordError::new(5, Problem::MissingCounter).for_user(Some("carol"));
        assert_eq!(problems[0], carol);
        assert_eq!(problems[0].user.as_ref().map(UserId::as_str), Some("carol"));
        assert_eq!(
            problems[1],
            RecordError::new(6, Problem::Algorithm("MD5".into())).for_user(Some("dave"))
        );
        assert!(matches!(
            problems[2],
            RecordError {
                index: 7,
                problem: Problem::Secret(_),
                ..
            }
        ));
        assert_eq!(
            problems[3],
            RecordError::new(8, Problem::Type("push".into())).for_user(Some("frank"))
        );
        assert!(matches!(
            problems[4],
            RecordError {
                index: 9,
                problem: Problem::Field { field: "row", .. },
                ..
            }
        ));
    }

    #[test]
    fn header_problems_refuse_the_file() {
        for (csv, want) in [
            ("", "no header"),
            ("user,type\n", "missing column \"secret\""),
            ("user,type,secret,colour\n", "unknown column"),
            ("user,type,secret,user\n", "twice"),
        ] {
            let e = parse_csv(csv).unwrap_err().to_string();
            assert!(e.contains(want), "{csv:?}: {e}");
        }
    }

    #[test]
    fn a_secret_in_the_wrong_column_is_not_echoed() {
        let secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
        let csv = format!("user,type,digits,secret\nalice,totp,{secret},{secret}\n");
        let parsed = parse_csv(&csv).unwrap();
        let e = parsed.records[0].as_ref().unwrap_err().to_string();
        assert!(e.contains("<32 characters>") && !e.contains("GEZD"), "{e}");
    }

    #[test]
    fn quoting_errors_are_per_row_and_multiline_fields_count_lines() {
        let csv = "user,type,secret,label\nalice,totp,GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ,\"a\nb\"\nbob,totp,\"x\"y,z\n";
        let parsed = parse_csv(csv).unwrap();
        assert_eq!(parsed.records[0].as_ref().unwrap().label, "ab");
        assert!(matches!(
            parsed.records[1],
            Err(RecordError { index: 4, .. })
        ));
    }
}
