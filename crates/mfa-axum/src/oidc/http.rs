//! The discovery document and JWKS over HTTPS (feature `oidc-http`).

use std::time::Duration;

use super::{FetchError, Fetcher};

/// The largest document read (a JWKS with a few dozen RSA keys is well under this).
const MAX_BODY: usize = 256 * 1024;

/// A [`Fetcher`] over HTTPS with reqwest and rustls: a 10 s timeout, no redirects to
/// other schemes, bodies of at most 256 KiB.
#[derive(Clone, Debug)]
pub struct HttpFetcher {
    client: reqwest::Client,
}

impl HttpFetcher {
    /// A fetcher that only speaks HTTPS.
    ///
    /// # Errors
    ///
    /// [`FetchError`] when the TLS configuration cannot be built.
    pub fn new() -> Result<Self, FetchError> {
        Self::build(true)
    }

    /// A fetcher that also speaks plain HTTP: only for a provider on the loopback
    /// interface (tests, a local development provider). Keys fetched over plain HTTP are
    /// only as trustworthy as the network between the two.
    ///
    /// # Errors
    ///
    /// [`FetchError`] when the client cannot be built.
    pub fn dangerous_allow_http() -> Result<Self, FetchError> {
        Self::build(false)
    }

    fn build(https_only: bool) -> Result<Self, FetchError> {
        let client = reqwest::Client::builder()
            .https_only(https_only)
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()
            .map_err(|e| FetchError::new("", e))?;
        Ok(Self { client })
    }
}

impl Fetcher for HttpFetcher {
    async fn get(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        let mut res = self
            .client
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| FetchError::new(url, e))?;
        if !res.status().is_success() {
            return Err(FetchError::new(url, format!("status {}", res.status())));
        }
        let mut body = Vec::new();
        while let Some(chunk) = res.chunk().await.map_err(|e| FetchError::new(url, e))? {
            if body.len().saturating_add(chunk.len()) > MAX_BODY {
                return Err(FetchError::new(url, "document larger than 256 KiB"));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}
