//! Integration tests of mfa-otp: one binary, one module per area.

mod crosscheck;
mod edge;
mod support;
mod uri;
mod vectors;
