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
use crate::error::{IResult, InternalError, Result};
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
    /// Registration: send a credential key that cannot verify (an EC point off its
    /// curve, the Ed25519 identity, an even RSA modulus), with `none` attestation so
    /// nothing else uses the key.
    InvalidPublicKey,
    /// Authentication: send no `userHandle`.
    NoUserHandle,
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
    /// Authentication: send another user's `userHandle`.
    WrongUserHandle,
}

enum Signer {
    Ed25519(ed25519_dalek::SigningKey),
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
    P521(Box<p521::ecdsa::SigningKey>),
    Ed448(Box<ed448_goldilocks::SigningKey>),
    /// RS256, RS384, RS512 or RS1 (PKCS#1 v1.5).
    Rsa(Box<rsa::RsaPrivateKey>, Algorithm),
}

/// A software authenticator holding one credential.
pub struct SoftAuthenticator {
    signer: Signer,
    credential_id: Vec<u8>,
    sign_count: u32,
    user_verified: bool,
    backup_eligible: bool,
    backup_state: bool,
    aaguid: [u8; 16],
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
    /// A new authenticator with a fresh key for `alg` (ES256, ES384, ES512, EdDSA,
    /// Ed448); for RS256, RS384, RS512 and RS1 the one fixed test key
    /// [`RSA_TEST_PRIMES`] (RSA key generation is slow and needs nothing random here).
    /// RS1 registers with `none` attestation.
    ///
    /// # Errors
    ///
    /// [`Error::Random`](crate::Error::Random) if the source fails; [`Error::Rejected`](crate::Error::Rejected) (`algorithm_not_allowed`) for PS256,
    /// PS384, PS512 and ML-DSA-44, which it does not sign with.
    pub fn new(alg: Algorithm, rng: &mut dyn SecureRandom) -> Result<Self> {
        let mut seed = [0u8; 32];
        let mut seed48 = [0u8; 48];
        let mut seed66 = [0u8; 66];
        let mut seed57 = [0u8; 57];
        let signer = loop {
            rng.fill(&mut seed)?;
            match alg {
                Algorithm::Es384 => {
                    rng.fill(&mut seed48)?;
                    if let Ok(k) = p384::ecdsa::SigningKey::from_slice(&seed48) {
                        break Signer::P384(k);
                    }
                }
                Algorithm::Es256 => {
                    if let Ok(k) = p256::ecdsa::SigningKey::from_slice(&seed) {
                        break Signer::P256(k);
                    }
                }
                Algorithm::EdDsa => {
                    break Signer::Ed25519(ed25519_dalek::SigningKey::from_bytes(&seed));
                }
                Algorithm::Es512 => {
                    rng.fill(&mut seed66)?;
                    if let Ok(k) = p521::ecdsa::SigningKey::from_slice(&seed66) {
                        break Signer::P521(Box::new(k));
                    }
                }
                Algorithm::Ed448 => {
                    rng.fill(&mut seed57)?;
                    if let Ok(k) = ed448_goldilocks::SigningKey::try_from(&seed57[..]) {
                        break Signer::Ed448(Box::new(k));
                    }
                }
                Algorithm::Rs256 | Algorithm::Rs384 | Algorithm::Rs512 | Algorithm::Rs1 => {
                    break Signer::Rsa(Box::new(rsa_test_key()?), alg);
                }
                _ => return Err(InternalError::AlgorithmNotSupported(alg.cose_id()).into()),
            }
        };
        let mut credential_id = vec![0u8; 32];
        rng.fill(&mut credential_id)?;
        Ok(Self {
            signer,
            credential_id,
            sign_count: 0,
            user_verified: true,
            backup_eligible: false,
            backup_state: false,
            aaguid: [0; 16],
            user_handle: None,
        })
    }

    /// Whether the authenticator reports user verification (default true).
    pub fn set_user_verified(&mut self, uv: bool) {
        self.user_verified = uv;
    }

    /// Whether the authenticator sets BE, claiming a synced passkey (default false:
    /// it claims to be device-bound, which nothing proves).
    pub fn set_backup_eligible(&mut self, be: bool) {
        self.backup_eligible = be;
    }

    /// Sets the AAGUID registrations report (default all zero), claiming a model.
    pub fn set_aaguid(&mut self, aaguid: [u8; 16]) {
        self.aaguid = aaguid;
    }

