//! What every phase of the live benchmark needs: the buses under test, the bars, the runtimes'
//! configuration file, the runtime processes, and reading the outcome back.

use chimera_kernel::ids::PortfolioId;
use chimera_kernel::time::Timestamp;
use chimera_kernel::Decimal;
use chimera_live::portfolio_spec::{InstrumentSpec, PortfolioSpec};
use chimera_messages::{encode, Envelope, MessageType};
use chimera_ports::{CheckpointRepository, EventBus};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) const SYMBOLS: [&str; 5] = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT"];

/// A bus the benchmark runs on, with the address of its server.
#[derive(Debug, Clone)]
pub(crate) enum Bus {
    Kafka(String),
    Redis(String),
    /// The in-memory bus, node and gateway running in this process as `chimera up` runs them,
    /// storing in SQLite (the embedded defaults: no server).
    Memory,
}

impl Bus {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Self::Kafka(_) => "kafka",
            Self::Redis(_) => "redis",
            Self::Memory => "memory",
        }
    }

    /// The buses whose servers the environment names (`CHIMERA_KAFKA_BROKERS`,
    /// `CHIMERA_REDIS_URL`), then the in-memory bus, narrowed by `CHIMERA_BENCH_BUS` (`kafka`,
    /// `redis`, `memory`).
    pub(crate) fn from_env() -> Vec<Self> {
        let only = std::env::var("CHIMERA_BENCH_BUS").ok();
        let wanted = |name: &str| only.as_deref().is_none_or(|o| o == name);
        let mut buses = Vec::new();
        if let Ok(brokers) = std::env::var("CHIMERA_KAFKA_BROKERS") {
            if wanted("kafka") {
                buses.push(Self::Kafka(brokers));
            }
        }
        if let Ok(url) = std::env::var("CHIMERA_REDIS_URL") {
            if wanted("redis") {
                buses.push(Self::Redis(url));
            }
        }
        if wanted("memory") {
            buses.push(Self::Memory);
        }
        buses
    }

    /// Removes what a run left on the bus under `prefixes`: on Redis its streams (100,000
    /// bars and more a run; thirty runs left 700 MB in a developer's Redis). Kafka's topics
    /// stay: the development broker keeps them in memory until it restarts, and deleting a
    /// topic on a real cluster is an operator's call. Best effort: a failure is printed.
    pub(crate) async fn forget(&self, prefixes: &[&str]) {
        let Self::Redis(url) = self else { return };
        for prefix in prefixes {
            if let Err(e) = super::redis_keys::remove_keys(url, prefix).await {
                println!("the run's Redis streams under {prefix} were not removed: {e}");
            }
        }
    }

    /// The `[bus]` section the runtimes read, and the benchmark with them.
    fn section(&self, prefix: &str) -> String {
        match self {
            // One record per batch: the development broker cannot serve a fetch that starts
            // inside a batch, and a node resumes mid-stream after a crash. A fetch waits at
            // most 5 ms for data: latency, not throughput.
            // `CHIMERA_BENCH_KAFKA_EXTRA` adds librdkafka settings (TOML lines, e.g.
            // `"queued.max.messages.kbytes" = "1024"`) to try a client setting on both phases;
            // a setting it names replaces the default above (`"batch.num.messages" = "10000"`
            // lets the producers batch on a broker that serves fetches inside batches).
            Self::Kafka(brokers) => {
                let extra = std::env::var("CHIMERA_BENCH_KAFKA_EXTRA").unwrap_or_default();
                let mut text = format!(
                    "[bus]\nkind = \"kafka\"\nbrokers = \"{brokers}\"\ntopic_prefix = \"{prefix}\"\n\n[bus.extra]\n"
                );
                for (key, value) in [("batch.num.messages", "1"), ("fetch.wait.max.ms", "5")] {
                    if !extra.contains(&format!("\"{key}\"")) {
                        writeln!(text, "\"{key}\" = \"{value}\"").unwrap();
                    }
                }
                text + &extra + "\n\n"
            }
            Self::Redis(url) => {
                format!("[bus]\nkind = \"redis\"\nurl = \"{url}\"\ntopic_prefix = \"{prefix}\"\n\n")
            }
            Self::Memory => format!("[bus]\nkind = \"memory\"\ntopic_prefix = \"{prefix}\"\n\n"),
        }
    }
}

