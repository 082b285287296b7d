//! `chimera-feed`: the market-data feed. Replays the configured files onto the bus and exits
//! (or stops early on SIGTERM or Ctrl-C).

use chimera_runtime::RuntimeArgs;
use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = RuntimeArgs::parse().load(None)?;
    chimera_feed::run_feed_process(&config).await
}
