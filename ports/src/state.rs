//! [`StateStore`]: shared key-value state with TTLs, bounded atomic counters and locks.
//!
//! Used for the kill switch, risk budgets (margin in use, per-symbol concurrency), locks, node
//! heartbeats and portfolio assignments. Keys are plain strings; adapters for clustered stores
//! expect related keys to share a hash tag (`risk:{budget}:...`).

use crate::PortResult;
use async_trait::async_trait;
use std::time::Duration;

/// The outcome of [`StateStore::increment_within`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Increment {
    /// Applied; the counter's new value.
    Applied(i64),
    /// Refused because it would pass the ceiling; the counter's unchanged value.
    Refused(i64),
}

/// Proof of holding a lock; needed to release or extend it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LockToken(pub String);

/// Shared state with atomic operations.
#[async_trait]
pub trait StateStore: Send + Sync {
    /// The value at `key`, unless absent or expired.
    ///
    /// # Errors
    /// [`crate::PortError::Transient`] when the store is unreachable.
    async fn get(&self, key: &str) -> PortResult<Option<Vec<u8>>>;

    /// Sets `key` (replacing any value) with an optional time to live.
    ///
    /// # Errors
    /// As [`Self::get`].
    async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> PortResult<()>;

    /// Sets `key` only when absent; `true` when it was set. The building block of idempotency
    /// markers.
    ///
    /// # Errors
    /// As [`Self::get`].
    async fn set_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> PortResult<bool>;

    /// Deletes `key`; `true` when something was deleted.
    ///
    /// # Errors
    /// As [`Self::get`].
    async fn delete(&self, key: &str) -> PortResult<bool>;

    /// Atomically adds `delta` to the integer counter at `key` (absent = 0). A positive delta is
    /// refused when the result would exceed `ceiling`; a negative delta (a release) is always
    /// applied and the counter never goes below zero. Callers keep amounts in integer minor
    /// units (e.g. micro-USDT).
    ///
    /// # Errors
    /// As [`Self::get`]; [`crate::PortError::Conflict`] when `key` holds a non-integer value.
    async fn increment_within(&self, key: &str, delta: i64, ceiling: i64) -> PortResult<Increment>;

    /// Takes the lock `key` for `ttl` when free (or expired); `None` when someone holds it.
    ///
    /// # Errors
    /// As [`Self::get`].
    async fn lock(&self, key: &str, ttl: Duration) -> PortResult<Option<LockToken>>;

    /// Releases the lock only if `token` still holds it; `false` otherwise (expired and taken
    /// by someone else, or already released). Never releases someone else's lock.
    ///
    /// # Errors
    /// As [`Self::get`].
    async fn unlock(&self, key: &str, token: &LockToken) -> PortResult<bool>;

    /// Extends the lock's TTL if `token` still holds it; `false` otherwise.
    ///
    /// # Errors
    /// As [`Self::get`].
    async fn extend_lock(&self, key: &str, token: &LockToken, ttl: Duration) -> PortResult<bool>;
}
