//! In process, the node hands each order command to the bus with the envelope it encoded
//! (`Delivery::shared`), and the gateway executes that envelope instead of decoding the bytes
//! again. What is shared must be exactly what the bytes say: every command the node published
//! carries its envelope, equal to the one its bytes decode to, and the orders fill as usual.
#![allow(clippy::unwrap_used, reason = "tests")]

mod embedded;

use chimera_kernel::engine::Command;
use chimera_kernel::ids::PortfolioId;
use chimera_kernel::testing::bar;
use chimera_kernel::Decimal;
use chimera_live::runtime::{shutdown_pair, Runtime};
use chimera_messages::{decode, message_type, Envelope, MessageType};
use chimera_ports::{EventBus, FillRepository};
use std::time::{Duration, Instant};

async fn publish_bars(rt: &Runtime, minutes: std::ops::Range<i64>) {
    let first = usize::try_from(minutes.start).unwrap();
    let events: Vec<_> = minutes
        .map(|minute| bar("BTCUSDT", minute, Decimal::from(40_000 + 50 * (minute % 7))))
        .collect();
    embedded::publish_btcusdt(rt, &events, first).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_the_gateway_gets_each_command_as_the_node_encoded_it() {
    let world = embedded::World::new("shared-commands").await;
    let (trigger, shutdown) = shutdown_pair();
    let (node_rt, gateway_rt, feed_rt) = world.node_gateway_feed("shared.", &shutdown);
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
    publish_bars(&feed_rt, 0..40).await;
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

    let mut reader = world
        .bus
        .subscribe("shared.orders.submission", "reader")
        .await
        .unwrap();
    let mut commands = 0;
    while let Some(d) = reader.poll(Duration::from_millis(50)).await.unwrap() {
        if message_type(&d.payload) != Some(MessageType::OrderCommand) {
            continue;
        }
        commands += 1;
        let shared = d
            .shared
            .as_ref()
            .and_then(|s| s.get::<Envelope<Command>>())
            .expect("an order command carries the envelope it was encoded from");
        let decoded = decode::<Command>(&d.payload, MessageType::OrderCommand).unwrap();
        assert_eq!(*shared, decoded);
    }
    assert!(commands >= 4, "{commands} commands");
    assert_eq!(u64::try_from(commands).unwrap(), figures.submitted);
    world.remove().await;
}
