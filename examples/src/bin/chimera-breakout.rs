//! A user's own `chimera`: Chimera's command line with this crate's `breakout` strategy
//! registered beside the built-in ones. Everything `chimera` does, it does —
//! `chimera-breakout backtest --config examples/breakout/up.toml --data BARS.csv`,
//! `chimera-breakout up --config examples/breakout/up.toml`, and `chimera-breakout node` (which
//! `up --processes` starts) — running `breakout` portfolios without any change to Chimera.

fn main() -> std::process::ExitCode {
    let mut strategies = chimera_kernel::strategy::StrategyRegistry::builtin();
    chimera_examples::register(&mut strategies);
    chimera_cli::run(&strategies)
}
