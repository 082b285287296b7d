//! The service sections of the configuration, `[bus]`, `[state]` and `[database]`: each a
//! tagged enum (`kind = "..."`) whose variant carries the chosen adapter's own full
//! configuration (every field it has, with its defaults and its validation), beside the few
//! settings that belong to the runtime (`topic_prefix`, the Redis stream layout, the lease,
//! how long start-up may wait). [`crate::compose`] builds each into its adapter and a health
//! check.
//!
//! ```toml
//! [bus]
//! kind = "kafka"                 # or "redis", "memory"
//! topic_prefix = "chimera.live."
//! brokers = "127.0.0.1:9092"     # then any chimera_kafka::KafkaConfig field:
//! replication = 3                # partitions, delivery_timeout_ms, session_timeout_ms, extra…
//!
//! [bus]
//! kind = "redis"
//! url = "redis://127.0.0.1:6379" # then any chimera_redis::RedisConfig field:
//! stream_max_len = 1000000       # key_prefix (default: topic_prefix), streams…
//! [bus.redis_streams]            # the runtime's layout, by topic
//! "orders.feedback" = "ord:{results}"
//!
//! [state]
//! kind = "redis"                 # or "memory"
//! url = "redis://127.0.0.1:6379"
//! lease_ms = 5000
//!
//! [database]                     # kind = "sql" (the default): chimera_sql::SqlConfig
//! url = "postgres://…"           # or sqlite://file.db
//! ```

use chimera_kafka::KafkaConfig;
use chimera_ports::Problems;
use chimera_redis::RedisConfig;
use chimera_sql::SqlConfig;
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;

/// How long a runtime waits at start-up for a service before it says which one it cannot
/// reach, and where.
pub const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 10_000;

fn default_prefix() -> String {
    "chimera.live.".to_owned()
}
fn default_connect_timeout() -> u64 {
    DEFAULT_CONNECT_TIMEOUT_MS
}
fn default_lease() -> u64 {
    5_000
}

/// The event bus's adapter and its full configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BusAdapter {
    /// Apache Kafka (or a Kafka-protocol broker).
    Kafka(KafkaConfig),
    /// Redis Streams. `key_prefix` defaults to the topic prefix.
    Redis(RedisConfig),
    /// In-process only: the components of one `chimera up`.
    Memory(MemoryConfig),
}

/// The in-memory adapters take no settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemoryConfig {}

/// `[bus]`: which bus, configured in full, under which topic prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusConfig {
    /// Prefix of every topic, e.g. `chimera.live.`.
    pub topic_prefix: String,
    /// Stream name templates by topic (Redis only), overriding the design's layout; see
    /// [`crate::bus_layout`].
    pub redis_streams: BTreeMap<String, String>,
    /// How long start-up waits for the bus, ms.
    pub connect_timeout_ms: u64,
    /// The adapter.
    pub adapter: BusAdapter,
}

impl BusConfig {
    /// The in-memory bus under `topic_prefix` (tests, one-process runs).
    pub fn memory(topic_prefix: impl Into<String>) -> Self {
        Self {
            topic_prefix: topic_prefix.into(),
            redis_streams: BTreeMap::new(),
            connect_timeout_ms: DEFAULT_CONNECT_TIMEOUT_MS,
            adapter: BusAdapter::Memory(MemoryConfig {}),
        }
    }

    /// Whether this bus only works inside one process.
    pub fn is_memory(&self) -> bool {
        matches!(self.adapter, BusAdapter::Memory(_))
    }

    /// The adapter's name, as `kind` spells it.
    pub fn kind(&self) -> &'static str {
        match self.adapter {
            BusAdapter::Kafka(_) => "kafka",
            BusAdapter::Redis(_) => "redis",
            BusAdapter::Memory(_) => "memory",
        }
    }

    /// Every problem of the section, each under `bus.`.
    pub(crate) fn validate(&self, problems: &mut Problems) {
        match &self.adapter {
            BusAdapter::Kafka(kafka) => {
                if let Err(e) = kafka.validate() {
                    problems.nest("bus", e.problems);
                }
            }
            BusAdapter::Redis(redis) => {
                if let Err(e) = redis.validate() {
                    problems.nest("bus", e.problems);
                }
            }
            BusAdapter::Memory(_) => {}
        }
        problems.check(
            self.redis_streams.is_empty() || matches!(self.adapter, BusAdapter::Redis(_)),
            "bus.redis_streams",
            "only applies to kind = \"redis\"",
        );
        problems.check(
            self.connect_timeout_ms > 0,
            "bus.connect_timeout_ms",
            "must be ≥ 1",
        );
        crate::bus_layout::validate(&self.redis_streams, problems);
    }
}

