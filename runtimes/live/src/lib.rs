//! # chimera-live
//!
//! The live runtimes of the multi-portfolio architecture, as a library and three thin
//! binaries:
//! - [`node::run_node`] (`chimera-node`): the execution node, running the portfolios assigned
//!   to it, restored from checkpoints, with an interest map and bounded per-portfolio queues;
//! - [`gateway::run_gateway`] (`chimera-gateway`): the trade gateway, idempotent by intent id;
//! - [`feed::run_feed`] (`chimera-feed`): the market-data feed replaying files.
//!
//! They talk only through the bus (Kafka, Redis Streams, or in-memory within one process) and
//! keep their state in the database (PostgreSQL or SQLite), so any of them can be killed and
//! restarted without losing or duplicating an order or a fill.

pub mod bus_layout;
pub mod config;
pub mod feed;
pub mod gateway;
pub mod node;
pub mod portfolio_spec;
pub mod process;
pub mod runtime;
mod sim_clock;

use chimera_kafka::{KafkaConfig, KafkaEventBus};
use chimera_messages::Topics;
use chimera_ports::{EventBus, StateStore};
use chimera_redis::{RedisConfig, RedisStateStore, RedisStreamsEventBus};
use chimera_sql::SqlStore;
use config::{LiveConfig, StateConfig};
use runtime::{Runtime, SharedState, Shutdown};
use std::sync::Arc;

/// Connects the bus `live` configures (on Redis Streams, with the [`bus_layout`] of its topics).
///
/// # Errors
/// When the bus cannot be set up, or `memory` is asked for outside a single process.
pub async fn connect_bus(
    live: &LiveConfig,
    instance: &str,
    allow_memory: bool,
) -> anyhow::Result<Arc<dyn EventBus>> {
    let config = &live.bus;
    Ok(match config.kind.as_str() {
        "kafka" => {
            let mut kafka = KafkaConfig::new(config.brokers.clone().unwrap_or_default());
            kafka.partitions = config.partitions;
            kafka.client_id = format!("chimera-{instance}");
            // Every group of a live process has that process as its only reader (group names
            // carry the process id): read exclusively, so a restart resumes at once from the
            // acknowledged offsets, with no group coordination to wait for.
            kafka.exclusive = true;
            kafka.extra.clone_from(&config.kafka_properties);
            Arc::new(KafkaEventBus::connect(&kafka)?)
        }
        "redis" => {
            let redis = RedisConfig {
                url: config.redis_url.clone().unwrap_or_default(),
                key_prefix: config.topic_prefix.clone(),
                stream_max_len: None,
                streams: bus_layout::redis_stream_routes(config, &live.portfolios),
            };
            Arc::new(RedisStreamsEventBus::connect(&redis).await?)
        }
        "memory" if allow_memory => Arc::new(chimera_memory::MemoryEventBus::new()),
        other => anyhow::bail!(
            "bus.kind = {other:?} cannot be used by a separate process (use kafka or redis)"
        ),
    })
}

/// Builds the shared handles of a runtime named `source`: the database, and the shared state
/// when `[state]` is configured.
///
/// # Errors
/// When the database or the state store cannot be reached.
pub async fn connect(
    config: &LiveConfig,
    bus: Arc<dyn EventBus>,
    source: &str,
    shutdown: Shutdown,
) -> anyhow::Result<Arc<Runtime>> {
    let store = SqlStore::connect(&config.database).await?;
    let runtime = Runtime::new(
        bus,
        Topics::new(config.bus.topic_prefix.clone()),
        store,
        source,
        shutdown,
    );
    Ok(Arc::new(match &config.state {
        Some(state) => runtime.with_state(connect_state(config, state).await?),
        None => runtime,
    }))
}

async fn connect_state(config: &LiveConfig, state: &StateConfig) -> anyhow::Result<SharedState> {
    let store: Arc<dyn StateStore> = match state.kind.as_str() {
        "redis" => {
            let redis = RedisConfig {
                url: state.url.clone().unwrap_or_default(),
                key_prefix: state
                    .key_prefix
                    .clone()
                    .unwrap_or_else(|| config.bus.topic_prefix.clone()),
                stream_max_len: None,
                streams: Vec::new(),
            };
            Arc::new(RedisStateStore::connect(&redis).await?)
        }
        _ => Arc::new(chimera_memory::MemoryStateStore::new(Arc::new(
            chimera_memory::SystemClock,
        ))),
    };
    Ok(SharedState {
        store,
        lease: std::time::Duration::from_millis(state.lease_ms),
    })
}

/// Common command-line of the runtime binaries.
#[derive(Debug, clap::Parser)]
pub struct RuntimeArgs {
    /// Configuration files (TOML), later ones override earlier ones; `CHIMERA__SECTION__KEY`
    /// environment variables override both.
    #[arg(long = "config", short = 'c', required = true)]
    pub config: Vec<std::path::PathBuf>,
}

impl RuntimeArgs {
    /// Loads the configuration these arguments name, with environment overrides, checking the
    /// portfolios' strategies against `strategies` when the process runs them.
    ///
    /// # Errors
    /// [`config::ConfigError`] listing every problem.
    pub fn load(
        &self,
        strategies: Option<&chimera_kernel::strategy::StrategyRegistry>,
    ) -> Result<LiveConfig, config::ConfigError> {
        config::load(&self.config, std::env::vars(), strategies)
    }
}