/// The runtimes' configuration for one phase, and its path.
pub(crate) struct Setup {
    pub(crate) path: PathBuf,
    pub(crate) live: chimera_live::config::LiveConfig,
    /// Where node and gateway serve `/metrics` (their hop histograms).
    pub(crate) node_metrics: std::net::SocketAddr,
    pub(crate) gateway_metrics: std::net::SocketAddr,
    /// Node and gateway ids, one pair per phase: in one process (the in-memory bus) their
    /// histograms share one recorder, told apart by these.
    pub(crate) node_id: String,
    pub(crate) gateway_id: String,
    /// On the in-memory bus, the one bus and database pool every component of this process
    /// shares (as in `chimera up`).
    pub(crate) shared: Option<(Arc<dyn EventBus>, chimera_sql::SqlStore)>,
    /// In process, when the runtimes published each order command and report.
    pub(crate) stamps: Option<Arc<super::stamped::Stamps>>,
}

/// A loopback address with a port free now (the runtime binds it a moment later).
fn free_addr() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

impl Setup {
    /// Writes the configuration of node and gateway for 5 portfolios (one symbol each) on
    /// `bus` under topic prefix `prefix`, storing in database `db`.
    pub(crate) fn write(dir: &Path, bus: &Bus, prefix: &str, db: &str) -> Self {
        static PHASE: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
        let phase = PHASE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (node_id, gateway_id) = (format!("node-{phase}"), format!("gateway-{phase}"));
        let mut text = bus.section(prefix);
        let (node_metrics, gateway_metrics) = (free_addr(), free_addr());
        // PostgreSQL: room for the node's and the gateway's writers and readers. SQLite (in
        // process) keeps its own default, as `chimera up` does.
        let pool = if matches!(bus, Bus::Memory) {
            ""
        } else {
            "max_connections = 16\n"
        };
        let _ = write!(
            text,
            "[database]\nurl = \"{db}\"\n{pool}\n\
             [node]\nid = \"{node_id}\"\nqueue_capacity = 4096\nregister_portfolios = true\n\
             metrics_listen = \"{node_metrics}\"\n\n\
             [gateway]\nid = \"{gateway_id}\"\nmetrics_listen = \"{gateway_metrics}\"\n\n"
        );
        for symbol in SYMBOLS {
            text.push_str("[[portfolios]]\n");
            text.push_str(&portfolio(symbol));
            text.push('\n');
        }
        let path = dir.join(format!("{}.toml", prefix.trim_end_matches('.')));
        std::fs::write(&path, text).unwrap();
        let live = chimera_live::config::load(std::slice::from_ref(&path), [], None)
            .unwrap_or_else(|e| panic!("the bench's own config: {e}"));
        Self {
            path,
            live,
            node_metrics,
            gateway_metrics,
            node_id,
            gateway_id,
            shared: None,
            stamps: None,
        }
    }

    /// [`Setup::write`], and on the in-memory bus the bus and database pool this process's
    /// components share.
    pub(crate) async fn new(dir: &Path, bus: &Bus, prefix: &str, db: &str) -> Self {
        let mut setup = Self::write(dir, bus, prefix, db);
        if setup.live.bus.is_memory() {
            let bus = chimera_live::connect_bus(&setup.live, "bench", true)
                .await
                .unwrap();
            let watched = vec![
                setup.topic("orders.submission"),
                setup.topic("orders.feedback"),
            ];
            let (bus, stamps) = super::stamped::StampedBus::new(bus, watched);
            let (store, _health) = setup.live.database.build().await.unwrap();
            setup.shared = Some((Arc::new(bus), store));
            setup.stamps = Some(stamps);
        }
        setup
    }

    /// The bus as the runtimes build it from this configuration (on the in-memory bus, the
    /// shared one).
    pub(crate) async fn bus(&self) -> Arc<dyn EventBus> {
        if let Some((bus, _)) = &self.shared {
            return Arc::clone(bus);
        }
        chimera_live::connect_bus(&self.live, "bench", false)
            .await
            .unwrap()
    }

    /// The full name of `topic` (`market.data`, …) under this phase's prefix.
    pub(crate) fn topic(&self, topic: &str) -> String {
        format!("{}{topic}", self.live.bus.topic_prefix)
    }
}

