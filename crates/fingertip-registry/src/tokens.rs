//! API tokens: created by `fingertip token create`, stored only as SHA-256 hashes in
//! `<data>/tokens.json` (mode 0600), checked in constant time, and re-read by a running server
//! when the file changes, so a revocation takes effect within a second without a restart.
//!
//! A token looks like `ft_<id>_<secret>`: the 8-hex-digit id selects the record, and the
//! SHA-256 of the whole token is compared with the stored hash in constant time.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering::Relaxed};
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};

use crate::file::{self, FileError, now_rfc3339};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Sends events for one app (`POST /v1/events`).
    App,
    /// Asks DP queries (`POST /v1/query`).
    Researcher,
    /// Reads published indices (`GET /v1/indices`).
    Oversight,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::App => "app",
            Self::Researcher => "researcher",
            Self::Oversight => "oversight",
        }
    }
}

/// One stored token (never the token itself).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TokenRecord {
    pub id: String,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
    #[serde(default)]
    pub label: String,
    /// Hex SHA-256 of the whole token.
    pub sha256: String,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenFile {
    tokens: Vec<TokenRecord>,
}

/// Who made a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub token_id: String,
    pub role: Role,
    pub app_id: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("token file {0}")]
    File(#[from] FileError),
    #[error(
        "an app token needs --app-id (1-64 characters of [A-Za-z0-9._-], not starting with '.')"
    )]
    AppIdRequired,
    #[error("--app-id is only for app tokens")]
    AppIdNotAllowed,
    #[error("no token has id `{0}`")]
    NotFound(String),
}

/// True for app ids usable as a partition directory name.
pub fn is_app_id(s: &str) -> bool {
    fingertip_model::is_code(s, 64) && !s.starts_with('.')
}

/// The tokens of one data directory.
#[derive(Debug)]
pub struct TokenStore {
    path: PathBuf,
    loaded: RwLock<(FileStamp, Arc<Vec<TokenRecord>>)>,
    last_check_ms: AtomicI64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct FileStamp {
    mtime_ns: i64,
    size: u64,
    inode: u64,
}

fn stamp(path: &Path) -> FileStamp {
    fs::metadata(path)
        .map(|m| FileStamp {
            mtime_ns: m.mtime() * 1_000_000_000 + m.mtime_nsec(),
            size: m.len(),
            inode: m.ino(),
        })
        .unwrap_or_default()
}

const RELOAD_CHECK_MS: i64 = 250;

impl TokenStore {
    pub fn open(data_dir: &Path) -> Result<Self, TokenError> {
        let path = fingertip_model::DataDir::new(data_dir).tokens();
        let stamp = stamp(&path);
        let tokens = read_file(&path)?;
        Ok(Self {
            path,
            loaded: RwLock::new((stamp, Arc::new(tokens))),
            last_check_ms: AtomicI64::new(0),
        })
    }

    /// Creates a token; returns its record and the token, which is shown once and never stored.
    pub fn create(
        &self,
        role: Role,
        app_id: Option<&str>,
        label: &str,
    ) -> Result<(TokenRecord, String), TokenError> {
        match (role, app_id) {
            (Role::App, Some(a)) if is_app_id(a) => {}
            (Role::App, _) => return Err(TokenError::AppIdRequired),
            (_, Some(_)) => return Err(TokenError::AppIdNotAllowed),
            (_, None) => {}
        }
        let mut id_bytes = [0u8; 4];
        let mut secret = [0u8; 32];
        getrandom::fill(&mut id_bytes)
            .and_then(|_| getrandom::fill(&mut secret))
            .map_err(|e| {
                TokenError::File(FileError::Io {
                    path: self.path.clone(),
                    source: std::io::Error::other(e),
                })
            })?;
        let id = hex(&id_bytes);
        let token = format!("ft_{id}_{}", hex(&secret));
        let record = TokenRecord {
            id,
            role,
            app_id: app_id.map(str::to_string),
            label: label.to_string(),
            sha256: hex(&Sha256::digest(token.as_bytes())),
            created_at: now_rfc3339(),
            revoked_at: None,
        };
        self.update(|tokens| {
            tokens.push(record.clone());
            Ok(())
        })?;
        Ok((record, token))
    }

