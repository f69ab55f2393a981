//! A software authenticator for tests: produces valid registration and authentication
//! responses, or deliberately broken ones ([`Fault`]), so flows can be tested without a
//! browser.
//!
//! **Never use it outside tests**: its keys live in ordinary memory.
//!
//! ```
//! use mfa_core::{OsRandom, Timestamp};
//! use mfa_webauthn::testkit::{Fault, SoftAuthenticator};
//! use mfa_webauthn::{RelyingParty, RegistrationRequest, AuthenticationRequest, cose::Algorithm};
//!
//! let rp = RelyingParty::builder("example.com", "Example").origin("https://example.com").build()?;
//! let now = Timestamp::from_unix_secs(1_700_000_000);
//! let mut authenticator = SoftAuthenticator::new(Algorithm::Es256, &mut OsRandom)?;
//!
//! let req = RegistrationRequest::new(b"user-1".to_vec(), "alice", "Alice");
//! let (options, state) = rp.start_registration(&req, now, &mut OsRandom)?;
//! let response = authenticator.register(&options, "https://example.com", Fault::None)?;
//! let record = rp.finish_registration(&state, &response, now)?.record;
//!
//! let req = AuthenticationRequest { allow_credentials: vec![record.descriptor()], ..Default::default() };
//! let (options, state) = rp.start_authentication(&req, now, &mut OsRandom)?;
//! let response = authenticator.authenticate(&options.public_key, "https://example.com", Fault::None)?;
//! let auth = rp.finish_authentication(&state, &response, &record, now)?;
//! assert_eq!(auth.sign_count, 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use ciborium::Value;
use mfa_core::SecureRandom;
use sha2::{Digest as _, Sha256};

use crate::cose::{Algorithm, KeyMaterial, PublicKey};
use crate::error::{Error, Result};
use crate::json::{
    AuthenticationResponseJson, AuthenticatorAssertionResponseJson,
    AuthenticatorAttestationResponseJson, Base64UrlBytes, ClientExtensionResults,
    CreationOptionsJson, RegistrationResponseJson, RequestOptionsJson,
};

/// A deliberate defect in a produced response.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Fault {
    /// A valid response.
    None,
    /// Sign something else than the data sent (the signature does not verify).
    BadSignature,
    /// Do not advance the signature counter.
    CounterNotIncremented,
    /// Claim to be in a cross-origin iframe.
    CrossOrigin,
    /// Clear the UP flag.
    NoUserPresence,
    /// Append a byte after the authenticator data.
    TrailingAuthenticatorData,
    /// Answer another challenge.
    WrongChallenge,
    /// Use the wrong `clientData.type`.
    WrongClientDataType,
    /// Scope the credential to another rp id.
    WrongRpId,
}

enum Signer {
    Ed25519(ed25519_dalek::SigningKey),
    P256(p256::ecdsa::SigningKey),
}

/// A software authenticator holding one credential.
pub struct SoftAuthenticator {
    signer: Signer,
    credential_id: Vec<u8>,
    sign_count: u32,
    user_verified: bool,
    user_handle: Option<Vec<u8>>,
}

impl std::fmt::Debug for SoftAuthenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoftAuthenticator")
            .field("credential_id", &Base64UrlBytes(self.credential_id.clone()))
            .field("sign_count", &self.sign_count)
            .finish_non_exhaustive()
    }
}

impl SoftAuthenticator {
    /// A new authenticator with a fresh key for `alg` (ES256 or EdDSA).
    ///
    /// # Errors
    ///
    /// [`Error::AlgorithmNotAllowed`] for RS256; [`Error::Random`] if the source fails.
    pub fn new(alg: Algorithm, rng: &mut dyn SecureRandom) -> Result<Self> {
        let mut seed = [0u8; 32];
        let signer = loop {
            rng.fill(&mut seed)?;
            match alg {
                Algorithm::Es256 => {
                    if let Ok(k) = p256::ecdsa::SigningKey::from_slice(&seed) {
                        break Signer::P256(k);
                    }
                }
                Algorithm::EdDsa => {
                    break Signer::Ed25519(ed25519_dalek::SigningKey::from_bytes(&seed));
                }
                Algorithm::Rs256 => return Err(Error::AlgorithmNotAllowed(alg.cose_id())),
            }
        };
        let mut credential_id = vec![0u8; 32];
        rng.fill(&mut credential_id)?;
        Ok(Self {
            signer,
            credential_id,
            sign_count: 0,
            user_verified: true,
            user_handle: None,
        })
    }

    /// Whether the authenticator reports user verification (default true).
    pub fn set_user_verified(&mut self, uv: bool) {
        self.user_verified = uv;
    }

    /// The public key as a COSE_Key.
    pub fn public_key(&self) -> PublicKey {
        match &self.signer {
            Signer::P256(k) => {
                let point = k.verifying_key().to_sec1_point(false);
                let mut p = [0u8; 65];
                p.copy_from_slice(point.as_bytes());
                PublicKey {
                    alg: Algorithm::Es256,
                    key: KeyMaterial::P256(p),
                }
            }
            Signer::Ed25519(k) => PublicKey {
                alg: Algorithm::EdDsa,
                key: KeyMaterial::Ed25519(k.verifying_key().to_bytes()),
            },
        }
    }

