//! An in-process cluster for control-plane tests: one in-memory bus and state store, one SQLite
//! file, and as many nodes, gateways and schedulers as a test starts, each with its own
//! runtime handle (real node, gateway and scheduler code; only the transport is in memory).
#![allow(dead_code, reason = "each test uses its part")]

use chimera_kernel::event::MarketEvent;
use chimera_kernel::ids::PortfolioId;
use chimera_kernel::schedule::Schedule;
use chimera_kernel::strategy::StrategyRegistry;
use chimera_kernel::testing::bar;
use chimera_kernel::Decimal;
use chimera_live::config::{GatewayConfig, NodeConfig};
use chimera_live::gateway::GatewayFigures;
use chimera_live::node::PortfolioFigures;
use chimera_live::portfolio_spec::{InstrumentSpec, PortfolioSpec};
use chimera_live::runtime::{shutdown_pair, Runtime, SharedState, Shutdown, ShutdownTrigger};
use chimera_live::scheduler::SchedulerFigures;
use chimera_live::scheduler_config::SchedulerConfig;
use chimera_live::{gateway, node, scheduler};
use chimera_memory::{MemoryEventBus, MemoryStateStore, SystemClock};
use chimera_messages::{decode, CommandAck, ControlCommand, MessageType, Topic, Topics};
use chimera_ports::{EventBus, FillRepository, PortfolioRepository, StateStore, Subscription};
use chimera_sql::{SqlConfig, SqlStore};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

const FIRST_MINUTE: i64 = 29_100_000;

/// The shared pieces.
pub(crate) struct Cluster {
    pub(crate) store: SqlStore,
    pub(crate) bus: Arc<MemoryEventBus>,
    pub(crate) state: Arc<dyn StateStore>,
    pub(crate) trigger: ShutdownTrigger,
    shutdown: Shutdown,
    topics: Topics,
}

/// A saw-tooth of one-minute BTCUSDT bars: the 3/8 EMAs cross every few bars.
pub(crate) fn market(from: i64, to: i64) -> Vec<MarketEvent> {
    (from..to)
        .map(|i| {
            let phase = i % 12;
            let close = 40_000 + 50 * phase.min(12 - phase);
            bar("BTCUSDT", FIRST_MINUTE + i, Decimal::from(close))
        })
        .collect()
}

/// An EMA-cross portfolio on BTCUSDT trading `qty`.
pub(crate) fn spec(id: &str, qty: &str) -> PortfolioSpec {
    let spec: PortfolioSpec = toml::from_str(&format!(
        "id = \"{id}\"\nstrategy = \"ema-cross\"\ninstruments = []\n\
         [params]\nfast = \"3\"\nslow = \"8\"\nqty = \"{qty}\"\n\
         [balances]\nUSDT = \"1000000\"\n"
    ))
    .unwrap();
    PortfolioSpec {
        instruments: vec![InstrumentSpec::perp_with_defaults("BTCUSDT", "5")],
        ..spec
    }
}

