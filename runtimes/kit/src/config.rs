//! Layered configuration: TOML files in order, then `CHIMERA__SECTION__KEY=value` environment
//! overrides, then validation that lists every bad field at once.
//!
//! ```toml
//! [bus]       kind = "kafka", brokers = "127.0.0.1:9092", topic_prefix = "chimera.live."
//! [bus.redis_streams]  "orders.feedback" = "ord:{results}"   # kind = "redis" only
//! [database]  url = "sqlite://chimera.db"
//! [node]      id = "node-1", queue_capacity = 1024
//! [gateway]   id = "gateway-1"
//! [feed]      id = "feed-1", files = ["bars.csv"], speed = 0.0
//! [state]     kind = "redis", url = "redis://127.0.0.1:6379", lease_ms = 5000   # optional
//! [[portfolios]] id = "p1", strategy = "ema-cross", ...
//! ```

use crate::portfolio_spec::PortfolioSpec;
pub use crate::services::{BusAdapter, BusConfig, StateAdapter, StateConfig, StoreConfig};
use chimera_kernel::strategy::StrategyRegistry;
use chimera_ports::Problems;
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};

pub use crate::runtime_sections::{FeedConfig, FeedSource, GatewayConfig, NodeConfig, VenueKind};

/// The whole configuration; each runtime reads the sections it needs.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveConfig {
    /// Message bus.
    pub bus: BusConfig,
    /// Database.
    pub database: StoreConfig,
    /// Node section, if present.
    pub node: Option<NodeConfig>,
    /// Gateway section, if present.
    pub gateway: Option<GatewayConfig>,
    /// Feed section, if present.
    pub feed: Option<FeedConfig>,
    /// Shared state, if present.
    pub state: Option<StateConfig>,
    /// Scheduler section, if present.
    pub scheduler: Option<crate::scheduler_config::SchedulerConfig>,
    /// API section, if present.
    pub api: Option<crate::api_config::ApiConfig>,
    /// Portfolios to register.
    pub portfolios: Vec<PortfolioSpec>,
}

/// A rejected configuration: every problem found, one per line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration:\n  {}", problems.join("\n  "))]
pub struct ConfigError {
    /// One entry per bad field or unreadable file.
    pub problems: Vec<String>,
}

