//! Pure MFA policy evaluation: when to ask for MFA, which factors count, and why.
//!
//! Not yet implemented: see the README's status table.
#![forbid(unsafe_code)]
