//! The demo's key file: the service's data key (seals every stored factor record), the
//! recovery-code pepper, the remembered-device key and the key SMS/email codes are
//! hashed under, generated once into
//! `DATA_DIR/keys.json` (mode 0600, the directory 0700) and loaded on every start, so
//! sealed records still open and device tokens still verify after a restart.
//!
//! A file that others can read or write is refused (as ssh does), and so is a key file
//! that does not belong to the database: the database keeps a digest of the data key
//! (`demo_meta.key_check`), and a start with another key file stops with a message
//! instead of failing on every sealed record later.

use std::io::{Read as _, Write as _};
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use mfa::core::{OsRandom, SecretBytes, SecureRandom as _};
use mfa::policy::device::DeviceTokenKey;
use mfa::{KeyId, Keyring};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use zeroize::{Zeroize as _, Zeroizing};

/// The file name under the data directory.
pub(crate) const KEY_FILE: &str = "keys.json";

/// The keys, loaded.
pub(crate) struct DemoKeys {
    pub(crate) data: Keyring,
    pub(crate) pepper: Keyring,
    pub(crate) device: DeviceTokenKey,
    /// The key of mfa-oob's code hashes (pending SMS/email challenges).
    pub(crate) oob: Keyring,
    /// A digest of the data key and its id, kept in the database to tell a foreign key
    /// file (reveals nothing about the key).
    pub(crate) check: String,
}

/// The file's JSON. Every key is 32 random bytes in base64; the strings are wiped when
/// dropped.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct KeyFileJson {
    version: u32,
    data_key_id: String,
    data_key: String,
    pepper_id: String,
    pepper: String,
    device_key: String,
    oob_key: String,
}

impl Drop for KeyFileJson {
    fn drop(&mut self) {
        self.data_key.zeroize();
        self.pepper.zeroize();
        self.device_key.zeroize();
        self.oob_key.zeroize();
    }
}

fn fresh() -> Result<String, String> {
    let key = SecretBytes::generate(32, &mut OsRandom).map_err(|e| e.to_string())?;
    Ok(STANDARD.encode(key.expose_secret()))
}

fn decode(what: &str, b64: &str) -> Result<SecretBytes, String> {
    let bytes = Zeroizing::new(
        STANDARD
            .decode(b64)
            .map_err(|_| format!("the {what} is not base64"))?,
    );
    if bytes.len() != 32 {
        return Err(format!("the {what} is not 32 bytes"));
    }
    Ok(SecretBytes::new(bytes.to_vec()))
}

fn tag() -> Result<String, String> {
    let mut t = [0u8; 4];
    OsRandom.fill(&mut t).map_err(|e| e.to_string())?;
    Ok(t.iter().map(|b| format!("{b:02x}")).collect())
}

/// Creates the data directory (0700) when it is missing.
pub(crate) fn ensure_dir(dir: &Path) -> Result<(), String> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        b.mode(0o700);
    }
    b.create(dir)
        .map_err(|e| format!("data directory {}: {e}", dir.display()))
}

/// Loads `DIR/keys.json`, creating it with fresh keys on first use.
pub(crate) fn load_or_create(dir: &Path) -> Result<DemoKeys, String> {
    let path = dir.join(KEY_FILE);
    let at = |e: std::io::Error| format!("key file {}: {e}", path.display());
    let text = match std::fs::File::open(&path) {
        Ok(mut f) => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                let mode = f.metadata().map_err(at)?.permissions().mode();
                if mode & 0o077 != 0 {
                    return Err(format!(
                        "key file {}: mode {:o} lets others read or write it; \
                         chmod 600 it (or delete it and the database to start afresh)",
                        path.display(),
                        mode & 0o777
                    ));
                }
            }
            let mut text = Zeroizing::new(String::new());
            std::io::Read::by_ref(&mut f)
                .take(64 * 1024)
                .read_to_string(&mut text)
                .map_err(at)?;
            text
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let file = KeyFileJson {
                version: 1,
                data_key_id: format!("data-{}", tag()?),
                data_key: fresh()?,
                pepper_id: format!("pepper-{}", tag()?),
                pepper: fresh()?,
                device_key: fresh()?,
                oob_key: fresh()?,
            };
            let text =
                Zeroizing::new(serde_json::to_string_pretty(&file).map_err(|e| e.to_string())?);
            let mut options = std::fs::OpenOptions::new();
            // create_new: two demos starting on one directory never both write keys.
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt as _;
                options.mode(0o600);
            }
            let mut f = options.open(&path).map_err(at)?;
            f.write_all(text.as_bytes()).map_err(at)?;
            f.sync_all().map_err(at)?;
            text
        }
        Err(e) => return Err(at(e)),
    };
    let file: KeyFileJson =
        serde_json::from_str(&text).map_err(|e| format!("key file {}: {e}", path.display()))?;
    if file.version != 1 {
        return Err(format!(
            "key file {}: unknown version (expected 1)",
            path.display()
        ));
    }
    let bad = |e: String| format!("key file {}: {e}", path.display());
    let data_key = decode("data key", &file.data_key).map_err(bad)?;
    let check = {
        let mut h = Sha256::new();
        h.update(b"mfa-rs web demo key check v1\0");
        h.update(file.data_key_id.as_bytes());
        h.update([0]);
        h.update(data_key.expose_secret());
        STANDARD.encode(h.finalize())
    };
    let ring = |id: &str, key: SecretBytes| {
        KeyId::new(id)
            .and_then(|id| Keyring::new(id, key))
            .map_err(|e| bad(e.to_string()))
    };
    let data = ring(&file.data_key_id, data_key)?;
    let pepper = ring(
        &file.pepper_id,
        decode("pepper", &file.pepper).map_err(bad)?,
    )?;
    let device = DeviceTokenKey::new(ring(
        "device",
        decode("device key", &file.device_key).map_err(bad)?,
    )?);
    let oob = ring("oob", decode("code key", &file.oob_key).map_err(bad)?)?;
    Ok(DemoKeys {
        data,
        pepper,
        device,
        oob,
        check,
    })
}
