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

mod backtest;
mod loopback;
mod redis_keys;

#[allow(unused_imports, reason = "each test file uses a part")]
pub(crate) use backtest::*;
use chimera_live::portfolio_spec::{InstrumentSpec, PortfolioSpec};
use chimera_sql::{SqlConfig, SqlStore};
#[allow(unused_imports, reason = "each test file uses a part")]
pub(crate) use loopback::{free_port, wait_listening};
#[allow(unused_imports, reason = "each test file uses a part")]
pub(crate) use redis_keys::remove_keys;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) const SYMBOLS: [(&str, f64); 3] = [
    ("BTCUSDT", 40_000.0),
    ("ETHUSDT", 3_000.0),
    ("SOLUSDT", 150.0),
];
pub(crate) const BARS: i64 = 1_500;
pub(crate) const T0: i64 = 1_640_995_200_000; // 2022-01-01T00:00:00Z

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

pub(crate) async fn store(setup: &Setup) -> SqlStore {
    SqlStore::connect(&SqlConfig::new(setup.database_url.clone()))
        .await
        .unwrap()
}

/// The path of runtime binary `name` (built if missing).
pub(crate) fn binary(name: &str) -> String {
    chimera_live::runtime_binary(name)
        .unwrap_or_else(|e| panic!("{e}"))
        .display()
        .to_string()
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
