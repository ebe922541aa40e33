//! Who is calling: an `Authorization: Bearer <token>` value → the principal of a token of the
//! role a route needs. The one place that decides it, for the HTTP routes and for Flight SQL
//! (`fingertip-flight`), which map [`AuthError`] to their own status codes.

use fingertip_registry::{Principal, Role, TokenStore};

/// Why a caller was not let in. `code()` is the stable code of the HTTP error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("send Authorization: Bearer <token>")]
    Missing,
    #[error("the Authorization header must be `Bearer <token>`")]
    Malformed,
    #[error("the token is unknown or revoked")]
    Invalid,
    #[error("this route needs a {} token; this is a {} token", needed.as_str(), presented.as_str())]
    WrongRole { needed: Role, presented: Role },
}

impl AuthError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Missing | Self::Malformed => "missing_token",
            Self::Invalid => "invalid_token",
            Self::WrongRole { .. } => "wrong_role",
        }
    }

    /// True when the caller is known but may not do this (HTTP 403, gRPC `PermissionDenied`);
    /// otherwise the caller is not authenticated (401, `Unauthenticated`).
    pub fn is_forbidden(&self) -> bool {
        matches!(self, Self::WrongRole { .. })
    }
}

/// The principal of `authorization` (the raw header value, `None` when absent) if it is a
/// valid token of `role`.
pub fn authorize(
    tokens: &TokenStore,
    authorization: Option<&[u8]>,
    role: Role,
) -> Result<Principal, AuthError> {
    let value = authorization.ok_or(AuthError::Missing)?;
    let token = std::str::from_utf8(value)
        .ok()
        .and_then(bearer_token)
        .ok_or(AuthError::Malformed)?;
    let principal = tokens.authenticate(token).ok_or(AuthError::Invalid)?;
    if principal.role != role {
        return Err(AuthError::WrongRole {
            needed: role,
            presented: principal.role,
        });
    }
    Ok(principal)
}

/// The token of an `Authorization` value: the scheme `Bearer` in any case (RFC 9110 §11.1),
/// then the token.
pub(crate) fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        for v in ["Bearer t1", "bearer t1", "BEARER  t1 ", " Bearer t1"] {
            assert_eq!(bearer_token(v), Some("t1"), "{v:?}");
        }
        for v in ["Basic t1", "Bearer", "Bearer ", "Bearert1"] {
            assert_eq!(bearer_token(v), None, "{v:?}");
        }
    }

    #[test]
    fn roles_and_missing_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::open(dir.path()).unwrap();
        let (_, researcher) = store.create(Role::Researcher, None, "").unwrap();
        let (_, app) = store.create(Role::App, Some("attendance"), "").unwrap();
        let header = |t: &str| format!("Bearer {t}").into_bytes();
        let p = authorize(&store, Some(&header(&researcher)), Role::Researcher).unwrap();
        assert_eq!(p.role, Role::Researcher);
        let e = authorize(&store, Some(&header(&app)), Role::Researcher).unwrap_err();
        assert!(e.is_forbidden() && e.code() == "wrong_role");
        let e = authorize(&store, None, Role::Researcher).unwrap_err();
        assert_eq!((e.code(), e.is_forbidden()), ("missing_token", false));
        let e = authorize(&store, Some(b"Bearer ft_00000000_x"), Role::Researcher).unwrap_err();
        assert_eq!(e, AuthError::Invalid);
        let e = authorize(&store, Some(b"\xff"), Role::Researcher).unwrap_err();
        assert_eq!(e, AuthError::Malformed);
    }
}
