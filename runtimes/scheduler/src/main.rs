//! `chimera-scheduler`: places portfolios on execution nodes and moves them when a node dies,
//! until SIGTERM or Ctrl-C. Run two for availability: one leads, the other waits.

use chimera_runtime::RuntimeArgs;
use clap::Parser;

fn main() -> anyhow::Result<()> {
    chimera_runtime::memory::cap_malloc_arenas();
    run()
}

#[tokio::main]
async fn run() -> anyhow::Result<()> {
    let config = RuntimeArgs::parse().load(None)?;
    chimera_scheduler::run_scheduler_process(&config).await
}
