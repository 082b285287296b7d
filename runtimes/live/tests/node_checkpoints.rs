//! A node stores each checkpoint while its worker goes on (`worker/commit.rs`): a store that
//! fails must still stop the worker, and the node with it, without the inputs it covered being
//! acknowledged. Here another owner's newer checkpoint (a successor after failover) makes the
//! store refuse, as a zombie node would meet it.
#![allow(clippy::unwrap_used, reason = "tests")]

mod embedded;

use chimera_kernel::ids::PortfolioId;
use chimera_kernel::strategy::StrategyRegistry;
use chimera_kernel::testing::bar;
use chimera_kernel::Decimal;
use chimera_live::config::NodeConfig;
use chimera_live::node;
use chimera_live::portfolio_spec::PortfolioSpec;
use chimera_live::runtime::{shutdown_pair, Runtime};
use chimera_ports::{Checkpoint, CheckpointRepository};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn spec() -> PortfolioSpec {
    embedded::btcusdt_perp(
        "id = \"overtaken\"\nstrategy = \"ema-cross\"\n\
         [params]\nfast = \"2\"\nslow = \"3\"\nqty = \"0.01\"\n",
    )
}

async fn publish_bars(rt: &Runtime, minutes: std::ops::Range<i64>) {
    let first = usize::try_from(minutes.start).unwrap();
    let events: Vec<_> = minutes
        .map(|minute| {
            let close = Decimal::from(40_000 + 50 * (minute % 7));
            bar("BTCUSDT", 29_000_000 + minute, close)
        })
        .collect();
    embedded::publish_btcusdt(rt, &events, first).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_whose_checkpoint_was_overtaken_stops() {
    let world = embedded::World::new("overtaken").await;
    let store = world.store.clone();
    let (_trigger, shutdown) = shutdown_pair();
    let runtime = |name: &str| Arc::new(world.runtime("overtaken.", name, &shutdown));
    let (node_rt, feed_rt) = (runtime("n1"), runtime("feed"));
    node::register_portfolios(&node_rt, "n1", &[spec()])
        .await
        .unwrap();
    let config: NodeConfig = toml::from_str("id = \"n1\"\ncheckpoint_ms = 20").unwrap();
    let strategies = StrategyRegistry::builtin();
    let node_task =
        tokio::spawn(async move { node::run_node(node_rt, &config, &strategies).await });

    let id = PortfolioId::new("overtaken");
    publish_bars(&feed_rt, 0..20).await;
    let started = Instant::now();
    let ours = loop {
        if let Some(cp) = store.load_checkpoint(&id).await.unwrap() {
            break cp;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the node checkpointed its first bars"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // A successor took the portfolio over and checkpointed far ahead.
    let theirs = Checkpoint {
        revision: ours.revision + 1_000,
        ..ours.clone()
    };
    store.save_checkpoint(&theirs).await.unwrap();
    publish_bars(&feed_rt, 20..40).await;

    let outcome = tokio::time::timeout(Duration::from_secs(20), node_task)
        .await
        .expect("the node stopped on its own")
        .unwrap();
    let error = format!("{:#}", outcome.expect_err("the node failed"));
    assert!(
        error.contains("a newer checkpoint exists"),
        "stopped for the overtaken checkpoint: {error}"
    );
    assert_eq!(
        store.checkpoint_revision(&id).await.unwrap(),
        Some(theirs.revision),
        "the successor's checkpoint stands"
    );
    world.remove().await;
}
