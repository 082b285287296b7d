//! `chimera-node`: the execution node with Chimera's built-in strategies. Runs the portfolios
//! assigned to `[node].id` in the database until SIGTERM or Ctrl-C. (A node with your own
//! strategies: `chimera_cli::run` from your own binary, then `your-binary node`.)

use chimera_kernel::strategy::StrategyRegistry;
use chimera_runtime::config::NodeConfig;
use chimera_runtime::RuntimeArgs;
use clap::Parser;

fn main() -> anyhow::Result<()> {
    chimera_runtime::memory::cap_malloc_arenas();
    let strategies = StrategyRegistry::builtin();
    let config = RuntimeArgs::parse().load(Some(&strategies))?;
    // On `[node] threads` threads (one by default).
    NodeConfig::runtime(config.node.as_ref())?
        .block_on(chimera_node::run_node_process(&config, &strategies))
}
