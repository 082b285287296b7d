//! [`MemoryStateStore`]: key-value state with TTLs, bounded counters and token locks, timed by
//! an injected [`Clock`] so tests can expire keys without sleeping.

use crate::lock;
use async_trait::async_trait;
use chimera_kernel::time::Timestamp;
use chimera_ports::{Clock, Increment, LockToken, PortError, PortResult, StateStore};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

struct Entry {
    value: Vec<u8>,
    expires_at: Option<Timestamp>,
}

/// The in-memory state store.
pub struct MemoryStateStore {
    clock: Arc<dyn Clock>,
    entries: Mutex<HashMap<String, Entry>>,
    next_token: AtomicU64,
}

impl std::fmt::Debug for MemoryStateStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStateStore").finish_non_exhaustive()
    }
}

fn expiry(now: Timestamp, ttl: Option<Duration>) -> Option<Timestamp> {
    ttl.map(|t| now.plus_millis(i64::try_from(t.as_millis()).unwrap_or(i64::MAX / 2)))
}

impl MemoryStateStore {
    /// A store whose TTLs are measured by `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            entries: Mutex::new(HashMap::new()),
            next_token: AtomicU64::new(1),
        }
    }

    /// Runs `f` on the live (unexpired) entry of `key`, dropping it first if expired.
    fn with_live<T>(
        &self,
        key: &str,
        f: impl FnOnce(&mut HashMap<String, Entry>, Timestamp) -> T,
    ) -> T {
        let now = self.clock.now();
        let mut entries = lock(&self.entries);
        if entries
            .get(key)
            .and_then(|e| e.expires_at)
            .is_some_and(|at| at <= now)
        {
            entries.remove(key);
        }
        f(&mut entries, now)
    }
}

#[async_trait]
impl StateStore for MemoryStateStore {
    async fn get(&self, key: &str) -> PortResult<Option<Vec<u8>>> {
        Ok(self.with_live(key, |m, _| m.get(key).map(|e| e.value.clone())))
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> PortResult<()> {
        self.with_live(key, |m, now| {
            m.insert(
                key.to_owned(),
                Entry {
                    value: value.to_vec(),
                    expires_at: expiry(now, ttl),
                },
            );
        });
        Ok(())
    }

    async fn set_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> PortResult<bool> {
        Ok(self.with_live(key, |m, now| {
            if m.contains_key(key) {
                return false;
            }
            m.insert(
                key.to_owned(),
                Entry {
                    value: value.to_vec(),
                    expires_at: expiry(now, ttl),
                },
            );
            true
        }))
    }

    async fn delete(&self, key: &str) -> PortResult<bool> {
        Ok(self.with_live(key, |m, _| m.remove(key).is_some()))
    }

    async fn increment_within(&self, key: &str, delta: i64, ceiling: i64) -> PortResult<Increment> {
        self.with_live(key, |m, _| {
            let current = match m.get(key) {
                None => 0,
                Some(e) => std::str::from_utf8(&e.value)
                    .ok()
                    .and_then(|s| s.parse::<i64>().ok())
                    .ok_or_else(|| {
                        PortError::Conflict(format!("key `{key}` does not hold an integer counter"))
                    })?,
            };
            let next = current.saturating_add(delta);
            if delta > 0 && next > ceiling {
                return Ok(Increment::Refused(current));
            }
            let next = next.max(0);
            let expires_at = m.get(key).and_then(|e| e.expires_at);
            m.insert(
                key.to_owned(),
                Entry {
                    value: next.to_string().into_bytes(),
                    expires_at,
                },
            );
            Ok(Increment::Applied(next))
        })
    }

    async fn lock(&self, key: &str, ttl: Duration) -> PortResult<Option<LockToken>> {
        let token = LockToken(format!(
            "lock-{}",
            self.next_token.fetch_add(1, Ordering::Relaxed)
        ));
        let granted = self
            .set_if_absent(key, token.0.as_bytes(), Some(ttl))
            .await?;
        Ok(granted.then_some(token))
    }

    async fn unlock(&self, key: &str, token: &LockToken) -> PortResult<bool> {
        Ok(self.with_live(key, |m, _| {
            let held = m.get(key).is_some_and(|e| e.value == token.0.as_bytes());
            if held {
                m.remove(key);
            }
            held
        }))
    }

    async fn extend_lock(&self, key: &str, token: &LockToken, ttl: Duration) -> PortResult<bool> {
        Ok(self.with_live(key, |m, now| match m.get_mut(key) {
            Some(e) if e.value == token.0.as_bytes() => {
                e.expires_at = expiry(now, Some(ttl));
                true
            }
            _ => false,
        }))
    }
}