    /// Sets the BS (backed up) flag of later responses (meaningful with BE set).
    pub fn set_backup_state(&mut self, bs: bool) {
        self.backup_state = bs;
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
            Signer::P384(k) => {
                let point = k.verifying_key().to_sec1_point(false);
                let mut p = [0u8; 97];
                p.copy_from_slice(point.as_bytes());
                PublicKey {
                    alg: Algorithm::Es384,
                    key: KeyMaterial::P384(p),
                }
            }
            Signer::Ed25519(k) => PublicKey {
                alg: Algorithm::EdDsa,
                key: KeyMaterial::Ed25519(k.verifying_key().to_bytes()),
            },
            Signer::P521(k) => {
                let point = k.verifying_key().to_sec1_point(false);
                let mut p = [0u8; 133];
                p.copy_from_slice(point.as_bytes());
                PublicKey {
                    alg: Algorithm::Es512,
                    key: KeyMaterial::P521(Box::new(p)),
                }
            }
            Signer::Ed448(k) => {
                let mut p = [0u8; 57];
                p.copy_from_slice(k.verifying_key().as_bytes());
                PublicKey {
                    alg: Algorithm::Ed448,
                    key: KeyMaterial::Ed448(Box::new(p)),
                }
            }
            Signer::Rsa(k, alg) => {
                use rsa::traits::PublicKeyParts as _;
                PublicKey {
                    alg: *alg,
                    key: KeyMaterial::Rsa {
                        n: k.n().to_be_bytes_trimmed_vartime().to_vec(),
                        e: k.e().to_be_bytes_trimmed_vartime().to_vec(),
                    },
                }
            }
        }
    }

    /// Answers creation options from `origin` with a packed self attestation.
    ///
    /// # Errors
    ///
    /// [`Error::Malformed`](crate::Error::Malformed) when the options carry no rp id.
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
            .ok_or(InternalError::Malformed("options without rp id"))?;
        self.user_handle = Some(options.user.id.0.clone());
        let client_data = client_data("webauthn.create", &options.challenge, origin, fault);
        self.sign_count = self.sign_count.saturating_add(1);
        let mut auth_data = self.auth_data_header(&rp_id, fault, 0x40);
        auth_data.extend_from_slice(&self.aaguid);
        let id_len = u16::try_from(self.credential_id.len()).unwrap_or(u16::MAX);
        auth_data.extend_from_slice(&id_len.to_be_bytes());
        auth_data.extend_from_slice(&self.credential_id);
        let mut key = self.public_key();
        if fault == Fault::InvalidPublicKey {
            key.key = match key.key {
                // y with its last bit flipped: off the curve (y and -y differ in it).
                KeyMaterial::P256(mut p) => {
                    flip_last_bit(&mut p);
                    KeyMaterial::P256(p)
                }
                KeyMaterial::P384(mut p) => {
                    flip_last_bit(&mut p);
                    KeyMaterial::P384(p)
                }
                KeyMaterial::P521(mut p) => {
                    flip_last_bit(&mut p[..]);
                    KeyMaterial::P521(p)
                }
                // The identity (y = 1).
                KeyMaterial::Ed448(_) => {
                    let mut identity = [0u8; 57];
                    identity[0] = 1;
                    KeyMaterial::Ed448(Box::new(identity))
                }
                // The identity (y = 1): the smallest of the small-order points.
                KeyMaterial::Ed25519(_) => {
                    let mut identity = [0u8; 32];
                    identity[0] = 1;
                    KeyMaterial::Ed25519(identity)
                }
                // Not produced by this authenticator.
                k @ KeyMaterial::MlDsa44(_) => k,
                // An even modulus.
                KeyMaterial::Rsa { mut n, e } => {
                    if let Some(last) = n.last_mut() {
                        *last &= 0xfe;
                    }
                    KeyMaterial::Rsa { n, e }
                }
            };
        }
        auth_data.extend_from_slice(&key.to_cose());
        if fault == Fault::TrailingAuthenticatorData {
            auth_data.push(0);
        }
        let sig = self.sign(&auth_data, &client_data, fault);
        let (fmt, att_stmt) = if fault == Fault::InvalidPublicKey || key.alg == Algorithm::Rs1 {
            ("none", Value::Map(Vec::new()))
        } else {
            let stmt = Value::Map(vec![
                (Value::Text("alg".into()), Value::from(key.alg.cose_id())),
                (Value::Text("sig".into()), Value::Bytes(sig)),
            ]);
            ("packed", stmt)
        };
        let att_obj = Value::Map(vec![
            (Value::Text("fmt".into()), Value::Text(fmt.into())),
            (Value::Text("attStmt".into()), att_stmt),
            (Value::Text("authData".into()), Value::Bytes(auth_data)),
        ]);
        let mut attestation_object = Vec::new();
        ciborium::ser::into_writer(&att_obj, &mut attestation_object)
            .map_err(|_| InternalError::Malformed("cbor encoding"))?;
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
    /// [`Error::Malformed`](crate::Error::Malformed) when the options carry no rp id.
    pub fn authenticate(
        &mut self,
        options: &RequestOptionsJson,
        origin: &str,
        fault: Fault,
    ) -> Result<AuthenticationResponseJson> {
        let rp_id = options
            .rp_id
            .clone()
            .ok_or(InternalError::Malformed("options without rp id"))?;
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
                user_handle: match fault {
                    Fault::NoUserHandle => None,
                    Fault::WrongUserHandle => Some(Base64UrlBytes(b"someone-else".to_vec())),
                    _ => self.user_handle.clone().map(Base64UrlBytes),
                },
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
        if self.backup_state {
            flags |= 0x10;
        }
        if self.backup_eligible {
            flags |= 0x08;
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
            Signer::P384(k) => {
                use p384::ecdsa::signature::Signer as _;
                let sig: p384::ecdsa::Signature = k.sign(&msg);
                sig.to_der().as_bytes().to_vec()
            }
            Signer::Ed25519(k) => {
                use ed25519_dalek::Signer as _;
                k.sign(&msg).to_bytes().to_vec()
            }
            Signer::P521(k) => {
                use p521::ecdsa::signature::Signer as _;
                let sig: p521::ecdsa::Signature = k.sign(&msg);
                sig.to_der().as_bytes().to_vec()
            }
            Signer::Ed448(k) => {
                use ed448_goldilocks::signature::Signer as _;
                let sig: ed448_goldilocks::Signature = k.sign(&msg);
                sig.to_bytes().to_vec()
            }
            Signer::Rsa(k, alg) => {
                use rsa::Pkcs1v15Sign;
                use sha2::{Sha384, Sha512};
                // Signing with a validated key and a digest cannot fail; an empty
                // signature would be rejected by the relying party anyway.
                match alg {
                    Algorithm::Rs384 => {
                        k.sign(Pkcs1v15Sign::new::<Sha384>(), &Sha384::digest(&msg))
                    }
                    Algorithm::Rs512 => {
                        k.sign(Pkcs1v15Sign::new::<Sha512>(), &Sha512::digest(&msg))
                    }
                    Algorithm::Rs1 => {
                        k.sign(Pkcs1v15Sign::new::<sha1::Sha1>(), &sha1::Sha1::digest(&msg))
                    }
                    _ => k.sign(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(&msg)),
                }
                .unwrap_or_default()
            }
        }
    }
}