/// Reads `files` in order (later files override earlier ones), applies `CHIMERA__*` overrides
/// from `env`, and validates everything. Each portfolio's strategy and params are checked
/// against `strategies` (the registry of the process that will run them); a process that runs
/// no strategy (gateway, feed) passes `None` and checks only the portfolios' books.
///
/// # Errors
/// [`ConfigError`] listing every unreadable file, malformed or unknown field and bad value.
pub fn load(
    files: &[PathBuf],
    env: impl IntoIterator<Item = (String, String)>,
    strategies: Option<&StrategyRegistry>,
) -> Result<LiveConfig, ConfigError> {
    let mut problems = Problems::new();
    let root = read_root(files, env, &mut problems);
    let bus = section::<BusConfig>(&root, "bus", true, &mut problems);
    let database = section::<StoreConfig>(&root, "database", true, &mut problems);
    let node = section::<NodeConfig>(&root, "node", false, &mut problems);
    let gateway = section::<GatewayConfig>(&root, "gateway", false, &mut problems);
    let feed = section::<FeedConfig>(&root, "feed", false, &mut problems);
    let state = section::<StateConfig>(&root, "state", false, &mut problems);
    let scheduler = section::<crate::scheduler_config::SchedulerConfig>(
        &root,
        "scheduler",
        false,
        &mut problems,
    );
    let api = section::<crate::api_config::ApiConfig>(&root, "api", false, &mut problems);
    let portfolios = section::<Vec<PortfolioSpec>>(&root, "portfolios", false, &mut problems)
        .unwrap_or_default();
    for key in root.keys() {
        problems.check(
            SECTIONS.contains(&key.as_str()),
            key,
            format!("unknown section (known: {})", SECTIONS.join(", ")),
        );
    }
    if let Some(bus) = &bus {
        bus.validate(&mut problems);
    }
    if let Some(database) = &database {
        database.validate(&mut problems);
    }
    if let Some(node) = &node {
        validate_node(node, &mut problems);
    }
    if let Some(gateway) = &gateway {
        problems.check(!gateway.id.is_empty(), "gateway.id", "must not be empty");
        problems.check(
            gateway.sim_hold_ms >= 0,
            "gateway.sim_hold_ms",
            "must be ≥ 0",
        );
        problems.check(
            gateway.checkpoint_ms <= 60_000,
            "gateway.checkpoint_ms",
            format!("{} (must be ≤ 60000)", gateway.checkpoint_ms),
        );
        check_rehearsal_period(
            gateway.sim_rehearse_us,
            "gateway.sim_rehearse_us",
            &mut problems,
        );
        if let VenueKind::Binance(binance) = &gateway.venue {
            if let Err(e) = binance.validate() {
                problems.extend(e.problems.iter().map(|p| format!("gateway.venue.{p}")));
            }
            if binance.accounts.is_empty() {
                problems.push(
                    "gateway.venue.accounts",
                    "name at least one account to trade with",
                );
            }
        }
    }
    if let Some(feed) = &feed {
        validate_feed(feed, &mut problems);
    }
    if let Some(scheduler) = &scheduler {
        scheduler.validate(&mut problems);
    }
    if let Some(api) = &api {
        api.validate(&mut problems);
    }
    for (field, listen) in [
        (
            "node.metrics_listen",
            node.as_ref().and_then(|n| n.metrics_listen.as_ref()),
        ),
        (
            "gateway.metrics_listen",
            gateway.as_ref().and_then(|g| g.metrics_listen.as_ref()),
        ),
        (
            "feed.metrics_listen",
            feed.as_ref().and_then(|f| f.metrics_listen.as_ref()),
        ),
        (
            "scheduler.metrics_listen",
            scheduler.as_ref().and_then(|s| s.metrics_listen.as_ref()),
        ),
        (
            "api.metrics_listen",
            api.as_ref().and_then(|a| a.metrics_listen.as_ref()),
        ),
    ] {
        if let Some(listen) = listen {
            problems.check(
                listen.parse::<std::net::SocketAddr>().is_ok(),
                field,
                format!("{listen:?} (expected host:port, e.g. 127.0.0.1:9101)"),
            );
        }
    }
    if let (Some(state), Some(bus)) = (&state, &bus) {
        state.validate(bus, &mut problems);
    }
    validate_portfolios(&portfolios, strategies, &mut problems);
    match (bus, database) {
        (Some(bus), Some(database)) if problems.is_empty() => Ok(LiveConfig {
            bus,
            database,
            node,
            gateway,
            feed,
            state,
            scheduler,
            api,
            portfolios,
        }),
        _ => Err(ConfigError {
            problems: problems.into(),
        }),
    }
}

/// The sections a configuration may have.
const SECTIONS: [&str; 9] = [
    "bus",
    "database",
    "node",
    "gateway",
    "feed",
    "state",
    "scheduler",
    "api",
    "portfolios",
];

/// Reads only the `[[portfolios]]` of `files` (with `CHIMERA__PORTFOLIOS…` overrides ignored:
/// portfolios are arrays), validated as [`load`] does. Other sections are not read, so a
/// backtest can run the portfolios of a live configuration without its servers.
///
/// # Errors
/// [`ConfigError`] listing every unreadable file and every problem of every portfolio, or that
/// there are none.
pub fn load_portfolios(
    files: &[PathBuf],
    strategies: &StrategyRegistry,
) -> Result<Vec<PortfolioSpec>, ConfigError> {
    let mut problems = Problems::new();
    let root = read_root(files, [], &mut problems);
    let portfolios =
        section::<Vec<PortfolioSpec>>(&root, "portfolios", true, &mut problems).unwrap_or_default();
    if portfolios.is_empty() && problems.is_empty() {
        problems.push("portfolios", "name at least one [[portfolios]]");
    }
    validate_portfolios(&portfolios, Some(strategies), &mut problems);
    problems
        .finish(portfolios)
        .map_err(|problems| ConfigError { problems })
}

/// The merged table of `files` with the `CHIMERA__SECTION__KEY` overrides of `env` applied.
fn read_root(
    files: &[PathBuf],
    env: impl IntoIterator<Item = (String, String)>,
    problems: &mut Problems,
) -> toml::Table {
    let mut root = toml::Table::new();
    for file in files {
        match read_table(file) {
            Ok(table) => merge(&mut root, table),
            Err(p) => problems.extend([p]),
        }
    }
    for (key, value) in env {
        if let Some(path) = key.strip_prefix("CHIMERA__") {
            let path: Vec<String> = path.split("__").map(str::to_ascii_lowercase).collect();
            set_path(&mut root, &path, parse_scalar(&value));
        }
    }
    root
}

