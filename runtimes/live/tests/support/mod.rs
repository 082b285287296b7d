//! Shared set-up of the end-to-end tests: synthetic bar files, a config per test (own database,
//! own topic prefix), child processes of the runtime binaries, and the in-process backtest the
//! live run must match.
#![allow(dead_code, reason = "each test file uses a part")]
#![allow(
    clippy::unwrap_used,
    clippy::single_match_else,
    clippy::format_push_string,
    reason = "tests"
)]

use chimera_kernel::ids::{PortfolioId, Symbol};
use chimera_kernel::portfolio::Position;
use chimera_live::portfolio_spec::{InstrumentSpec, PortfolioSpec};
use chimera_ports::{CheckpointRepository, FillRepository, PositionRepository};
use chimera_sim::{Backtest, SimConfig};
use chimera_sql::{SqlConfig, SqlStore};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) const SYMBOLS: [(&str, f64); 3] = [
    ("BTCUSDT", 40_000.0),
    ("ETHUSDT", 3_000.0),
    ("SOLUSDT", 150.0),
];
pub(crate) const BARS: i64 = 1_500;
const T0: i64 = 1_640_995_200_000; // 2022-01-01T00:00:00Z

pub(crate) struct Services {
    pub(crate) brokers: String,
    pub(crate) admin_url: String,
    pub(crate) redis_url: Option<String>,
}

/// Which bus the processes talk through.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bus {
    Kafka,
    RedisStreams,
}

pub(crate) fn services() -> Option<Services> {
    match (
        std::env::var("CHIMERA_KAFKA_BROKERS"),
        std::env::var("CHIMERA_DATABASE_URL"),
    ) {
        (Ok(brokers), Ok(admin_url)) => Some(Services {
            brokers,
            admin_url,
            redis_url: std::env::var("CHIMERA_REDIS_URL").ok(),
        }),
        _ => {
            println!("skipped: CHIMERA_KAFKA_BROKERS and CHIMERA_DATABASE_URL must be set (scripts/test.sh starts the services)");
            None
        }
    }
}

/// A deterministic random walk per symbol, as CSV bars.
pub(crate) fn write_bars(dir: &Path) -> Vec<String> {
    let mut files = Vec::new();
    for (n, (symbol, start)) in SYMBOLS.iter().enumerate() {
        let path = dir.join(format!("{symbol}.csv"));
        let mut text = String::from("timestamp,open,high,low,close,volume\n");
        let mut price = *start;
        let mut state = 0x9E37_79B9_7F4A_7C15_u64 ^ (n as u64 + 1);
        for i in 0..BARS {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let step = ((state % 2001) as f64 - 1000.0) / 1000.0 * 0.004;
            let open = price;
            price *= 1.0 + step;
            let (hi, lo) = (open.max(price) * 1.001, open.min(price) * 0.999);
            let ts = chimera_kernel::time::Timestamp(T0 + i * 60_000).to_rfc3339();
            let ts = ts.trim_end_matches('Z').replace('T', " ");
            text.push_str(&format!("{ts},{open:.2},{hi:.2},{lo:.2},{price:.2},1000\n"));
        }
        std::fs::write(&path, text).unwrap();
        files.push(format!("{symbol}={}", path.display()));
    }
    files
}

pub(crate) fn specs() -> Vec<PortfolioSpec> {
    SYMBOLS
        .iter()
        .enumerate()
        .map(|(i, (symbol, _))| PortfolioSpec {
            id: format!("p{}-{}", i + 1, symbol.to_lowercase()),
            strategy: "ema-cross".into(),
            params: [
                ("fast", "5"),
                ("slow", "13"),
                (
                    "qty",
                    if i == 0 {
                        "0.01"
                    } else if i == 1 {
                        "0.1"
                    } else {
                        "1"
                    },
                ),
            ]
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
            reporting_asset: "USDT".into(),
            instruments: vec![InstrumentSpec::perp_with_defaults(symbol, "5")],
            balances: [("USDT".to_owned(), "100000".to_owned())].into(),
            exec: None,
            risk: chimera_kernel::risk::RiskLimits::default(),
            decision: chimera_live::decision_spec::DecisionSpec::default(),
            manage: chimera_kernel::position_manager::ManagerConfig::default(),
        })
        .collect()
}