fn portfolio(symbol: &str) -> String {
    let spec = PortfolioSpec {
        id: portfolio_id(symbol).to_string(),
        strategy: "ema-cross".into(),
        params: [("fast", "20"), ("slow", "60"), ("qty", "0.01")]
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        reporting_asset: "USDT".into(),
        instruments: vec![InstrumentSpec::perp_with_defaults(symbol, "5")],
        balances: [("USDT".to_owned(), "1000000".to_owned())]
            .into_iter()
            .collect(),
        exec: None,
        risk: chimera_kernel::risk::RiskLimits::default(),
        decision: chimera_live::decision_spec::DecisionSpec::default(),
        manage: chimera_kernel::position_manager::ManagerConfig::default(),
    };
    toml::to_string(&spec)
        .unwrap()
        .replace("[[instruments]]", "[[portfolios.instruments]]")
        .replace("[params]", "[portfolios.params]")
        .replace("[balances]", "[portfolios.balances]")
}

fn portfolio_id(symbol: &str) -> PortfolioId {
    PortfolioId::new(format!("bench-{}", symbol.to_lowercase()))
}

/// A bar as the bench publishes it: its symbol (the key), its time stamp, and its envelope
/// with its encoder, published as `chimera up`'s feed publishes one: as a value in process,
/// encoded when published across processes.
pub(crate) struct Bar {
    pub(crate) symbol: String,
    pub(crate) ts: i64,
    pub(crate) value: chimera_ports::Deferred,
}

/// Publishes `bars` on `topic` in one batch, as the feed does: as values, which the
/// in-process bus keeps as they are and any other bus encodes as it publishes.
pub(crate) async fn publish_bars(
    bus: &dyn chimera_ports::EventBus,
    topic: &str,
    bars: Vec<Bar>,
) -> chimera_ports::PortResult<()> {
    let messages: Vec<_> = bars
        .into_iter()
        .map(|bar| (bar.symbol, bar.value))
        .collect();
    bus.publish_deferred(topic, &messages).await
}

/// `n` bars per symbol, interleaved in time.
pub(crate) fn bars(per_symbol: u64) -> Vec<Bar> {
    bar_stream(per_symbol).collect()
}

/// The same bars made one at a time, so a long run (the memory soak) holds none of them ahead.
pub(crate) fn bar_stream(per_symbol: u64) -> impl Iterator<Item = Bar> {
    let mut state = 0x2545_F491_4F6C_DD1D_u64;
    let mut cents = [4_000_000_i64; 5];
    (0..i64::try_from(per_symbol).unwrap()).flat_map(move |i| {
        let mut row = Vec::with_capacity(SYMBOLS.len());
        for (s, symbol) in SYMBOLS.iter().enumerate() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            cents[s] += i64::try_from(state % 4001).unwrap() - 2000;
            let event = chimera_kernel::testing::bar(symbol, i, Decimal::new(cents[s], 2));
            let ts = event.ts().0;
            let envelope = Envelope::new(
                MessageType::MarketEvent,
                format!("{symbol}:{ts}"),
                Timestamp(ts),
                "bench",
                *symbol,
                event,
            );
            row.push(Bar {
                symbol: (*symbol).to_owned(),
                ts,
                value: chimera_ports::Deferred::new(envelope, encode),
            });
        }
        row
    })
}

/// A runtime binary of this build, built (or found up to date) by cargo first: a binary left
/// in the target directory by an older build would measure old code. With
/// `CHIMERA_BENCH_BINARIES=<dir>`, that directory's binaries instead (another build's, to
/// compare two builds on the same services).
pub(crate) fn binary(name: &str) -> String {
    if let Some(dir) = std::env::var_os("CHIMERA_BENCH_BINARIES") {
        return std::path::Path::new(&dir).join(name).display().to_string();
    }
    // The cargo (and so the toolchain) that built this bench: another would rebuild it all.
    let mut cargo = std::process::Command::new(env!("CARGO"));
    if std::env::var_os("RUSTUP_TOOLCHAIN").is_none() {
        // Run directly rather than under `cargo bench`, the rustup proxy that cargo calls as
        // `rustc` picks a toolchain from the directory it runs in, which for a dependency is
        // the crate's own (one names a toolchain that is not installed): pin this one.
        if let Some(toolchain) = rustup_toolchain(env!("CARGO")) {
            cargo.env("RUSTUP_TOOLCHAIN", toolchain);
        }
    }
    let status = cargo
        // The bench profile: the libraries this bench was built with are reused, only the
        // binary is linked (its output is target/release, where the binary is looked up).
        .args([
            "build",
            "--quiet",
            "--profile",
            "bench",
            "-p",
            name,
            "--bin",
            name,
        ])
        .status()
        .unwrap();
    assert!(
        status.success(),
        "cargo build --profile bench -p {name} failed"
    );
    chimera_live::runtime_binary(name)
        .unwrap_or_else(|e| panic!("{e}"))
        .display()
        .to_string()
}

