//! CSV imports: a header error, or one result per non-blank data row at that row's
//! starting line, in order; TOTP rows never carry a counter.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mfa::import::parse_csv;

fuzz_target!(|s: &str| {
    let Ok(parsed) = parse_csv(s) else {
        return;
    };
    let lines = s.lines().count().max(1);
    let mut last = 1;
    for r in &parsed.records {
        let index = match r {
            Ok(r) => r.index,
            Err(e) => e.index,
        };
        assert!(
            index > last && index <= lines,
            "{index} after {last} of {lines}"
        );
        last = index;
    }
});
