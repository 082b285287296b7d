//! The gateway writes its orders and fills beside its loop: while another connection holds the
//! database's write lock, the simulated venue's gateway still executes commands and publishes
//! their fills, and recognises a repeated command from records still on their way; once the
//! lock goes, each order and fill is written once, before the checkpoint that acknowledges
//! them. In process, where each command's reports go out before the next command is read and
//! records are made once the commands read together have gone out, a repeat read with its
//! original still finds the original's fill. Its checkpoint is saved beside the loop too, so
//! a checkpoint waiting for the database holds no command up, and one whose records failed to
//! be written is never saved.
#![allow(clippy::unwrap_used, reason = "tests")]

mod embedded;

use chimera_kernel::event::{ExecutionReport, ReportKind};
use chimera_kernel::ids::PortfolioId;
use chimera_kernel::order::{OrderIntent, OrderStatus};
use chimera_kernel::testing::bar;
use chimera_kernel::time::Timestamp;
use chimera_kernel::Decimal;
use chimera_live::config::GatewayConfig;
use chimera_live::runtime::{shutdown_pair, Runtime, Shutdown};
use chimera_live::{gateway, node};
use chimera_messages::{decode, MessageType, Topic};
use chimera_ports::{CheckpointRepository, EventBus, FillRepository, OrderRepository};
use std::sync::Arc;
use std::time::{Duration, Instant};

const MINUTE: i64 = 60_000;

/// Portfolio `pp`'s `n`th order: a market buy of 0.1 BTC at minute `2n + 1`.
fn buy(n: u64) -> OrderIntent {
    embedded::market_buy(
        "pp",
        n,
        Timestamp((2 * i64::try_from(n).unwrap() + 1) * MINUTE),
    )
}

/// How many fills `orders.feedback` has told, waiting up to 2 s for `at_least`.
async fn fills_told(bus: &Arc<chimera_memory::MemoryEventBus>, at_least: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let mut sub = bus
            .subscribe("records.orders.feedback", "reader")
            .await
            .unwrap();
        let mut told = 0;
        while let Some(d) = sub.poll(Duration::from_millis(50)).await.unwrap() {
            let report = decode::<ExecutionReport>(&d.payload, MessageType::ExecutionReport)
                .unwrap()
                .payload;
            told += usize::from(matches!(report.kind, ReportKind::Filled(_)));
        }
        if told >= at_least || Instant::now() > deadline {
            return told;
        }
    }
}

/// Portfolio `pp` registered and ten BTCUSDT bars on the bus; the node's runtime (to send
/// commands from) and the gateway's.
async fn portfolio_and_bars(
    world: &embedded::World,
    shutdown: &Shutdown,
) -> (Arc<Runtime>, Arc<Runtime>) {
    let (node_rt, gateway_rt, feed_rt) = world.node_gateway_feed("records.", shutdown);
    node::register_portfolios(&node_rt, "n1", &[embedded::never_trades("pp")])
        .await
        .unwrap();
    let bars: Vec<_> = (0..10)
        .map(|minute| bar("BTCUSDT", minute, Decimal::from(40_000)))
        .collect();
    embedded::publish_btcusdt(&feed_rt, &bars, 0).await;
    (node_rt, gateway_rt)
}

/// Gateway `g1` on its own task, configured by `rest` after its id.
fn start_gateway(
    gateway_rt: Arc<Runtime>,
    rest: &str,
) -> tokio::task::JoinHandle<anyhow::Result<gateway::GatewayFigures>> {
    let config: GatewayConfig = toml::from_str(&format!("id = \"g1\"\n{rest}")).unwrap();
    tokio::spawn(async move { gateway::run_gateway(gateway_rt, &config).await })
}

/// Another connection to the world's SQLite database (to lock it, or break it).
async fn second_connection(world: &embedded::World) -> sqlx::SqliteConnection {
    let url = format!("sqlite://{}", world.dir.join("live.db").display());
    <sqlx::SqliteConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap()
}

