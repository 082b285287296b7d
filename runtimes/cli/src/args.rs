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
    /// print where to look. With bus `kind = "memory"` and SQLite it needs no servers.
    Up(UpArgs),
    /// Compute features over a market-data file and print them as CSV: `timestamp`, then one
    /// column per feature (empty while it warms up), one row per bar (the data's own bars, or
    /// bars built from its trades).
    Features(FeaturesArgs),
    /// Run the execution node (the portfolios assigned to `[node].id`) until Ctrl-C or
    /// SIGTERM, with this binary's strategies.
    Node(ProcessArgs),
    /// Run the trade gateway until Ctrl-C or SIGTERM.
    Gateway(ProcessArgs),
    /// Replay the `[feed]` files onto the bus.
    Feed(ProcessArgs),
    /// Send a control command to the running system and wait for its acknowledgements.
    Ctl(CtlArgs),
    /// Record an exchange's market data (depth diffs with snapshots, best bid/ask, trades,
    /// mark price) in the capture format the replay readers and the fake Binance read.
    Record(RecordArgs),
    /// Move money between the exchange's wallets now, from this process, with the
    /// `[gateway] venue`'s keys and limits, recorded in the database (`treasury_transfers`).
    /// Idempotent by `--id`. `chimera ctl transfer` asks the running gateway instead.
    Transfer(DirectTransferArgs),
}

#[derive(Debug, Args)]
pub(crate) struct DirectTransferArgs {
    /// Configuration files naming the database and `[gateway] venue`.
    #[arg(long = "config", short = 'c', required = true)]
    pub(crate) config: Vec<PathBuf>,
    #[command(flatten)]
    pub(crate) transfer: TransferArgs,
}

#[derive(Debug, Args)]
pub(crate) struct RecordArgs {
    /// The exchange (`binance`).
    #[arg(long, default_value = "binance")]
    pub(crate) venue: String,
    /// `spot` or `usdm`.
    #[arg(long, default_value = "usdm")]
    pub(crate) product: String,
    /// `live`, `testnet`, `demo`, or `custom` (with `--rest-url` and `--stream-url`).
    #[arg(long, default_value = "live")]
    pub(crate) environment: String,
    /// REST base address (custom environment), e.g. `http://127.0.0.1:9300`.
    #[arg(long)]
    pub(crate) rest_url: Option<String>,
    /// WebSocket stream base address (custom environment), e.g. `ws://127.0.0.1:9300`.
    #[arg(long)]
    pub(crate) stream_url: Option<String>,
    /// Symbols, comma-separated: `BTCUSDT,ETHUSDT`.
    #[arg(long, value_delimiter = ',', required = true)]
    pub(crate) symbols: Vec<String>,
    /// Depth stream speed, ms (spot 100 or 1000; USD-M 0, 100, 250 or 500).
    #[arg(long)]
    pub(crate) depth_speed_ms: Option<u64>,
    /// Output file (gzip).
    #[arg(long)]
    pub(crate) out: PathBuf,
    /// Stop after this many seconds (default: at Ctrl-C or SIGTERM).
    #[arg(long)]
    pub(crate) duration_secs: Option<u64>,
}

#[derive(Debug, Args)]
pub(crate) struct CtlArgs {
    /// Configuration files naming the bus and database (as for the live binaries).
    #[arg(long = "config", short = 'c', required = true)]
    pub(crate) config: Vec<PathBuf>,
    /// How long to wait for the acknowledgements, in seconds.
    #[arg(long, default_value_t = 10)]
    pub(crate) timeout_secs: u64,
    #[command(subcommand)]
    pub(crate) action: CtlAction,
}

/// What `chimera ctl kill` does.
#[derive(Debug, Subcommand)]
pub(crate) enum KillAction {
    /// Engage a switch (nodes honour it within a poll period, the gateway refuses entries).
    Engage {
        /// halt_entries, reduce_only, cancel_all or flatten (each does what the ones before do).
        #[arg(long)]
        mode: String,
        /// global, portfolio:<id> or symbol:<symbol>.
        #[arg(long, default_value = "global")]
        scope: String,
        /// Why, for the record.
        #[arg(long)]
        reason: String,
        /// Lapse by itself after this many seconds (default: held until released).
        #[arg(long)]
        ttl_secs: Option<u64>,
        /// The switch's id (default: generated); engaging the same id again replaces it.
        #[arg(long)]
        id: Option<String>,
    },
    /// Release the switch of this id.
    Release { id: String },
    /// Print the switches in force.
    List,
}

