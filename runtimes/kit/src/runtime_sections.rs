//! The sections of the runtime processes: `[node]`, `[gateway]`, `[feed]` (validated by
//! [`crate::config::load`]).
//!
//! A gateway's venue and a feed's live source are written `venue = "sim"` or as a table with
//! a `kind`: `venue = { kind = "binance", product = "usdm", environment = "testnet", ... }`
//! (the rest of the table is [`BinanceConfig`]).

use chimera_binance::BinanceConfig;
use serde::{Deserialize, Deserializer};

/// The execution node.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// Node identity: the portfolios assigned to it in the database are the ones it runs.
    pub id: String,
    /// Capacity of each portfolio's queue (≥ 8).
    #[serde(default = "default_queue")]
    pub queue_capacity: usize,
    /// Most inputs a portfolio takes from its queue at once (≥ 1).
    #[serde(default = "default_batch")]
    pub batch_max: usize,
    /// How long a portfolio's applied inputs wait for their checkpoint, ms (0 to 60000): the
    /// checkpoint, whose size grows with the open orders, is written at most this often
    /// rather than after every batch. Inputs are acknowledged on the bus only once a
    /// checkpoint covers them, so a larger value re-applies more after a crash, never loses
    /// any. 0: after every batch.
    #[serde(default = "default_checkpoint_ms")]
    pub checkpoint_ms: u64,
    /// Least time between two progress promises of one portfolio, ms (0 to 10000): what lets
    /// a simulated venue feed market data between orders rather than on their path, and run the
    /// orders of portfolios sharing a symbol in turn ([`chimera_messages::Progress`]); at most
    /// 10 s, well under the 30 s of silence after which the venue takes a portfolio for stopped. Unset: 0 on the in-memory bus, where a promise costs
    /// a microsecond, and [`NETWORK_PROGRESS_MS`] on Kafka or Redis, where each is a message
    /// the broker serves while the venue's work it saves is microseconds against milliseconds
    /// of hop.
    #[serde(default)]
    pub progress_ms: Option<u64>,
    /// Heartbeat and metrics period, ms (≥ 100).
    #[serde(default = "default_heartbeat")]
    pub heartbeat_ms: u64,
    /// Register the `[[portfolios]]` of the config, assigned to this node, when they are not in
    /// the database yet (development convenience; the control plane owns them in production).
    #[serde(default)]
    pub register_portfolios: bool,
    /// Models the portfolios' decision policies may name (`[[node.scorers]]`, logistic
    /// regressions: `name`, `bias`, `weights = { "atr:14" = 0.5 }`).
    #[serde(default)]
    pub scorers: Vec<chimera_kernel::decision::LogisticScorer>,
    /// Most portfolios the scheduler places on this node (≥ 1); sent with every heartbeat.
    #[serde(default = "default_capacity")]
    pub capacity: u32,
    /// Serve Prometheus `/metrics` and `/health` here (e.g. `"127.0.0.1:9101"`).
    #[serde(default)]
    pub metrics_listen: Option<String>,
    /// Every this many microseconds while a portfolio waits for input (10 to 1000000; absent:
    /// never, unless `chimera up --busy-poll` runs it, which rehearses every
    /// [`NodeConfig::BUSY_POLL_REHEARSE_US`]), its engine plays the strategy's last orders
    /// again, sides reversed, on a copy of itself, and the copy's orders are made ready to
    /// publish and dropped: nothing is published, recorded or changed, and the order branch's
    /// code and data are still in the processor's caches when the strategy next acts
    /// (`chimera_kernel::engine::PortfolioEngine::rehearse`). About ten microseconds of the
    /// node's thread each time; worth it where a core is kept awake for latency anyway.
    #[serde(default)]
    pub rehearse_us: Option<u64>,
    /// Threads the node's runtime runs its routers and portfolios on (1 to 256; default 1).
    /// One thread hands a market event from its router to the portfolios as a queue push;
    /// across threads each hand-over may be a thread wake-up, and on the 2-core build machine
    /// a node on one thread routed 271–357k events/s from Kafka where one thread per core
    /// routed 151–272k (six runs each, in turn, the broker on the same cores; alike on Redis
    /// Streams, and latency alike on both). More threads pay off when the portfolios'
    /// strategies take long enough per event that running them side by side beats that
    /// hand-over. The bus clients' and the database pool's own threads are not counted here.
    #[serde(default = "default_threads")]
    pub threads: usize,
}

