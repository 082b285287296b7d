//! `chimera node | gateway | feed`: the runtime processes, run by this binary. They are what
//! `chimera-node`, `chimera-gateway` and `chimera-feed` run, except that the node builds
//! strategies from this binary's registry (so a user's own binary runs its own strategies
//! live), and what `chimera up --processes` starts.

use crate::args::ProcessArgs;
use chimera_kernel::strategy::StrategyRegistry;
use chimera_live::{process, RuntimeArgs};

fn block_on<F: std::future::Future<Output = anyhow::Result<()>>>(future: F) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(future)
}

/// The same on one thread (the gateway: see [`process::run_gateway_process`]).
fn block_on_one_thread<F: std::future::Future<Output = anyhow::Result<()>>>(
    future: F,
) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(future)
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
    block_on(process::run_node_process(&config, strategies))
}

/// `chimera gateway`.
///
/// # Errors
/// As [`process::run_gateway_process`], or an invalid configuration.
pub(crate) fn gateway(a: &ProcessArgs) -> anyhow::Result<()> {
    let config = runtime_args(a).load(None)?;
    block_on_one_thread(process::run_gateway_process(&config))
}

/// `chimera feed`.
///
/// # Errors
/// As [`process::run_feed_process`], or an invalid configuration.
pub(crate) fn feed(a: &ProcessArgs) -> anyhow::Result<()> {
    let config = runtime_args(a).load(None)?;
    block_on(process::run_feed_process(&config))
}