    /// Marks a token revoked (kept in the file for audit).
    pub fn revoke(&self, id: &str) -> Result<TokenRecord, TokenError> {
        let mut revoked = None;
        self.update(|tokens| {
            let t = tokens
                .iter_mut()
                .find(|t| t.id == id)
                .ok_or_else(|| TokenError::NotFound(id.to_string()))?;
            t.revoked_at.get_or_insert_with(now_rfc3339);
            revoked = Some(t.clone());
            Ok(())
        })?;
        revoked.ok_or_else(|| TokenError::NotFound(id.to_string()))
    }

    pub fn list(&self) -> Result<Vec<TokenRecord>, TokenError> {
        read_file(&self.path)
    }

    /// The principal of a presented token, if it is known and not revoked.
    pub fn authenticate(&self, token: &str) -> Option<Principal> {
        self.reload_if_changed();
        let id = token.strip_prefix("ft_")?.split('_').next()?;
        let presented = hex(&Sha256::digest(token.as_bytes()));
        let tokens = self
            .loaded
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .1
            .clone();
        let mut found = None;
        for t in tokens.iter().filter(|t| t.id == id) {
            let same: bool = t.sha256.as_bytes().ct_eq(presented.as_bytes()).into();
            if same && t.revoked_at.is_none() {
                found = Some(Principal {
                    token_id: t.id.clone(),
                    role: t.role,
                    app_id: t.app_id.clone(),
                });
            }
        }
        found
    }

    fn reload_if_changed(&self) {
        let now = chrono::Utc::now().timestamp_millis();
        let last = self.last_check_ms.load(Relaxed);
        if now - last < RELOAD_CHECK_MS
            || self
                .last_check_ms
                .compare_exchange(last, now, Relaxed, Relaxed)
                .is_err()
        {
            return;
        }
        let current = stamp(&self.path);
        if current == self.loaded.read().unwrap_or_else(|e| e.into_inner()).0 {
            return;
        }
        match read_file(&self.path) {
            Ok(tokens) => {
                *self.loaded.write().unwrap_or_else(|e| e.into_inner()) =
                    (current, Arc::new(tokens));
                tracing::info!("Reloaded the token file.");
            }
            Err(error) => {
                tracing::error!(%error, "Token file changed but could not be read; keeping the previous tokens.")
            }
        }
    }

    /// Read-modify-write under an exclusive lock; the new file is written atomically (0600).
    fn update(
        &self,
        change: impl FnOnce(&mut Vec<TokenRecord>) -> Result<(), TokenError>,
    ) -> Result<(), TokenError> {
        file::update_json(&self.path, |doc: &mut TokenFile| change(&mut doc.tokens))
    }
}

fn read_file(path: &Path) -> Result<Vec<TokenRecord>, TokenError> {
    Ok(file::read_json::<TokenFile>(path)?.tokens)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_authenticate_revoke() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::open(dir.path()).unwrap();
        let (record, token) = store.create(Role::App, Some("attendance"), "").unwrap();
        let p = store.authenticate(&token).unwrap();
        assert_eq!(
            (p.role, p.app_id.as_deref()),
            (Role::App, Some("attendance"))
        );
        assert!(store.authenticate(&token.replace('a', "b")).is_none());
        assert!(
            !fs::read_to_string(dir.path().join("tokens.json"))
                .unwrap()
                .contains(&token)
        );
        let other = TokenStore::open(dir.path()).unwrap();
        other.revoke(&record.id).unwrap();
        store.last_check_ms.store(0, Relaxed);
        assert!(
            store.authenticate(&token).is_none(),
            "revocation is picked up"
        );
        assert!(matches!(
            store.create(Role::App, None, ""),
            Err(TokenError::AppIdRequired)
        ));
        assert!(matches!(
            store.create(Role::App, Some(".."), ""),
            Err(TokenError::AppIdRequired)
        ));
        assert!(matches!(
            store.create(Role::Researcher, Some("x"), ""),
            Err(TokenError::AppIdNotAllowed)
        ));
    }
}
