//! The decision pipeline on a node: two portfolios compete for one shared concurrency slot in
//! Redis, a model scores every entry, decisions land in the signals table, and the kill switch
//! engaged in Redis stops new entries.
#![allow(clippy::unwrap_used, reason = "tests")]

mod embedded;

use chimera_kernel::decision::DecisionReason;
use chimera_kernel::event::MarketEvent;
use chimera_kernel::ids::SignalId;
use chimera_kernel::risk::KillMode;
use chimera_kernel::strategy::StrategyRegistry;
use chimera_kernel::testing::bar;
use chimera_kernel::Decimal;
use chimera_live::kill_switch::{announce, KillSwitches};
use chimera_live::node;
use chimera_live::portfolio_spec::PortfolioSpec;
use chimera_live::runtime::{shutdown_pair, SharedState};
use chimera_messages::{KillScope, KillSwitch};
use chimera_ports::{Increment, SignalRecord, SignalRepository, StateStore};
use chimera_sql::SqlStore;
use std::sync::Arc;
use std::time::{Duration, Instant};

const FIRST_MINUTE: i64 = 29_000_000;

/// A saw-tooth: the 3/8 EMAs cross every few bars.
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
    embedded::btcusdt_perp(&format!(
        "id = \"{id}\"\nstrategy = \"ema-cross\"\n\
         decision = {{ gates = {{ max_concurrent_per_symbol = 1 }}, model = {{ model = \"const\", timeout_ms = 5000 }} }}\n\
         [params]\nfast = \"3\"\nslow = \"8\"\nqty = \"0.01\"\n"
    ))
}

/// Every signal of `portfolio`, in order.
async fn signals(store: &SqlStore, portfolio: &str) -> Vec<SignalRecord> {
    let mut out = Vec::new();
    while let Some(s) = store
        .get_signal(&SignalId::new(format!("{portfolio}-sig-{}", out.len())))
        .await
        .unwrap()
    {
        out.push(s);
    }
    out
}

/// Waits until the signals of both portfolios stop growing.
async fn settle(store: &SqlStore) -> (Vec<SignalRecord>, Vec<SignalRecord>) {
    let started = Instant::now();
    let mut last = (0, 0);
    loop {
        tokio::time::sleep(Duration::from_millis(400)).await;
        let (a, b) = (signals(store, "pa").await, signals(store, "pb").await);
        // Settled: something decided and nothing new since the last look.
        let settled = (a.len(), b.len()) == last && last != (0, 0);
        if settled || started.elapsed() > Duration::from_mins(1) {
            return (a, b);
        }
        last = (a.len(), b.len());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn portfolios_share_the_budget_models_score_and_the_kill_switch_stops_entries() {
    let Ok(redis_url) = std::env::var("CHIMERA_REDIS_URL") else {
        println!("skipped: CHIMERA_REDIS_URL must be set (scripts/test.sh starts Redis)");
        return;
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let redis: chimera_redis::RedisConfig = toml::from_str(&format!(
        "url = \"{redis_url}\"\nkey_prefix = \"decisions.{nanos}.\""
    ))
    .unwrap();
    let state: Arc<dyn StateStore> = Arc::new(
        chimera_redis::RedisStateStore::connect(&redis)
            .await
            .unwrap(),
    );

    let world = embedded::World::new("decisions").await;
    let store = world.store.clone();
    let (trigger, shutdown) = shutdown_pair();
    let runtime = |name: &str| world.runtime("decisions.", name, &shutdown);
    let node_rt = Arc::new(runtime("n1").with_state(SharedState {
        store: Arc::clone(&state),
        lease: Duration::from_secs(30),
    }));
    let (gateway_rt, feed_rt) = (Arc::new(runtime("g1")), runtime("feed"));
    node::register_portfolios(&node_rt, "n1", &[spec("pa"), spec("pb")])
        .await
        .unwrap();
    // p = 1 / (1 + e^-2) = 0.880797: above p_high (0.8), so the size is 1.5 × 0.01.
    let (node_task, gateway_task) = embedded::spawn_node_and_gateway(
        node_rt,
        "id = \"n1\"\n[[scorers]]\nname = \"const\"\nbias = 2.0\nweights = {}\n",
        gateway_rt,
        StrategyRegistry::builtin(),
    );

    embedded::publish_btcusdt(&feed_rt, &market(0, 120), 0).await;
    let (a, b) = settle(&store).await;
    let all: Vec<&SignalRecord> = a.iter().chain(&b).collect();
    let count = |reason: &str| all.iter().filter(|s| s.reason == reason).count();
    println!(
        "{} decisions: {} OPEN, {} RISK_BUDGET",
        all.len(),
        count("OPEN"),
        count("RISK_BUDGET")
    );
    assert!(!a.is_empty() && !b.is_empty(), "both portfolios decided");
    assert!(
        count("OPEN") > 0 && count("RISK_BUDGET") > 0,
        "they competed for one slot"
    );
    assert_eq!(count("OPEN") + count("RISK_BUDGET"), all.len());
    for open in all.iter().filter(|s| s.reason == "OPEN") {
        let detail = open.detail.as_ref().unwrap();
        assert_eq!(open.model_p, Some(Decimal::new(880_797, 6)));
        assert_eq!(
            detail
                .decision
                .qty
                .map(chimera_kernel::value::Quantity::get),
            Some(Decimal::new(15, 3))
        );
        assert!(detail.intent_id.is_some());
    }
    // One slot, held by the portfolio in the market (ema-cross is always in it).
    let used = state
        .increment_within("risk:{concurrency}:BTCUSDT", 0, i64::MAX)
        .await
        .unwrap();
    assert_eq!(used, Increment::Applied(1));

    // The kill switch (halting entries everywhere): every later entry is skipped with its
    // reason.
    let (board, changed) = KillSwitches::new(Arc::clone(&state))
        .engage(KillSwitch {
            id: "halt".into(),
            mode: KillMode::HaltEntries,
            scope: KillScope::Global,
            reason: "test".into(),
            engaged_by: "test".into(),
            engaged_at: 0,
            expires_at: None,
        })
        .await
        .unwrap();
    assert!(changed);
    announce(&feed_rt, board.version, "engaged".into()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    embedded::publish_btcusdt(&feed_rt, &market(120, 200), 120).await;
    let (a2, b2) = settle(&store).await;
    let later: Vec<&SignalRecord> = a2[a.len()..].iter().chain(&b2[b.len()..]).collect();
    assert!(!later.is_empty(), "entries were still asked for");
    assert!(
        later
            .iter()
            .all(|s| s.reason == DecisionReason::KillSwitch.code()),
        "{:?}",
        later.iter().map(|s| &s.reason).collect::<Vec<_>>()
    );
    trigger.trigger();
    node_task.await.unwrap().unwrap();
    gateway_task.await.unwrap().unwrap();
    world.remove().await;
}
