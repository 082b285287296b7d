//! [`RedisStateStore`].

use crate::config::RedisConfig;
use crate::error::{port_error, RedisAdapterError};
use async_trait::async_trait;
use chimera_ports::{Increment, LockToken, PortError, PortResult, StateStore};
use redis::aio::ConnectionManager;
use redis::Script;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Adds `delta` to an integer counter unless a positive delta would pass the ceiling; never
/// below zero; keeps the key's TTL. Returns `{applied, value}`, or `{-1, 0}` for a non-integer.
const INCREMENT_WITHIN: &str = r"
local raw = redis.call('GET', KEYS[1])
local current = 0
if raw then
  current = tonumber(raw)
  if current == nil or current ~= math.floor(current) then return {-1, 0} end
end
local delta = tonumber(ARGV[1])
local ceiling = tonumber(ARGV[2])
if delta > 0 and current + delta > ceiling then return {0, current} end
local next = redis.call('INCRBY', KEYS[1], delta)
if next < 0 then
  redis.call('SET', KEYS[1], 0, 'KEEPTTL')
  next = 0
end
return {1, next}
";

/// Deletes the lock only when the caller's token holds it.
const UNLOCK: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

/// Extends the lock's TTL only when the caller's token holds it.
const EXTEND: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
";

/// The state store on one Redis server (or a cluster proxy). Cheap to clone and share: it holds
/// one multiplexed connection that pipelines concurrent requests.
#[derive(Clone)]
pub struct RedisStateStore {
    connection: ConnectionManager,
    prefix: String,
    token_base: String,
    increment: Script,
    unlock: Script,
    extend: Script,
}

static TOKENS: AtomicU64 = AtomicU64::new(0);

impl std::fmt::Debug for RedisStateStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStateStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

fn millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl RedisStateStore {
    /// Validates the config and connects.
    ///
    /// # Errors
    /// [`RedisAdapterError::Config`] for a bad config; [`RedisAdapterError::Client`] when the
    /// server cannot be reached.
    pub async fn connect(config: &RedisConfig) -> Result<Self, RedisAdapterError> {
        // Short: every call is a single quick command, and a lease renewal stuck behind a
        // dead connection must fail in time to be tried again on a new one.
        let (_, connection) =
            crate::config::connect(config, std::time::Duration::from_secs(1)).await?;
        let started = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        Ok(Self {
            connection,
            prefix: config.key_prefix.clone(),
            token_base: format!("{}-{started}", std::process::id()),
            increment: Script::new(INCREMENT_WITHIN),
            unlock: Script::new(UNLOCK),
            extend: Script::new(EXTEND),
        })
    }

    /// `PING`: proves the server answers (start-up and health checks).
    ///
    /// # Errors
    /// [`RedisAdapterError::Client`] when it does not.
    pub async fn ping(&self) -> Result<(), RedisAdapterError> {
        crate::ping(&mut self.connection.clone()).await
    }

    fn key(&self, key: &str) -> String {
        let mut full = String::with_capacity(self.prefix.len() + key.len());
        full.push_str(&self.prefix);
        full.push_str(key);
        full
    }

    async fn set_with(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
        only_if_absent: bool,
    ) -> PortResult<bool> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.key(key)).arg(value);
        if only_if_absent {
            cmd.arg("NX");
        }
        if let Some(ttl) = ttl {
            cmd.arg("PX").arg(millis(ttl));
        }
        let reply: Option<String> = cmd
            .query_async(&mut self.connection.clone())
            .await
            .map_err(|e| port_error("SET", e))?;
        Ok(reply.is_some())
    }
}

#[async_trait]
impl StateStore for RedisStateStore {
    async fn get(&self, key: &str) -> PortResult<Option<Vec<u8>>> {
        redis::cmd("GET")
            .arg(self.key(key))
            .query_async(&mut self.connection.clone())
            .await
            .map_err(|e| port_error("GET", e))
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> PortResult<()> {
        self.set_with(key, value, ttl, false).await.map(|_| ())
    }

    async fn set_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> PortResult<bool> {
        self.set_with(key, value, ttl, true).await
    }

    async fn delete(&self, key: &str) -> PortResult<bool> {
        let deleted: i64 = redis::cmd("DEL")
            .arg(self.key(key))
            .query_async(&mut self.connection.clone())
            .await
            .map_err(|e| port_error("DEL", e))?;
        Ok(deleted > 0)
    }

    async fn increment_within(&self, key: &str, delta: i64, ceiling: i64) -> PortResult<Increment> {
        let (outcome, value): (i64, i64) = self
            .increment
            .key(self.key(key))
            .arg(delta)
            .arg(ceiling)
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(|e| port_error("increment_within", e))?;
        match outcome {
            1 => Ok(Increment::Applied(value)),
            0 => Ok(Increment::Refused(value)),
            _ => Err(PortError::Conflict(format!(
                "key `{key}` does not hold an integer counter"
            ))),
        }
    }

    async fn lock(&self, key: &str, ttl: Duration) -> PortResult<Option<LockToken>> {
        let token = LockToken(format!(
            "{}-{}",
            self.token_base,
            TOKENS.fetch_add(1, Ordering::Relaxed)
        ));
        let granted = self
            .set_with(key, token.0.as_bytes(), Some(ttl), true)
            .await?;
        Ok(granted.then_some(token))
    }

    async fn unlock(&self, key: &str, token: &LockToken) -> PortResult<bool> {
        let released: i64 = self
            .unlock
            .key(self.key(key))
            .arg(&token.0)
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(|e| port_error("unlock", e))?;
        Ok(released > 0)
    }

    async fn extend_lock(&self, key: &str, token: &LockToken, ttl: Duration) -> PortResult<bool> {
        let extended: i64 = self
            .extend
            .key(self.key(key))
            .arg(&token.0)
            .arg(millis(ttl))
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(|e| port_error("extend_lock", e))?;
        Ok(extended > 0)
    }
}
