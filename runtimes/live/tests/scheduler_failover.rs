//! The control plane end to end, in one process with an in-memory bus and state store and a
//! SQLite file: a scheduler adopts four portfolios where they run, balances them when a second
//! node joins (moving two of them off the running node, without a restart), then one node is
//! killed (its task
//! aborted: no clean release, its heartbeats and lease renewals just stop); its portfolios
//! move to the other node, catch up from their checkpoints and trade on. All four portfolios
//! run the same strategy on the same bars, so their fills must be identical: none lost, none
//! doubled across the moves. A zombie's order (the killed node's epoch) is fenced by the
//! gateway.
#![allow(clippy::unwrap_used, reason = "tests")]

use chimera_kernel::engine::Command;
use chimera_kernel::event::MarketEvent;
use chimera_kernel::ids::{ClientOrderId, IntentId, PortfolioId};
use chimera_kernel::strategy::StrategyRegistry;
use chimera_kernel::testing::bar;
use chimera_kernel::Decimal;
use chimera_live::config::{GatewayConfig, NodeConfig};
use chimera_live::portfolio_spec::{InstrumentSpec, PortfolioSpec};
use chimera_live::runtime::{shutdown_pair, Runtime, SharedState};
use chimera_live::scheduler_config::SchedulerConfig;
use chimera_live::{gateway, node, scheduler};
use chimera_memory::{MemoryEventBus, MemoryStateStore, SystemClock};
use chimera_messages::{encode, Envelope, MessageType, Topic, Topics};
use chimera_ports::{EventBus, FillRepository, OrderRepository, PortfolioRepository, StateStore};
use chimera_sql::{SqlConfig, SqlStore};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

const FIRST_MINUTE: i64 = 29_100_000;
const PORTFOLIOS: [&str; 4] = ["p1", "p2", "p3", "p4"];

fn market(from: i64, to: i64) -> Vec<MarketEvent> {
    (from..to)
        .map(|i| {
            let phase = i % 12;
            let close = 40_000 + 50 * phase.min(12 - phase);
            bar("BTCUSDT", FIRST_MINUTE + i, Decimal::from(close))
        })
        .collect()
}

fn spec(id: &str) -> PortfolioSpec {
    let spec: PortfolioSpec = toml::from_str(&format!(
        "id = \"{id}\"\nstrategy = \"ema-cross\"\ninstruments = []\n\
         [params]\nfast = \"3\"\nslow = \"8\"\nqty = \"0.01\"\n\
         [balances]\nUSDT = \"1000000\"\n"
    ))
    .unwrap();
    PortfolioSpec {
        instruments: vec![InstrumentSpec::perp_with_defaults("BTCUSDT", "5")],
        ..spec
    }
}