pub(crate) struct Setup {
    /// The portfolios it runs.
    pub(crate) specs: Vec<PortfolioSpec>,
    pub(crate) dir: PathBuf,
    pub(crate) config: PathBuf,
    pub(crate) database_url: String,
    pub(crate) prefix: String,
}

pub(crate) async fn setup(name: &str, services: &Services) -> Setup {
    setup_on(name, services, Bus::Kafka).await
}

pub(crate) async fn setup_on(name: &str, services: &Services, bus: Bus) -> Setup {
    setup_with(name, services, bus, specs(), "").await
}

/// [`specs`] and a second portfolio on the first symbol (EMA 8/21), which shares it.
pub(crate) fn shared_symbol_specs() -> Vec<PortfolioSpec> {
    let mut all = specs();
    let mut second = all[0].clone();
    second.id = format!("{}-slow", second.id);
    second.params = [("fast", "8"), ("slow", "21"), ("qty", "0.02")]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    all.push(second);
    all
}

/// A setup running `specs`, with `node_extra` (lines) added to its `[node]` section.
pub(crate) async fn setup_with(
    name: &str,
    services: &Services,
    bus: Bus,
    specs: Vec<PortfolioSpec>,
    node_extra: &str,
) -> Setup {
    let dir = std::env::temp_dir().join(format!("chimera-e2e-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let files = write_bars(&dir);
    let database_url = chimera_sql::recreate_postgres_database(
        &services.admin_url,
        &format!("chimera_t_e2e_{name}"),
    )
    .await
    .unwrap();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let prefix = format!("e2e.{name}.{nanos}.");
    let bus = match bus {
        Bus::Kafka => format!(
            "[bus]\nkind = \"kafka\"\nbrokers = \"{}\"\ntopic_prefix = \"{prefix}\"\n\n\
             [bus.extra]\n\"batch.num.messages\" = \"1\"\n\n",
            services.brokers
        ),
        Bus::RedisStreams => format!(
            "[bus]\nkind = \"redis\"\nurl = \"{}\"\ntopic_prefix = \"{prefix}\"\n\n",
            services.redis_url.as_deref().unwrap_or_default()
        ),
    };
    let mut toml = format!(
        "{bus}[database]\nurl = \"{database_url}\"\n\n\
         [node]\nid = \"node-1\"\nqueue_capacity = 256\nregister_portfolios = true\n{node_extra}\n\
         [gateway]\nid = \"gateway-1\"\nsim_hold_ms = 100000000000\n\n\
         [feed]\nid = \"feed-1\"\nfiles = {files:?}\n\n"
    );
    for spec in &specs {
        let body = toml::to_string(spec).unwrap();
        let body = body
            .replace("[[instruments]]", "[[portfolios.instruments]]")
            .replace("[params]", "[portfolios.params]")
            .replace("[balances]", "[portfolios.balances]");
        toml.push_str("[[portfolios]]\n");
        toml.push_str(&body);
        toml.push('\n');
    }
    let config = dir.join("chimera.toml");
    std::fs::write(&config, toml).unwrap();
    Setup {
        specs,
        dir,
        config,
        database_url,
        prefix,
    }
}

/// A child process killed when dropped, so a failing test leaves nothing running.
pub(crate) struct Proc(Child);

impl std::ops::Deref for Proc {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Proc {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

pub(crate) fn spawn(binary: &str, setup: &Setup, log: &str) -> Proc {
    spawn_env(binary, setup, log, &[])
}

/// [`spawn`] with extra environment variables (e.g. `CHIMERA__NODE__ID` for a second node).
pub(crate) fn spawn_env(binary: &str, setup: &Setup, log: &str, env: &[(&str, String)]) -> Proc {
    let out = std::fs::File::create(setup.dir.join(format!("{log}.out"))).unwrap();
    let err = std::fs::File::create(setup.dir.join(format!("{log}.err"))).unwrap();
    Proc(
        Command::new(binary)
            .arg("--config")
            .arg(&setup.config)
            // Logs as JSON lines, which the tests read by field.
            .env("CHIMERA_LOG_FORMAT", "json")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .unwrap(),
    )
}

pub(crate) fn terminate(child: &mut Child) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("process {} ignored SIGTERM", child.id());
}

pub(crate) fn sigkill(child: &mut Child) {
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Per portfolio: the positions, the number of fills and the fills themselves (to name the
/// ones a live run priced differently) the in-process backtest produced.
pub(crate) type Expected = BTreeMap<String, (Vec<Position>, u64, Vec<chimera_sim::FillRow>)>;

pub(crate) fn backtest(dir: &Path) -> Expected {
    backtest_of(dir, &specs())
}

/// [`backtest`] of the portfolios `specs`.
pub(crate) fn backtest_of(dir: &Path, specs: &[PortfolioSpec]) -> Expected {
    let mut bt = Backtest::new(SimConfig::default(), 3_600_000);
    for spec in specs {
        let engine = spec
            .build_engine(&chimera_kernel::strategy::StrategyRegistry::builtin())
            .unwrap();
        for i in engine.portfolio().instruments.values() {
            bt.add_instrument(i.clone());
        }
        bt.add_portfolio(engine);
    }
    let mut events = Vec::new();
    for (symbol, _) in SYMBOLS {
        let path = dir.join(format!("{symbol}.csv"));
        for e in chimera_replay::open_market_data(&path, None, &Symbol::new(symbol)).unwrap() {
            events.push(e.unwrap());
        }
    }
    events.sort_by_key(chimera_kernel::event::MarketEvent::ts);
    for e in &events {
        bt.step(e);
    }
    let mut expected: Expected = bt
        .engines()
        .map(|e| {
            (
                e.portfolio().id.as_str().to_owned(),
                (
                    e.portfolio().positions.values().cloned().collect(),
                    e.stats().fills,
                    Vec::new(),
                ),
            )
        })
        .collect();
    // The fills of the run itself: those of the strategies' stop hooks come after the last bar
    // (a live run does not stop its strategies).
    let last = events.last().map(chimera_kernel::event::MarketEvent::ts);
    for fill in bt.finish_results().fills {
        if Some(fill.ts) <= last {
            if let Some((_, _, fills)) = expected.get_mut(fill.portfolio_id.as_str()) {
                fills.push(fill);
            }
        }
    }
    expected
}

/// The recorded fills of `portfolio` whose price, quantity or fee differ from the backtest's
/// fill of the same order and trade (or that it does not have), one line each.
async fn fills_unlike_backtest(
    store: &SqlStore,
    portfolio: &PortfolioId,
    expected: &[chimera_sim::FillRow],
) -> Vec<String> {
    let wanted: BTreeMap<(String, String), &chimera_sim::FillRow> = expected
        .iter()
        .map(|f| ((f.client_order_id.to_string(), f.trade_id.to_string()), f))
        .collect();
    let mut unlike = Vec::new();
    for got in store.fills(portfolio).await.unwrap() {
        let key = (
            got.client_order_id.to_string(),
            got.fill.trade_id.to_string(),
        );
        match wanted.get(&key) {
            Some(w)
                if (w.price, w.qty, w.fee)
                    == (got.fill.price, got.fill.qty, got.fill.fee.amount) => {}
            Some(w) => unlike.push(format!(
                "{} {}: {} @ {} fee {} at {}, backtest {} @ {} fee {} at {}",
                key.0,
                key.1,
                got.fill.qty,
                got.fill.price,
                got.fill.fee.amount,
                got.ts,
                w.qty,
                w.price,
                w.fee,
                w.ts
            )),
            None => unlike.push(format!(
                "{} {}: {} @ {} at {}, not in the backtest",
                key.0, key.1, got.fill.qty, got.fill.price, got.ts
            )),
        }
    }
    unlike
}

pub(crate) async fn store(setup: &Setup) -> SqlStore {
    SqlStore::connect(&SqlConfig::new(setup.database_url.clone()))
        .await
        .unwrap()
}

/// Waits until every portfolio's checkpoint has applied the last bar and the fills recorded by
/// the gateway, unchanged for a second.
pub(crate) async fn wait_settled(
    store: &SqlStore,
    expected_fills: &BTreeMap<String, u64>,
    timeout: Duration,
) {
    let deadline = Instant::now() + timeout;
    let last_bar = T0 + (BARS - 1) * 60_000;
    let mut stable_since: Option<(Instant, Vec<i64>)> = None;
    loop {
        let mut revisions = Vec::new();
        let mut done = true;
        for id in expected_fills.keys() {
            let pid = PortfolioId::new(id.as_str());
            let Some(cp) = store.load_checkpoint(&pid).await.unwrap() else {
                done = false;
                continue;
            };
            revisions.push(cp.revision);
            let state: serde_json::Value = serde_json::from_str(&cp.state).unwrap();
            let bars_done = state["last_bar"]
                .as_object()
                .is_some_and(|m| m.values().all(|v| v.as_i64() == Some(last_bar)) && !m.is_empty());
            let fills = store.fills(&pid).await.unwrap().len() as u64;
            let applied = state["engine"]["stats"]["fills"].as_u64().unwrap_or(0);
            let open = state["engine"]["open_orders"]
                .as_array()
                .map_or(0, Vec::len);
            done &= bars_done && applied == fills && open == 0;
        }
        let pending: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM orders WHERE terminal = 0")
            .fetch_one(store.pool())
            .await
            .unwrap();
        done &= pending.0 == 0;
        if done {
            match &stable_since {
                Some((t, r)) if *r == revisions && t.elapsed() > Duration::from_secs(1) => return,
                Some((_, r)) if *r == revisions => {}
                _ => stable_since = Some((Instant::now(), revisions)),
            }
        } else {
            stable_since = None;
        }
        assert!(
            Instant::now() < deadline,
            "the live run did not settle within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Asserts the database's positions and fills equal the backtest's.
pub(crate) async fn assert_matches_backtest(store: &SqlStore, expected: &Expected) {
    for (id, (positions, fills, rows)) in expected {
        let pid = PortfolioId::new(id.as_str());
        let unlike = fills_unlike_backtest(store, &pid, rows).await;
        if !unlike.is_empty() {
            println!(
                "{id}: {} fills unlike the backtest's:\n  {}",
                unlike.len(),
                unlike.join("\n  ")
            );
        }
        let stored = store.latest_snapshots(&pid).await.unwrap();
        assert_eq!(
            stored.len(),
            positions.len(),
            "{id}: one position per symbol"
        );
        for (s, p) in stored.iter().zip(positions) {
            let a = &s.position;
            assert_eq!(
                (
                    &a.symbol,
                    a.qty,
                    a.cost_basis,
                    a.realized_pnl,
                    a.fees,
                    a.funding
                ),
                (
                    &p.symbol,
                    p.qty,
                    p.cost_basis,
                    p.realized_pnl,
                    p.fees,
                    p.funding
                ),
                "{id}: live position equals the backtest's"
            );
        }
        let recorded = store.fills(&pid).await.unwrap();
        assert_eq!(
            recorded.len() as u64,
            *fills,
            "{id}: every fill recorded once"
        );
        println!(
            "{id}: {} fills, position {} @ basis {} realised {}",
            recorded.len(),
            stored[0].position.qty,
            stored[0].position.cost_basis,
            stored[0].position.realized_pnl
        );
    }
}

/// The path of runtime binary `name` (built if missing).
pub(crate) fn binary(name: &str) -> String {
    chimera_live::runtime_binary(name)
        .unwrap_or_else(|e| panic!("{e}"))
        .display()
        .to_string()
}

/// A TCP port free at the time of the call.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// What the process logged as `name` wrote to stderr so far.
pub(crate) fn log(setup: &Setup, name: &str) -> String {
    std::fs::read_to_string(setup.dir.join(format!("{name}.err"))).unwrap_or_default()
}

/// Waits until process `name` logged `what` `count` times; panics with its log after `limit`.
/// Returns how long it took.
pub(crate) async fn wait_log(
    setup: &Setup,
    name: &str,
    what: &str,
    count: usize,
    limit: Duration,
) -> Duration {
    let started = Instant::now();
    while log(setup, name).matches(what).count() < count {
        assert!(
            started.elapsed() < limit,
            "{name} never logged {what:?} {count} time(s) within {limit:?}:\n{}",
            log(setup, name)
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    started.elapsed()
}

/// The single count `sql` selects.
pub(crate) async fn count(store: &SqlStore, sql: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sql).fetch_one(store.pool()).await.unwrap();
    n
}