/// A control command. `PORTFOLIO` is a portfolio id, or `*` for every portfolio.
#[derive(Debug, Subcommand)]
pub(crate) enum CtlAction {
    /// Refuse new orders (the portfolio keeps following the market and its fills).
    Pause {
        portfolio: String,
        /// Why, for the record.
        #[arg(long)]
        reason: String,
    },
    /// Send orders again after a pause.
    Resume { portfolio: String },
    /// Cancel every working order.
    CancelAll { portfolio: String },
    /// End the portfolio's run (its strategy's stop hook, then no new orders).
    Stop { portfolio: String },
    /// Engage, release or list kill switches (in the shared store; needs `[redis]`).
    Kill {
        #[command(subcommand)]
        action: KillAction,
    },
    /// Set the health level: GREEN, YELLOW, ORANGE or RED.
    Health { portfolio: String, level: String },
    /// Swap the portfolio to the configuration now in its database record, keeping its state.
    Reload { portfolio: String },
    /// Move a portfolio to another node (needs a running scheduler).
    Migrate {
        portfolio: String,
        /// The node.
        to: String,
    },
    /// Move every portfolio off a node and place nothing new on it (needs a scheduler).
    Drain { node: String },
    /// Run a stopped portfolio again (needs a scheduler).
    Start { portfolio: String },
    /// Move money between the exchange's wallets, done by the gateway with its venue's keys
    /// and limits; idempotent by `--id` (send it again to learn how it ended).
    Transfer(TransferArgs),
}

