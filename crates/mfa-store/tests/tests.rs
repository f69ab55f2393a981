//! Integration tests of the store backends.

mod memory;
