//! The simulated venue under the gateway feeds market data ahead of orders on the nodes'
//! progress promises: a portfolio's promise lets it feed that portfolio's symbols up to just
//! before the promised clock (seen in the gateway's checkpoint, with no order sent) and opens its
//! account at once (its first order does not wait for its books to be read), a zombie's
//! promise (older assignment epoch) is refused like its orders, and a full node over the
//! in-memory bus publishes promises the gateway uses. A portfolio registered after the gateway
//! read the registry still holds back the orders of another on its symbol.
#![allow(clippy::unwrap_used, reason = "tests")]

mod embedded;

use chimera_kernel::ids::PortfolioId;
use chimera_kernel::testing::bar;
use chimera_kernel::time::Timestamp;
use chimera_kernel::Decimal;
use chimera_live::config::GatewayConfig;
use chimera_live::runtime::{shutdown_pair, Runtime};
use chimera_live::{gateway, node};
use chimera_messages::{EpochClaim, MessageType, Progress, Topic};
use chimera_ports::{CheckpointRepository, FillRepository};
use std::time::{Duration, Instant};

const MINUTE: i64 = 60_000;

/// Publishes `payload` on `orders.submission` as portfolio `pp`'s, under assignment `epoch`.
async fn send<T: serde::Serialize + Sync>(
    rt: &Runtime,
    kind: MessageType,
    id: String,
    epoch: u64,
    payload: &T,
) {
    rt.publish_fenced(
        Topic::OrdersSubmission,
        kind,
        id,
        "pp",
        payload,
        Some(epoch),
    )
    .await
    .unwrap();
}

/// Portfolio `pp`'s promise that it has read up to `minute`.
fn promise(minute: i64) -> Progress {
    Progress {
        portfolio_id: PortfolioId::new("pp"),
        clock: Timestamp(minute * MINUTE),
    }
}

async fn publish_bars(feed: &Runtime, minutes: std::ops::Range<i64>) {
    let first = usize::try_from(minutes.start).unwrap();
    let events: Vec<_> = minutes
        .map(|minute| bar("BTCUSDT", minute, Decimal::from(40_000 + minute)))
        .collect();
    embedded::publish_btcusdt(feed, &events, first).await;
}

/// The newest BTCUSDT time the gateway's checkpointed venue has fed.
async fn fed(world: &embedded::World, gateway_id: &str) -> Option<i64> {
    let owner = PortfolioId::new(format!("gateway:{gateway_id}"));
    let checkpoint = world.store.load_checkpoint(&owner).await.unwrap()?;
    let state: serde_json::Value = serde_json::from_str(&checkpoint.state).unwrap();
    state["venue"]["sim"]["fed"]["BTCUSDT"].as_i64()
}

