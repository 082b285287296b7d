//! [`RedisConfig`].

use serde::{Deserialize, Serialize};

/// Where Redis is and how this deployment names its keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisConfig {
    /// `redis://[user:password@]host:port[/db]`.
    pub url: String,
    /// Prepended to every key (e.g. `chimera:prod:`), so deployments and tests can share a
    /// server without touching each other's keys.
    #[serde(default)]
    pub key_prefix: String,
    /// Approximate cap on each stream's length (`XADD MAXLEN ~`); `None` keeps everything.
    #[serde(default)]
    pub stream_max_len: Option<u64>,
}

/// An invalid [`RedisConfig`], listing every problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid redis config: {}", problems.join("; "))]
pub struct RedisConfigError {
    /// One line per bad field.
    pub problems: Vec<String>,
}

impl RedisConfig {
    /// Checks every field.
    ///
    /// # Errors
    /// [`RedisConfigError`] naming each bad field and its value.
    pub fn validate(&self) -> Result<(), RedisConfigError> {
        let mut problems = Vec::new();
        if !(self.url.starts_with("redis://")
            || self.url.starts_with("rediss://")
            || self.url.starts_with("unix://"))
        {
            problems.push(format!(
                "url = `{}`: expected redis://, rediss:// or unix://",
                self.url
            ));
        }
        if self.key_prefix.contains(char::is_whitespace) {
            problems.push(format!(
                "key_prefix = `{}`: must not contain whitespace",
                self.key_prefix
            ));
        }
        if self.stream_max_len == Some(0) {
            problems.push("stream_max_len = 0: must be at least 1 (or absent)".to_owned());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(RedisConfigError { problems })
        }
    }
}

/// Validates `config`, then opens a client and one multiplexed connection.
///
/// # Errors
/// [`crate::RedisAdapterError::Config`] for a bad config; [`crate::RedisAdapterError::Client`]
/// when the server cannot be reached.
pub(crate) async fn connect(
    config: &RedisConfig,
) -> Result<(redis::Client, redis::aio::MultiplexedConnection), crate::RedisAdapterError> {
    use crate::RedisAdapterError::Client;
    config.validate()?;
    let client = redis::Client::open(config.url.as_str()).map_err(|source| Client {
        operation: "open",
        source,
    })?;
    let connection = client
        .get_multiplexed_async_connection()
        .await
        .map_err(|source| Client {
            operation: "connect",
            source,
        })?;
    Ok((client, connection))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_every_bad_field() {
        let bad = RedisConfig {
            url: "http://x".into(),
            key_prefix: "a b".into(),
            stream_max_len: Some(0),
        };
        assert_eq!(bad.validate().unwrap_err().problems.len(), 3);
        let good = RedisConfig {
            url: "redis://127.0.0.1:6379".into(),
            key_prefix: "t:".into(),
            stream_max_len: None,
        };
        assert!(good.validate().is_ok());
    }
}
