//! `chimera-gateway`: the trade gateway. Executes order commands on the venue until SIGTERM or
//! Ctrl-C.

use chimera_live::runtime::{shutdown_pair, trigger_on_signals};
use chimera_live::{connect, connect_bus, gateway, RuntimeArgs};
use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = RuntimeArgs::parse().load()?;
    let Some(gateway_config) = config.gateway.clone() else {
        anyhow::bail!("the configuration has no [gateway] section");
    };
    let (trigger, shutdown) = shutdown_pair();
    trigger_on_signals(trigger);
    let bus = connect_bus(&config, &gateway_config.id, false).await?;
    let rt = connect(&config, bus, &gateway_config.id, shutdown).await?;
    let f = gateway::run_gateway(rt, &gateway_config).await?;
    println!(
        "submitted {} duplicates {} replayed {} fills {} reports {} checkpoints {}",
        f.submitted, f.duplicates, f.replayed, f.fills, f.reports, f.checkpoints
    );
    Ok(())
}
