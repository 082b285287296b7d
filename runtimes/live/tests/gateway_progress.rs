//! The simulated venue under the gateway feeds market data ahead of orders on the nodes'
//! progress promises: a portfolio's promise lets it feed that portfolio's symbols up to just
//! before the promised clock (seen in the gateway's checkpoint, with no order sent), a zombie's
//! promise (older assignment epoch) is refused like its orders, and a full node over the
//! in-memory bus publishes promises the gateway uses.
#![allow(clippy::unwrap_used, reason = "tests")]

mod embedded;

use chimera_kernel::ids::PortfolioId;
use chimera_kernel::testing::bar;
use chimera_kernel::time::Timestamp;
use chimera_kernel::Decimal;
use chimera_live::config::{GatewayConfig, NodeConfig};
use chimera_live::portfolio_spec::{InstrumentSpec, PortfolioSpec};
use chimera_live::runtime::{shutdown_pair, Runtime};
use chimera_live::{gateway, node};
use chimera_messages::{EpochClaim, MessageType, Progress, Topic};
use chimera_ports::CheckpointRepository;
use std::sync::Arc;
use std::time::{Duration, Instant};

const MINUTE: i64 = 60_000;

/// A portfolio on BTCUSDT whose scripted strategy never trades.
fn spec(id: &str) -> PortfolioSpec {
    let spec: PortfolioSpec = toml::from_str(&format!(
        "id = \"{id}\"\nstrategy = \"scripted\"\ninstruments = []\n\
         [params]\norders = \"\"\n[balances]\nUSDT = \"1000000\"\n"
    ))
    .unwrap();
    PortfolioSpec {
        instruments: vec![InstrumentSpec::perp_with_defaults("BTCUSDT", "5")],
        ..spec
    }
}

async fn publish_bars(feed: &Runtime, minutes: std::ops::Range<i64>) {
    for minute in minutes {
        let event = bar("BTCUSDT", minute, Decimal::from(40_000 + minute));
        feed.publish(
            Topic::MarketData,
            MessageType::MarketEvent,
            format!("bar:{minute}"),
            "BTCUSDT",
            &event,
        )
        .await
        .unwrap();
    }
}

/// The newest BTCUSDT time the gateway's checkpointed venue has fed.
async fn fed(world: &embedded::World, gateway_id: &str) -> Option<i64> {
    let owner = PortfolioId::new(format!("gateway:{gateway_id}"));
    let checkpoint = world.store.load_checkpoint(&owner).await.unwrap()?;
    let state: serde_json::Value = serde_json::from_str(&checkpoint.state).unwrap();
    state["venue"]["sim"]["fed"]["BTCUSDT"].as_i64()
}

async fn wait_for_fed(world: &embedded::World, gateway_id: &str, until: i64) -> Option<i64> {
    let started = Instant::now();
    loop {
        let now = fed(world, gateway_id).await;
        if now == Some(until) || started.elapsed() > Duration::from_secs(20) {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_promise_feeds_the_market_before_an_order_and_a_zombie_s_is_refused() {
    let world = embedded::World::new("progress-promise").await;
    let (trigger, shutdown) = shutdown_pair();
    let runtime = |name: &str| Arc::new(world.runtime("progress.", name, &shutdown));
    let (node_rt, gateway_rt, feed_rt) = (runtime("n1"), runtime("g1"), runtime("feed"));
    node::register_portfolios(&node_rt, "n1", &[spec("pp")])
        .await
        .unwrap();
    let config: GatewayConfig = toml::from_str("id = \"g1\"").unwrap();
    let gateway_task = tokio::spawn(async move { gateway::run_gateway(gateway_rt, &config).await });
    publish_bars(&feed_rt, 0..10).await;

    let portfolio = PortfolioId::new("pp");
    let send = |kind: MessageType, id: String, epoch: u64, payload: serde_json::Value| {
        let rt = Arc::clone(&node_rt);
        async move {
            rt.publish_fenced(
                Topic::OrdersSubmission,
                kind,
                id,
                "pp",
                &payload,
                Some(epoch),
            )
            .await
            .unwrap();
        }
    };
    let claim = EpochClaim {
        portfolio_id: portfolio.clone(),
        epoch: 2,
        node: "n1".into(),
    };
    send(
        MessageType::EpochClaim,
        "claim".into(),
        2,
        serde_json::to_value(&claim).unwrap(),
    )
    .await;
    let zombie = Progress {
        portfolio_id: portfolio.clone(),
        clock: Timestamp(9 * MINUTE),
    };
    send(
        MessageType::Progress,
        zombie.message_id(),
        1,
        serde_json::to_value(&zombie).unwrap(),
    )
    .await;
    let promise = Progress {
        portfolio_id: portfolio.clone(),
        clock: Timestamp(6 * MINUTE),
    };
    send(
        MessageType::Progress,
        promise.message_id(),
        2,
        serde_json::to_value(&promise).unwrap(),
    )
    .await;

    // Fed up to just before the promised minute 6; the zombie's minute 9 counted for nothing.
    assert_eq!(
        wait_for_fed(&world, "g1", 5 * MINUTE).await,
        Some(5 * MINUTE)
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fed(&world, "g1").await, Some(5 * MINUTE));
    trigger.trigger();
    let figures = gateway_task.await.unwrap().unwrap();
    assert_eq!(figures.fed_ahead, 6, "minutes 0 to 5: {figures:?}");
    assert_eq!(figures.submitted, 0);
    world.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_s_promises_let_the_gateway_feed_between_its_orders() {
    let world = embedded::World::new("progress-node").await;
    let (trigger, shutdown) = shutdown_pair();
    let runtime = |name: &str| Arc::new(world.runtime("progress.", name, &shutdown));
    let (node_rt, gateway_rt, feed_rt) = (runtime("n1"), runtime("g1"), runtime("feed"));
    node::register_portfolios(&node_rt, "n1", &[spec("quiet")])
        .await
        .unwrap();
    let strategies = chimera_kernel::strategy::StrategyRegistry::builtin();
    let node_config: NodeConfig = toml::from_str("id = \"n1\"").unwrap();
    let gateway_config: GatewayConfig = toml::from_str("id = \"g1\"").unwrap();
    let node_task =
        tokio::spawn(async move { node::run_node(node_rt, &node_config, &strategies).await });
    let gateway_task =
        tokio::spawn(async move { gateway::run_gateway(gateway_rt, &gateway_config).await });
    publish_bars(&feed_rt, 0..30).await;

    // A strategy that never trades: only its promises can move the venue, up to just before
    // the last bar it read.
    assert_eq!(
        wait_for_fed(&world, "g1", 28 * MINUTE).await,
        Some(28 * MINUTE)
    );
    trigger.trigger();
    node_task.await.unwrap().unwrap();
    let figures = gateway_task.await.unwrap().unwrap();
    assert_eq!(figures.fed_ahead, 29, "{figures:?}");
    world.remove().await;
}
