//! Command-line arguments.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Chimera: live algorithmic trading, backtests and simulations from one kernel.
#[derive(Debug, Parser)]
#[command(name = "chimera", version, about)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Backtest one portfolio over a market-data file (CSV bars, Binance capture, JSON lines).
    Backtest(Box<BacktestArgs>),
    /// Run several portfolios over seeded synthetic data through the in-memory bus and the
    /// simulated venue, and write a report. Needs no servers and no files.
    Demo(DemoArgs),
    /// Start the live architecture — market-data feed, trade gateway (simulated venue) and one
    /// execution node — in one process or as child processes, against a configuration, and
    /// print where to look. With `bus.kind = "memory"` and SQLite it needs no servers.
    Up(UpArgs),
}

#[derive(Debug, Args)]
pub(crate) struct UpArgs {
    /// Configuration files (TOML; later ones override earlier ones), as for the live binaries:
    /// `[bus]`, `[database]`, `[node]`, `[gateway]`, `[feed]`, `[[portfolios]]`.
    /// `CHIMERA__SECTION__KEY` environment variables override them.
    #[arg(long = "config", short = 'c', required = true)]
    pub(crate) config: Vec<PathBuf>,
    /// Stop once the feed has published everything and every order has settled (for scripted
    /// runs); otherwise run until Ctrl-C or SIGTERM.
    #[arg(long)]
    pub(crate) exit_when_idle: bool,
    /// Run feed, gateway and node as child processes (the `chimera-feed`, `chimera-gateway`
    /// and `chimera-node` binaries) instead of tasks of this process; needs a bus that crosses
    /// processes (kafka or redis). SIGTERM / Ctrl-C is passed on to them.
    #[arg(long)]
    pub(crate) processes: bool,
    /// Where the runtime binaries are, with `--processes` (default: next to `chimera`, then
    /// the PATH).
    #[arg(long, requires = "processes")]
    pub(crate) bin_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct BacktestArgs {
    /// Market-data file: `.csv` bars, `.jsonl` events, or a `.gz` Binance capture.
    #[arg(long)]
    pub(crate) data: PathBuf,
    /// Instrument symbol (names CSV bars; filters nothing for other formats).
    #[arg(long, default_value = "BTCUSDT")]
    pub(crate) symbol: String,
    /// Quote asset; by default the symbol's suffix (USDT, USDC, BUSD, FDUSD, USD).
    #[arg(long)]
    pub(crate) quote: Option<String>,
    /// `spot` or `perp` (USDT-margined linear perpetual).
    #[arg(long, default_value = "perp")]
    pub(crate) market: String,
    /// Maker fee rate (0.0002 = 2 bp).
    #[arg(long, default_value = "0.0002")]
    pub(crate) maker_fee: String,
    /// Taker fee rate.
    #[arg(long, default_value = "0.0005")]
    pub(crate) taker_fee: String,
    /// Tick size.
    #[arg(long, default_value = "0.01")]
    pub(crate) tick_size: String,
    /// Lot size.
    #[arg(long, default_value = "0.001")]
    pub(crate) lot_size: String,
    /// Minimum order notional.
    #[arg(long, default_value = "5")]
    pub(crate) min_notional: String,
    /// Leverage for perpetual margin.
    #[arg(long, default_value = "1")]
    pub(crate) leverage: String,
    /// Starting quote balance.
    #[arg(long, default_value = "100000")]
    pub(crate) quote_balance: String,
    /// Starting base balance.
    #[arg(long, default_value = "0")]
    pub(crate) base_balance: String,
    /// Strategy name (ema-cross, scripted).
    #[arg(long)]
    pub(crate) strategy: String,
    /// Strategy parameter, repeatable: `--param fast=10 --param slow=20`.
    #[arg(long = "param", value_name = "KEY=VALUE")]
    pub(crate) params: Vec<String>,
    /// Where market orders on bars fill: `close` or `next-open`.
    #[arg(long, default_value = "close")]
    pub(crate) bar_fill: String,
    /// Simulated order latency in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub(crate) latency_ms: i64,
    /// Equity-curve sampling interval in milliseconds of market time.
    #[arg(long, default_value_t = 60_000)]
    pub(crate) sample_ms: i64,
    /// Write summary.json, fills.csv, equity.csv, equity.svg and report.html here.
    #[arg(long)]
    pub(crate) report: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Report folder.
    #[arg(long, default_value = "reports/demo")]
    pub(crate) out: PathBuf,
    /// Seed of the synthetic market.
    #[arg(long, default_value_t = 7)]
    pub(crate) seed: u64,
    /// Minutes of synthetic one-minute bars per symbol.
    #[arg(long, default_value_t = 43_200)]
    pub(crate) minutes: u32,
}