async fn publish(rt: &Runtime, events: &[MarketEvent], from: usize) {
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
async fn assignments(store: &SqlStore) -> BTreeMap<String, Option<String>> {
    let mut out = BTreeMap::new();
    for p in PORTFOLIOS {
        let record = store.get_portfolio(&PortfolioId::new(p)).await.unwrap();
        out.insert(p.to_owned(), record.and_then(|r| r.node_id));
    }
    out
}

/// Fills of a portfolio as (side, qty) lines, in order. Prices are left out: the simulated
/// venue fills a market order at the price it has seen when the order arrives, which depends
/// on timing, not on the portfolio's decisions.
async fn fills(store: &SqlStore, p: &str) -> Vec<String> {
    store
        .fills(&PortfolioId::new(p))
        .await
        .unwrap()
        .iter()
        .map(|f| format!("{:?} {}", f.side, f.fill.qty))
        .collect()
}

async fn wait_for<F, Fut>(what: &str, limit: Duration, mut done: F) -> Duration
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dead_nodes_portfolios_trade_on_elsewhere_with_nothing_lost_or_doubled() {
    let dir = std::env::temp_dir().join(format!("chimera-failover-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.join("live.db").display());
    let store = SqlStore::connect(&SqlConfig::new(url)).await.unwrap();
    let bus = Arc::new(MemoryEventBus::new());
    let state: Arc<dyn StateStore> = Arc::new(MemoryStateStore::new(Arc::new(SystemClock)));
    let shared = SharedState {
        store: Arc::clone(&state),
        lease: Duration::from_millis(600),
    };
    let (trigger, shutdown) = shutdown_pair();
    let runtime = |name: &str| {
        Arc::new(
            Runtime::new(
                bus.clone(),
                Topics::new("failover."),
                store.clone(),
                name,
                shutdown.clone(),
            )
            .with_state(shared.clone()),
        )
    };
    let n1 = runtime("n1");
    let specs: Vec<PortfolioSpec> = PORTFOLIOS.iter().map(|p| spec(p)).collect();
    node::register_portfolios(&n1, "n1", &specs).await.unwrap();
    let node_config = |id: &str| -> NodeConfig {
        toml::from_str(&format!(
            "id = \"{id}\"\nheartbeat_ms = 100\ncapacity = 4\n"
        ))
        .unwrap()
    };
    let start_node = |rt: Arc<Runtime>, config: NodeConfig| {
        tokio::spawn(async move { node::run_node(rt, &config, &StrategyRegistry::builtin()).await })
    };
    let node1 = start_node(n1, node_config("n1"));
    let gateway_rt = runtime("g1");
    let gateway_config: GatewayConfig = toml::from_str("id = \"g1\"").unwrap();
    let gateway_task =
        tokio::spawn(async move { gateway::run_gateway(gateway_rt, &gateway_config).await });
    let scheduler_config: SchedulerConfig = toml::from_str(
        "id = \"s1\"\ndead_after_ms = 800\ntick_ms = 50\nrefresh_ms = 200\nleader_ttl_ms = 600\n",
    )
    .unwrap();
    let scheduler_rt = runtime("s1");
    let scheduler_task =
        tokio::spawn(
            async move { scheduler::run_scheduler(scheduler_rt, &scheduler_config).await },
        );

    // The scheduler adopts the four where they run (n1); when n2 joins, two move to it live.
    let adopted = wait_for("adoption", Duration::from_secs(20), || async {
        let bytes = state
            .get(chimera_messages::SCHEDULE_STATE_KEY)
            .await
            .unwrap();
        bytes.is_some_and(|b| {
            serde_json::from_slice::<chimera_kernel::schedule::Schedule>(&b)
                .unwrap()
                .placements()
                .values()
                .filter(|p| p.as_ref().is_some_and(|p| p.node == "n1"))
                .count()
                == 4
        })
    })
    .await;
    println!("the scheduler adopted the four portfolios on n1 in {adopted:?}");
    let node2 = start_node(runtime("n2"), node_config("n2"));
    let balanced = wait_for(
        "balancing over two nodes",
        Duration::from_secs(20),
        || async {
            let at = assignments(&store).await;
            at.values().filter(|n| n.as_deref() == Some("n2")).count() == 2
        },
    )
    .await;
    println!("balanced 2 + 2 over the running nodes in {balanced:?}");
    let feed = runtime("feed");
    publish(&feed, &market(0, 60), 0).await;
    wait_for(
        "every portfolio trades",
        Duration::from_secs(30),
        || async {
            for p in PORTFOLIOS {
                if fills(&store, p).await.is_empty() {
                    return false;
                }
            }
            true
        },
    )
    .await;
    let at = assignments(&store).await;
    let on_n1: Vec<String> = at
        .iter()
        .filter(|(_, n)| n.as_deref() == Some("n1"))
        .map(|(p, _)| p.clone())
        .collect();
    let old_epochs: BTreeMap<String, u64> = {
        let bytes = state
            .get(chimera_messages::SCHEDULE_STATE_KEY)
            .await
            .unwrap()
            .unwrap();
        let schedule: chimera_kernel::schedule::Schedule = serde_json::from_slice(&bytes).unwrap();
        schedule
            .placements()
            .iter()
            .filter_map(|(p, at)| at.as_ref().map(|a| (p.to_string(), a.epoch)))
            .collect()
    };
    let before: BTreeMap<String, usize> = {
        let mut m = BTreeMap::new();
        for p in &on_n1 {
            m.insert(p.clone(), fills(&store, p).await.len());
        }
        m
    };

    // Kill n1: no final checkpoint beyond its last batch, no lease release.
    node1.abort();
    let killed = Instant::now();
    publish(&feed, &market(60, 120), 60).await;
    let moved = wait_for("fail-over to n2", Duration::from_secs(30), || async {
        assignments(&store)
            .await
            .values()
            .all(|n| n.as_deref() == Some("n2"))
    })
    .await;
    wait_for(
        "the moved portfolios trade again",
        Duration::from_secs(30),
        || async {
            for p in &on_n1 {
                if fills(&store, p).await.len() <= before[p] {
                    return false;
                }
            }
            true
        },
    )
    .await;
    let trading_again = killed.elapsed();
    println!(
        "node killed → portfolios reassigned in {moved:?}, trading again (first new fill) in \
         {trading_again:?}"
    );

    // A zombie n1 sends an order under its old epoch: the gateway refuses it.
    let zombie_portfolio = &on_n1[0];
    let template = store
        .fills(&PortfolioId::new(zombie_portfolio))
        .await
        .unwrap()[0]
        .client_order_id
        .clone();
    let mut intent = store.get_order(&template).await.unwrap().unwrap().intent;
    intent.intent_id = IntentId::new("zombie-intent");
    intent.client_order_id = ClientOrderId::new("zombie-order");
    let envelope = Envelope::new(
        MessageType::OrderCommand,
        "zombie-intent",
        chimera_kernel::time::Timestamp(0),
        "n1",
        zombie_portfolio.as_str(),
        Command::Submit(intent),
    )
    .with_epoch(Some(old_epochs[zombie_portfolio]));
    bus.publish(
        &Topics::new("failover.").name(Topic::OrdersSubmission),
        zombie_portfolio,
        &encode(&envelope),
    )
    .await
    .unwrap();

    // Everything settles; the four portfolios saw the same 120 bars and made the same trades.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let reference = fills(&store, "p1").await;
    assert!(reference.len() >= 4, "the strategy traded: {reference:?}");
    for p in PORTFOLIOS {
        assert_eq!(
            fills(&store, p).await,
            reference,
            "{p}: the same fills as p1, none lost or doubled across the moves"
        );
    }
    assert!(
        store
            .get_order(&ClientOrderId::new("zombie-order"))
            .await
            .unwrap()
            .is_none(),
        "the zombie's order never reached the venue"
    );
    trigger.trigger();
    let figures = gateway_task.await.unwrap().unwrap();
    assert_eq!(figures.fenced, 1, "the gateway fenced the zombie's order");
    let scheduler_figures = scheduler_task.await.unwrap().unwrap();
    assert!(scheduler_figures.changes >= 4, "{scheduler_figures:?}");
    node2.await.unwrap().unwrap();
    println!(
        "{} fills per portfolio, identical on all four; zombie order fenced; scheduler took over \
         in {:?}",
        reference.len(),
        scheduler_figures.slowest_takeover
    );
}