/// The portfolios whose accounts the gateway's checkpointed venue has opened.
async fn funded(world: &embedded::World, gateway_id: &str) -> Vec<String> {
    let owner = PortfolioId::new(format!("gateway:{gateway_id}"));
    let Some(checkpoint) = world.store.load_checkpoint(&owner).await.unwrap() else {
        return Vec::new();
    };
    let state: serde_json::Value = serde_json::from_str(&checkpoint.state).unwrap();
    serde_json::from_value(state["venue"]["funded"].clone()).unwrap()
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
    let (node_rt, gateway_rt, feed_rt) = world.node_gateway_feed("progress.", &shutdown);
    node::register_portfolios(&node_rt, "n1", &[embedded::never_trades("pp")])
        .await
        .unwrap();
    let config: GatewayConfig = toml::from_str("id = \"g1\"").unwrap();
    let gateway_task = tokio::spawn(async move { gateway::run_gateway(gateway_rt, &config).await });
    publish_bars(&feed_rt, 0..10).await;

    let claim = EpochClaim {
        portfolio_id: PortfolioId::new("pp"),
        epoch: 2,
        node: "n1".into(),
    };
    send(&node_rt, MessageType::EpochClaim, "claim".into(), 2, &claim).await;
    let (zombie, current) = (promise(9), promise(6));
    send(
        &node_rt,
        MessageType::Progress,
        zombie.message_id(),
        1,
        &zombie,
    )
    .await;
    send(
        &node_rt,
        MessageType::Progress,
        current.message_id(),
        2,
        &current,
    )
    .await;

    // Fed up to just before the promised minute 6; the zombie's minute 9 counted for nothing.
    assert_eq!(
        wait_for_fed(&world, "g1", 5 * MINUTE).await,
        Some(5 * MINUTE)
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fed(&world, "g1").await, Some(5 * MINUTE));
    // Its account was opened at its first word, before any order of it.
    assert_eq!(funded(&world, "g1").await, vec!["pp".to_owned()]);
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
    let (node_rt, gateway_rt, feed_rt) = world.node_gateway_feed("progress.", &shutdown);
    node::register_portfolios(&node_rt, "n1", &[embedded::never_trades("quiet")])
        .await
        .unwrap();
    let (node_task, gateway_task) = embedded::spawn_node_and_gateway(
        node_rt,
        "id = \"n1\"",
        gateway_rt,
        chimera_kernel::strategy::StrategyRegistry::builtin(),
    );
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

/// A gateway that read the registry while a node was registering its portfolios (one row at a
/// time) knew only the first: each portfolio's first word reads the registry again, so the one
/// it had missed still holds back the orders of the other on their symbol, and each order fills
/// at the bar it was decided on. (Before, the orders of the one it knew moved the venue past
/// the other's, which then filled a bar or a hundred late.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_portfolio_registered_after_the_gateway_read_the_registry_still_gets_its_turn() {
    let world = embedded::World::new("progress-registry").await;
    let (trigger, shutdown) = shutdown_pair();
    let (node_rt, gateway_rt, feed_rt) = world.node_gateway_feed("registry.", &shutdown);
    node::register_portfolios(&node_rt, "n1", &[embedded::never_trades("ahead")])
        .await
        .unwrap();
    let port = embedded::free_port();
    let config: GatewayConfig = toml::from_str(&format!(
        "id = \"g1\"\nsim_hold_ms = 100000000000\nmetrics_listen = \"127.0.0.1:{port}\""
    ))
    .unwrap();
    let gateway_task = tokio::spawn(async move { gateway::run_gateway(gateway_rt, &config).await });
    // Its metrics listener starts after the venue has read the registry.
    embedded::wait_listening(port, "the gateway's metrics listener").await;
    node::register_portfolios(&node_rt, "n1", &[embedded::never_trades("behind")])
        .await
        .unwrap();
    publish_bars(&feed_rt, 0..10).await;

    // One portfolio reads ahead: an order at minute 8, read to minute 9. The other, behind,
    // orders at minute 5 and then reads to minute 9 too.
    let ahead = embedded::market_buy("ahead", 1, Timestamp(8 * MINUTE));
    let behind = embedded::market_buy("behind", 1, Timestamp(5 * MINUTE));
    let mut messages = embedded::submit_messages(&node_rt, 0, ahead.clone(), true);
    messages.extend(embedded::submit_messages(
        &node_rt,
        1,
        behind.clone(),
        false,
    ));
    let caught_up = Progress {
        portfolio_id: PortfolioId::new("behind"),
        clock: Timestamp(9 * MINUTE),
    };
    messages.push((
        "behind".into(),
        node_rt.encode_fenced(
            MessageType::Progress,
            caught_up.message_id(),
            Timestamp(0),
            "behind",
            &caught_up,
            None,
        ),
    ));
    node_rt
        .publish_encoded(Topic::OrdersSubmission, &messages)
        .await
        .unwrap();

    let started = Instant::now();
    let fill_price = |id: &'static str| {
        let store = world.store.clone();
        async move {
            let fills = store.fills(&PortfolioId::new(id)).await.unwrap();
            fills.first().map(|f| f.fill.price.get())
        }
    };
    while fill_price("ahead").await.is_none() || fill_price("behind").await.is_none() {
        assert!(started.elapsed() < Duration::from_secs(20), "both filled");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        fill_price("behind").await,
        Some(Decimal::from(40_005)),
        "the order behind fills at its own minute"
    );
    assert_eq!(fill_price("ahead").await, Some(Decimal::from(40_008)));
    trigger.trigger();
    let figures = gateway_task.await.unwrap().unwrap();
    assert_eq!(figures.priced_late, 0, "{figures:?}");
    world.remove().await;
}
