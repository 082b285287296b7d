//! # chimera-runtime
//!
//! What every Chimera runtime process shares (the node, the gateway, the feed, and the
//! scheduler and API gateway to come): layered configuration ([`config`]: files, environment
//! overrides, every problem listed) with its service sections ([`services`]) built into
//! adapters with health checks ([`compose`]); the [`runtime::Runtime`] handle (bus, topics,
//! store, shared state, shutdown, retries, alerts, dead letters); portfolio specs; the Redis
//! stream layout; and [`logging`].

mod alerting;
pub mod api_config;
pub mod bus_layout;
pub mod busy_poll;
pub mod compose;
pub mod config;
pub mod decision_spec;
pub mod kill_switch;
pub mod logging;
pub mod memory;
pub mod offsets;
pub mod portfolio_spec;
mod publishing;
pub mod requests;
pub mod runtime;
pub mod runtime_sections;
pub mod scheduler_config;
pub mod services;
pub mod telemetry;
pub mod treasury;

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
    connect_on(config, bus, store, source, shutdown).await
}

/// [`connect`] on a database connection pool already open: components of one process share
/// one pool (on SQLite, writers of one process then queue for the connection in turn instead
/// of sleeping in SQLite's busy handler while another connection holds the write lock).
///
/// # Errors
/// [`compose::Unreachable`] naming the state store and its address.
pub async fn connect_on(
    config: &LiveConfig,
    bus: Arc<dyn EventBus>,
    store: chimera_sql::SqlStore,
    source: &str,
    shutdown: Shutdown,
) -> anyhow::Result<Arc<Runtime>> {
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