impl NodeConfig {
    /// Most `threads` a node's runtime may have.
    pub const MAX_THREADS: usize = 256;

    /// The rehearsal period `chimera up --busy-poll` gives a node whose configuration sets
    /// none. The timer's resolution is a millisecond. In process on the 2-core build machine,
    /// a portfolio's order branch took 5–8 µs within a millisecond of its previous order and
    /// 15–17 µs after 20 ms or more.
    pub const BUSY_POLL_REHEARSE_US: u64 = 1_000;

    /// Rehearsals as `chimera up --busy-poll` runs them: [`Self::BUSY_POLL_REHEARSE_US`] unless
    /// `rehearse_us` is configured.
    pub fn rehearse_while_busy_polling(&mut self) {
        self.rehearse_us.get_or_insert(Self::BUSY_POLL_REHEARSE_US);
    }

    /// The runtime a node process runs on, with `threads` threads (the configured `threads`,
    /// or 1 for a configuration without `[node]`, which the node then refuses): one thread is
    /// a current-thread runtime, the node's tasks run on the thread that starts it; more, a
    /// multi-threaded one with that many workers. Timers and I/O enabled either way.
    ///
    /// # Errors
    /// The operating system refusing a thread or the I/O driver.
    pub fn runtime(node: Option<&Self>) -> std::io::Result<tokio::runtime::Runtime> {
        let threads = node.map_or_else(default_threads, |n| n.threads);
        let mut builder = if threads <= 1 {
            tokio::runtime::Builder::new_current_thread()
        } else {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder.worker_threads(threads);
            builder
        };
        builder.enable_all().build()
    }
}

/// `[node] progress_ms` when unset on a network bus.
pub const NETWORK_PROGRESS_MS: u64 = 1_000;

fn default_capacity() -> u32 {
    64
}
fn default_threads() -> usize {
    1
}
fn default_queue() -> usize {
    1024
}
fn default_batch() -> usize {
    256
}
fn default_checkpoint_ms() -> u64 {
    100
}
fn default_gateway_checkpoint_ms() -> u64 {
    250
}
fn default_heartbeat() -> u64 {
    1_000
}

/// The trade gateway.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// Gateway identity (also its consumer group).
    pub id: String,
    /// The venue: `"sim"`, or `{ kind = "binance", ... }`.
    #[serde(default)]
    pub venue: VenueKind,
    /// How far (event time, ms) the simulated venue may lag the newest market event while it
    /// waits for orders stamped earlier, so fills do not depend on message timing. Data older
    /// than that is fed past a portfolio only once the portfolio has also been silent for 30 s
    /// of wall time (`chimera_sim::TRADER_SILENCE`); until then the gateway stops reading
    /// market data, so in a replay this bounds what the venue buffers, not the fills.
    #[serde(default = "default_hold")]
    pub sim_hold_ms: i64,
    /// The simulated venue executes the orders of portfolios sharing a symbol in the order of
    /// their stamps (default true): an order waits until every other portfolio trading its
    /// symbol has promised its time, so a replay's fills do not depend on which engine ran
    /// ahead. The wait is at most `[node] progress_ms` (every batch on the in-memory bus, a
    /// second on Kafka or Redis by default); false prices orders as they arrive.
    #[serde(default = "default_lockstep")]
    pub sim_lockstep: bool,
    /// Every this many microseconds while the gateway is idle (10 to 1000000; absent: never,
    /// unless `chimera up --busy-poll` runs it, which rehearses every
    /// [`GatewayConfig::BUSY_POLL_REHEARSE_US`]), the simulated venue runs a copy of the last
    /// order it executed on a copy of what that order touches, changing nothing, so the
    /// matching core's code and data are still in the processor's caches when the next order
    /// comes. A few microseconds of the gateway's thread each time; worth it where a core is
    /// kept awake for latency anyway (`chimera_sim::SimExchange::rehearse`).
    #[serde(default)]
    pub sim_rehearse_us: Option<u64>,
    /// Least time between two checkpoints, ms (0 to 60000; default 250). Commands are
    /// acknowledged on the bus only once a checkpoint covers them, and a checkpoint waits until
    /// every order and fill before it is written: a larger value executes more commands again
    /// after a crash (never losing any) and costs fewer database writes.
    #[serde(default = "default_gateway_checkpoint_ms")]
    pub checkpoint_ms: u64,
    /// Serve Prometheus `/metrics` and `/health` here (e.g. `"127.0.0.1:9102"`).
    #[serde(default)]
    pub metrics_listen: Option<String>,
}

