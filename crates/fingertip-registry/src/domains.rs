//! The public domains of a data directory: the apps (those in the app registry and those with
//! app tokens), the issuing units of registered apps, and the declared org units (a configured list, or the leaves of `dimensions/org_units.csv`).
//! Values in a public domain are known without looking at events, so a release may publish a
//! cell for each of them, noise and all, instead of selecting cells from the data.

use fingertip_model::{DataDir, OrgUnitsError, org_unit_leaves};

use crate::{AppError, AppRegistry, Role, TokenError, TokenStore};

/// Apps and org units known in advance; an empty list means "not declared".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublicDomains {
    /// Sorted, distinct app ids of the registry and of app tokens (retired apps and revoked
    /// tokens too: their events stay in the lake).
    pub apps: Vec<String>,
    /// Sorted, distinct issuers of registered apps.
    pub issuers: Vec<String>,
    pub units: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum DomainsError {
    #[error(transparent)]
    Tokens(#[from] TokenError),
    #[error(transparent)]
    Apps(#[from] AppError),
    #[error("reading {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    OrgUnits { path: String, source: OrgUnitsError },
}

/// The public domains of `dir`: `declared_units` when not empty, otherwise the leaves of the
/// org-unit tree (none when the file does not exist).
pub fn public_domains(
    dir: &DataDir,
    declared_units: &[String],
) -> Result<PublicDomains, DomainsError> {
    let registered = AppRegistry::open(dir).list()?;
    let mut issuers: Vec<String> = registered.iter().map(|a| a.issuer.clone()).collect();
    issuers.sort();
    issuers.dedup();
    let mut apps: Vec<String> = TokenStore::open(dir.root())?
        .list()?
        .into_iter()
        .filter(|t| t.role == Role::App)
        .filter_map(|t| t.app_id)
        .chain(registered.into_iter().map(|a| a.app_id))
        .collect();
    apps.sort();
    apps.dedup();
    let units = match declared_units {
        [] => tree_leaves(dir)?,
        codes => codes.to_vec(),
    };
    Ok(PublicDomains {
        apps,
        issuers,
        units,
    })
}

fn tree_leaves(dir: &DataDir) -> Result<Vec<String>, DomainsError> {
    let path = dir.org_units();
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            let path = path.display().to_string();
            return Err(DomainsError::Io { path, source });
        }
    };
    org_unit_leaves(&text).map_err(|source| DomainsError::OrgUnits {
        path: path.display().to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apps_from_tokens_units_from_the_tree() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DataDir::new(tmp.path());
        let tokens = TokenStore::open(dir.root()).unwrap();
        tokens.create(Role::App, Some("b"), "").unwrap();
        tokens.create(Role::App, Some("a"), "").unwrap();
        tokens.create(Role::App, Some("a"), "second").unwrap();
        tokens.create(Role::Researcher, None, "").unwrap();
        AppRegistry::open(&dir)
            .register("c", "County Health", None, None, "test")
            .unwrap();
        let empty = public_domains(&dir, &[]).unwrap();
        assert_eq!(empty.apps, ["a", "b", "c"]);
        assert_eq!(empty.issuers, ["County Health"]);
        assert!(empty.units.is_empty());
        std::fs::create_dir_all(dir.dimensions()).unwrap();
        std::fs::write(dir.org_units(), "code,parent\nc,\nt1,c\nt2,c\n").unwrap();
        assert_eq!(public_domains(&dir, &[]).unwrap().units, ["t1", "t2"]);
        let declared = public_domains(&dir, &["x".to_string()]).unwrap();
        assert_eq!(declared.units, ["x"]);
        std::fs::write(dir.org_units(), "code\nbad code\n").unwrap();
        assert!(public_domains(&dir, &[]).is_err());
    }
}