/// The primes `p` and `q` (hex, 1024 bits each) of the RS256 test key, generated once
/// for this module with Python's `cryptography` (e = 65537). Public on purpose: it
/// signs only test data.
pub const RSA_TEST_PRIMES: [&str; 2] = [
    "fd5fda68f079fd748ba0db7640cea451626403bfcf7d58ff25b7abc7d96230036655123b087b28a26333e5e6c4b7cb289810c4ecef4a5bf4e6f4654fe0c504bfb7da4191b273b639d192ab9b45fbb4ed17314a4dcd651d42aaf1c38f26846720feadd5a57e42a3a664f16fbf4a7c54c21b957d837cdb00974438c4268435ca9d",
    "d1ef1ec0382b433abda4162dad6637acc18689ae0d8844f8cf879540d95edc4343d54129d202457f0979d3ae571d5e677e0a6c58a0f1533a94cf29671f7872bcb77896f1c0006596982ea5999c4441203bb2469cfac8f4f67574faa26a0b57e3423ac8a30f62e7e1cde52a65ea88558aad2c139749e1f9943ba4f2ca3475fd15",
];

fn rsa_test_key() -> IResult<rsa::RsaPrivateKey> {
    use rsa::BoxedUint;
    let uint = |hex: &str| {
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .filter_map(|i| hex.get(i..i + 2))
            .filter_map(|b| u8::from_str_radix(b, 16).ok())
            .collect();
        BoxedUint::from_be_slice(&bytes, 1024).map_err(|_| InternalError::Malformed("rsa test key"))
    };
    let [p, q] = RSA_TEST_PRIMES;
    let e = BoxedUint::from_be_slice(&[1, 0, 1], 1024)
        .map_err(|_| InternalError::Malformed("rsa test key"))?;
    rsa::RsaPrivateKey::from_p_q(uint(p)?, uint(q)?, e)
        .map_err(|_| InternalError::Malformed("rsa test key"))
}

fn flip_last_bit(bytes: &mut [u8]) {
    if let Some(last) = bytes.last_mut() {
        *last ^= 1;
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
