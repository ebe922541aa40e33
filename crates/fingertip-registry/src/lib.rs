//! The registry of a data directory: who may send and read ([`TokenStore`]: API tokens and
//! their roles), which apps are approved and who issued them ([`AppRegistry`]), and what is
//! public knowledge ([`public_domains`]: the registered apps, their issuers and the declared org
//! units, which releases may publish without partition selection).
//!
//! The server authenticates with it; the command line creates tokens with it; the query engine
//! and the pipelines get their public domains from it, so none of them depends on the server.

mod apps;
mod domains;
mod file;
pub mod tokens;

pub use apps::{AppChanges, AppError, AppRecord, AppRegistry, IssuerLevel};
pub use domains::{DomainsError, PublicDomains, public_domains};
pub use file::FileError;
pub use tokens::{Principal, Role, TokenError, TokenRecord, TokenStore, is_app_id};
