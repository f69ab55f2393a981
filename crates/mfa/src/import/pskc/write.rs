//! Writing encrypted PSKC (RFC 6030 §6.1 / §6.2) for export: every secret AES-128-CBC
//! encrypted with a fresh IV and MACed with HMAC-SHA1 under a fresh MAC key, which the
//! same key encrypts. Never a plain value.

use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use mfa_core::SecureRandom;
use zeroize::Zeroizing;

use super::crypto::{HMAC_SHA1, MAX_PBKDF2_ITERATIONS, PBKDF2, encrypt_value, pbkdf2_sha1};
use crate::import::{ImportRecord, ImportedFactor};

const AES128_CBC: &str = "http://www.w3.org/2001/04/xmlenc#aes128-cbc";

/// The key an export is encrypted under.
#[non_exhaustive]
pub enum PskcExportKey<'a> {
    /// A pre-shared AES-128 key (§6.1), handed to the receiver separately.
    PreShared(&'a [u8; 16]),
    /// A password, through PBKDF2-HMAC-SHA1 with a random salt (§6.2).
    Password {
        /// The password.
        password: &'a [u8],
        /// PBKDF2 iterations: at least 100,000 (OWASP advises 1,300,000 for SHA-1).
        iterations: u32,
    },
}

impl std::fmt::Debug for PskcExportKey<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PskcExportKey([redacted])")
    }
}

