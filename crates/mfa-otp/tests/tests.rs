//! Integration tests of mfa-otp.
