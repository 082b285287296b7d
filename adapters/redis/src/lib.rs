//! # chimera-redis
//!
//! [`RedisStreamsEventBus`]: the [`chimera_ports::EventBus`] port on Redis Streams (consumer groups,
//! redelivery of unacknowledged entries), for deployments without Kafka.
//!
//! [`RedisStateStore`]: the [`chimera_ports::StateStore`] port on Redis. Holds the state that must
//! be shared between processes and survive a node's death: the kill switch, risk budgets reserved
//! atomically against a ceiling, locks with a token and a TTL, heartbeats and assignments.
//!
//! Keys keep their hash tags (`risk:{budget}:...`), so related keys land on one slot of a Redis
//! Cluster; every multi-step operation is a single Lua script on a single key, so it is atomic on
//! a cluster as well as on a single server.

mod config;
mod error;
mod event_bus;
mod state_store;

pub use config::{RedisConfig, RedisConfigError, StreamRoute};
pub use error::RedisAdapterError;
pub use event_bus::RedisStreamsEventBus;
pub use state_store::RedisStateStore;

/// `PING` on `connection`.
async fn ping(connection: &mut redis::aio::ConnectionManager) -> Result<(), RedisAdapterError> {
    redis::cmd("PING")
        .query_async::<String>(connection)
        .await
        .map(drop)
        .map_err(|source| RedisAdapterError::Client {
            operation: "ping",
            source,
        })
}
