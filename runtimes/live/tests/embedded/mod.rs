//! The embedded world of the in-process tests: a fresh directory holding a SQLite database,
//! and an in-memory bus (what `chimera up` runs on with its defaults).
#![allow(dead_code, reason = "each test file uses a part")]
#![allow(clippy::unwrap_used, reason = "tests")]

#[path = "../support/loopback.rs"]
mod loopback;

use chimera_live::runtime::{Runtime, Shutdown};
use chimera_memory::MemoryEventBus;
use chimera_messages::Topics;
use chimera_sql::{SqlConfig, SqlStore};
#[allow(unused_imports, reason = "each test file uses a part")]
pub(crate) use loopback::{free_port, wait_listening};
use std::path::PathBuf;
use std::sync::Arc;

pub(crate) struct World {
    pub(crate) dir: PathBuf,
    pub(crate) store: SqlStore,
    pub(crate) bus: Arc<MemoryEventBus>,
}

impl World {
    /// A fresh `chimera-<name>-<pid>` directory under the temporary one, with `live.db`.
    pub(crate) async fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("chimera-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.join("live.db").display());
        let store = SqlStore::connect(&SqlConfig::new(url)).await.unwrap();
        Self {
            dir,
            store,
            bus: Arc::new(MemoryEventBus::new()),
        }
    }

    /// A runtime named `source` on this world's bus (topics under `prefix`) and database.
    pub(crate) fn runtime(&self, prefix: &str, source: &str, shutdown: &Shutdown) -> Runtime {
        Runtime::new(
            self.bus.clone(),
            Topics::new(prefix),
            self.store.clone(),
            source,
            shutdown.clone(),
        )
    }

    /// A node `n1`, a gateway `g1` and a feed, each a runtime of its own on this world, with
    /// topics under `prefix`.
    pub(crate) fn node_gateway_feed(
        &self,
        prefix: &str,
        shutdown: &Shutdown,
    ) -> (Arc<Runtime>, Arc<Runtime>, Arc<Runtime>) {
        let runtime = |name: &str| Arc::new(self.runtime(prefix, name, shutdown));
        (runtime("n1"), runtime("g1"), runtime("feed"))
    }

    /// Closes the database and removes the directory.
    pub(crate) async fn remove(self) {
        self.store.close().await;
        let _ = std::fs::remove_dir_all(self.dir);
    }
}

/// A portfolio on the BTCUSDT perpetual (default 5× instrument) holding 1,000,000 USDT, from
/// the rest of its TOML: `id`, `strategy`, and optionally other keys and `[params]` (keys
/// before tables).
pub(crate) fn btcusdt_perp(rest: &str) -> chimera_live::portfolio_spec::PortfolioSpec {
    use chimera_live::portfolio_spec::{InstrumentSpec, PortfolioSpec};
    let spec: PortfolioSpec = toml::from_str(&format!(
        "instruments = []\n{rest}\n[balances]\nUSDT = \"1000000\"\n"
    ))
    .unwrap();
    PortfolioSpec {
        instruments: vec![InstrumentSpec::perp_with_defaults("BTCUSDT", "5")],
        ..spec
    }
}

/// A portfolio `id` on BTCUSDT whose scripted strategy never trades (its orders are the test's).
pub(crate) fn never_trades(id: &str) -> chimera_live::portfolio_spec::PortfolioSpec {
    btcusdt_perp(&format!(
        "id = \"{id}\"\nstrategy = \"scripted\"\n[params]\norders = \"\""
    ))
}

/// What a node and a gateway spawned by [`spawn_node_and_gateway`] end with.
pub(crate) type Tasks = (
    tokio::task::JoinHandle<anyhow::Result<Vec<chimera_live::node::PortfolioFigures>>>,
    tokio::task::JoinHandle<anyhow::Result<chimera_live::gateway::GatewayFigures>>,
);

