//! A node with shared state runs a portfolio only while it holds its lease: when the lease is
//! lost (here deleted behind its back, as after an outage longer than the TTL), the node stops
//! with an error instead of trading alongside whoever may hold it now; a clean stop releases
//! the leases. The heartbeat, in the shared state, counts dead letters. In-memory bus and state,
//! a SQLite file: no servers needed.
#![allow(clippy::unwrap_used, reason = "tests")]

use chimera_kernel::strategy::StrategyRegistry;
use chimera_live::config::NodeConfig;
use chimera_live::node;
use chimera_live::portfolio_spec::{InstrumentSpec, PortfolioSpec};
use chimera_live::runtime::{shutdown_pair, Runtime, SharedState, ShutdownTrigger};
use chimera_memory::{MemoryEventBus, MemoryStateStore, SystemClock};
use chimera_messages::Topics;
use chimera_ports::StateStore;
use chimera_sql::{SqlConfig, SqlStore};
use std::sync::Arc;
use std::time::Duration;

const LEASE: Duration = Duration::from_millis(600);
const KEY: &str = "lock:{portfolio}:p1";

async fn node_runtime(
    name: &str,
) -> (
    Arc<Runtime>,
    Arc<MemoryStateStore>,
    NodeConfig,
    ShutdownTrigger,
) {
    let dir = std::env::temp_dir().join(format!("chimera-lease-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.join("node.db").display());
    let store = SqlStore::connect(&SqlConfig::new(url)).await.unwrap();
    let state = Arc::new(MemoryStateStore::new(Arc::new(SystemClock)));
    let (trigger, shutdown) = shutdown_pair();
    let rt = Runtime::new(
        Arc::new(MemoryEventBus::new()),
        Topics::new("t."),
        store,
        "n1",
        shutdown,
    )
    .with_state(SharedState {
        store: state.clone(),
        lease: LEASE,
    });
    let config: NodeConfig = toml::from_str("id = \"n1\"\nheartbeat_ms = 100\n").unwrap();
    let spec: PortfolioSpec = toml::from_str(
        "id = \"p1\"\nstrategy = \"ema-cross\"\ninstruments = []\n\
         [params]\nfast = \"3\"\nslow = \"8\"\nqty = \"0.01\"\n[balances]\nUSDT = \"1000\"\n",
    )
    .unwrap();
    let spec = PortfolioSpec {
        instruments: vec![InstrumentSpec::perp_with_defaults("BTCUSDT", "1")],
        ..spec
    };
    let rt = Arc::new(rt);
    node::register_portfolios(&rt, "n1", &[spec]).await.unwrap();
    (rt, state, config, trigger)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_loses_a_lease_stops() {
    let (rt, state, config, _trigger) = node_runtime("lost").await;
    let running =
        tokio::spawn(
            async move { node::run_node(rt, &config, &StrategyRegistry::builtin()).await },
        );
    while state.get(KEY).await.unwrap().is_none() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(state.delete(KEY).await.unwrap(), "the node holds the lease");
    let outcome = tokio::time::timeout(LEASE * 3, running)
        .await
        .expect("the node stops within a lease time")
        .unwrap();
    let error = outcome.expect_err("losing a lease is an error").to_string();
    assert!(error.contains("lease lost"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_stop_releases_the_leases() {
    let (rt, state, config, trigger) = node_runtime("clean").await;
    rt.bus
        .publish("t.market.data", "BTCUSDT", b"{not json")
        .await
        .unwrap();
    let running =
        tokio::spawn(
            async move { node::run_node(rt, &config, &StrategyRegistry::builtin()).await },
        );
    while state.get(KEY).await.unwrap().is_none() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut dead_letters = None;
    for _ in 0..100 {
        let beat = state.get("node:{heartbeat}:n1").await.unwrap();
        let beat: Option<chimera_messages::Heartbeat> =
            beat.map(|b| serde_json::from_slice(&b).unwrap());
        dead_letters = beat.map(|b| b.dead_letters);
        if dead_letters == Some(1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        dead_letters,
        Some(1),
        "the heartbeat, in the shared state, counts the dead letter"
    );
    tokio::time::sleep(LEASE * 2).await;
    assert!(
        state.get(KEY).await.unwrap().is_some(),
        "the lease is renewed while the node runs"
    );
    trigger.trigger();
    let figures = tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("the node stops on shutdown")
        .unwrap()
        .unwrap();
    assert_eq!(figures.len(), 1);
    assert!(
        state.get(KEY).await.unwrap().is_none(),
        "the lease is released after the final checkpoint"
    );
}
