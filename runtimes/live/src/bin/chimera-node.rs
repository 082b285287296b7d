//! `chimera-node`: the execution node. Runs the portfolios assigned to `[node].id` in the
//! database until SIGTERM or Ctrl-C.

use chimera_live::runtime::{shutdown_pair, trigger_on_signals};
use chimera_live::{connect, connect_bus, node, RuntimeArgs};
use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = RuntimeArgs::parse().load()?;
    let Some(node_config) = config.node.clone() else {
        anyhow::bail!("the configuration has no [node] section");
    };
    let (trigger, shutdown) = shutdown_pair();
    trigger_on_signals(trigger);
    let bus = connect_bus(&config, &node_config.id, false).await?;
    let rt = connect(&config, bus, &node_config.id, shutdown).await?;
    if node_config.register_portfolios {
        node::register_portfolios(&rt, &node_config.id, &config.portfolios).await?;
    }
    let figures = node::run_node(rt, &node_config).await?;
    for f in figures {
        println!(
            "{}: events {} orders {} fills {} skipped {}",
            f.id, f.events, f.orders, f.fills, f.skipped
        );
    }
    Ok(())
}
