//! WebAuthn Level 3 relying party: registration and authentication ceremonies for passkeys and security keys.
//!
//! Not yet implemented: see the README's status table.
#![forbid(unsafe_code)]