/// Runs a node configured by `node_config` on `node_rt` and gateway `g1` (simulated venue) on
/// `gateway_rt`, each on a task of its own, until their runtimes' shutdown.
pub(crate) fn spawn_node_and_gateway(
    node_rt: Arc<Runtime>,
    node_config: &str,
    gateway_rt: Arc<Runtime>,
    strategies: chimera_kernel::strategy::StrategyRegistry,
) -> Tasks {
    let node_config: chimera_live::config::NodeConfig = toml::from_str(node_config).unwrap();
    let gateway_config: chimera_live::config::GatewayConfig =
        toml::from_str("id = \"g1\"").unwrap();
    let node = tokio::spawn(async move {
        chimera_live::node::run_node(node_rt, &node_config, &strategies).await
    });
    let gateway = tokio::spawn(async move {
        chimera_live::gateway::run_gateway(gateway_rt, &gateway_config).await
    });
    (node, gateway)
}

/// Publishes `events` (BTCUSDT market data) on `rt`'s `market.data` in order, with message ids
/// `bar:{first}`, `bar:{first + 1}`, …
pub(crate) async fn publish_btcusdt(
    rt: &Runtime,
    events: &[chimera_kernel::event::MarketEvent],
    first: usize,
) {
    for (n, event) in events.iter().enumerate() {
        rt.publish(
            chimera_messages::Topic::MarketData,
            chimera_messages::MessageType::MarketEvent,
            format!("bar:{}", first + n),
            "BTCUSDT",
            event,
        )
        .await
        .unwrap();
    }
}

/// A market buy of 0.1 BTCUSDT by `portfolio`, its `n`th intent, stamped `at`.
pub(crate) fn market_buy(
    portfolio: &str,
    n: u64,
    at: chimera_kernel::time::Timestamp,
) -> chimera_kernel::order::OrderIntent {
    use chimera_kernel::ids::{ClientOrderId, IntentId, PortfolioId, Symbol};
    use chimera_kernel::order::{OrderIntent, OrderKind, Side, TimeInForce};
    let portfolio = PortfolioId::new(portfolio);
    let intent_id = IntentId::for_portfolio(&portfolio, n);
    OrderIntent {
        client_order_id: ClientOrderId::for_intent(&intent_id),
        intent_id,
        portfolio_id: portfolio,
        symbol: Symbol::new("BTCUSDT"),
        side: Side::Buy,
        qty: chimera_kernel::testing::qty(chimera_kernel::Decimal::new(1, 1)),
        kind: OrderKind::Market,
        time_in_force: TimeInForce::Ioc,
        reduce_only: false,
        close_position: false,
        created_at: at,
        tag: "entry".into(),
    }
}

/// `intent` submitted (message id `cmd:{id}`), then, when `promised`, its portfolio's promise
/// to have read the minute after it, which lets the simulated venue feed the bar that fills a
/// market order: encoded from `rt`, keyed by the portfolio, for [`Runtime::publish_encoded`].
pub(crate) fn submit_messages(
    rt: &Runtime,
    id: usize,
    intent: chimera_kernel::order::OrderIntent,
    promised: bool,
) -> Vec<(String, Vec<u8>)> {
    use chimera_messages::MessageType;
    let key = intent.portfolio_id.as_str().to_owned();
    let stamp = chimera_kernel::time::Timestamp(0);
    let promise = promised.then(|| chimera_messages::Progress {
        portfolio_id: intent.portfolio_id.clone(),
        clock: chimera_kernel::time::Timestamp(intent.created_at.0 + 60_000),
    });
    let command = chimera_kernel::engine::Command::Submit(intent);
    let mut messages = vec![(
        key.clone(),
        rt.encode_fenced(
            MessageType::OrderCommand,
            format!("cmd:{id}"),
            stamp,
            &key,
            &command,
            None,
        ),
    )];
    if let Some(promise) = promise {
        let bytes = rt.encode_fenced(
            MessageType::Progress,
            promise.message_id(),
            stamp,
            &key,
            &promise,
            None,
        );
        messages.push((key, bytes));
    }
    messages
}
