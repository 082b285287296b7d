//! In process, the feed's market data, the node's order commands and the gateway's reports go
//! on the bus with the envelopes they were encoded from (`Delivery::shared`), and their
//! consumers take those instead of decoding the bytes again. What is shared must be exactly
//! what the bytes say: every such message carries its envelope, equal to the one its bytes
//! decode to, and the orders fill as usual.
#![allow(clippy::unwrap_used, reason = "tests")]

mod embedded;

use chimera_kernel::engine::Command;
use chimera_kernel::event::{ExecutionReport, MarketEvent};
use chimera_kernel::ids::PortfolioId;
use chimera_kernel::testing::bar;
use chimera_kernel::Decimal;
use chimera_live::runtime::{shutdown_pair, Runtime};
use chimera_messages::{decode, message_type, Envelope, MessageType};
use chimera_ports::{EventBus, FillRepository, Subscription};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Publishes the bars of `minutes` through the feed, as `chimera up` does.
async fn publish_bars(rt: Arc<Runtime>, minutes: std::ops::Range<i64>) {
    let mut source = chimera_memory::MemoryMarketData::new(
        minutes.map(|minute| bar("BTCUSDT", minute, Decimal::from(40_000 + 50 * (minute % 7)))),
    );
    let options = chimera_live::feed::FeedOptions {
        id: "f1".into(),
        speed: 0.0,
        resumable: false,
        duration: None,
    };
    chimera_live::feed::publish_source(rt, &mut source, &options)
        .await
        .unwrap();
}

/// A reader of `topic` that joined before anything was published (the bus lets a value go
/// once every group present has read its message).
async fn reader(world: &embedded::World, topic: &str) -> Box<dyn Subscription> {
    world.bus.subscribe(topic, "reader").await.unwrap()
}

/// Every message of `kind` `reader` reads carries the envelope of a `T` its bytes decode to;
/// returns how many there were.
async fn shared_as_encoded<T>(mut reader: Box<dyn Subscription>, kind: MessageType) -> usize
where
    T: serde::de::DeserializeOwned + PartialEq + std::fmt::Debug + 'static,
{
    let mut seen = 0;
    while let Some(d) = reader.poll(Duration::from_millis(50)).await.unwrap() {
        if message_type(&d.payload) != Some(kind) {
            continue;
        }
        seen += 1;
        let shared = d
            .shared
            .as_ref()
            .and_then(|s| s.get::<Envelope<T>>())
            .unwrap_or_else(|| panic!("a {kind:?} carries the envelope it was encoded from"));
        assert_eq!(*shared, decode::<T>(&d.payload, kind).unwrap());
    }
    seen
}

/// Readers of a run's commands, reports and market data (joined before anything was
/// published), and the gateway's figures, once node and gateway have stopped.
struct Run {
    commands: Box<dyn Subscription>,
    reports: Box<dyn Subscription>,
    bars: Box<dyn Subscription>,
    figures: chimera_live::gateway::GatewayFigures,
}

/// Feed, node and gateway in process on 40 bars of an EMA 2/3 cross, until four fills.
async fn crossing_run(world: &embedded::World, prefix: &str) -> Run {
    let (trigger, shutdown) = shutdown_pair();
    let (node_rt, gateway_rt, feed_rt) = world.node_gateway_feed(prefix, &shutdown);
    let commands = reader(world, &format!("{prefix}orders.submission")).await;
    let reports = reader(world, &format!("{prefix}orders.feedback")).await;
    let bars = reader(world, &format!("{prefix}market.data")).await;
    let spec = embedded::btcusdt_perp(
        "id = \"crossing\"\nstrategy = \"ema-cross\"\n\
         [params]\nfast = \"2\"\nslow = \"3\"\nqty = \"0.01\"\n",
    );
    chimera_live::node::register_portfolios(&node_rt, "n1", &[spec])
        .await
        .unwrap();
    let (node_task, gateway_task) = embedded::spawn_node_and_gateway(
        node_rt,
        "id = \"n1\"",
        gateway_rt,
        chimera_kernel::strategy::StrategyRegistry::builtin(),
    );
    publish_bars(feed_rt, 0..40).await;
    let portfolio = PortfolioId::new("crossing");
    let deadline = Instant::now() + Duration::from_secs(10);
    while world.store.fills(&portfolio).await.unwrap().len() < 4 {
        assert!(Instant::now() < deadline, "the crossings filled");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    trigger.trigger();
    node_task.await.unwrap().unwrap();
    let figures = gateway_task.await.unwrap().unwrap();
    assert_eq!(figures.fills, figures.submitted, "{figures:?}");
    Run {
        commands,
        reports,
        bars,
        figures,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_consumers_get_each_envelope_as_it_was_encoded() {
    let world = embedded::World::new("shared-envelopes").await;
    let run = crossing_run(&world, "shared.").await;

    let commands = shared_as_encoded::<Command>(run.commands, MessageType::OrderCommand).await;
    assert!(commands >= 4, "{commands} commands");
    assert_eq!(u64::try_from(commands).unwrap(), run.figures.submitted);
    let reports =
        shared_as_encoded::<ExecutionReport>(run.reports, MessageType::ExecutionReport).await;
    assert!(reports >= 2 * commands, "{reports} reports");
    assert_eq!(
        shared_as_encoded::<MarketEvent>(run.bars, MessageType::MarketEvent).await,
        40
    );
    world.remove().await;
}

/// In process nobody on the order path makes the bytes of what it reads: the market data, the
/// commands and promises, and the reports go as values (`EventBus::publish_deferred`), and
/// feed, node and gateway take the values. Encoding them was about a third of the gateway's
/// work per order. (A message's bytes, once made, are every delivery's: this reader, which
/// reads no bytes, sees whether anyone else did.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_no_message_on_the_order_path_is_encoded() {
    let world = embedded::World::new("deferred-envelopes").await;
    let run = crossing_run(&world, "deferred.").await;
    for (mut reader, topic, at_least) in [
        (run.commands, "orders.submission", 4),
        (run.reports, "orders.feedback", 8),
        (run.bars, "market.data", 40),
    ] {
        let mut seen = 0;
        while let Some(d) = reader.poll(Duration::from_millis(50)).await.unwrap() {
            seen += 1;
            assert!(
                d.shared.is_some(),
                "{topic}: offset {} came as a value",
                d.offset
            );
            assert!(
                !d.payload.is_encoded(),
                "{topic}: offset {} was encoded, though every consumer takes the value",
                d.offset
            );
        }
        assert!(seen >= at_least, "{topic}: {seen} messages");
    }
    world.remove().await;
}
