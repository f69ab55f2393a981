//! Arbitrary bytes as a JWKS and as a discovery document (mfa-axum's OIDC key cache).
//! Either is refused with a typed error or parses; a parsed JWKS keeps no more keys than
//! its `keys` array has members, none of them symmetric, and looking keys up by any `kid`
//! and algorithm never panics. Parsing is deterministic.
#![no_main]

use jsonwebtoken::Algorithm;
use libfuzzer_sys::fuzz_target;
use mfa_axum::oidc::{Discovery, Keys};

fuzz_target!(|data: &[u8]| {
    if let Ok(keys) = Keys::parse(data) {
        let v: serde_json::Value = serde_json::from_slice(data).expect("a parsed JWKS is JSON");
        let members = v["keys"].as_array().map_or(0, Vec::len);
        assert!(keys.len() <= members);
        let again = Keys::parse(data).expect("parses again");
        assert_eq!(again.len(), keys.len());
        let kids: Vec<Option<String>> = v["keys"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|k| k["kid"].as_str().map(str::to_owned))
            .chain([None, Some(String::new())])
            .collect();
        for kid in &kids {
            for alg in [
                Algorithm::ES256,
                Algorithm::RS256,
                Algorithm::EdDSA,
                Algorithm::HS256,
            ] {
                let found = keys.contains(kid.as_deref(), alg);
                // A JWKS never lends an HMAC secret.
                assert!(!(found && alg == Algorithm::HS256));
            }
        }
    }
    if let Ok(d) = Discovery::parse(data) {
        let again = Discovery::parse(data).expect("parses again");
        assert_eq!(again, d);
    }
});