/// Why an export could not be written.
#[non_exhaustive]
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
pub enum ExportError {
    /// The password's iteration count is under 100,000 or over 10,000,000.
    #[error("PBKDF2 iterations must be from 100,000 to 10,000,000")]
    Iterations,
    /// An empty password.
    #[error("the password is empty")]
    EmptyPassword,
    /// The random source failed.
    #[error("random source failed")]
    Random,
    /// Encryption failed.
    #[error("encryption failed: {0}")]
    Crypto(&'static str),
}

/// Writes the OTP records (WebAuthn records are skipped: they go to
/// [`write_webauthn_json`](crate::import::write_webauthn_json)) as an encrypted PSKC
/// document that [`parse_pskc`](super::parse_pskc) with the same key reads back:
/// algorithm, digits, hash (`Suite`), HOTP counter, TOTP period, user and label. A TOTP
/// record's last accepted step and `T0` have no PSKC element and are not written.
///
/// # Errors
///
/// An [`ExportError`] for an unacceptable password setting or a failing random source.
pub fn write_pskc(
    records: &[ImportRecord],
    key: &PskcExportKey<'_>,
    rng: &mut dyn SecureRandom,
) -> Result<Zeroizing<String>, ExportError> {
    let mut random = |n: usize| -> Result<Zeroizing<Vec<u8>>, ExportError> {
        let mut b = Zeroizing::new(vec![0u8; n]);
        rng.fill(&mut b).map_err(|_| ExportError::Random)?;
        Ok(b)
    };
    let mut out = Zeroizing::new(String::with_capacity(1024));
    out.push_str(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <pskc:KeyContainer Version=\"1.0\" xmlns:pskc=\"urn:ietf:params:xml:ns:keyprov:pskc\" \
         xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" \
         xmlns:xenc=\"http://www.w3.org/2001/04/xmlenc#\" \
         xmlns:xenc11=\"http://www.w3.org/2009/xmlenc11#\" \
         xmlns:pkcs5=\"http://www.rsasecurity.com/rsalabs/pkcs/schemas/pkcs-5v2-0#\">\n",
    );
    let encryption_key: Zeroizing<Vec<u8>> = match key {
        PskcExportKey::PreShared(k) => {
            out.push_str("  <pskc:EncryptionKey><ds:KeyName>Pre-shared-key</ds:KeyName></pskc:EncryptionKey>\n");
            Zeroizing::new(k.to_vec())
        }
        PskcExportKey::Password {
            password,
            iterations,
        } => {
            if password.is_empty() {
                return Err(ExportError::EmptyPassword);
            }
            if !(100_000..=MAX_PBKDF2_ITERATIONS).contains(iterations) {
                return Err(ExportError::Iterations);
            }
            let salt = random(16)?;
            let _ = writeln!(
                out,
                "  <pskc:EncryptionKey><xenc11:DerivedKey>\
                 <xenc11:KeyDerivationMethod Algorithm=\"{PBKDF2}\"><pkcs5:PBKDF2-params>\
                 <Salt><Specified>{}</Specified></Salt><IterationCount>{iterations}</IterationCount>\
                 <KeyLength>16</KeyLength><PRF/></pkcs5:PBKDF2-params></xenc11:KeyDerivationMethod>\
                 <xenc11:MasterKeyName>Export password</xenc11:MasterKeyName>\
                 </xenc11:DerivedKey></pskc:EncryptionKey>",
                STANDARD.encode(&salt[..])
            );
            pbkdf2_sha1(password, &salt, *iterations, 16)
        }
    };
    let mac_key = random(20)?;
    let mac_iv = fresh_iv(&mut random)?;
    let (wrapped, _) =
        encrypt_value(&encryption_key, &mac_key, &mac_iv, &mac_key).map_err(ExportError::Crypto)?;
    let _ = writeln!(
        out,
        "  <pskc:MACMethod Algorithm=\"{HMAC_SHA1}\"><pskc:MACKey>\
         <xenc:EncryptionMethod Algorithm=\"{AES128_CBC}\"/><xenc:CipherData>\
         <xenc:CipherValue>{}</xenc:CipherValue></xenc:CipherData></pskc:MACKey></pskc:MACMethod>",
        STANDARD.encode(wrapped)
    );
    for (n, r) in records.iter().enumerate() {
        let (kind, secret, params, data) = match &r.factor {
            ImportedFactor::Hotp(h) => (
                "hotp",
                h.secret.expose_secret(),
                (h.params.algorithm, h.params.digits),
                format!(
                    "<pskc:Counter><pskc:PlainValue>{}</pskc:PlainValue></pskc:Counter>",
                    h.counter
                ),
            ),
            ImportedFactor::Totp(t) => (
                "totp",
                t.secret.expose_secret(),
                (t.params.algorithm, t.params.digits),
                format!(
                    "<pskc:TimeInterval><pskc:PlainValue>{}</pskc:PlainValue></pskc:TimeInterval>",
                    t.params.period.secs()
                ),
            ),
            ImportedFactor::WebAuthn(_) => continue,
        };
        let iv = fresh_iv(&mut random)?;
        let (cipher_value, mac) =
            encrypt_value(&encryption_key, &mac_key, &iv, secret).map_err(ExportError::Crypto)?;
        let _ = writeln!(
            out,
            "  <pskc:KeyPackage><pskc:Key Id=\"{n}\" Algorithm=\"urn:ietf:params:xml:ns:keyprov:pskc:{kind}\">\
             <pskc:Issuer>{issuer}</pskc:Issuer><pskc:AlgorithmParameters><pskc:Suite>HMAC-{hash}</pskc:Suite>\
             <pskc:ResponseFormat Length=\"{digits}\" Encoding=\"DECIMAL\"/></pskc:AlgorithmParameters>\
             <pskc:Data><pskc:Secret><pskc:EncryptedValue><xenc:EncryptionMethod Algorithm=\"{AES128_CBC}\"/>\
             <xenc:CipherData><xenc:CipherValue>{cv}</xenc:CipherValue></xenc:CipherData></pskc:EncryptedValue>\
             <pskc:ValueMAC>{mac}</pskc:ValueMAC></pskc:Secret>{data}</pskc:Data>\
             <pskc:UserId>{user}</pskc:UserId></pskc:Key></pskc:KeyPackage>",
            issuer = escape(&r.label),
            hash = params.0.as_str(),
            digits = params.1.get(),
            cv = STANDARD.encode(cipher_value),
            mac = STANDARD.encode(mac),
            user = escape(r.user.as_str()),
        );
    }
    out.push_str("</pskc:KeyContainer>\n");
    Ok(out)
}

fn fresh_iv(
    random: &mut impl FnMut(usize) -> Result<Zeroizing<Vec<u8>>, ExportError>,
) -> Result<[u8; 16], ExportError> {
    let b = random(16)?;
    let mut iv = [0u8; 16];
    iv.copy_from_slice(b.get(..16).ok_or(ExportError::Random)?);
    Ok(iv)
}

/// XML text escaping.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() => {
                let _ = write!(out, "&#{};", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}