fn validate_portfolios(
    portfolios: &[PortfolioSpec],
    strategies: Option<&StrategyRegistry>,
    problems: &mut Problems,
) {
    let mut seen = std::collections::BTreeSet::new();
    for (i, spec) in portfolios.iter().enumerate() {
        problems.check(
            seen.insert(spec.id.as_str()),
            format_args!("portfolios[{i}].id"),
            format_args!("{:?} is used twice", spec.id),
        );
        let checked = match strategies {
            Some(strategies) => spec.build_engine(strategies).map(drop),
            None => spec.build_portfolio().map(drop),
        };
        if let Err(p) = checked {
            problems.extend(
                p.into_iter()
                    .map(|p| format!("portfolios[{i}] ({}): {p}", spec.id)),
            );
        }
    }
}

fn read_table(file: &Path) -> Result<toml::Table, String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("{}: cannot read: {e}", file.display()))?;
    text.parse::<toml::Table>()
        .map_err(|e| format!("{}: not valid TOML: {e}", file.display()))
}

fn merge(into: &mut toml::Table, from: toml::Table) {
    for (k, v) in from {
        match (into.get_mut(&k), v) {
            (Some(toml::Value::Table(a)), toml::Value::Table(b)) => merge(a, b),
            (_, v) => {
                into.insert(k, v);
            }
        }
    }
}

