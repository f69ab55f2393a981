//! A software authenticator for tests (see the crate README).