/// A wallet transfer.
#[derive(Debug, Args)]
pub(crate) struct TransferArgs {
    /// Idempotency key: the same id is the same transfer, however often it is asked.
    #[arg(long)]
    pub(crate) id: String,
    /// `spot_to_usdm` or `usdm_to_spot`.
    #[arg(long)]
    pub(crate) direction: String,
    /// Asset, e.g. `USDT`.
    #[arg(long)]
    pub(crate) asset: String,
    /// Amount.
    #[arg(long)]
    pub(crate) amount: String,
    /// The exchange account by configured name (default: the first).
    #[arg(long)]
    pub(crate) account: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct FeaturesArgs {
    /// Market-data file: `.csv` bars, `.jsonl` events, or a `.gz` Binance capture.
    #[arg(long)]
    pub(crate) data: PathBuf,
    /// A feature, repeatable: `ema:N`, `sma:N`, `tr`, `atr:N`, `rv:N`, `corr:SYMBOL:N`, `mid`,
    /// `spread_bps`, `depth:BP`, `imbalance:N`, `vwap:N`.
    #[arg(long = "feature", short = 'f', required = true)]
    pub(crate) features: Vec<String>,
    /// The symbol whose features are computed (names CSV bars). Default: the symbol of the
    /// file's first event.
    #[arg(long)]
    pub(crate) symbol: Option<String>,
    /// Length of the bars built from trades when the data has no bars, in seconds; also the bar
    /// length realised volatility is annualised for.
    #[arg(long, default_value_t = 60)]
    pub(crate) bar_secs: i64,
    /// Periods per year for realised volatility (default: a year of `--bar-secs` bars, 365
    /// days; 252 for daily bars of a market that closes on weekends).
    #[arg(long)]
    pub(crate) periods_per_year: Option<f64>,
    /// Write the CSV here instead of standard output.
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct ProcessArgs {
    /// Configuration files (TOML; later ones override earlier ones); `CHIMERA__SECTION__KEY`
    /// environment variables override them.
    #[arg(long = "config", short = 'c', required = true)]
    pub(crate) config: Vec<PathBuf>,
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
    /// Run feed, gateway and node as child processes (this binary's `feed`, `gateway` and
    /// `node` commands) instead of tasks of this process; needs a bus that crosses processes
    /// (kafka or redis). SIGTERM / Ctrl-C is passed on to them.
    #[arg(long)]
    pub(crate) processes: bool,
    /// Keep this process's one thread polling between events instead of sleeping: a core at
    /// 100 %, for lower latency (on the 2-core build machine tick-to-order p99 fell from 50–85
    /// to 22–26 µs). Needs the in-memory bus in one process.
    #[arg(long, conflicts_with = "processes")]
    pub(crate) busy_poll: bool,
}

#[derive(Debug, Args)]
pub(crate) struct BacktestArgs {
    /// Market-data file: `.csv` bars, `.jsonl` events, or a `.gz` Binance capture.
    #[arg(long)]
    pub(crate) data: PathBuf,
    /// Instrument symbol (names CSV bars; filters nothing for other formats). Default:
    /// BTCUSDT, or with `--config` the one symbol the portfolios trade.
    #[arg(long)]
    pub(crate) symbol: Option<String>,
    /// Quote asset; by default the symbol's suffix (USDT, USDC, BUSD, FDUSD, USD).
    #[arg(long, conflicts_with = "config")]
    pub(crate) quote: Option<String>,
    /// `spot` or `perp` (USDT-margined linear perpetual).
    #[arg(long, default_value = "perp", conflicts_with = "config")]
    pub(crate) market: String,
    /// Maker fee rate (0.0002 = 2 bp).
    #[arg(long, default_value = "0.0002", conflicts_with = "config")]
    pub(crate) maker_fee: String,
    /// Taker fee rate.
    #[arg(long, default_value = "0.0005", conflicts_with = "config")]
    pub(crate) taker_fee: String,
    /// Tick size.
    #[arg(long, default_value = "0.01", conflicts_with = "config")]
    pub(crate) tick_size: String,
    /// Lot size.
    #[arg(long, default_value = "0.001", conflicts_with = "config")]
    pub(crate) lot_size: String,
    /// Minimum order notional.
    #[arg(long, default_value = "5", conflicts_with = "config")]
    pub(crate) min_notional: String,
    /// Leverage for perpetual margin.
    #[arg(long, default_value = "1", conflicts_with = "config")]
    pub(crate) leverage: String,
    /// Starting quote balance.
    #[arg(long, default_value = "100000", conflicts_with = "config")]
    pub(crate) quote_balance: String,
    /// Starting base balance.
    #[arg(long, default_value = "0", conflicts_with = "config")]
    pub(crate) base_balance: String,
    /// Strategy name (ema-cross, scripted, or one the binary registered).
    #[arg(long, required_unless_present = "config", conflicts_with = "config")]
    pub(crate) strategy: Option<String>,
    /// Strategy parameter, repeatable: `--param fast=10 --param slow=20`.
    #[arg(long = "param", value_name = "KEY=VALUE", conflicts_with = "config")]
    pub(crate) params: Vec<String>,
    /// Backtest the `[[portfolios]]` of these configuration files (as `chimera up` and the
    /// node run them: instruments, balances, strategy, params) instead of the instrument,
    /// balance and strategy arguments. Other sections are not read.
    #[arg(long = "config", short = 'c')]
    pub(crate) config: Vec<PathBuf>,
    /// With `--config`: only these portfolios (repeatable; default: all of them).
    #[arg(long = "portfolio", requires = "config")]
    pub(crate) portfolios: Vec<String>,
    /// Where market orders on bars fill: `close` or `next-open`.
    #[arg(long, default_value = "close")]
    pub(crate) bar_fill: String,
    /// Simulated order latency in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub(crate) latency_ms: i64,
    /// Simulated market-data latency in milliseconds: the strategies see each event this long
    /// after the venue does.
    #[arg(long, default_value_t = 0)]
    pub(crate) market_data_latency_ms: i64,
    /// How resting limit orders fill on L2 data: `queue` (behind the volume at their price
    /// when they arrived) or `touch` (as soon as the market trades at their price).
    #[arg(long, default_value = "queue")]
    pub(crate) queue: String,
    /// Execute the strategy's market orders with this algorithm: `market`, `maker-taker` or
    /// `twap` (default: sent as they are). Repeat it to run the backtest once per algorithm
    /// and compare them.
    #[arg(long = "exec", value_name = "ALGO")]
    pub(crate) execs: Vec<String>,
    /// A parameter of the execution algorithms, repeatable (`--exec-param horizon_secs=60`);
    /// each applies to every `--exec` algorithm that takes it.
    #[arg(long = "exec-param", value_name = "KEY=VALUE")]
    pub(crate) exec_params: Vec<String>,
    /// Rules (the decision pipeline's L1 rule language) every portfolio's entries go through,
    /// replacing the portfolios' own.
    #[arg(long, value_name = "FILE")]
    pub(crate) rules: Option<PathBuf>,
    /// A TOML file of trading settings applied to every portfolio, replacing their own:
    /// `[risk]` limits and exits, `[decision]` gates/model/sizing, `[manage]` the position
    /// manager, `[[scorers]]` models.
    #[arg(long, value_name = "FILE")]
    pub(crate) risk: Option<PathBuf>,
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
