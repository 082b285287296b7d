//! The three runtime processes as functions: what `chimera-node`, `chimera-gateway` and
//! `chimera-feed` run, and what `chimera node | gateway | feed` (or a user's own binary built
//! on `chimera_cli`) runs. Each connects what its configuration names, runs until SIGTERM or
//! Ctrl-C (the feed: until its files are published) and prints its figures.

use crate::config::LiveConfig;
use crate::runtime::{shutdown_pair, trigger_on_signals};
use crate::{connect, connect_bus, feed, gateway, node};
use chimera_kernel::strategy::StrategyRegistry;

/// The execution node: runs the portfolios assigned to `[node].id`, building their strategies
/// from `strategies`.
///
/// # Errors
/// No `[node]` section, an unreachable bus or database, or a fatal failure of the node.
pub async fn run_node_process(
    config: &LiveConfig,
    strategies: &StrategyRegistry,
) -> anyhow::Result<()> {
    let Some(node_config) = config.node.clone() else {
        anyhow::bail!("the configuration has no [node] section");
    };
    let (trigger, shutdown) = shutdown_pair();
    trigger_on_signals(trigger);
    let bus = connect_bus(config, &node_config.id, false).await?;
    let rt = connect(config, bus, &node_config.id, shutdown).await?;
    if node_config.register_portfolios {
        node::register_portfolios(&rt, &node_config.id, &config.portfolios).await?;
    }
    let figures = node::run_node(rt, &node_config, strategies).await?;
    for f in figures {
        println!(
            "{}: events {} orders {} fills {} skipped {}",
            f.id, f.events, f.orders, f.fills, f.skipped
        );
    }
    Ok(())
}

/// The trade gateway: executes order commands on the venue.
///
/// # Errors
/// No `[gateway]` section, an unreachable bus or database, or a fatal failure of the gateway.
pub async fn run_gateway_process(config: &LiveConfig) -> anyhow::Result<()> {
    let Some(gateway_config) = config.gateway.clone() else {
        anyhow::bail!("the configuration has no [gateway] section");
    };
    let (trigger, shutdown) = shutdown_pair();
    trigger_on_signals(trigger);
    let bus = connect_bus(config, &gateway_config.id, false).await?;
    let rt = connect(config, bus, &gateway_config.id, shutdown).await?;
    let f = gateway::run_gateway(rt, &gateway_config).await?;
    println!(
        "submitted {} duplicates {} replayed {} fills {} reports {} checkpoints {}",
        f.submitted, f.duplicates, f.replayed, f.fills, f.reports, f.checkpoints
    );
    Ok(())
}

/// The market-data feed: replays the configured files onto the bus.
///
/// # Errors
/// No `[feed]` section, an unreachable bus or database, or an unreadable file.
pub async fn run_feed_process(config: &LiveConfig) -> anyhow::Result<()> {
    let Some(feed_config) = config.feed.clone() else {
        anyhow::bail!("the configuration has no [feed] section");
    };
    let (trigger, shutdown) = shutdown_pair();
    trigger_on_signals(trigger);
    let bus = connect_bus(config, &feed_config.id, false).await?;
    let rt = connect(config, bus, &feed_config.id, shutdown).await?;
    let published = feed::run_feed(rt, &feed_config).await?;
    println!("published {published} events");
    Ok(())
}
