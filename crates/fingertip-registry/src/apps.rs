//! The app registry: which apps are approved to send events, who issued each one (the unit
//! responsible for it and for the burden it imposes), and at what level of government.
//!
//! Stored in `<data>/apps.json` (a version number that every change increments, and the
//! records), with every change appended to `<data>/apps.audit.jsonl` (version, time, actor,
//! action, the record after it). Apps are never deleted: a retired app keeps its record, since
//! its events stay in the lake until retention removes them. A data directory without a
//! registry keeps working as before: any well-formed app id may get a token.

use std::path::PathBuf;

use fingertip_model::DataDir;
use serde::{Deserialize, Serialize};

use crate::file::{self, FileError, now_rfc3339};
use crate::tokens::is_app_id;

/// The level of government an issuing unit belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IssuerLevel {
    National,
    Province,
    City,
    County,
    Township,
}

impl IssuerLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::National => "national",
            Self::Province => "province",
            Self::City => "city",
            Self::County => "county",
            Self::Township => "township",
        }
    }
}

/// One registered app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppRecord {
    pub app_id: String,
    /// The name people know the app by (defaults to the id).
    pub name: String,
    /// The unit that issued the app and demands its use.
    pub issuer: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer_level: Option<IssuerLevel>,
    pub registered_at: String,
    pub updated_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired_at: Option<String>,
}

/// What `apps update` may change; `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct AppChanges {
    pub name: Option<String>,
    pub issuer: Option<String>,
    pub issuer_level: Option<IssuerLevel>,
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("app registry {0}")]
    File(#[from] FileError),
    #[error("`{0}` is not an app id (1-64 characters of [A-Za-z0-9._-], not starting with '.')")]
    BadAppId(String),
    #[error("an issuer is 1-200 characters, not blank and without control characters")]
    BadIssuer,
    #[error("app `{0}` is already registered (use `apps update`)")]
    AlreadyRegistered(String),
    #[error("app `{0}` is not registered")]
    NotRegistered(String),
    #[error("app `{0}` was retired on {1}")]
    Retired(String, String),
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AppFile {
    version: u64,
    apps: Vec<AppRecord>,
}

#[derive(Serialize)]
struct AuditLine<'a> {
    version: u64,
    at: &'a str,
    actor: &'a str,
    action: &'a str,
    app: &'a AppRecord,
}

/// The app registry of one data directory.
#[derive(Debug, Clone)]
pub struct AppRegistry {
    path: PathBuf,
    audit: PathBuf,
}

impl AppRegistry {
    pub fn open(dir: &DataDir) -> Self {
        Self {
            path: dir.apps(),
            audit: dir.apps_audit(),
        }
    }

    /// True once an app has been registered: from then on only registered apps get tokens.
    pub fn exists(&self) -> bool {
        self.path.exists()
    }

    /// Every record, retired ones too, in registration order.
    pub fn list(&self) -> Result<Vec<AppRecord>, AppError> {
        Ok(file::read_json::<AppFile>(&self.path)?.apps)
    }

    /// The number of changes made so far.
    pub fn version(&self) -> Result<u64, AppError> {
        Ok(file::read_json::<AppFile>(&self.path)?.version)
    }

    /// `Ok` when an app token may be created for `app_id`: no registry yet, or a registered app
    /// that is not retired.
    pub fn admits(&self, app_id: &str) -> Result<(), AppError> {
        let doc: AppFile = file::read_json(&self.path)?;
        if doc.version == 0 {
            return Ok(());
        }
        match doc.apps.into_iter().find(|a| a.app_id == app_id) {
            None => Err(AppError::NotRegistered(app_id.to_string())),
            Some(AppRecord {
                retired_at: Some(at),
                ..
            }) => Err(AppError::Retired(app_id.to_string(), at)),
            Some(_) => Ok(()),
        }
    }

    pub fn register(
        &self,
        app_id: &str,
        issuer: &str,
        issuer_level: Option<IssuerLevel>,
        name: Option<&str>,
        actor: &str,
    ) -> Result<AppRecord, AppError> {
        if !is_app_id(app_id) {
            return Err(AppError::BadAppId(app_id.to_string()));
        }
        let issuer = checked_issuer(issuer)?;
        self.change(actor, "register", |apps| {
            if apps.iter().any(|a| a.app_id == app_id) {
                return Err(AppError::AlreadyRegistered(app_id.to_string()));
            }
            let now = now_rfc3339();
            apps.push(AppRecord {
                app_id: app_id.to_string(),
                name: name.unwrap_or(app_id).trim().to_string(),
                issuer,
                issuer_level,
                registered_at: now.clone(),
                updated_at: now,
                retired_at: None,
            });
            Ok(apps.len() - 1)
        })
    }

