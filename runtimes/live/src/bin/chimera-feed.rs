//! `chimera-feed`: the market-data feed. Replays the configured files onto the bus and exits
//! (or stops early on SIGTERM or Ctrl-C).

use chimera_live::runtime::{shutdown_pair, trigger_on_signals};
use chimera_live::{connect, connect_bus, feed, RuntimeArgs};
use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = RuntimeArgs::parse().load()?;
    let Some(feed_config) = config.feed.clone() else {
        anyhow::bail!("the configuration has no [feed] section");
    };
    let (trigger, shutdown) = shutdown_pair();
    trigger_on_signals(trigger);
    let bus = connect_bus(&config, &feed_config.id, false).await?;
    let rt = connect(&config, bus, &feed_config.id, shutdown).await?;
    let published = feed::run_feed(rt, &feed_config).await?;
    println!("published {published} events");
    Ok(())
}
