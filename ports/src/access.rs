//! [`TokenRepository`]: the API's access tokens, stored hashed. The secret itself is never
//! stored nor returned: it is shown once, when the token is made.

use crate::PortResult;
use async_trait::async_trait;
use chimera_kernel::time::Timestamp;
use serde::{Deserialize, Serialize};

/// What a token may do. Ordered: each role may do what the ones before it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Read everything but tokens and the audit trail.
    Viewer,
    /// Also operate portfolios (start, stop, pause, resume, reload) and engage kill switches.
    Trader,
    /// Also configure and migrate portfolios, release kill switches, manage tokens, read the
    /// audit trail.
    Admin,
}

impl Role {
    /// Every role, least first.
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Trader, Role::Admin];

    /// The stored name (`viewer`, `trader`, `admin`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Trader => "trader",
            Role::Admin => "admin",
        }
    }

    /// The role named `name`.
    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

/// One token as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiToken {
    /// The public part of the token (what it is looked up by; also what the audit names).
    pub id: String,
    /// A name for people (`ops-laptop`, `grafana`).
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// The secret's hash in PHC string form (argon2id).
    pub secret_hash: String,
    /// Who made it (another token's id, or `bootstrap`).
    pub created_by: String,
    /// When it was made.
    pub created_at: Timestamp,
    /// When it stops working (`None`: never).
    pub expires_at: Option<Timestamp>,
    /// When it was revoked.
    pub revoked_at: Option<Timestamp>,
}

impl ApiToken {
    /// Whether it may be used at `now`.
    pub fn is_usable(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|at| now < at)
    }
}

/// Stores tokens.
#[async_trait]
pub trait TokenRepository: Send + Sync {
    /// Stores a new token; [`crate::PortError::Conflict`] when its id exists.
    ///
    /// # Errors
    /// [`crate::PortError::Transient`] when the store is unreachable; `Conflict` as above.
    async fn insert_token(&self, token: &ApiToken) -> PortResult<()>;

    /// The token `id`, revoked and expired ones included.
    ///
    /// # Errors
    /// As [`Self::insert_token`], or [`crate::PortError::Codec`] for an undecodable row.
    async fn get_token(&self, id: &str) -> PortResult<Option<ApiToken>>;

    /// Every token, oldest first.
    ///
    /// # Errors
    /// As [`Self::get_token`].
    async fn list_tokens(&self) -> PortResult<Vec<ApiToken>>;

    /// Revokes `id` at `at`; `false` when there is no such token or it was revoked before
    /// (the first revocation time is kept).
    ///
    /// # Errors
    /// As [`Self::insert_token`].
    async fn revoke_token(&self, id: &str, at: Timestamp) -> PortResult<bool>;
}
