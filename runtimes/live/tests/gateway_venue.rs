//! The gateway over any venue: driven through `PlainVenue`, as an exchange adapter would be
//! (here the simulated venue in wall-clock mode, its market set by the test, no market data on
//! the bus and nothing of it in the gateway's checkpoint), it executes an order command,
//! records the order and its fill, publishes the reports, answers a repeated command from the
//! records without sending it again, and after a restart skips what it had applied.
#![allow(clippy::unwrap_used, reason = "tests")]

use chimera_kernel::engine::Command;
use chimera_kernel::event::{ExecutionReport, MarketEvent, Quote, ReportKind};
use chimera_kernel::ids::{Asset, ClientOrderId, IntentId, PortfolioId, Symbol};
use chimera_kernel::order::{OrderIntent, OrderKind, OrderStatus, Side, TimeInForce};
use chimera_kernel::testing::{btc_perp, px, qty};
use chimera_kernel::time::Timestamp;
use chimera_kernel::value::Amount;
use chimera_kernel::Decimal;
use chimera_live::config::GatewayConfig;
use chimera_live::gateway::{self, GatewayFigures, PlainVenue};
use chimera_live::runtime::{shutdown_pair, Runtime};
use chimera_memory::MemoryEventBus;
use chimera_messages::{decode, MessageType, Topic, Topics};
use chimera_ports::{EventBus, OrderRepository};
use chimera_sim::{SimConfig, SimVenue};
use chimera_sql::{SqlConfig, SqlStore};
use std::sync::Arc;
use std::time::Duration;

fn intent() -> OrderIntent {
    let portfolio = PortfolioId::new("p1");
    let intent_id = IntentId::for_portfolio(&portfolio, 1);
    OrderIntent {
        client_order_id: ClientOrderId::for_intent(&intent_id),
        intent_id,
        portfolio_id: portfolio,
        symbol: Symbol::new("BTCUSDT"),
        side: Side::Buy,
        qty: qty(Decimal::new(1, 1)),
        kind: OrderKind::Market,
        time_in_force: TimeInForce::Ioc,
        reduce_only: false,
        close_position: false,
        created_at: Timestamp(10),
        tag: "entry".into(),
    }
}

/// Publishes `publish` copies of the command, runs a gateway on `venue` a while, stops it.
async fn run(
    bus: &Arc<MemoryEventBus>,
    store: &SqlStore,
    venue: Arc<SimVenue>,
    publish: usize,
) -> GatewayFigures {
    let (trigger, shutdown) = shutdown_pair();
    let rt = Arc::new(Runtime::new(
        bus.clone(),
        Topics::new("gv."),
        store.clone(),
        "g1",
        shutdown,
    ));
    for n in 0..publish {
        rt.publish(
            Topic::OrdersSubmission,
            MessageType::OrderCommand,
            format!("cmd:{n}"),
            "p1",
            &Command::Submit(intent()),
        )
        .await
        .unwrap();
    }
    let config: GatewayConfig = toml::from_str("id = \"g1\"").unwrap();
    let running = tokio::spawn(async move {
        gateway::run_gateway_on(rt, &config, Box::new(PlainVenue::new(venue))).await
    });
    tokio::time::sleep(Duration::from_millis(700)).await;
    trigger.trigger();
    running.await.unwrap().unwrap()
}

/// Every report published on `orders.feedback` so far.
async fn feedback(bus: &Arc<MemoryEventBus>) -> Vec<ExecutionReport> {
    let mut sub = bus.subscribe("gv.orders.feedback", "reader").await.unwrap();
    let mut out = Vec::new();
    while let Some(d) = sub.poll(Duration::from_millis(100)).await.unwrap() {
        out.push(
            decode::<ExecutionReport>(&d.payload, MessageType::ExecutionReport)
                .unwrap()
                .payload,
        );
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_runs_on_any_execution_venue() {
    let dir = std::env::temp_dir().join(format!("chimera-gv-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.join("g.db").display());
    let store = SqlStore::connect(&SqlConfig::new(url)).await.unwrap();
    let bus = Arc::new(MemoryEventBus::new());
    let venue = Arc::new(SimVenue::new(SimConfig::default()));
    venue.with_exchange(|x| {
        x.add_instrument(btc_perp());
        x.deposit(
            &PortfolioId::new("p1"),
            Asset::new("USDT"),
            Amount::new(Decimal::from(100_000)),
        );
    });
    venue.on_market(&MarketEvent::Quote(Quote {
        symbol: Symbol::new("BTCUSDT"),
        ts: Timestamp(5),
        bid: px(Decimal::from(40_000)),
        bid_qty: qty(Decimal::TEN),
        ask: px(Decimal::from(40_001)),
        ask_qty: qty(Decimal::TEN),
        update_id: None,
    }));

    // The command twice: sent once, the second answered from the records.
    let first = run(&bus, &store, Arc::clone(&venue), 2).await;
    assert_eq!((first.submitted, first.duplicates, first.fills), (1, 1, 1));
    let order = store
        .get_order(&intent().client_order_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(order.status, OrderStatus::Filled);
    let reports = feedback(&bus).await;
    let fills = reports
        .iter()
        .filter(|r| matches!(r.kind, ReportKind::Filled(_)))
        .count();
    assert_eq!(
        fills, 2,
        "the fill, and the same fill told again: {reports:#?}"
    );

    // A restart reads the commands again and skips both: the checkpoint covers them.
    let second = run(&bus, &store, venue, 0).await;
    assert_eq!((second.submitted, second.fills), (0, 0), "{second:?}");
    store.close().await;
    let _ = std::fs::remove_dir_all(dir);
}
