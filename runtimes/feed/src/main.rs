//! `chimera-feed`: the market-data feed. Replays the configured files onto the bus and exits
//! (or stops early on SIGTERM or Ctrl-C).

use chimera_runtime::RuntimeArgs;
use clap::Parser;

fn main() -> anyhow::Result<()> {
    chimera_runtime::memory::cap_malloc_arenas();
    run()
}

#[tokio::main]
async fn run() -> anyhow::Result<()> {
    let config = RuntimeArgs::parse().load(None)?;
    chimera_feed::run_feed_process(&config).await
}
