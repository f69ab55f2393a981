//! The checks and conversions of single fields: factor kinds, networks, names,
//! patterns, durations.

use super::*;

pub(super) fn kind_list(field: &str, list: &[String]) -> Result<KindSet, Error> {
    let mut set = KindSet::EMPTY;
    for (j, name) in list.iter().enumerate() {
        let kinds = parse_kind_name(name).ok_or_else(|| {
            Error::invalid(
                format_args!("{field}[{j}]"),
                format!("unknown factor kind {name:?}"),
            )
        })?;
        for k in kinds.iter() {
            set = set.with(k);
        }
    }
    Ok(set)
}

pub(super) fn preference(list: Option<&[String]>) -> Result<Vec<FactorKind>, Error> {
    let default = [
        "webauthn-cross-platform",
        "webauthn",
        "webauthn-platform",
        "push",
        "totp",
        "hotp",
        "email",
        "sms",
        "voice",
        "recovery-code",
    ];
    let mut out: Vec<FactorKind> = Vec::with_capacity(FactorKind::ALL.len());
    let mut push = |kinds: KindSet| {
        for k in kinds.iter() {
            if !out.contains(&k) {
                out.push(k);
            }
        }
    };
    if let Some(list) = list {
        for (j, name) in list.iter().enumerate() {
            let kinds = parse_kind_name(name).ok_or_else(|| {
                Error::invalid(
                    format_args!("factors.preference[{j}]"),
                    format!("unknown factor kind {name:?}"),
                )
            })?;
            push(kinds);
        }
    }
    for name in default {
        if let Some(kinds) = parse_kind_name(name) {
            push(kinds);
        }
    }
    Ok(out)
}

pub(super) fn networks(field: &str, list: &[String]) -> Result<Vec<Cidr>, Error> {
    list.iter()
        .enumerate()
        .map(|(j, s)| Cidr::parse(s).map_err(|p| Error::invalid(format_args!("{field}[{j}]"), p)))
        .collect()
}

pub(super) fn names(field: &str, list: &[String]) -> Result<Vec<String>, Error> {
    list.iter()
        .enumerate()
        .map(|(j, s)| {
            let t = s.trim();
            if t.is_empty() {
                Err(Error::invalid(
                    format_args!("{field}[{j}]"),
                    "must not be empty",
                ))
            } else {
                Ok(t.to_ascii_lowercase())
            }
        })
        .collect()
}

pub(super) fn patterns(field: &str, list: &[String]) -> Result<Vec<Pattern>, Error> {
    list.iter()
        .enumerate()
        .map(|(j, s)| {
            let t = s.trim().to_ascii_lowercase();
            match t.strip_suffix('*') {
                Some(prefix) if prefix.contains('*') => Err(Error::invalid(
                    format_args!("{field}[{j}]"),
                    "only a single trailing '*' is supported",
                )),
                Some(prefix) => Ok(Pattern::Prefix(prefix.to_owned())),
                None if t.is_empty() => Err(Error::invalid(
                    format_args!("{field}[{j}]"),
                    "must not be empty",
                )),
                None if t.contains('*') => Err(Error::invalid(
                    format_args!("{field}[{j}]"),
                    "only a single trailing '*' is supported",
                )),
                None => Ok(Pattern::Exact(t)),
            }
        })
        .collect()
}

pub(super) fn duration(
    field: &str,
    raw: Option<&RawDuration>,
    default: Duration,
) -> Result<Duration, Error> {
    raw.map_or(Ok(default), |r| duration_value(field, r))
}

pub(super) fn duration_value(field: &str, raw: &RawDuration) -> Result<Duration, Error> {
    match raw {
        RawDuration::Secs(s) => Ok(Duration::from_secs(*s)),
        RawDuration::Text(t) => parse_duration(t).map_err(|p| Error::invalid(field, p)),
    }
}
