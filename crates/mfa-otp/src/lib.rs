//! HOTP (RFC 4226) and TOTP (RFC 6238) one-time passwords, otpauth:// URIs and QR codes.
//!
//! Not yet implemented: see the README's status table.
#![forbid(unsafe_code)]
