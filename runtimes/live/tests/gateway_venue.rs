//! The gateway over any venue: driven through `PlainVenue`, as an exchange adapter would be
//! (here the simulated venue in wall-clock mode, its market set by the test, no market data on
//! the bus and nothing of it in the gateway's checkpoint), it executes an order command,
//! records the order and its fill, publishes the reports, answers a repeated command from the
//! records without sending it again, and after a restart skips what it had applied; amends
//! and cancel-replaces go through to the venue and their outcomes to the records.
#![allow(clippy::unwrap_used, reason = "tests")]

mod embedded;

use chimera_kernel::engine::Command;
use chimera_kernel::event::{ExecutionReport, MarketEvent, Quote, ReportKind};
use chimera_kernel::ids::{Asset, ClientOrderId, PortfolioId, Symbol};
use chimera_kernel::order::{
    AmendRequest, CancelReplaceRequest, CancelRequest, Contingency, OrderIntent, OrderKind,
    OrderListRequest, OrderStatus, ReplaceMode, Side, TimeInForce,
};
use chimera_kernel::testing::{btc_perp, px, qty};
use chimera_kernel::time::Timestamp;
use chimera_kernel::value::Amount;
use chimera_kernel::Decimal;
use chimera_live::config::GatewayConfig;
use chimera_live::gateway::{self, GatewayFigures, PlainVenue};
use chimera_live::runtime::{shutdown_pair, Runtime};
use chimera_memory::MemoryEventBus;
use chimera_messages::{decode, MessageType, Topic, Topics};
use chimera_ports::{EventBus, FillRepository, OrderRepository};
use chimera_sim::{SimConfig, SimVenue};
use chimera_sql::{SqlConfig, SqlStore};
use std::sync::Arc;
use std::time::Duration;

fn intent() -> OrderIntent {
    intent_n(1)
}

fn intent_n(n: u64) -> OrderIntent {
    embedded::market_buy("p1", n, Timestamp(10))
}

