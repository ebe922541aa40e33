//! Which `org_unit` codes are accepted, and the two public forms they are declared in: a list
//! of codes (one per line) and the org-unit tree (`dimensions/org_units.csv`). Parsing only;
//! the callers read the files.

use std::collections::{BTreeSet, HashSet};

/// A declared code that is not 1-64 characters of `[A-Za-z0-9._-]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an org-unit code (1-64 characters of [A-Za-z0-9._-])")]
pub struct OrgUnitsError(pub String);

/// True when `s` is 1..=`max` characters of `[A-Za-z0-9._-]`.
pub fn is_code(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The org-unit codes ingest accepts: any well-formed code, or only those on a configured list.
#[derive(Debug, Clone, Default)]
pub enum OrgUnitPolicy {
    /// Any code of 1-64 characters of `[A-Za-z0-9._-]` (the default when no list is set).
    #[default]
    AnyCode,
    /// Only these codes.
    Listed(HashSet<String>),
}

impl OrgUnitPolicy {
    /// A list policy, or `AnyCode` when the list is empty.
    pub fn from_list(codes: impl IntoIterator<Item = String>) -> Self {
        let set: HashSet<String> = codes.into_iter().collect();
        if set.is_empty() {
            Self::AnyCode
        } else {
            Self::Listed(set)
        }
    }

    /// `Ok` when accepted, otherwise the reason.
    pub fn check(&self, code: &str) -> Result<(), crate::RejectReason> {
        if !is_code(code, 64) {
            return Err(crate::RejectReason::InvalidOrgUnit);
        }
        match self {
            Self::AnyCode => Ok(()),
            Self::Listed(set) if set.contains(code) => Ok(()),
            Self::Listed(_) => Err(crate::RejectReason::UnknownOrgUnit),
        }
    }
}

/// The codes of a list file: one per line, `#` starts a comment, blank lines are skipped.
pub fn parse_code_list(text: &str) -> Result<Vec<String>, OrgUnitsError> {
    let codes: Vec<String> = text
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    check_codes(codes)
}

/// The leaves of an org-unit tree in CSV (a header row; the code in the first column, an
/// optional `parent` column): the units no row names as its parent. Those are the units events
/// carry, so they are the org-unit domain a release may publish without partition selection.
pub fn org_unit_leaves(csv: &str) -> Result<Vec<String>, OrgUnitsError> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
    let parent = header.iter().position(|h| h.trim() == "parent");
    let rows: Vec<Vec<&str>> = lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split(',').collect())
        .collect();
    let parents: BTreeSet<&str> = rows
        .iter()
        .filter_map(|r| parent.and_then(|p| r.get(p)))
        .map(|s| s.trim())
        .collect();
    let leaves = rows
        .iter()
        .filter_map(|r| r.first())
        .map(|c| c.trim())
        .filter(|c| !parents.contains(c))
        .map(str::to_string)
        .collect();
    check_codes(leaves)
}

fn check_codes(codes: Vec<String>) -> Result<Vec<String>, OrgUnitsError> {
    match codes.iter().find(|c| !is_code(c, 64)) {
        Some(bad) => Err(OrgUnitsError(bad.clone())),
        None => Ok(codes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RejectReason;

    #[test]
    fn codes() {
        assert!(is_code("county-7.b_2", 64));
        assert!(!is_code("", 64));
        assert!(!is_code("a b", 64));
        assert!(!is_code("é", 64));
        assert!(!is_code(&"x".repeat(65), 64));
        let listed = OrgUnitPolicy::from_list(["u1".to_string()]);
        assert_eq!(listed.check("u1"), Ok(()));
        assert_eq!(listed.check("u2"), Err(RejectReason::UnknownOrgUnit));
        assert_eq!(
            OrgUnitPolicy::AnyCode.check("u/2"),
            Err(RejectReason::InvalidOrgUnit)
        );
    }

    #[test]
    fn lists_and_trees() {
        assert_eq!(parse_code_list("a # x\n\n b\n").unwrap(), ["a", "b"]);
        assert_eq!(parse_code_list("a b").unwrap_err().0, "a b");
        let tree = "code,parent,name\ncounty,,C\nt1,county,T1\nt2,county,T2\n";
        assert_eq!(org_unit_leaves(tree).unwrap(), ["t1", "t2"]);
        assert_eq!(org_unit_leaves("code\nu1\nu2\n").unwrap(), ["u1", "u2"]);
        assert!(org_unit_leaves("code\nu/1\n").is_err());
    }
}
