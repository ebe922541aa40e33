//! Epoch keys on disk and the pseudonyms made with them.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::{EpochScheme, KeyEpoch};

/// A 16-byte pseudonym: the truncated HMAC of a `person_ref` under an epoch key.
pub type Pseudonym = [u8; 16];

const KEY_BYTES: usize = 32;
const MS_PER_DAY: i64 = 86_400_000;

/// `[keys]` in `fingertip.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeysConfig {
    /// Length of one key epoch: `quarter` (default) or `month`.
    pub epoch: EpochScheme,
    /// Days after an epoch ends before its key is destroyed. Must exceed
    /// `ingest.max_past_age_s`, or late events of the epoch are refused.
    pub grace_days: u32,
}

impl Default for KeysConfig {
    fn default() -> Self {
        Self {
            epoch: EpochScheme::Quarter,
            grace_days: 45,
        }
    }
}

/// Why a pseudonym could not be made or a key not managed.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the key of epoch {0} was destroyed")]
    Destroyed(String),
    #[error("no key epoch is labelled `{0}`")]
    UnknownEpoch(String),
    #[error("key file {path} is damaged (expected {KEY_BYTES} bytes)")]
    Damaged { path: PathBuf },
    #[error("key store I/O on {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

/// The life stage of an epoch key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyState {
    /// In use or still inside its grace period.
    Active,
    /// Past its grace period: destroyed at the next sweep.
    Expired,
    /// Gone for good.
    Destroyed,
}

/// One epoch as `fingertip keys list` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct KeyInfo {
    pub epoch: String,
    pub state: KeyState,
    /// When the key is (or was due to be) destroyed, ms since the Unix epoch.
    pub destroy_after_ms: i64,
}