/// Orders 1 and 2, then 1 again, each sent once the one before was answered (the repeat by
/// telling the first order's fill again); after each new order, the portfolio's promise to
/// have read the minute after it lets the venue feed the bar that fills it.
async fn one_at_a_time(world: &embedded::World, node_rt: &Runtime, condition: &str) {
    for (n, intent) in [buy(1), buy(2), buy(1)].into_iter().enumerate() {
        let messages = embedded::submit_messages(node_rt, n, intent, n < 2);
        node_rt
            .publish_encoded(Topic::OrdersSubmission, &messages)
            .await
            .unwrap();
        assert_eq!(
            fills_told(&world.bus, n + 1).await,
            n + 1,
            "command {n} answered {condition}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_do_not_wait_for_the_records_of_earlier_turns() {
    let world = embedded::World::new("gateway-records").await;
    let (trigger, shutdown) = shutdown_pair();
    let (node_rt, gateway_rt) = portfolio_and_bars(&world, &shutdown).await;
    // No checkpoint until it stops: one would wait for the records, so for the lock.
    let gateway_task = start_gateway(gateway_rt, "checkpoint_ms = 60000");

    let mut lock = second_connection(&world).await;
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut lock)
        .await
        .unwrap();
    // The third command repeats the first, whose records are still on their way.
    one_at_a_time(&world, &node_rt, "while the database is locked").await;
    assert!(
        world
            .store
            .get_order(&buy(1).client_order_id)
            .await
            .unwrap()
            .is_none(),
        "nothing is written while the lock is held"
    );
    sqlx::query("ROLLBACK").execute(&mut lock).await.unwrap();
    trigger.trigger();
    let figures = gateway_task.await.unwrap().unwrap();
    both_filled_once(&world, &figures).await;
    world.remove().await;
}

/// A checkpoint is saved beside the gateway's loop: one due after every command (1 ms), which
/// waits for the records and then for the database's write lock itself, holds no command up.
/// Once the lock goes, the checkpoints land and acknowledge, and each order and fill is
/// written once. (When the loop awaited its checkpoint, the first one after the lock was
/// taken stopped the gateway until the lock went.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_do_not_wait_for_a_checkpoint_on_its_way() {
    let world = embedded::World::new("gateway-checkpoint-beside").await;
    let (trigger, shutdown) = shutdown_pair();
    let (node_rt, gateway_rt) = portfolio_and_bars(&world, &shutdown).await;
    let gateway_task = start_gateway(gateway_rt, "checkpoint_ms = 1");

    let mut lock = second_connection(&world).await;
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut lock)
        .await
        .unwrap();
    one_at_a_time(
        &world,
        &node_rt,
        "while a checkpoint waits for the database",
    )
    .await;
    sqlx::query("ROLLBACK").execute(&mut lock).await.unwrap();
    trigger.trigger();
    let figures = gateway_task.await.unwrap().unwrap();
    assert!(figures.checkpoints >= 2, "{figures:?}");
    both_filled_once(&world, &figures).await;
    world.remove().await;
}

/// A record write that fails stops the gateway with the writer's reason, and the checkpoint
/// waiting for that write is never saved: nothing the lost records came from is acknowledged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_record_write_stops_the_gateway_before_its_checkpoint() {
    let world = embedded::World::new("gateway-records-lost").await;
    let (_trigger, shutdown) = shutdown_pair();
    let (node_rt, gateway_rt) = portfolio_and_bars(&world, &shutdown).await;
    let gateway_task = start_gateway(gateway_rt, "checkpoint_ms = 1");
    let owner = gateway::checkpoint_owner(&toml::from_str("id = \"g1\"").unwrap());

    let mut admin = second_connection(&world).await;
    sqlx::query("DROP TABLE fills")
        .execute(&mut admin)
        .await
        .unwrap();
    let messages = embedded::submit_messages(&node_rt, 0, buy(1), true);
    node_rt
        .publish_encoded(Topic::OrdersSubmission, &messages)
        .await
        .unwrap();
    let stopped = tokio::time::timeout(Duration::from_secs(10), gateway_task)
        .await
        .expect("the gateway stops")
        .unwrap();
    let reason = format!("{:#}", stopped.expect_err("a lost record is fatal"));
    assert!(reason.contains("fills"), "{reason}");
    let applied =
        world.store.load_checkpoint(&owner).await.unwrap().map(|c| {
            serde_json::from_str::<serde_json::Value>(&c.state).unwrap()["applied"].clone()
        });
    assert!(
        applied
            .as_ref()
            .and_then(serde_json::Value::as_object)
            .is_none_or(|a| a.keys().all(|k| !k.contains("orders.submission"))),
        "the command whose records were lost is not checkpointed: {applied:?}"
    );
    world.remove().await;
}

/// In process the gateway records a command's reports only after the commands read with it have
/// gone out: a repeat read in the same burst as its original must still see the original's
/// fill (and tell it again, not send the order twice).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeat_read_with_its_original_finds_the_original_filled() {
    let world = embedded::World::new("gateway-records-burst").await;
    let (trigger, shutdown) = shutdown_pair();
    let (node_rt, gateway_rt) = portfolio_and_bars(&world, &shutdown).await;
    // Orders 1 and 2, each followed by the promise that lets the venue fill it, then order 1
    // again: one batch on the bus before the gateway starts, so it reads them in one burst.
    let batch: Vec<_> = [buy(1), buy(2), buy(1)]
        .into_iter()
        .enumerate()
        .flat_map(|(n, intent)| embedded::submit_messages(&node_rt, n, intent, n < 2))
        .collect();
    node_rt
        .publish_encoded(Topic::OrdersSubmission, &batch)
        .await
        .unwrap();
    let gateway_task = start_gateway(gateway_rt, "");
    assert_eq!(
        fills_told(&world.bus, 3).await,
        3,
        "both fills, and the first told again for its repeat"
    );
    trigger.trigger();
    let figures = gateway_task.await.unwrap().unwrap();
    both_filled_once(&world, &figures).await;
    world.remove().await;
}

/// Orders 1 and 2 were sent once (the repeat of 1 was not), each filled once, and stored filled.
async fn both_filled_once(world: &embedded::World, figures: &gateway::GatewayFigures) {
    assert_eq!(
        (figures.submitted, figures.duplicates, figures.fills),
        (2, 1, 2),
        "the repeat was not sent again: {figures:?}"
    );
    for n in [1, 2] {
        let order = world
            .store
            .get_order(&buy(n).client_order_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(order.status, OrderStatus::Filled);
    }
    let fills = world.store.fills(&PortfolioId::new("pp")).await.unwrap();
    assert_eq!(fills.len(), 2, "{fills:?}");
}