    pub fn update(
        &self,
        app_id: &str,
        changes: AppChanges,
        actor: &str,
    ) -> Result<AppRecord, AppError> {
        let issuer = changes.issuer.as_deref().map(checked_issuer).transpose()?;
        self.change(actor, "update", |apps| {
            let i = find(apps, app_id)?;
            let app = &mut apps[i];
            if let Some(name) = &changes.name {
                app.name = name.trim().to_string();
            }
            if let Some(issuer) = issuer {
                app.issuer = issuer;
            }
            if let Some(level) = changes.issuer_level {
                app.issuer_level = Some(level);
            }
            app.updated_at = now_rfc3339();
            Ok(i)
        })
    }

    /// Marks an app retired: no new tokens for it; its record and events stay.
    pub fn retire(&self, app_id: &str, actor: &str) -> Result<AppRecord, AppError> {
        self.change(actor, "retire", |apps| {
            let i = find(apps, app_id)?;
            if let Some(at) = &apps[i].retired_at {
                return Err(AppError::Retired(app_id.to_string(), at.clone()));
            }
            let now = now_rfc3339();
            apps[i].retired_at = Some(now.clone());
            apps[i].updated_at = now;
            Ok(i)
        })
    }

    /// Applies `change` (which returns the index of the record it changed), bumps the version
    /// and appends the audit line, all under the registry's lock.
    fn change(
        &self,
        actor: &str,
        action: &str,
        change: impl FnOnce(&mut Vec<AppRecord>) -> Result<usize, AppError>,
    ) -> Result<AppRecord, AppError> {
        file::update_json(&self.path, |doc: &mut AppFile| {
            let i = change(&mut doc.apps)?;
            doc.version += 1;
            let app = doc.apps[i].clone();
            let at = now_rfc3339();
            let line = AuditLine {
                version: doc.version,
                at: &at,
                actor,
                action,
                app: &app,
            };
            file::append_line(&self.audit, &line)?;
            Ok(app)
        })
    }
}

fn find(apps: &[AppRecord], app_id: &str) -> Result<usize, AppError> {
    apps.iter()
        .position(|a| a.app_id == app_id)
        .ok_or_else(|| AppError::NotRegistered(app_id.to_string()))
}

fn checked_issuer(issuer: &str) -> Result<String, AppError> {
    let issuer = issuer.trim();
    if issuer.is_empty() || issuer.chars().count() > 200 || issuer.chars().any(char::is_control) {
        return Err(AppError::BadIssuer);
    }
    Ok(issuer.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_update_retire_are_versioned_and_audited() {
        let tmp = tempfile::tempdir().unwrap();
        let reg = AppRegistry::open(&DataDir::new(tmp.path()));
        assert!(
            reg.admits("anything").is_ok(),
            "no registry: every app id is admitted"
        );
        let county = Some(IssuerLevel::County);
        let a = reg
            .register("attendance", "County Civil Affairs", county, None, "t")
            .unwrap();
        assert_eq!(
            (a.name.as_str(), a.issuer.as_str()),
            ("attendance", "County Civil Affairs")
        );
        assert!(matches!(
            reg.register("attendance", "x", None, None, "t"),
            Err(AppError::AlreadyRegistered(_))
        ));
        assert!(matches!(
            reg.register("a b", "x", None, None, "t"),
            Err(AppError::BadAppId(_))
        ));
        assert!(matches!(
            reg.register("b", " ", None, None, "t"),
            Err(AppError::BadIssuer)
        ));
        assert!(matches!(
            reg.admits("survey"),
            Err(AppError::NotRegistered(_))
        ));
        let changes = AppChanges {
            issuer: Some("City Health".into()),
            issuer_level: Some(IssuerLevel::City),
            ..Default::default()
        };
        let u = reg.update("attendance", changes, "t").unwrap();
        assert_eq!(
            (u.issuer.as_str(), u.issuer_level),
            ("City Health", Some(IssuerLevel::City))
        );
        reg.retire("attendance", "t").unwrap();
        assert!(matches!(
            reg.admits("attendance"),
            Err(AppError::Retired(..))
        ));
        assert!(matches!(
            reg.retire("attendance", "t"),
            Err(AppError::Retired(..))
        ));
        assert_eq!(reg.version().unwrap(), 3, "failed changes do not count");
        let audit = std::fs::read_to_string(tmp.path().join("apps.audit.jsonl")).unwrap();
        let actions: Vec<String> = audit
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["action"].to_string())
            .collect();
        assert_eq!(actions, ["\"register\"", "\"update\"", "\"retire\""]);
        assert_eq!(
            reg.list().unwrap().len(),
            1,
            "retired apps keep their record"
        );
    }
}