/// The rustup toolchain a cargo binary belongs to (`…/toolchains/<name>/bin/cargo`), if any.
fn rustup_toolchain(cargo: &str) -> Option<String> {
    let toolchain = std::path::Path::new(cargo).parent()?.parent()?;
    if toolchain.parent()?.file_name()? != "toolchains" {
        return None;
    }
    toolchain.file_name()?.to_str().map(str::to_owned)
}

pub(crate) fn spawn(binary: &str, config: &Path, dir: &Path, log: &str) -> Child {
    std::process::Command::new(binary)
        .arg("--config")
        .arg(config)
        .stdout(Stdio::from(
            std::fs::File::create(dir.join(format!("{log}.out"))).unwrap(),
        ))
        .stderr(Stdio::from(
            std::fs::File::create(dir.join(format!("{log}.err"))).unwrap(),
        ))
        .spawn()
        .unwrap()
}

/// A `/proc/<pid>/status` figure in KiB (`VmHWM`: peak RSS, `VmRSS`: now).
pub(crate) fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// SIGTERM, then SIGKILL if it has not stopped within 20 s.
pub(crate) fn stop(child: &mut Child) {
    let _ = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

pub(crate) async fn store(db: &str) -> chimera_sql::SqlStore {
    let mut config = chimera_sql::SqlConfig::new(db);
    config.max_connections = Some(4);
    chimera_sql::SqlStore::connect(&config).await.unwrap()
}

/// The one field of a node's checkpoint the bench reads: typed, so the rest is skipped rather
/// than built (in process the polling shares the node's thread).
#[derive(serde::Deserialize)]
struct LastBars {
    #[serde(default)]
    last_bar: std::collections::HashMap<String, i64>,
}

/// Waits until every bench portfolio's checkpoint has applied the bar stamped `last_ts`.
pub(crate) async fn wait_applied(
    db: &chimera_sql::SqlStore,
    last_ts: i64,
    limit: Duration,
) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        let mut done = 0;
        for symbol in SYMBOLS {
            if let Some(cp) = db.load_checkpoint(&portfolio_id(symbol)).await.unwrap() {
                let state: LastBars = serde_json::from_str(&cp.state).unwrap();
                if state.last_bar.get(symbol) == Some(&last_ts) {
                    done += 1;
                }
            }
        }
        if done == SYMBOLS.len() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// Percentiles of a set of milliseconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Figures {
    pub(crate) n: usize,
    pub p50: f64,
    pub p99: f64,
    pub(crate) max: f64,
}

impl Figures {
    pub(crate) fn of(mut samples: Vec<f64>) -> Self {
        samples.sort_by(f64::total_cmp);
        let at = |p: f64| {
            if samples.is_empty() {
                return f64::NAN;
            }
            #[allow(
                clippy::cast_precision_loss,
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "an index into the samples"
            )]
            let i = ((samples.len() - 1) as f64 * p).round() as usize;
            samples[i]
        };
        Self {
            n: samples.len(),
            p50: at(0.5),
            p99: at(0.99),
            max: samples.last().copied().unwrap_or(f64::NAN),
        }
    }
}

impl Figures {
    /// Figures kept in milliseconds, shown in microseconds (in process).
    pub(crate) fn in_micros(&self) -> String {
        format!(
            "p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs (n = {})",
            self.p50 * 1e3,
            self.p99 * 1e3,
            self.max * 1e3,
            self.n
        )
    }
}

impl std::fmt::Display for Figures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (n = {})",
            self.p50, self.p99, self.max, self.n
        )
    }
}
