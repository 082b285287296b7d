//! Who is calling: tokens made here ([`issue`]), checked on every request ([`Authenticator`])
//! and held to a request rate ([`RateLimiter`]).
//!
//! A token reads `chm_<id>_<secret>`. The id is public (it names the token in lists and the
//! audit); the secret is 256 random bits from the operating system, shown once, stored only as
//! an argon2id hash. Verifying a hash costs tens of milliseconds on purpose, so a verified
//! token is remembered for [`VERIFIED_FOR`] (revoking through the API forgets it at once;
//! another API process notices within that time).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use chimera_kernel::time::Timestamp;
use chimera_ports::{ApiToken, Role, TokenRepository};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How every token starts.
pub const TOKEN_PREFIX: &str = "chm_";

/// How long a verified token is trusted without checking its hash and record again.
pub const VERIFIED_FOR: Duration = Duration::from_secs(30);

/// Why a token could not be made.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    /// The operating system gave no randomness.
    #[error("no randomness from the operating system: {0}")]
    Random(String),
    /// Hashing failed.
    #[error("cannot hash the secret: {0}")]
    Hash(String),
}

/// A token just made: the record to store and the bearer string to show once.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// What is stored.
    pub record: ApiToken,
    /// `chm_<id>_<secret>`: shown once, never stored.
    pub bearer: String,
}

fn random_hex(bytes: usize) -> Result<String, IssueError> {
    let mut buf = vec![0_u8; bytes];
    getrandom::getrandom(&mut buf).map_err(|e| IssueError::Random(e.to_string()))?;
    Ok(hex::encode(buf))
}

/// Makes a token for `name` with `role`, expiring after `ttl` (never when `None`).
///
/// # Errors
/// [`IssueError`] when the system has no randomness or hashing fails.
pub fn issue(
    name: &str,
    role: Role,
    created_by: &str,
    ttl: Option<Duration>,
    now: Timestamp,
) -> Result<IssuedToken, IssueError> {
    let id = random_hex(6)?;
    let secret = random_hex(32)?;
    let mut salt = [0_u8; 16];
    getrandom::getrandom(&mut salt).map_err(|e| IssueError::Random(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| IssueError::Hash(e.to_string()))?;
    let secret_hash = Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .map_err(|e| IssueError::Hash(e.to_string()))?
        .to_string();
    let expires_at = ttl.map(|t| {
        Timestamp(
            now.0
                .saturating_add(i64::try_from(t.as_millis()).unwrap_or(i64::MAX)),
        )
    });
    Ok(IssuedToken {
        bearer: format!("{TOKEN_PREFIX}{id}_{secret}"),
        record: ApiToken {
            id,
            name: name.to_owned(),
            role,
            secret_hash,
            created_by: created_by.to_owned(),
            created_at: now,
            expires_at,
            revoked_at: None,
        },
    })
}

/// The id and secret of a bearer string, if it has the token's shape.
fn split(bearer: &str) -> Option<(&str, &str)> {
    let (id, secret) = bearer.strip_prefix(TOKEN_PREFIX)?.split_once('_')?;
    let hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hex(id, 12) && hex(secret, 64)).then_some((id, secret))
}

/// A caller the API has recognised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token's id.
    pub token_id: String,
    /// The token's name.
    pub name: String,
    /// What it may do.
    pub role: Role,
}

/// Why a request was not recognised (all answered alike: 401, no detail to guess with).
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No token, an unknown one, a wrong secret, or an expired or revoked token.
    #[error("a valid token is required (Authorization: Bearer chm_...)")]
    Invalid,
    /// The token store failed.
    #[error("the token store failed")]
    Store(#[from] chimera_ports::PortError),
}

struct Verified {
    principal: Principal,
    expires_at: Option<Timestamp>,
    at: Instant,
}

/// Checks bearer strings against the stored tokens.
pub struct Authenticator {
    tokens: Arc<dyn TokenRepository>,
    verified: Mutex<HashMap<String, Verified>>,
}

impl Authenticator {
    /// Over `tokens`.
    pub fn new(tokens: Arc<dyn TokenRepository>) -> Self {
        Self {
            tokens,
            verified: Mutex::new(HashMap::new()),
        }
    }

