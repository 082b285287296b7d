//! `chimera-gateway`: the trade gateway. Executes order commands on the venue until SIGTERM or
//! Ctrl-C.

use chimera_runtime::RuntimeArgs;
use clap::Parser;

fn main() -> anyhow::Result<()> {
    chimera_runtime::memory::cap_malloc_arenas();
    run()
}

/// One thread: see [`chimera_gateway::run_gateway_process`].
#[tokio::main(flavor = "current_thread")]
async fn run() -> anyhow::Result<()> {
    let config = RuntimeArgs::parse().load(None)?;
    chimera_gateway::run_gateway_process(&config).await
}