impl GatewayConfig {
    /// The rehearsal period `chimera up --busy-poll` gives a gateway whose configuration sets
    /// none: at 2,000 market events a second on the 2-core build machine, an order command
    /// within 200 µs of the previous one executed in about 5 µs, within a millisecond in
    /// 7–10 µs.
    pub const BUSY_POLL_REHEARSE_US: u64 = 250;

    /// Rehearsals as `chimera up --busy-poll` runs them: [`Self::BUSY_POLL_REHEARSE_US`] unless
    /// `sim_rehearse_us` is configured.
    pub fn rehearse_while_busy_polling(&mut self) {
        self.sim_rehearse_us
            .get_or_insert(Self::BUSY_POLL_REHEARSE_US);
    }
}

/// The venue a configured gateway drives. Other exchange adapters are handed to
/// `chimera_gateway::run_gateway_on` by the binary that links them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum VenueKind {
    /// The simulated venue, in event time from `market.data`.
    #[default]
    Sim,
    /// Binance spot or USDⓈ-M.
    Binance(Box<BinanceConfig>),
}

impl VenueKind {
    /// The venue's name, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Sim => "simulated venue",
            Self::Binance(_) => "Binance",
        }
    }
}

impl<'de> Deserialize<'de> for VenueKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Kinded::deserialize(deserializer)? {
            Kinded::Name(name) if name == "sim" => Ok(Self::Sim),
            Kinded::Name(name) => Err(serde::de::Error::custom(format!(
                "unknown venue `{name}`, expected `sim` or a table {{ kind = \"binance\", ... }}"
            ))),
            Kinded::Table(mut table) => match take_kind(&mut table)?.as_str() {
                "sim" if table.is_empty() => Ok(Self::Sim),
                "binance" => binance(table).map(|c| Self::Binance(Box::new(c))),
                other => Err(serde::de::Error::custom(format!(
                    "unknown venue kind `{other}`, expected `sim` or `binance`"
                ))),
            },
        }
    }
}

/// A live market-data source for the feed (instead of `files`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedSource {
    /// Binance's public streams for the config's `symbols`.
    Binance(Box<BinanceConfig>),
}

impl<'de> Deserialize<'de> for FeedSource {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let Kinded::Table(mut table) = Kinded::deserialize(deserializer)? else {
            return Err(serde::de::Error::custom(
                "expected a table { kind = \"binance\", ... }",
            ));
        };
        match take_kind(&mut table)?.as_str() {
            "binance" => binance(table).map(|c| Self::Binance(Box::new(c))),
            other => Err(serde::de::Error::custom(format!(
                "unknown source kind `{other}`, expected `binance`"
            ))),
        }
    }
}

/// A name, or a table with a `kind`.
#[derive(Deserialize)]
#[serde(untagged)]
enum Kinded {
    Name(String),
    Table(toml::Table),
}

fn take_kind<E: serde::de::Error>(table: &mut toml::Table) -> Result<String, E> {
    match table.remove("kind") {
        Some(toml::Value::String(kind)) => Ok(kind),
        _ => Err(E::custom("missing `kind`")),
    }
}

