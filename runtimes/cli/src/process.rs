//! `chimera node | gateway | feed`: the runtime processes, run by this binary. They are what
//! `chimera-node`, `chimera-gateway` and `chimera-feed` run, except that the node builds
//! strategies from this binary's registry (so a user's own binary runs its own strategies
//! live), and what `chimera up --processes` starts.

use crate::args::ProcessArgs;
use chimera_kernel::strategy::StrategyRegistry;
use chimera_live::config::NodeConfig;
use chimera_live::{process, RuntimeArgs};

use tokio::runtime::Builder;

/// Runs `future` to its end on a runtime built by `runtime` (multi-threaded for the feed; one
/// thread for the gateway: see [`process::run_gateway_process`]; the node's is its own,
/// [`NodeConfig::runtime`]).
fn block_on<F: std::future::Future<Output = anyhow::Result<()>>>(
    mut runtime: Builder,
    future: F,
) -> anyhow::Result<()> {
    runtime.enable_all().build()?.block_on(future)
}

fn runtime_args(a: &ProcessArgs) -> RuntimeArgs {
    RuntimeArgs {
        config: a.config.clone(),
    }
}

/// `chimera node`.
///
/// # Errors
/// As [`process::run_node_process`], or an invalid configuration (every problem listed).
pub(crate) fn node(a: &ProcessArgs, strategies: &StrategyRegistry) -> anyhow::Result<()> {
    let config = runtime_args(a).load(Some(strategies))?;
    NodeConfig::runtime(config.node.as_ref())?
        .block_on(process::run_node_process(&config, strategies))
}

/// `chimera gateway`.
///
/// # Errors
/// As [`process::run_gateway_process`], or an invalid configuration.
pub(crate) fn gateway(a: &ProcessArgs) -> anyhow::Result<()> {
    let config = runtime_args(a).load(None)?;
    block_on(
        Builder::new_current_thread(),
        process::run_gateway_process(&config),
    )
}

/// `chimera feed`.
///
/// # Errors
/// As [`process::run_feed_process`], or an invalid configuration.
pub(crate) fn feed(a: &ProcessArgs) -> anyhow::Result<()> {
    let config = runtime_args(a).load(None)?;
    block_on(
        Builder::new_multi_thread(),
        process::run_feed_process(&config),
    )
}