impl<'de> Deserialize<'de> for BusConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut table = toml::Table::deserialize(deserializer)?;
        let topic_prefix = take(&mut table, "topic_prefix", default_prefix)?;
        let redis_streams = take(&mut table, "redis_streams", BTreeMap::new)?;
        let connect_timeout_ms = take(&mut table, "connect_timeout_ms", default_connect_timeout)?;
        let mut adapter =
            BusAdapter::deserialize(toml::Value::Table(table)).map_err(serde::de::Error::custom)?;
        if let BusAdapter::Redis(redis) = &mut adapter {
            if redis.key_prefix.is_empty() {
                redis.key_prefix.clone_from(&topic_prefix);
            }
        }
        Ok(Self {
            topic_prefix,
            redis_streams,
            connect_timeout_ms,
            adapter,
        })
    }
}

/// The shared state's adapter and its full configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StateAdapter {
    /// Redis. `key_prefix` defaults to the bus's topic prefix.
    Redis(RedisConfig),
    /// In-process only, with the memory bus.
    Memory(MemoryConfig),
}

/// `[state]`: the key-value store for node heartbeats and portfolio leases.
///
/// With it, a node holds a lease (`lock:{portfolio}:<id>`, a lock with a token and a TTL,
/// renewed every third of it) on each portfolio it runs, taken before the portfolio is
/// restored: a second process never runs the same portfolio (it waits until the lease is
/// released or expires, e.g. after the holder was killed), and a node that cannot renew a lease
/// stops. Heartbeats go to `node:{heartbeat}:<node id>` with a TTL of three periods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateConfig {
    /// Lease TTL, ms (≥ 300): how long a killed node's portfolios wait before another process
    /// may take them.
    pub lease_ms: u64,
    /// How long start-up waits for the store, ms.
    pub connect_timeout_ms: u64,
    /// The adapter.
    pub adapter: StateAdapter,
}

impl StateConfig {
    /// Every problem of the section (and of its fit with the bus), each under `state.`.
    pub(crate) fn validate(&self, bus: &BusConfig, problems: &mut Problems) {
        match &self.adapter {
            StateAdapter::Redis(redis) => {
                if let Err(e) = redis.validate() {
                    problems.nest("state", e.problems);
                }
            }
            StateAdapter::Memory(_) => problems.check(
                bus.is_memory(),
                "state.kind = \"memory\"",
                "only within one process (bus kind = \"memory\"); use redis",
            ),
        }
        problems.check(
            self.lease_ms >= 300,
            "state.lease_ms",
            format!("{} (must be ≥ 300)", self.lease_ms),
        );
        problems.check(
            self.connect_timeout_ms > 0,
            "state.connect_timeout_ms",
            "must be ≥ 1",
        );
    }
}

impl<'de> Deserialize<'de> for StateConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut table = toml::Table::deserialize(deserializer)?;
        let lease_ms = take(&mut table, "lease_ms", default_lease)?;
        let connect_timeout_ms = take(&mut table, "connect_timeout_ms", default_connect_timeout)?;
        let adapter = StateAdapter::deserialize(toml::Value::Table(table))
            .map_err(serde::de::Error::custom)?;
        Ok(Self {
            lease_ms,
            connect_timeout_ms,
            adapter,
        })
    }
}

/// `[database]`: the repositories' store. `kind = "sql"` (the default, so it may be left out):
/// PostgreSQL or SQLite by the URL's scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreConfig {
    /// [`SqlConfig`]: `url`, `max_connections`, `acquire_timeout_ms`.
    Sql(SqlConfig),
}

/// [`StoreConfig`] as tagged on the wire.
#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum TaggedStore {
    Sql(SqlConfig),
}

impl<'de> Deserialize<'de> for StoreConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut table = toml::Table::deserialize(deserializer)?;
        table
            .entry("kind")
            .or_insert_with(|| toml::Value::String("sql".into()));
        match TaggedStore::deserialize(toml::Value::Table(table))
            .map_err(serde::de::Error::custom)?
        {
            TaggedStore::Sql(sql) => Ok(Self::Sql(sql)),
        }
    }
}

impl StoreConfig {
    /// Where the store is, passwords redacted (to show users).
    pub fn address(&self) -> String {
        match self {
            Self::Sql(sql) => sql.redacted_url(),
        }
    }

    /// Every problem of the section, each under `database.`.
    pub(crate) fn validate(&self, problems: &mut Problems) {
        match self {
            Self::Sql(sql) => {
                if let Err(e) = sql.validate() {
                    problems.nest("database", e.problems);
                }
            }
        }
    }
}

/// Removes `key` from `table` and deserializes it, or `default()` when absent.
fn take<T: serde::de::DeserializeOwned, E: serde::de::Error>(
    table: &mut toml::Table,
    key: &str,
    default: impl FnOnce() -> T,
) -> Result<T, E> {
    match table.remove(key) {
        Some(value) => value
            .try_into()
            .map_err(|e: toml::de::Error| E::custom(format!("{key}: {}", e.message()))),
        None => Ok(default()),
    }
}