    /// Answers creation options from `origin` with a packed self attestation.
    ///
    /// # Errors
    ///
    /// [`Error::Malformed`] when the options carry no rp id.
    pub fn register(
        &mut self,
        options: &CreationOptionsJson,
        origin: &str,
        fault: Fault,
    ) -> Result<RegistrationResponseJson> {
        let rp_id = options
            .rp
            .id
            .clone()
            .ok_or(Error::Malformed("options without rp id"))?;
        self.user_handle = Some(options.user.id.0.clone());
        let client_data = client_data("webauthn.create", &options.challenge, origin, fault);
        self.sign_count = self.sign_count.saturating_add(1);
        let mut auth_data = self.auth_data_header(&rp_id, fault, 0x40);
        auth_data.extend_from_slice(&[0u8; 16]);
        let id_len = u16::try_from(self.credential_id.len()).unwrap_or(u16::MAX);
        auth_data.extend_from_slice(&id_len.to_be_bytes());
        auth_data.extend_from_slice(&self.credential_id);
        auth_data.extend_from_slice(&self.public_key().to_cose());
        if fault == Fault::TrailingAuthenticatorData {
            auth_data.push(0);
        }
        let sig = self.sign(&auth_data, &client_data, fault);
        let att_stmt = Value::Map(vec![
            (
                Value::Text("alg".into()),
                Value::from(self.public_key().alg.cose_id()),
            ),
            (Value::Text("sig".into()), Value::Bytes(sig)),
        ]);
        let att_obj = Value::Map(vec![
            (Value::Text("fmt".into()), Value::Text("packed".into())),
            (Value::Text("attStmt".into()), att_stmt),
            (Value::Text("authData".into()), Value::Bytes(auth_data)),
        ]);
        let mut attestation_object = Vec::new();
        ciborium::ser::into_writer(&att_obj, &mut attestation_object)
            .map_err(|_| Error::Malformed("cbor encoding"))?;
        Ok(RegistrationResponseJson {
            id: Base64UrlBytes(self.credential_id.clone()).encode(),
            raw_id: Base64UrlBytes(self.credential_id.clone()),
            response: AuthenticatorAttestationResponseJson {
                client_data_json: Base64UrlBytes(client_data),
                attestation_object: Base64UrlBytes(attestation_object),
                authenticator_data: None,
                transports: vec!["internal".into()],
                public_key_algorithm: Some(self.public_key().alg.cose_id()),
                public_key: None,
            },
            authenticator_attachment: Some("platform".into()),
            client_extension_results: ClientExtensionResults::default(),
            type_: "public-key".into(),
        })
    }

    /// Answers request options from `origin`.
    ///
    /// # Errors
    ///
    /// [`Error::Malformed`] when the options carry no rp id.
    pub fn authenticate(
        &mut self,
        options: &RequestOptionsJson,
        origin: &str,
        fault: Fault,
    ) -> Result<AuthenticationResponseJson> {
        let rp_id = options
            .rp_id
            .clone()
            .ok_or(Error::Malformed("options without rp id"))?;
        let client_data = client_data("webauthn.get", &options.challenge, origin, fault);
        if fault != Fault::CounterNotIncremented {
            self.sign_count = self.sign_count.saturating_add(1);
        }
        let mut auth_data = self.auth_data_header(&rp_id, fault, 0);
        if fault == Fault::TrailingAuthenticatorData {
            auth_data.push(0);
        }
        let sig = self.sign(&auth_data, &client_data, fault);
        Ok(AuthenticationResponseJson {
            id: Base64UrlBytes(self.credential_id.clone()).encode(),
            raw_id: Base64UrlBytes(self.credential_id.clone()),
            response: AuthenticatorAssertionResponseJson {
                client_data_json: Base64UrlBytes(client_data),
                authenticator_data: Base64UrlBytes(auth_data),
                signature: Base64UrlBytes(sig),
                user_handle: self.user_handle.clone().map(Base64UrlBytes),
            },
            authenticator_attachment: Some("platform".into()),
            client_extension_results: ClientExtensionResults::default(),
            type_: "public-key".into(),
        })
    }

    fn auth_data_header(&self, rp_id: &str, fault: Fault, extra_flags: u8) -> Vec<u8> {
        let hashed = if fault == Fault::WrongRpId {
            "evil.example"
        } else {
            rp_id
        };
        let mut flags = extra_flags;
        if fault != Fault::NoUserPresence {
            flags |= 0x01;
        }
        if self.user_verified {
            flags |= 0x04;
        }
        let mut out = Sha256::digest(hashed.as_bytes()).to_vec();
        out.push(flags);
        out.extend_from_slice(&self.sign_count.to_be_bytes());
        out
    }

    fn sign(&self, auth_data: &[u8], client_data: &[u8], fault: Fault) -> Vec<u8> {
        let mut msg = auth_data.to_vec();
        msg.extend_from_slice(&Sha256::digest(client_data));
        if fault == Fault::BadSignature {
            msg.push(1);
        }
        match &self.signer {
            Signer::P256(k) => {
                use p256::ecdsa::signature::Signer as _;
                let sig: p256::ecdsa::Signature = k.sign(&msg);
                sig.to_der().as_bytes().to_vec()
            }
            Signer::Ed25519(k) => {
                use ed25519_dalek::Signer as _;
                k.sign(&msg).to_bytes().to_vec()
            }
        }
    }
}

fn client_data(type_: &str, challenge: &Base64UrlBytes, origin: &str, fault: Fault) -> Vec<u8> {
    let type_ = if fault == Fault::WrongClientDataType {
        "webauthn.other"
    } else {
        type_
    };
    let challenge = if fault == Fault::WrongChallenge {
        Base64UrlBytes(b"another challenge".to_vec()).encode()
    } else {
        challenge.encode()
    };
    let cross = fault == Fault::CrossOrigin;
    serde_json::json!({
        "type": type_,
        "challenge": challenge,
        "origin": origin,
        "crossOrigin": cross,
    })
    .to_string()
    .into_bytes()
}
