//! `WWW-Authenticate` values through mfa-axum's RFC 9470 challenge parser, and the
//! challenge the layer writes back through it: arbitrary text parses or is refused
//! without panicking; a challenge built by `mfa_policy::oidc::www_authenticate` from
//! fuzzed `acr` values and `max_age` parses back to exactly those; the step-up request
//! built from it carries them.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use mfa_axum::oidc::{Challenge, StepUpRequest, authorization_request};
use mfa_policy::oidc::www_authenticate;

fuzz_target!(|input: (String, Vec<String>, Option<u32>)| {
    let (text, acr, age) = input;
    let _ = Challenge::parse(&text);
    let acr: Vec<&str> = acr.iter().map(String::as_str).collect();
    let max_age = age.map(|s| Duration::from_secs(u64::from(s)));
    let Ok(header) = www_authenticate(Some("api"), &acr, max_age) else {
        return;
    };
    let c = Challenge::parse(&header).expect("our own challenge parses");
    assert_eq!(c.error.as_deref(), Some("insufficient_user_authentication"));
    let want: Vec<&str> = acr
        .iter()
        .flat_map(|a| a.split_ascii_whitespace())
        .collect();
    assert_eq!(c.acr_values, want);
    assert_eq!(c.max_age, max_age);
    let req = StepUpRequest::from_challenge("app", "https://app.example/cb", &c);
    let url = authorization_request("https://id.example/authorize", &req).expect("builds");
    let parsed = url::Url::parse(&url).expect("a URL");
    let q: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
    let acr_param = q
        .iter()
        .find(|(k, _)| k == "acr_values")
        .map(|(_, v)| v.as_str());
    assert_eq!(acr_param.unwrap_or(""), want.join(" "));
    let age_param = q
        .iter()
        .find(|(k, _)| k == "max_age")
        .map(|(_, v)| v.clone());
    assert_eq!(age_param, max_age.map(|a| a.as_secs().to_string()));
});