fn set_path(root: &mut toml::Table, path: &[String], value: toml::Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut table = root;
    for p in parents {
        let entry = table
            .entry(p.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        let toml::Value::Table(t) = entry else { return };
        table = t;
    }
    table.insert(last.clone(), value);
}

/// An override is read as a TOML value when it parses as one (numbers, booleans, arrays),
/// otherwise as a plain string.
fn parse_scalar(text: &str) -> toml::Value {
    format!("v = {text}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(text.to_owned()))
}

fn section<T: DeserializeOwned>(
    root: &toml::Table,
    name: &str,
    required: bool,
    problems: &mut Problems,
) -> Option<T> {
    let Some(value) = root.get(name) else {
        if required {
            problems.push(name, "missing section");
        }
        return None;
    };
    value
        .clone()
        .try_into::<T>()
        .map_err(|e| problems.push(name, e.to_string().trim()))
        .ok()
}

fn validate_node(node: &NodeConfig, problems: &mut Problems) {
    problems.check(!node.id.is_empty(), "node.id", "must not be empty");
    problems.check(
        node.queue_capacity >= 8,
        "node.queue_capacity",
        format!("{} (must be ≥ 8)", node.queue_capacity),
    );
    problems.check(node.batch_max > 0, "node.batch_max", "must be ≥ 1");
    problems.check(
        node.checkpoint_ms <= 60_000,
        "node.checkpoint_ms",
        format!("{} (must be ≤ 60000)", node.checkpoint_ms),
    );
    if let Some(ms) = node.progress_ms {
        // Well under the simulated venue's 30 s of silence after which it takes a portfolio
        // for stopped (`chimera_sim::TRADER_SILENCE`): a reading portfolio promises more often.
        problems.check(
            ms <= 10_000,
            "node.progress_ms",
            format!("{ms} (must be ≤ 10000)"),
        );
    }
    problems.check(
        node.capacity >= 1,
        "node.capacity",
        format!("{} (must be ≥ 1)", node.capacity),
    );
    problems.check(
        node.heartbeat_ms >= 100,
        "node.heartbeat_ms",
        format!("{} (must be ≥ 100)", node.heartbeat_ms),
    );
    check_rehearsal_period(node.rehearse_us, "node.rehearse_us", problems);
    problems.check(
        (1..=NodeConfig::MAX_THREADS).contains(&node.threads),
        "node.threads",
        format!(
            "{} (must be 1 to {})",
            node.threads,
            NodeConfig::MAX_THREADS
        ),
    );
}

/// A rehearsal period (`[node] rehearse_us`, `[gateway] sim_rehearse_us`), when set: 10 µs to
/// a second.
fn check_rehearsal_period(us: Option<u64>, field: &str, problems: &mut Problems) {
    if let Some(us) = us {
        problems.check(
            (10..=1_000_000).contains(&us),
            field,
            format!("{us} (must be 10 to 1000000)"),
        );
    }
}

fn validate_feed(feed: &FeedConfig, problems: &mut Problems) {
    problems.check(!feed.id.is_empty(), "feed.id", "must not be empty");
    problems.check(
        feed.files.is_empty() != feed.source.is_none(),
        "feed.files",
        "name at least one file, or a live `source` (not both)",
    );
    if let Some(FeedSource::Binance(binance)) = &feed.source {
        if let Err(e) = binance.validate() {
            problems.extend(e.problems.iter().map(|p| format!("feed.source.{p}")));
        }
        if binance.symbols.is_empty() {
            problems.push("feed.source.symbols", "name at least one symbol to stream");
        }
    }
    for f in &feed.files {
        let (_, path) = split_file(f);
        problems.check(
            path.is_file(),
            "feed.files",
            format!("{} does not exist", path.display()),
        );
    }
    problems.check(
        feed.speed >= 0.0 && feed.speed.is_finite(),
        "feed.speed",
        format!("{} (must be ≥ 0; 0 = as fast as possible)", feed.speed),
    );
}

/// Splits `SYMBOL=path` (or a bare path, symbol `UNKNOWN`).
pub fn split_file(entry: &str) -> (chimera_kernel::ids::Symbol, PathBuf) {
    match entry.split_once('=') {
        Some((symbol, path)) if !symbol.contains('/') => (
            chimera_kernel::ids::Symbol::new(symbol),
            PathBuf::from(path),
        ),
        _ => (
            chimera_kernel::ids::Symbol::new("UNKNOWN"),
            PathBuf::from(entry),
        ),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    fn write(name: &str, text: &str) -> PathBuf {
        let path =
            std::env::temp_dir().join(format!("chimera-config-{name}-{}.toml", std::process::id()));
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn every_bad_field_is_listed_at_once() {
        let path = write(
            "bad",
            "[bus]\nkind = \"kafka\"\npartitions = 0\n\
             [bus.redis_streams]\n\"orders.nope\" = \"x\"\n\
             [database]\nurl = \"sqlite://x.db\"\n\
             [node]\nid = \"\"\nqueue_capacity = 2\nthreads = 0\n\
             [state]\nkind = \"memory\"\nlease_ms = 10\n\
             [extra]\n",
        );
        let problems = load(&[path], [], Some(&StrategyRegistry::builtin()))
            .unwrap_err()
            .problems;
        for field in [
            "bus.brokers",
            "bus.partitions",
            "bus.redis_streams.\"orders.nope\"",
            "node.id",
            "node.queue_capacity",
            "node.threads: 0 (must be 1 to 256)",
            "state.kind",
            "state.lease_ms",
            "extra: unknown section",
        ] {
            assert!(
                problems.iter().any(|p| p.contains(field)),
                "{field} missing from {problems:#?}"
            );
        }
    }

    #[test]
    fn environment_overrides_files_and_state_is_optional() {
        let path = write(
            "good",
            "[bus]\nkind = \"memory\"\n[database]\nurl = \"sqlite://x.db\"\n",
        );
        let env = [
            ("CHIMERA__BUS__KIND".to_owned(), "redis".to_owned()),
            ("CHIMERA__BUS__URL".to_owned(), "redis://r:1".to_owned()),
            ("CHIMERA__STATE__KIND".to_owned(), "redis".to_owned()),
            ("CHIMERA__STATE__URL".to_owned(), "redis://r:1".to_owned()),
        ];
        let config = load(
            std::slice::from_ref(&path),
            env,
            Some(&StrategyRegistry::builtin()),
        )
        .unwrap();
        assert_eq!(config.bus.kind(), "redis");
        let BusAdapter::Redis(redis) = &config.bus.adapter else {
            panic!("a redis bus: {:?}", config.bus)
        };
        assert_eq!(
            redis.key_prefix, "chimera.live.",
            "defaults to the topic prefix"
        );
        let state = config.state.unwrap();
        assert!(matches!(state.adapter, StateAdapter::Redis(_)));
        assert_eq!(state.lease_ms, 5_000);
        assert!(load(&[path], [], Some(&StrategyRegistry::builtin()))
            .unwrap()
            .state
            .is_none());
    }
}
