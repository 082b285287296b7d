//! `chimera`: backtests, the self-contained demo, the live architecture in one command, and the
//! runtime processes, with Chimera's built-in strategies.

fn main() -> std::process::ExitCode {
    chimera_cli::run(&chimera_kernel::strategy::StrategyRegistry::builtin())
}