/// Publishes the commands, runs a gateway on `venue` a while, stops it.
async fn run(
    bus: &Arc<MemoryEventBus>,
    store: &SqlStore,
    venue: Arc<SimVenue>,
    commands: &[Command],
) -> GatewayFigures {
    let (trigger, shutdown) = shutdown_pair();
    let rt = Arc::new(Runtime::new(
        bus.clone(),
        Topics::new("gv."),
        store.clone(),
        "g1",
        shutdown,
    ));
    for (n, command) in commands.iter().enumerate() {
        rt.publish(
            Topic::OrdersSubmission,
            MessageType::OrderCommand,
            format!("cmd:{n}"),
            "p1",
            command,
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

/// A fresh store in its own directory, a bus, and a venue quoting 40 000 / 40 001.
async fn setup(
    name: &str,
) -> (
    std::path::PathBuf,
    SqlStore,
    Arc<MemoryEventBus>,
    Arc<SimVenue>,
) {
    setup_on(name, btc_perp()).await
}

/// [`setup`] listing `instrument` instead (the account also holds 1 BTC).
async fn setup_on(
    name: &str,
    instrument: chimera_kernel::instrument::Instrument,
) -> (
    std::path::PathBuf,
    SqlStore,
    Arc<MemoryEventBus>,
    Arc<SimVenue>,
) {
    let dir = std::env::temp_dir().join(format!("chimera-gv-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.join("g.db").display());
    let store = SqlStore::connect(&SqlConfig::new(url)).await.unwrap();
    let bus = Arc::new(MemoryEventBus::new());
    let venue = Arc::new(SimVenue::new(SimConfig::default()));
    venue.with_exchange(|x| {
        x.add_instrument(instrument);
        x.deposit(
            &PortfolioId::new("p1"),
            Asset::new("USDT"),
            Amount::new(Decimal::from(100_000)),
        );
        x.deposit(
            &PortfolioId::new("p1"),
            Asset::new("BTC"),
            Amount::new(Decimal::ONE),
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
    (dir, store, bus, venue)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_runs_on_any_execution_venue() {
    let (dir, store, bus, venue) = setup("submit").await;

    // The command twice: sent once, the second answered from the records.
    let twice = [Command::Submit(intent()), Command::Submit(intent())];
    let first = run(&bus, &store, Arc::clone(&venue), &twice).await;
    assert_eq!((first.submitted, first.duplicates, first.fills), (1, 1, 1));
    let order = store
        .get_order(&intent().client_order_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(order.status, OrderStatus::Filled);
    let fills = store.fills(&PortfolioId::new("p1")).await.unwrap();
    let costs = fills[0].costs.as_ref().expect("the gateway records costs");
    assert_eq!(costs.sent_at, Timestamp(10), "sent at the intent's time");
    assert!(
        costs.mid_at_send.is_none() && costs.bids_at_send.is_empty(),
        "a plain venue shows the gateway no book: latencies only, {costs:?}"
    );
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
    let second = run(&bus, &store, venue, &[]).await;
    assert_eq!((second.submitted, second.fills), (0, 0), "{second:?}");
    store.close().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_amends_and_cancel_replaces() {
    let (dir, store, bus, venue) = setup("amend").await;
    let mut bid = intent_n(1);
    bid.kind = OrderKind::Limit {
        price: px(Decimal::from(39_000)),
        post_only: true,
    };
    bid.time_in_force = TimeInForce::Gtc;
    let amend = AmendRequest {
        portfolio_id: bid.portfolio_id.clone(),
        client_order_id: bid.client_order_id.clone(),
        symbol: bid.symbol.clone(),
        price: Some(px(Decimal::from(39_500))),
        qty: qty(Decimal::new(3, 1)),
        amendment: 1,
        created_at: Timestamp(11),
    };
    let mut replacement = intent_n(2);
    replacement.kind = OrderKind::Limit {
        price: px(Decimal::from(39_600)),
        post_only: true,
    };
    replacement.time_in_force = TimeInForce::Gtc;
    let replace = CancelReplaceRequest {
        cancel: CancelRequest {
            portfolio_id: bid.portfolio_id.clone(),
            client_order_id: bid.client_order_id.clone(),
            symbol: bid.symbol.clone(),
            created_at: Timestamp(12),
        },
        replacement: replacement.clone(),
        mode: ReplaceMode::StopOnFailure,
    };
    let commands = [
        Command::Submit(bid.clone()),
        Command::Amend(amend.clone()),
        Command::Amend(amend),
        Command::CancelReplace(replace.clone()),
        Command::CancelReplace(replace),
    ];
    let figures = run(&bus, &store, venue, &commands).await;
    assert_eq!(
        (figures.submitted, figures.duplicates),
        (2, 1),
        "{figures:?}"
    );

    let old = store
        .get_order(&bid.client_order_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(old.status, OrderStatus::Canceled);
    assert_eq!(
        old.intent.qty,
        qty(Decimal::new(3, 1)),
        "recorded as amended"
    );
    assert_eq!(
        old.intent.kind.limit_price(),
        Some(px(Decimal::from(39_500)))
    );
    let new = store
        .get_order(&replacement.client_order_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(new.status, OrderStatus::Accepted);
    let told: Vec<_> = feedback(&bus)
        .await
        .iter()
        .map(|r| format!("{} {}", r.client_order_id, r.kind.name()))
        .collect();
    let (b, r) = (&bid.client_order_id, &replacement.client_order_id);
    assert_eq!(
        told,
        [
            format!("{b} accepted"),
            format!("{b} amended"),
            format!("{b} canceled"),
            format!("{r} accepted"),
            format!("{r} accepted"),
        ],
        "each outcome once; the repeated cancel-replace is answered from the records (the \
         replacement's state told again, as for a repeated submit), the repeated amend not at all"
    );
    store.close().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_places_order_lists_once() {
    let (dir, store, bus, venue) = setup_on("list", chimera_kernel::testing::btc_spot()).await;
    let mut take_profit = intent_n(1);
    take_profit.side = Side::Sell;
    take_profit.kind = OrderKind::Limit {
        price: px(Decimal::from(41_000)),
        post_only: false,
    };
    take_profit.time_in_force = TimeInForce::Gtc;
    let mut stop = intent_n(2);
    stop.side = Side::Sell;
    stop.kind = OrderKind::StopMarket {
        stop_price: px(Decimal::from(39_000)),
        trigger: chimera_kernel::order::TriggerSource::Last,
    };
    stop.time_in_force = TimeInForce::Gtc;
    let list = OrderListRequest {
        list_id: ClientOrderId::new("c-p1-1.l1"),
        portfolio_id: PortfolioId::new("p1"),
        symbol: Symbol::new("BTCUSDT"),
        contingency: Contingency::Oco,
        orders: vec![take_profit.clone(), stop.clone()],
    };
    let commands = [Command::SubmitList(list.clone()), Command::SubmitList(list)];
    let figures = run(&bus, &store, Arc::clone(&venue), &commands).await;
    assert_eq!(
        (figures.submitted, figures.duplicates),
        (1, 2),
        "{figures:?}"
    );
    for leg in [&take_profit, &stop] {
        let order = store
            .get_order(&leg.client_order_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            order.status,
            OrderStatus::Accepted,
            "{}",
            leg.client_order_id
        );
    }
    // The stop triggers: the venue expires the take-profit, the stop sells.
    venue.on_market(&MarketEvent::Trade(chimera_kernel::event::Trade {
        symbol: Symbol::new("BTCUSDT"),
        ts: Timestamp(20),
        price: px(Decimal::from(38_900)),
        qty: qty(Decimal::ONE),
        aggressor: Some(Side::Sell),
        trade_id: None,
    }));
    let _ = run(&bus, &store, venue, &[]).await;
    let tp = store
        .get_order(&take_profit.client_order_id)
        .await
        .unwrap()
        .unwrap();
    let sold = store
        .get_order(&stop.client_order_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (tp.status, sold.status),
        (OrderStatus::Expired, OrderStatus::Filled)
    );
    store.close().await;
    let _ = std::fs::remove_dir_all(dir);
}
