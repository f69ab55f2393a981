//! The service's random source, shared by every request.

use std::fmt;
use std::sync::Mutex;

use mfa_core::{RandomError, SecureRandom};

/// A [`SecureRandom`] shared across tasks: each fill locks it briefly.
pub(crate) struct SharedRandom(Mutex<Box<dyn SecureRandom + Send>>);

impl fmt::Debug for SharedRandom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedRandom")
    }
}

impl SharedRandom {
    pub(crate) fn new(rng: Box<dyn SecureRandom + Send>) -> Self {
        Self(Mutex::new(rng))
    }

    /// Fills `dest`; a poisoned lock (a panic inside another fill) is a failed source.
    pub(crate) fn fill(&self, dest: &mut [u8]) -> Result<(), RandomError> {
        let mut rng = self.0.lock().map_err(|_| RandomError)?;
        rng.fill(dest)
    }

    /// A handle to pass where a `&mut dyn SecureRandom` is wanted.
    pub(crate) fn handle(&self) -> RngHandle<'_> {
        RngHandle(self)
    }
}

/// A borrowed handle on the shared source.
pub(crate) struct RngHandle<'a>(&'a SharedRandom);

impl SecureRandom for RngHandle<'_> {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), RandomError> {
        self.0.fill(dest)
    }
}
