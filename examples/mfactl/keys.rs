//! The key file: the data keys, the recovery pepper, the device-token and code keys.

use super::*;

/// One keyring in the key file: the active id and every key by id (base64).
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct KeyRing {
    pub(super) active: String,
    pub(super) keys: BTreeMap<String, String>,
}

/// The key file.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct KeyFile {
    pub(super) version: u32,
    pub(super) data: KeyRing,
    pub(super) pepper: KeyRing,
    /// The key SMS and email codes are hashed under (absent in files from before it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) oob: Option<KeyRing>,
}

pub(super) fn fresh_key() -> Result<Zeroizing<String>, Failure> {
    let key = SecretBytes::generate(32, &mut OsRandom).map_err(Failure::bad)?;
    Ok(Zeroizing::new(STANDARD.encode(key.expose_secret())))
}

pub(super) fn key_id(now: u64, prefix: &str) -> Result<String, Failure> {
    let mut tag = [0u8; 4];
    mfa_core::SecureRandom::fill(&mut OsRandom, &mut tag).map_err(Failure::bad)?;
    Ok(format!(
        "{prefix}-{now}-{}",
        tag.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ))
}

pub(super) fn decode_key(ring: &str, id: &str, b64: &str) -> Result<SecretBytes, Failure> {
    let bytes = Zeroizing::new(
        STANDARD
            .decode(b64)
            .map_err(|_| Failure::bad(format!("key file: {ring} key {id:?} is not base64")))?,
    );
    if bytes.len() != 32 {
        return Err(Failure::bad(format!(
            "key file: {ring} key {id:?} is not 32 bytes"
        )));
    }
    Ok(SecretBytes::new(bytes.to_vec()))
}

pub(super) fn read_small(path: &Path, what: &str) -> Result<Zeroizing<String>, Failure> {
    use std::io::Read as _;
    let file = std::fs::File::open(path)
        .map_err(|e| Failure::bad(format!("{what} {}: {e}", path.display())))?;
    let mut text = Zeroizing::new(String::new());
    file.take(MAX_FILE)
        .read_to_string(&mut text)
        .map_err(|e| Failure::bad(format!("{what} {}: {e}", path.display())))?;
    Ok(text)
}

/// The users named by `--user` and, one a line, in the `--users` file; at least one.
pub(super) fn users_named(user: &[String], users: Option<&Path>) -> Result<Vec<String>, Failure> {
    let mut named = user.to_vec();
    if let Some(path) = users {
        let text = read_small(path, "users")?;
        let lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
        named.extend(lines.map(str::to_owned));
    }
    if named.is_empty() {
        return Err(Failure::bad("name the users: --user U or --users FILE"));
    }
    Ok(named)
}

pub(super) fn read_key_file(path: &Path) -> Result<KeyFile, Failure> {
    let text = read_small(path, "key file")?;
    let file: KeyFile = serde_json::from_str(&text)
        .map_err(|e| Failure::bad(format!("key file {}: {e}", path.display())))?;
    if file.version != 1 {
        return Err(Failure::bad("key file: unknown version (expected 1)"));
    }
    Ok(file)
}

/// One ring of the key file as a [`Keyring`]: its active key current, every other key
/// still accepted (data keys open what they sealed, peppers check their codes).
pub(super) fn keyring(name: &str, ring: &KeyRing) -> Result<Keyring, Failure> {
    let bad = |e: mfa_core::Error| Failure::bad(format!("key file: {name}: {e}"));
    let active = ring
        .keys
        .get(&ring.active)
        .ok_or_else(|| Failure::bad(format!("key file: the active {name} key is missing")))?;
    let active_id = KeyId::new(ring.active.clone()).map_err(bad)?;
    let mut keys = Keyring::new(active_id, decode_key(name, &ring.active, active)?).map_err(bad)?;
    for (id, b64) in &ring.keys {
        if *id != ring.active {
            keys.insert(
                KeyId::new(id.clone()).map_err(bad)?,
                decode_key(name, id, b64)?,
            )
            .map_err(bad)?;
        }
    }
    Ok(keys)
}

/// Writes `bytes` to `path` with 0600 permissions: to a new file only (`create_new`),
/// or replacing `path` atomically through a sibling temporary file.
pub(super) fn write_private(path: &Path, bytes: &[u8], replace: bool) -> Result<(), Failure> {
    let target = if replace {
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        PathBuf::from(tmp)
    } else {
        path.to_owned()
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(&target)
        .map_err(|e| Failure::bad(format!("{}: {e}", target.display())))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    if replace {
        std::fs::rename(&target, path)
            .map_err(|e| Failure::bad(format!("{}: {e}", path.display())))?;
    }
    Ok(())
}

pub(super) fn keys_command(command: &KeysCommand, now: u64) -> Result<Value, Failure> {
    match command {
        KeysCommand::Init(a) => {
            let data_id = key_id(now, "data")?;
            let pepper_id = key_id(now, "pepper")?;
            let oob_id = key_id(now, "oob")?;
            let file = KeyFile {
                version: 1,
                data: KeyRing {
                    active: data_id.clone(),
                    keys: BTreeMap::from([(data_id.clone(), fresh_key()?.to_string())]),
                },
                pepper: KeyRing {
                    active: pepper_id.clone(),
                    keys: BTreeMap::from([(pepper_id, fresh_key()?.to_string())]),
                },
                oob: Some(KeyRing {
                    active: oob_id.clone(),
                    keys: BTreeMap::from([(oob_id, fresh_key()?.to_string())]),
                }),
            };
            let text = Zeroizing::new(serde_json::to_string_pretty(&file).map_err(Failure::bad)?);
            write_private(&a.file, text.as_bytes(), false)?;
            Ok(json!({"ok": true, "file": a.file.display().to_string(), "active": data_id}))
        }
        KeysCommand::Rotate(a) => {
            let mut file = read_key_file(&a.file)?;
            // Check the file is whole before adding to it.
            keyring("data", &file.data)?;
            keyring("pepper", &file.pepper)?;
            if let Some(oob) = &file.oob {
                keyring("oob", oob)?;
            }
            let id = key_id(now, "data")?;
            file.data.keys.insert(id.clone(), fresh_key()?.to_string());
            file.data.active.clone_from(&id);
            let text = Zeroizing::new(serde_json::to_string_pretty(&file).map_err(Failure::bad)?);
            write_private(&a.file, text.as_bytes(), true)?;
            Ok(
                json!({"ok": true, "file": a.file.display().to_string(), "active": id, "keys": file.data.keys.len()}),
            )
        }
    }
}

// ------------------------------------------------------------------ the service
