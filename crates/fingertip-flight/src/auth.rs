//! Every call is authenticated before it reaches the service: a gRPC interceptor checks the
//! `authorization: Bearer <token>` header with `fingertip-server`'s rules (a researcher
//! token, not revoked) and puts the caller's [`Principal`] in the request's extensions.
//! A missing or unknown token is `Unauthenticated`; another role's token `PermissionDenied`.

use std::sync::Arc;

use fingertip_server::{AuthError, Principal, Role, TokenStore, authorize};
use tonic::{Request, Status};

/// The interceptor: only researchers get through.
#[derive(Clone)]
pub struct Researchers {
    tokens: Arc<TokenStore>,
}

impl Researchers {
    pub fn new(tokens: Arc<TokenStore>) -> Self {
        Self { tokens }
    }
}

impl tonic::service::Interceptor for Researchers {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let header = request
            .metadata()
            .get("authorization")
            .map(|v| v.as_bytes());
        let principal = authorize(&self.tokens, header, Role::Researcher).map_err(auth_status)?;
        request.extensions_mut().insert(principal);
        Ok(request)
    }
}

fn auth_status(e: AuthError) -> Status {
    let message = format!("{}: {e}", e.code());
    if e.is_forbidden() {
        Status::permission_denied(message)
    } else {
        Status::unauthenticated(message)
    }
}

/// The researcher the interceptor let in.
pub fn principal<T>(request: &Request<T>) -> Result<Principal, Status> {
    request
        .extensions()
        .get::<Principal>()
        .cloned()
        .ok_or_else(|| Status::unauthenticated("missing_token: send authorization: Bearer <token>"))
}