fn binance<E: serde::de::Error>(table: toml::Table) -> Result<BinanceConfig, E> {
    toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| E::custom(format!("binance: {}", e.message())))
}
fn default_hold() -> i64 {
    86_400_000
}
fn default_lockstep() -> bool {
    true
}

/// The market-data feed.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedConfig {
    /// Feed identity.
    pub id: String,
    /// Files to replay (CSV bars, Binance captures, JSON lines), merged in time order. A CSV
    /// bar file carries no symbol: write it `SYMBOL=path` (e.g. `BTCUSDT=bars.csv`).
    #[serde(default)]
    pub files: Vec<String>,
    /// A live source instead of files: `{ kind = "binance", ... }`.
    #[serde(default)]
    pub source: Option<FeedSource>,
    /// Stop a live source after this long, ms (trials and tests; files end by themselves).
    #[serde(default)]
    pub duration_ms: Option<u64>,
    /// Replay speed: 0 = as fast as possible, N = N × real time.
    #[serde(default)]
    pub speed: f64,
    /// Serve Prometheus `/metrics` and `/health` here (e.g. `"127.0.0.1:9103"`).
    #[serde(default)]
    pub metrics_listen: Option<String>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    fn gateway(text: &str) -> Result<GatewayConfig, toml::de::Error> {
        toml::from_str(text)
    }

    #[test]
    fn a_node_runs_on_one_thread_unless_configured_otherwise() {
        let node = |text: &str| toml::from_str::<NodeConfig>(text).unwrap();
        let flavor = |node: Option<&NodeConfig>| {
            NodeConfig::runtime(node).unwrap().handle().runtime_flavor()
        };
        let one = node("id = \"n\"");
        assert_eq!(one.threads, 1);
        assert_eq!(
            flavor(Some(&one)),
            tokio::runtime::RuntimeFlavor::CurrentThread
        );
        assert_eq!(flavor(None), tokio::runtime::RuntimeFlavor::CurrentThread);
        let four = node("id = \"n\"\nthreads = 4");
        let runtime = NodeConfig::runtime(Some(&four)).unwrap();
        assert_eq!(
            runtime.handle().runtime_flavor(),
            tokio::runtime::RuntimeFlavor::MultiThread
        );
        assert_eq!(runtime.metrics().num_workers(), 4);
    }

    #[test]
    fn a_venue_is_a_name_or_a_table_with_a_kind() {
        assert_eq!(gateway("id = \"g\"").unwrap().venue, VenueKind::Sim);
        assert_eq!(
            gateway("id = \"g\"\nvenue = \"sim\"").unwrap().venue,
            VenueKind::Sim
        );
        let binance = gateway(
            "id = \"g\"\nvenue = { kind = \"binance\", product = \"usdm\", environment = \"testnet\" }",
        )
        .unwrap();
        let VenueKind::Binance(config) = binance.venue else {
            panic!("binance expected")
        };
        assert_eq!(config.product, chimera_binance::Product::Usdm);
        let typo = gateway(
            "id = \"g\"\nvenue = { kind = \"binance\", product = \"usdm\", environment = \"testnet\", recv_windw_ms = 1 }",
        )
        .unwrap_err()
        .to_string();
        assert!(typo.contains("recv_windw_ms"), "{typo}");
        let unknown = gateway("id = \"g\"\nvenue = \"nyse\"")
            .unwrap_err()
            .to_string();
        assert!(unknown.contains("unknown venue `nyse`"), "{unknown}");
    }

    #[test]
    fn a_feed_takes_files_or_a_live_source() {
        let feed: FeedConfig = toml::from_str(
            "id = \"f\"\nduration_ms = 5000\nsource = { kind = \"binance\", product = \"spot\", environment = \"demo\", symbols = [\"BTCUSDT\"] }",
        )
        .unwrap();
        assert!(feed.files.is_empty());
        assert!(
            matches!(feed.source, Some(FeedSource::Binance(ref c)) if c.symbols == ["BTCUSDT"])
        );
        let err = toml::from_str::<FeedConfig>("id = \"f\"\nsource = { kind = \"ftx\" }")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown source kind `ftx`"), "{err}");
    }
}