/// Polls `done` every 25 ms; panics naming `what` after `limit`. Returns how long it took.
pub(crate) async fn wait_for<F, Fut>(what: &str, limit: Duration, mut done: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !done().await {
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    started.elapsed()
}

impl Cluster {
    pub(crate) async fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("chimera-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.join("live.db").display());
        let (trigger, shutdown) = shutdown_pair();
        Self {
            store: SqlStore::connect(&SqlConfig::new(url)).await.unwrap(),
            bus: Arc::new(MemoryEventBus::new()),
            state: Arc::new(MemoryStateStore::new(Arc::new(SystemClock))),
            trigger,
            shutdown,
            topics: Topics::new(format!("{name}.")),
        }
    }

    pub(crate) fn runtime(&self, name: &str) -> Arc<Runtime> {
        Arc::new(
            Runtime::new(
                self.bus.clone(),
                self.topics.clone(),
                self.store.clone(),
                name,
                self.shutdown.clone(),
            )
            .with_state(SharedState {
                store: Arc::clone(&self.state),
                lease: Duration::from_millis(600),
            }),
        )
    }

    pub(crate) async fn register(&self, node: &str, specs: &[PortfolioSpec]) {
        node::register_portfolios(&self.runtime(node), node, specs)
            .await
            .unwrap();
    }

    pub(crate) fn start_node(&self, id: &str) -> JoinHandle<anyhow::Result<Vec<PortfolioFigures>>> {
        self.start_node_with(id, "")
    }

    /// A node with `extra` lines in its `[node]` section.
    pub(crate) fn start_node_with(
        &self,
        id: &str,
        extra: &str,
    ) -> JoinHandle<anyhow::Result<Vec<PortfolioFigures>>> {
        let rt = self.runtime(id);
        let config: NodeConfig = toml::from_str(&format!(
            "id = \"{id}\"\nheartbeat_ms = 100\ncapacity = 4\n{extra}"
        ))
        .unwrap();
        tokio::spawn(async move { node::run_node(rt, &config, &StrategyRegistry::builtin()).await })
    }

    pub(crate) fn start_gateway(&self) -> JoinHandle<anyhow::Result<GatewayFigures>> {
        self.start_gateway_with("")
    }

    /// The gateway with `extra` lines in its section.
    pub(crate) fn start_gateway_with(
        &self,
        extra: &str,
    ) -> JoinHandle<anyhow::Result<GatewayFigures>> {
        let rt = self.runtime("g1");
        let config: GatewayConfig = toml::from_str(&format!("id = \"g1\"\n{extra}")).unwrap();
        tokio::spawn(async move { gateway::run_gateway(rt, &config).await })
    }

    pub(crate) fn start_scheduler(&self) -> JoinHandle<anyhow::Result<SchedulerFigures>> {
        self.start_scheduler_with("")
    }

    /// The scheduler with `extra` lines in its section.
    pub(crate) fn start_scheduler_with(
        &self,
        extra: &str,
    ) -> JoinHandle<anyhow::Result<SchedulerFigures>> {
        let rt = self.runtime("s1");
        let config: SchedulerConfig = toml::from_str(&format!(
            "id = \"s1\"\ndead_after_ms = 800\ntick_ms = 50\nrefresh_ms = 200\n\
             leader_ttl_ms = 600\n{extra}"
        ))
        .unwrap();
        tokio::spawn(async move { scheduler::run_scheduler(rt, &config).await })
    }

    pub(crate) async fn publish(&self, events: &[MarketEvent], from: usize) {
        let rt = self.runtime("feed");
        for (n, event) in events.iter().enumerate() {
            rt.publish(
                Topic::MarketData,
                MessageType::MarketEvent,
                format!("bar:{}", from + n),
                "BTCUSDT",
                event,
            )
            .await
            .unwrap();
        }
    }

    /// Where each portfolio runs, per the database.
    pub(crate) async fn assignments(&self, ids: &[&str]) -> BTreeMap<String, Option<String>> {
        let mut out = BTreeMap::new();
        for p in ids {
            let record = self
                .store
                .get_portfolio(&PortfolioId::new(*p))
                .await
                .unwrap();
            out.insert((*p).to_owned(), record.and_then(|r| r.node_id));
        }
        out
    }

    /// The scheduler's saved state.
    pub(crate) async fn schedule(&self) -> Option<Schedule> {
        let bytes = self
            .state
            .get(chimera_messages::SCHEDULE_STATE_KEY)
            .await
            .unwrap()?;
        Some(serde_json::from_slice(&bytes).unwrap())
    }

    /// Fills of a portfolio as `side qty` lines, in order (prices depend on the simulated
    /// venue's timing, not on the portfolio's decisions).
    pub(crate) async fn fills(&self, p: &str) -> Vec<String> {
        self.store
            .fills(&PortfolioId::new(p))
            .await
            .unwrap()
            .iter()
            .map(|f| format!("{:?} {}", f.side, f.fill.qty))
            .collect()
    }

    /// A reader of `system.events` from now on.
    pub(crate) async fn events(&self, name: &str) -> Box<dyn Subscription> {
        let topic = self.topics.name(Topic::SystemEvents);
        let now = self.bus.last_offsets(&topic).await.unwrap();
        self.bus
            .subscribe_from(&topic, &format!("test.{name}"), &now)
            .await
            .unwrap()
    }

    /// Sends `command` with envelope id `id`.
    pub(crate) async fn send(&self, id: &str, command: &ControlCommand) {
        self.runtime("ctl")
            .publish(
                Topic::ControlCommands,
                MessageType::ControlCommand,
                id.to_owned(),
                command.key(),
                command,
            )
            .await
            .unwrap();
    }

    /// The first answer to command `id` read from `events` within 10 s.
    pub(crate) async fn ack(&self, events: &mut Box<dyn Subscription>, id: &str) -> CommandAck {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let Some(d) = events.poll(Duration::from_millis(100)).await.unwrap() else {
                continue;
            };
            if let Ok(env) = decode::<CommandAck>(&d.payload, MessageType::SystemEvent) {
                if env.payload.command_id == id {
                    return env.payload;
                }
            }
        }
        panic!("no acknowledgement of {id} within 10 s");
    }
}