/// The keys of one data directory, cached in memory once loaded.
pub struct KeyStore {
    dir: PathBuf,
    config: KeysConfig,
    keyed: RwLock<HashMap<String, Arc<Hmac<Sha256>>>>,
    /// Serializes key creation within this process (O_EXCL links serialize processes).
    create_lock: std::sync::Mutex<()>,
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyStore")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> KeyError + '_ {
    move |source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl KeyStore {
    /// Opens (creating if needed, mode 0700) the key directory `<data>/keys`.
    pub fn open(data_dir: &Path, config: KeysConfig) -> Result<Self, KeyError> {
        let dir = fingertip_model::DataDir::new(data_dir).keys();
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(io_err(&dir))?;
        Ok(Self {
            dir,
            config,
            keyed: RwLock::new(HashMap::new()),
            create_lock: std::sync::Mutex::new(()),
        })
    }

    pub fn scheme(&self) -> EpochScheme {
        self.config.epoch
    }

    /// The key epoch of an event that started at `ms`.
    pub fn epoch_of(&self, ms: i64) -> KeyEpoch {
        self.config.epoch.epoch_of(ms)
    }

    /// The pseudonym of `person_ref` in `epoch`, creating the epoch key on first use.
    pub fn pseudonym(&self, epoch: &str, person_ref: &str) -> Result<Pseudonym, KeyError> {
        let keyed = self.keyed(epoch)?;
        let mut mac = Hmac::clone(&keyed);
        mac.update(person_ref.as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut out = [0u8; 16];
        out.copy_from_slice(&digest[..16]);
        Ok(out)
    }

    /// The keyed HMAC state of `epoch` (cached).
    pub fn keyed(&self, epoch: &str) -> Result<Arc<Hmac<Sha256>>, KeyError> {
        if let Some(k) = self.read_cache().get(epoch) {
            return Ok(k.clone());
        }
        let key = {
            let _creating = self.create_lock.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(k) = self.read_cache().get(epoch) {
                return Ok(k.clone());
            }
            self.load_or_create(epoch)?
        };
        // Unwrap safety: HMAC accepts keys of any length.
        let keyed = Arc::new(Hmac::<Sha256>::new_from_slice(&key).expect("any key length"));
        let mut cache = self.keyed.write().unwrap_or_else(|e| e.into_inner());
        Ok(cache.entry(epoch.to_string()).or_insert(keyed).clone())
    }

    fn read_cache(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<Hmac<Sha256>>>> {
        self.keyed.read().unwrap_or_else(|e| e.into_inner())
    }

    fn key_path(&self, epoch: &str) -> PathBuf {
        self.dir.join(format!("{epoch}.key"))
    }

    fn tombstone_path(&self, epoch: &str) -> PathBuf {
        self.dir.join(format!("{epoch}.destroyed"))
    }

    fn load_or_create(&self, epoch: &str) -> Result<[u8; KEY_BYTES], KeyError> {
        if self.config.epoch.parse(epoch).is_none() {
            return Err(KeyError::UnknownEpoch(epoch.to_string()));
        }
        if self.tombstone_path(epoch).exists() {
            return Err(KeyError::Destroyed(epoch.to_string()));
        }
        let path = self.key_path(epoch);
        match self.create(&path) {
            Ok(key) => Ok(key),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => read_key(&path),
            Err(e) => Err(KeyError::Io { path, source: e }),
        }
    }

    /// Writes a new random key with O_EXCL, so concurrent creators agree on one key.
    fn create(&self, path: &Path) -> io::Result<[u8; KEY_BYTES]> {
        let mut key = [0u8; KEY_BYTES];
        getrandom::fill(&mut key).map_err(io::Error::other)?;
        let mut nonce = [0u8; 8];
        getrandom::fill(&mut nonce).map_err(io::Error::other)?;
        let tmp = path.with_extension(format!(
            "tmp{}-{}",
            std::process::id(),
            u64::from_le_bytes(nonce)
        ));
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(&key)?;
        file.sync_all()?;
        drop(file);
        // Link (not rename) so that an existing key is never replaced.
        let linked = fs::hard_link(&tmp, path);
        fs::remove_file(&tmp)?;
        linked?;
        sync_dir(&self.dir)?;
        tracing::info!(path = %path.display(), "Created a new epoch key.");
        Ok(key)
    }

    /// Every epoch with a key or a tombstone, oldest first.
    pub fn list(&self, now_ms: i64) -> Result<Vec<KeyInfo>, KeyError> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(io_err(&self.dir))? {
            let name = entry.map_err(io_err(&self.dir))?.file_name();
            let name = name.to_string_lossy();
            let (epoch, destroyed) = match name.rsplit_once('.') {
                Some((e, "key")) => (e, false),
                Some((e, "destroyed")) => (e, true),
                _ => continue,
            };
            let Some(parsed) = self.config.epoch.parse(epoch) else {
                continue;
            };
            let destroy_after_ms = parsed.end_ms + i64::from(self.config.grace_days) * MS_PER_DAY;
            let state = match (destroyed, now_ms >= destroy_after_ms) {
                (true, _) => KeyState::Destroyed,
                (false, true) => KeyState::Expired,
                (false, false) => KeyState::Active,
            };
            out.push(KeyInfo {
                epoch: epoch.to_string(),
                state,
                destroy_after_ms,
            });
        }
        out.sort_by_key(|k| (k.destroy_after_ms, k.state == KeyState::Destroyed));
        out.dedup_by(|later, earlier| later.epoch == earlier.epoch);
        Ok(out)
    }

    /// Destroys the key of `epoch`: overwrite, fsync, unlink, tombstone, fsync the directory.
    /// Destroying an epoch that has no key still leaves a tombstone, so none is ever created.
    pub fn destroy(&self, epoch: &str) -> Result<(), KeyError> {
        if self.config.epoch.parse(epoch).is_none() {
            return Err(KeyError::UnknownEpoch(epoch.to_string()));
        }
        let tomb = self.tombstone_path(epoch);
        let file = File::create(&tomb).map_err(io_err(&tomb))?;
        file.sync_all().map_err(io_err(&tomb))?;
        let path = self.key_path(epoch);
        if path.exists() {
            let mut file = OpenOptions::new()
                .write(true)
                .open(&path)
                .map_err(io_err(&path))?;
            file.write_all(&[0u8; KEY_BYTES]).map_err(io_err(&path))?;
            file.sync_all().map_err(io_err(&path))?;
            fs::remove_file(&path).map_err(io_err(&path))?;
        }
        sync_dir(&self.dir).map_err(io_err(&self.dir))?;
        self.keyed
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(epoch);
        tracing::warn!(
            epoch,
            "Destroyed an epoch key; its pseudonyms can no longer be linked."
        );
        Ok(())
    }

    /// Destroys every key past its grace period; returns the epochs destroyed.
    pub fn destroy_expired(&self, now_ms: i64) -> Result<Vec<String>, KeyError> {
        let expired: Vec<String> = self
            .list(now_ms)?
            .into_iter()
            .filter(|k| k.state == KeyState::Expired)
            .map(|k| k.epoch)
            .collect();
        for epoch in &expired {
            self.destroy(epoch)?;
        }
        Ok(expired)
    }
}

fn read_key(path: &Path) -> Result<[u8; KEY_BYTES], KeyError> {
    let mut bytes = Vec::with_capacity(KEY_BYTES);
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(io_err(path))?;
    bytes.try_into().map_err(|_| KeyError::Damaged {
        path: path.to_path_buf(),
    })
}

/// Makes a directory's entries durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    const NOV_2026: i64 = 1_795_000_000_000;

    #[test]
    fn pseudonyms_are_stable_per_epoch_and_differ_across_epochs() {
        let dir = tempfile::tempdir().unwrap();
        let store = KeyStore::open(dir.path(), KeysConfig::default()).unwrap();
        let a = store.pseudonym("2026Q4", "EMP-1").unwrap();
        assert_eq!(a, store.pseudonym("2026Q4", "EMP-1").unwrap());
        assert_ne!(a, store.pseudonym("2026Q4", "EMP-2").unwrap());
        assert_ne!(a, store.pseudonym("2026Q3", "EMP-1").unwrap());
        let reopened = KeyStore::open(dir.path(), KeysConfig::default()).unwrap();
        assert_eq!(a, reopened.pseudonym("2026Q4", "EMP-1").unwrap());
        let mode = fs::metadata(dir.path().join("keys/2026Q4.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn destroyed_keys_stay_destroyed() {
        let dir = tempfile::tempdir().unwrap();
        let store = KeyStore::open(dir.path(), KeysConfig::default()).unwrap();
        store.pseudonym("2026Q2", "EMP-1").unwrap();
        store.pseudonym("2026Q4", "EMP-1").unwrap();
        assert_eq!(
            store.destroy_expired(NOV_2026).unwrap(),
            vec!["2026Q2".to_string()]
        );
        assert!(!dir.path().join("keys/2026Q2.key").exists());
        assert!(matches!(
            store.pseudonym("2026Q2", "EMP-1"),
            Err(KeyError::Destroyed(_))
        ));
        let states: Vec<_> = store
            .list(NOV_2026)
            .unwrap()
            .into_iter()
            .map(|k| k.state)
            .collect();
        assert_eq!(states, vec![KeyState::Destroyed, KeyState::Active]);
        assert!(matches!(
            store.pseudonym("../etc", "x"),
            Err(KeyError::UnknownEpoch(_))
        ));
    }
}
