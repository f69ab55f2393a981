//! The service's random source, shared by every request.

use std::fmt;
use std::sync::Mutex;

use mfa_core::{RandomError, SecureRandom};

/// Bytes of the nonce buffer: one fill from the source serves 42 AES-GCM nonces.
const NONCE_BUFFER: usize = 504;

/// A [`SecureRandom`] shared across tasks: each fill locks it briefly.
///
/// Secrets (keys, codes, ids) come straight from the source on every call. AES-GCM
/// nonces, which are public, come from a buffer filled from the same source a few
/// hundred bytes at a time, so sealing a record costs no system call; every buffered
/// byte is handed out once. The buffer remembers the process id that filled it and is
/// thrown away in a forked child, which must never reuse its parent's nonces.
pub(crate) struct SharedRandom(Mutex<Inner>);

struct Inner {
    source: Box<dyn SecureRandom + Send>,
    nonces: [u8; NONCE_BUFFER],
    /// Bytes of `nonces` already handed out (all of them when `NONCE_BUFFER`).
    used: usize,
    filled_by: u32,
}

impl fmt::Debug for SharedRandom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedRandom")
    }
}

impl SharedRandom {
    pub(crate) fn new(source: Box<dyn SecureRandom + Send>) -> Self {
        Self(Mutex::new(Inner {
            source,
            nonces: [0; NONCE_BUFFER],
            used: NONCE_BUFFER,
            filled_by: 0,
        }))
    }

    /// Fills `dest` from the source; a poisoned lock (a panic inside another fill) is a
    /// failed source.
    pub(crate) fn fill(&self, dest: &mut [u8]) -> Result<(), RandomError> {
        let mut inner = self.0.lock().map_err(|_| RandomError)?;
        inner.source.fill(dest)
    }

    /// Fills a public nonce from the buffer, refilling it from the source when it runs
    /// out (or after a fork).
    pub(crate) fn fill_nonce<const N: usize>(&self) -> Result<[u8; N], RandomError> {
        const { assert!(N <= NONCE_BUFFER) };
        let mut inner = self.0.lock().map_err(|_| RandomError)?;
        let pid = std::process::id();
        if inner.used + N > NONCE_BUFFER || inner.filled_by != pid {
            let Inner { source, nonces, .. } = &mut *inner;
            source.fill(nonces)?;
            inner.used = 0;
            inner.filled_by = pid;
        }
        let start = inner.used;
        let mut out = [0u8; N];
        out.copy_from_slice(inner.nonces.get(start..start + N).ok_or(RandomError)?);
        inner.used = start + N;
        Ok(out)
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test")]
    use super::*;

    /// Counts the bytes it hands out, as a non-repeating pattern.
    struct Counting(u8);

    impl SecureRandom for Counting {
        fn fill(&mut self, dest: &mut [u8]) -> Result<(), RandomError> {
            for b in dest {
                self.0 = self.0.wrapping_add(1);
                *b = self.0;
            }
            Ok(())
        }
    }

    #[test]
    fn buffered_nonces_never_repeat_a_byte_of_the_source() {
        let rng = SharedRandom::new(Box::new(Counting(0)));
        let mut seen = Vec::new();
        // More nonces than one buffer holds: the refill continues the source.
        for _ in 0..(NONCE_BUFFER / 12 + 5) {
            seen.extend_from_slice(&rng.fill_nonce::<12>().unwrap());
        }
        let expected: Vec<u8> = (1..=seen.len())
            .map(|i| u8::try_from(i % 256).unwrap())
            .collect();
        // The buffer is refilled whole, so the bytes after a refill skip the unused tail.
        let per_buffer = NONCE_BUFFER / 12 * 12;
        assert_eq!(seen[..per_buffer], expected[..per_buffer]);
        assert_eq!(
            seen[per_buffer..per_buffer + 12],
            expected[NONCE_BUFFER..NONCE_BUFFER + 12]
        );
    }

    struct Failing;

    impl SecureRandom for Failing {
        fn fill(&mut self, _: &mut [u8]) -> Result<(), RandomError> {
            Err(RandomError)
        }
    }

    #[test]
    fn a_failing_source_fails_the_nonce() {
        let rng = SharedRandom::new(Box::new(Failing));
        assert!(rng.fill_nonce::<12>().is_err());
        assert!(
            rng.fill_nonce::<12>().is_err(),
            "and keeps failing: nothing stale is served"
        );
    }
}
