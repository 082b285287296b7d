//! A node restored on an in-process bus (`chimera up`'s in-memory bus) after the process that
//! had the last one ended: that bus died with its process, and with it any order command the
//! gateway had not read. So the restored node sends again every order still open in its
//! checkpoint (the gateway is idempotent by intent id), even with no scheduler's epoch, where a
//! node on a bus that outlives it sends nothing again. The new bus numbers its messages above
//! the last one's, as `chimera up` makes it.
#![allow(clippy::unwrap_used, reason = "tests")]

mod embedded;

use chimera_kernel::engine::Command;
use chimera_kernel::ids::ClientOrderId;
use chimera_kernel::strategy::StrategyRegistry;
use chimera_kernel::testing::bar;
use chimera_kernel::Decimal;
use chimera_live::config::NodeConfig;
use chimera_live::node;
use chimera_live::runtime::{shutdown_pair, Runtime};
use chimera_memory::{MemoryEventBus, DEFAULT_BUS_RETENTION};
use chimera_messages::{decode, MessageType, Topics};
use chimera_ports::{EventBus, Subscription};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

const PREFIX: &str = "restart.";

/// The client order ids of the submit commands `sub` has, waiting `quiet` for each next one.
async fn submitted(sub: &mut Box<dyn Subscription>, quiet: Duration) -> BTreeSet<ClientOrderId> {
    let mut ids = BTreeSet::new();
    while let Some(d) = sub.poll(quiet).await.unwrap() {
        // The topic also carries the portfolio's promises, of another type.
        if let Ok(envelope) = decode::<Command>(&d.payload, MessageType::OrderCommand) {
            if let Command::Submit(intent) = envelope.payload {
                ids.insert(intent.client_order_id);
            }
        }
    }
    ids
}

fn runtime(
    bus: Arc<dyn EventBus>,
    world: &embedded::World,
    name: &str,
    shutdown: &chimera_live::runtime::Shutdown,
) -> Arc<Runtime> {
    Arc::new(Runtime::new(
        bus,
        Topics::new(PREFIX),
        world.store.clone(),
        name,
        shutdown.clone(),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_restored_on_a_new_in_process_bus_sends_its_open_orders_again() {
    let world = embedded::World::new("restart-in-process").await;
    let orders_topic = Topics::new(PREFIX).name(chimera_messages::Topic::OrdersSubmission);
    let spec = embedded::btcusdt_perp(
        "id = \"restored\"\nstrategy = \"ema-cross\"\n\
         [params]\nfast = \"2\"\nslow = \"3\"\nqty = \"0.01\"\n",
    );
    let config: NodeConfig = toml::from_str("id = \"n1\"\ncheckpoint_ms = 20").unwrap();

    // The first process: bars that make the cross trade, and no gateway to answer.
    let (trigger, shutdown) = shutdown_pair();
    let first_bus: Arc<dyn EventBus> = world.bus.clone();
    let node_rt = runtime(first_bus.clone(), &world, "n1", &shutdown);
    let feed_rt = runtime(first_bus.clone(), &world, "feed", &shutdown);
    node::register_portfolios(&node_rt, "n1", &[spec])
        .await
        .unwrap();
    let mut orders = first_bus.subscribe(&orders_topic, "watch").await.unwrap();
    let node_task = tokio::spawn({
        let (config, strategies) = (config.clone(), StrategyRegistry::builtin());
        async move { node::run_node(node_rt, &config, &strategies).await }
    });
    let events: Vec<_> = (0..40_i64)
        .map(|minute| {
            let close = Decimal::from(40_000 + 50 * (minute % 7));
            bar("BTCUSDT", 29_000_000 + minute, close)
        })
        .collect();
    embedded::publish_btcusdt(&feed_rt, &events, 0).await;
    let sent = submitted(&mut orders, Duration::from_millis(500)).await;
    assert!(!sent.is_empty(), "the cross traded");
    trigger.trigger();
    node_task.await.unwrap().unwrap();

    // The next process: a new bus, numbered above the last one's, and the same database.
    let (_trigger, shutdown) = shutdown_pair();
    let second_bus: Arc<dyn EventBus> = Arc::new(MemoryEventBus::numbered_from(
        DEFAULT_BUS_RETENTION,
        1 << 40,
    ));
    let mut orders = second_bus.subscribe(&orders_topic, "watch").await.unwrap();
    let node_rt = runtime(second_bus, &world, "n1", &shutdown);
    let node_task = tokio::spawn(async move {
        node::run_node(node_rt, &config, &StrategyRegistry::builtin()).await
    });
    let started = Instant::now();
    let mut again = BTreeSet::new();
    while again.len() < sent.len() && started.elapsed() < Duration::from_secs(20) {
        again.extend(submitted(&mut orders, Duration::from_millis(200)).await);
    }
    assert_eq!(
        again, sent,
        "every order the venue never answered is sent again, once restored"
    );
    node_task.abort();
    world.remove().await;
}
