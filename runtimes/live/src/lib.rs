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
pub mod compose;
pub mod config;
pub mod feed;
pub mod gateway;
pub mod node;
pub mod portfolio_spec;
pub mod process;
pub mod runtime;
pub mod services;

use chimera_messages::Topics;
use chimera_ports::EventBus;
use config::LiveConfig;
use runtime::{Runtime, SharedState, Shutdown};
use std::sync::Arc;

/// Connects the bus `live` configures (on Redis Streams, with the [`bus_layout`] of its topics)
/// and checks that it answers.
///
/// # Errors
/// [`compose::Unreachable`] naming the bus and its address when it does not answer within
/// `bus.connect_timeout_ms`, or `memory` asked for outside a single process.
pub async fn connect_bus(
    live: &LiveConfig,
    instance: &str,
    allow_memory: bool,
) -> anyhow::Result<Arc<dyn EventBus>> {
    if live.bus.is_memory() && !allow_memory {
        anyhow::bail!(
            "bus kind = \"memory\" cannot be used by a separate process (use kafka or redis)"
        );
    }
    let (bus, _health) = live.bus.build(instance, &live.portfolios).await?;
    Ok(bus)
}

/// Builds the shared handles of a runtime named `source`: the database, and the shared state
/// when `[state]` is configured, each checked to answer.
///
/// # Errors
/// [`compose::Unreachable`] naming the database or the state store and its address.
pub async fn connect(
    config: &LiveConfig,
    bus: Arc<dyn EventBus>,
    source: &str,
    shutdown: Shutdown,
) -> anyhow::Result<Arc<Runtime>> {
    let (store, _health) = config.database.build().await?;
    let runtime = Runtime::new(
        bus,
        Topics::new(config.bus.topic_prefix.clone()),
        store,
        source,
        shutdown,
    );
    Ok(Arc::new(match &config.state {
        Some(state) => {
            let (store, _health) = state.build(&config.bus.topic_prefix).await?;
            runtime.with_state(SharedState {
                store,
                lease: std::time::Duration::from_millis(state.lease_ms),
            })
        }
        None => runtime,
    }))
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
