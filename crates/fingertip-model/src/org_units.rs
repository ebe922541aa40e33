//! Which `org_unit` codes are accepted.

use std::collections::HashSet;

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
}
