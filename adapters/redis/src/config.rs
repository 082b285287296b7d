//! [`RedisConfig`].

use serde::{Deserialize, Serialize};

/// Where Redis is and how this deployment names its keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisConfig {
    /// `redis://[user:password@]host:port[/db]` (required; empty is reported by
    /// [`Self::validate`] with the other problems).
    #[serde(default)]
    pub url: String,
    /// Prepended to every key (e.g. `chimera:prod:`), so deployments and tests can share a
    /// server without touching each other's keys.
    #[serde(default)]
    pub key_prefix: String,
    /// Approximate cap on each stream's length (`XADD MAXLEN ~`); `None` keeps everything.
    #[serde(default)]
    pub stream_max_len: Option<u64>,
    /// Which stream each message of a topic goes to (first matching route wins: a route for
    /// the exact key, then one for the whole topic); a topic without a route uses the single
    /// stream `stream:<topic>`. See [`StreamRoute`].
    #[serde(default)]
    pub streams: Vec<StreamRoute>,
}

/// Maps the messages of a topic (or of one key of it) to a stream name, e.g. topic
/// `chimera.live.market.data` → `mkt:events:{perp}:<key>`, one stream per symbol, all on the
/// `{perp}` hash slot. `<key>` in the template is replaced by the message key; the key prefix is
/// prepended. A topic may spread over many streams: subscribers find them in the topic's
/// registry, so they need no routes of their own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamRoute {
    /// The full topic name.
    pub topic: String,
    /// Only messages with this key (a route without one covers the rest of the topic).
    #[serde(default)]
    pub key: Option<String>,
    /// Stream name template; `<key>` stands for the message key.
    pub stream: String,
}

impl StreamRoute {
    /// The stream (without the key prefix) a message with `key` goes to.
    pub(crate) fn stream_for(&self, key: &str) -> String {
        self.stream.replace("<key>", key)
    }
}

impl RedisConfig {
    /// The full name of the stream a message with `key` on `topic` goes to: the route for that
    /// exact key, else the topic's route, else `stream:<topic>`; under the key prefix.
    pub fn stream_name(&self, topic: &str, key: &str) -> String {
        let exact = self
            .streams
            .iter()
            .find(|r| r.topic == topic && r.key.as_deref() == Some(key));
        let route = exact.or_else(|| {
            self.streams
                .iter()
                .find(|r| r.topic == topic && r.key.is_none())
        });
        match route {
            Some(route) => format!("{}{}", self.key_prefix, route.stream_for(key)),
            None => format!("{}stream:{topic}", self.key_prefix),
        }
    }

    /// The one stream every message of `topic` goes to, whatever its key; `None` when the
    /// topic's routes spread it over several (a `<key>` in the route, or routes for exact
    /// keys).
    pub(crate) fn single_stream(&self, topic: &str) -> Option<String> {
        let keyed = self
            .streams
            .iter()
            .any(|r| r.topic == topic && (r.key.is_some() || r.stream.contains("<key>")));
        (!keyed).then(|| self.stream_name(topic, ""))
    }
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
        if self.key_prefix.contains(['{', '}']) {
            problems.push(format!(
                "key_prefix = `{}`: must not contain braces (they would replace the keys' hash tags)",
                self.key_prefix
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, route) in self.streams.iter().enumerate() {
            if route.topic.is_empty() {
                problems.push(format!("streams[{i}].topic: must not be empty"));
            }
            if route.stream.is_empty() || route.stream.contains(char::is_whitespace) {
                problems.push(format!(
                    "streams[{i}].stream = `{}`: must be non-empty, without whitespace",
                    route.stream
                ));
            }
            if !seen.insert((route.topic.as_str(), route.key.as_deref())) {
                problems.push(format!(
                    "streams[{i}]: a second route for topic `{}`{}",
                    route.topic,
                    route
                        .key
                        .as_deref()
                        .map(|k| format!(" key `{k}`"))
                        .unwrap_or_default()
                ));
            }
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
    response_timeout: std::time::Duration,
) -> Result<(redis::Client, redis::aio::ConnectionManager), crate::RedisAdapterError> {
    use crate::RedisAdapterError::Client;
    config.validate()?;
    let client = redis::Client::open(config.url.as_str()).map_err(|source| Client {
        operation: "open",
        source,
    })?;
    let connection = managed(&client, Some(response_timeout))
        .await
        .map_err(|source| Client {
            operation: "connect",
            source,
        })?;
    Ok((client, connection))
}

/// A connection that reconnects by itself after the server went away (a restart, a network
/// blip): the request that meets the broken connection fails (transient), the next ones go
/// through once the server answers again. `response_timeout`: how long a request may wait for
/// its answer (`None` for a connection of blocking reads, which bound their own wait).
pub(crate) async fn managed(
    client: &redis::Client,
    response_timeout: Option<std::time::Duration>,
) -> redis::RedisResult<redis::aio::ConnectionManager> {
    let mut config = redis::aio::ConnectionManagerConfig::new()
        // Retries 25, 50, 100, 200 ms then every 250 ms: back within a quarter second of the
        // server, without hammering it while it is down.
        .set_factor(25)
        .set_max_delay(250)
        .set_number_of_retries(8)
        .set_connection_timeout(std::time::Duration::from_secs(2));
    if let Some(timeout) = response_timeout {
        config = config.set_response_timeout(timeout);
    }
    client.get_connection_manager_with_config(config).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_every_bad_field() {
        let bad = RedisConfig {
            url: "http://x".into(),
            key_prefix: "a {b}".into(),
            stream_max_len: Some(0),
            streams: vec![
                StreamRoute {
                    topic: String::new(),
                    key: None,
                    stream: "x y".into(),
                },
                StreamRoute {
                    topic: String::new(),
                    key: None,
                    stream: "z".into(),
                },
            ],
        };
        let problems = bad.validate().unwrap_err().problems;
        assert_eq!(problems.len(), 8, "{problems:#?}");
        let good = RedisConfig {
            url: "redis://127.0.0.1:6379".into(),
            key_prefix: "t:".into(),
            stream_max_len: None,
            streams: vec![StreamRoute {
                topic: "market.data".into(),
                key: None,
                stream: "mkt:events:{perp}:<key>".into(),
            }],
        };
        assert!(good.validate().is_ok());
        assert_eq!(
            good.streams[0].stream_for("BTCUSDT"),
            "mkt:events:{perp}:BTCUSDT"
        );
    }
}