    /// Who `bearer` is at `now`.
    ///
    /// # Errors
    /// [`AuthError::Invalid`] for anything but a usable token with the right secret.
    pub async fn authenticate(&self, bearer: &str, now: Timestamp) -> Result<Principal, AuthError> {
        let (id, secret) = split(bearer).ok_or(AuthError::Invalid)?;
        if let Some(v) = self.lock().get(bearer) {
            if v.at.elapsed() < VERIFIED_FOR && v.expires_at.is_none_or(|at| now < at) {
                return Ok(v.principal.clone());
            }
        }
        let token = self.tokens.get_token(id).await?.ok_or(AuthError::Invalid)?;
        if !token.is_usable(now) {
            return Err(AuthError::Invalid);
        }
        let (hash, secret) = (token.secret_hash.clone(), secret.to_owned());
        let matches = tokio::task::spawn_blocking(move || {
            PasswordHash::new(&hash).is_ok_and(|parsed| {
                Argon2::default()
                    .verify_password(secret.as_bytes(), &parsed)
                    .is_ok()
            })
        })
        .await
        .unwrap_or(false);
        if !matches {
            return Err(AuthError::Invalid);
        }
        let principal = Principal {
            token_id: token.id.clone(),
            name: token.name.clone(),
            role: token.role,
        };
        let mut verified = self.lock();
        verified.retain(|_, v| v.at.elapsed() < VERIFIED_FOR);
        verified.insert(
            bearer.to_owned(),
            Verified {
                principal: principal.clone(),
                expires_at: token.expires_at,
                at: Instant::now(),
            },
        );
        Ok(principal)
    }

    /// Forgets what was verified of token `id` (after revoking it).
    pub fn forget(&self, id: &str) {
        self.lock().retain(|_, v| v.principal.token_id != id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Verified>> {
        self.verified.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A token bucket per token: `per_minute` requests in a burst, refilled evenly.
pub struct RateLimiter {
    per_minute: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    /// `per_minute` requests per token and minute.
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute: f64::from(per_minute.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from `token`'s bucket.
    ///
    /// # Errors
    /// How long until the next request would be allowed, when the bucket is empty.
    pub fn take(&self, token: &str) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        let (level, at) = buckets
            .entry(token.to_owned())
            .or_insert((self.per_minute, now));
        let refill = now.duration_since(*at).as_secs_f64() * self.per_minute / 60.0;
        *level = (*level + refill).min(self.per_minute);
        *at = now;
        if *level >= 1.0 {
            *level -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - *level) * 60.0 / self.per_minute,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn issued_tokens_have_the_shape_and_their_hash_verifies_only_their_secret() {
        let issued = issue("ops", Role::Admin, "bootstrap", None, Timestamp(0)).unwrap();
        let (id, secret) = split(&issued.bearer).unwrap();
        assert_eq!(id, issued.record.id);
        assert!(
            !issued.record.secret_hash.contains(secret),
            "the secret is not stored"
        );
        let parsed = PasswordHash::new(&issued.record.secret_hash).unwrap();
        assert!(Argon2::default()
            .verify_password(secret.as_bytes(), &parsed)
            .is_ok());
        assert!(Argon2::default()
            .verify_password(b"guess", &parsed)
            .is_err());
        for bad in ["", "chm_", "chm_abc_def", "Bearer x", &issued.bearer[..20]] {
            assert!(split(bad).is_none(), "{bad}");
        }
        let other = issue("ops", Role::Admin, "bootstrap", None, Timestamp(0)).unwrap();
        assert_ne!(other.bearer, issued.bearer);
    }

    #[test]
    fn the_bucket_allows_a_burst_then_refuses_with_a_wait() {
        let limiter = RateLimiter::new(3);
        for _ in 0..3 {
            assert!(limiter.take("t").is_ok());
        }
        let wait = limiter.take("t").unwrap_err();
        assert!(
            wait > Duration::from_secs(10) && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
        assert!(limiter.take("other").is_ok(), "per token");
    }
}
