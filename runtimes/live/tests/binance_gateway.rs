//! The gateway on Binance (the project's fake): an order command fills and is recorded;
//! realised funding lands in `funding_records` by itself; a wallet transfer asked by control
//! command is confirmed and acknowledged, the same transfer asked again is not made twice,
//! one over the limit is refused with `transfer_refused`; an undecodable user-data frame
//! becomes a dead letter with its bytes.
#![allow(clippy::unwrap_used, reason = "tests")]

use chimera_fake_binance::{Fake, FakeConfig, FakeProduct};
use chimera_kernel::engine::Command;
use chimera_kernel::ids::{Asset, ClientOrderId, IntentId, PortfolioId, Symbol};
use chimera_kernel::order::{OrderIntent, OrderKind, OrderStatus, Side, TimeInForce};
use chimera_kernel::time::Timestamp;
use chimera_kernel::value::{Price, Quantity};
use chimera_live::config::GatewayConfig;
use chimera_live::gateway;
use chimera_live::runtime::{shutdown_pair, wall_clock, Runtime};
use chimera_memory::MemoryEventBus;
use chimera_messages::{
    decode, CommandAck, CommandOutcome, ControlCommand, MessageType, RefusalCode, Topic, Topics,
};
use chimera_ports::{
    AuditKind, AuditRepository, EventBus, OrderRepository, TransferDirection, TransferState,
    TreasuryRepository,
};
use chimera_sql::{SqlConfig, SqlStore};
use rust_decimal::Decimal;
use std::sync::Arc;
use std::time::Duration;

const KEY: &str = "gatewaykey00000000000000000000000000000000000";
const SECRET: &str = "gatewaysecret000000000000000000000000000000000";

fn d(text: &str) -> Decimal {
    text.parse().unwrap()
}

async fn eventually<F: std::future::Future<Output = bool>>(
    what: &str,
    mut check: impl FnMut() -> F,
) {
    for _ in 0..100 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: not within 10 s");
}

/// Waits until the recorded order `coid` has `status`.
async fn order_reaches(store: &SqlStore, coid: &ClientOrderId, status: OrderStatus, what: &str) {
    eventually(what, || {
        let (store, coid) = (store.clone(), coid.clone());
        async move {
            store
                .get_order(&coid)
                .await
                .unwrap()
                .is_some_and(|o| o.status == status)
        }
    })
    .await;
}

async fn ack_of(bus: &Arc<MemoryEventBus>, command_id: &str) -> CommandAck {
    let mut sub = bus
        .subscribe("bg.system.events", &format!("reader-{command_id}"))
        .await
        .unwrap();
    for _ in 0..100 {
        while let Some(d) = sub.poll(Duration::from_millis(100)).await.unwrap() {
            if let Ok(env) = decode::<CommandAck>(&d.payload, MessageType::SystemEvent) {
                if env.payload.command_id == command_id {
                    return env.payload;
                }
            }
        }
    }
    panic!("no acknowledgement of {command_id}");
}

/// A gateway on the fake: the fake (with `fake_config`, quoting `bid`), the store, the bus,
/// the runtime, the shutdown trigger and the running gateway. `venue` adds lines to the
/// `[venue]` table (the account's keys are written to files in a fresh directory).
struct Harness {
    fake: Arc<Fake>,
    base: String,
    store: SqlStore,
    bus: Arc<MemoryEventBus>,
    rt: Arc<Runtime>,
    trigger: chimera_live::runtime::ShutdownTrigger,
    running: tokio::task::JoinHandle<anyhow::Result<gateway::GatewayFigures>>,
}

async fn start(
    name: &str,
    fake_config: FakeConfig,
    bid: &str,
    venue: &str,
    account: &str,
) -> Harness {
    let (fake, base, server) = Fake::start(fake_config).await.unwrap();
    std::mem::forget(server); // lives for the test process
    fake.set_quote("BTCUSDT", d(bid), d(bid) + d("0.1"))
        .unwrap();
    let dir = std::env::temp_dir().join(format!("chimera-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("key"), KEY).unwrap();
    std::fs::write(dir.join("secret"), SECRET).unwrap();
    let store = SqlStore::connect(&SqlConfig::new(format!(
        "sqlite://{}?mode=rwc",
        dir.join("g.db").display()
    )))
    .await
    .unwrap();
    let bus = Arc::new(MemoryEventBus::new());
    let (trigger, shutdown) = shutdown_pair();
    let rt = Arc::new(Runtime::new(
        bus.clone(),
        Topics::new("bg."),
        store.clone(),
        "g1",
        shutdown,
    ));
    let ws = base.replacen("http", "ws", 1);
    let config: GatewayConfig = toml::from_str(&format!(
        "id = \"g1\"\n[venue]\nkind = \"binance\"\nproduct = \"usdm\"\nenvironment = \"custom\"\n\
         rest_url = \"{base}\"\nstream_url = \"{ws}\"\n{venue}\n\
         [[venue.accounts]]\n{account}\nportfolios = [\"p1\"]\napi_key_file = \"{}\"\nsecret_file = \"{}\"\n",
        dir.join("key").display(),
        dir.join("secret").display()
    ))
    .unwrap();
    let running = tokio::spawn({
        let rt = Arc::clone(&rt);
        async move { gateway::run_gateway(rt, &config).await }
    });
    Harness {
        fake,
        base,
        store,
        bus,
        rt,
        trigger,
        running,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_trades_records_funding_and_transfers_on_binance() {
    let mut fake_config =
        FakeConfig::new(FakeProduct::Usdm).with_hmac_account(KEY, SECRET, &[("USDT", d("10000"))]);
    fake_config.accounts[0].other_wallet = vec![("USDT".into(), d("1000"))];
    let Harness { fake, base, store, bus, rt, trigger, running } = start(
        "bg",
        fake_config,
        "50000",
        "funding_poll_ms = 1000\ntransfers = { directions = [\"spot_to_usdm\", \"usdm_to_spot\"], max_amount = { USDT = \"500\" } }",
        "name = \"main\"",
    )
    .await;

    // An order.
    let portfolio = PortfolioId::new("p1");
    let intent_id = IntentId::for_portfolio(&portfolio, 1);
    let intent = OrderIntent {
        client_order_id: ClientOrderId::for_intent(&intent_id),
        intent_id,
        portfolio_id: portfolio,
        symbol: Symbol::new("BTCUSDT"),
        side: Side::Buy,
        qty: Quantity::new(d("0.01")).unwrap(),
        kind: OrderKind::Market,
        time_in_force: TimeInForce::Ioc,
        reduce_only: false,
        close_position: false,
        created_at: wall_clock(),
        tag: "entry".into(),
    };
    rt.publish(
        Topic::OrdersSubmission,
        MessageType::OrderCommand,
        "cmd:1".into(),
        "p1",
        &Command::Submit(intent.clone()),
    )
    .await
    .unwrap();
    let coid = intent.client_order_id.clone();
    order_reaches(&store, &coid, OrderStatus::Filled, "the order fills").await;

    // Funding settles on the fake; the gateway records it by itself.
    let mark = Price::new(d("50000")).unwrap();
    fake.exchange()
        .settle_funding("BTCUSDT", d("0.0001"), mark, wall_clock().0 - 500);
    eventually("funding recorded", || {
        let store = store.clone();
        async move {
            !store
                .funding_records("main", Timestamp(0))
                .await
                .unwrap()
                .is_empty()
        }
    })
    .await;
    let funding = store.funding_records("main", Timestamp(0)).await.unwrap();
    assert_eq!(
        funding[0].amount.get(),
        d("-0.05"),
        "0.01 × 50000 × 0.0001, paid"
    );
    assert_eq!(funding[0].rate, Some(d("0.0001")));

    // A transfer by control command, twice, then one over the limit.
    let transfer = |amount: &str| ControlCommand::Transfer {
        transfer_id: format!("xfer-{amount}"),
        account: None,
        direction: TransferDirection::SpotToUsdm,
        asset: "USDT".into(),
        amount: d(amount),
    };
    for (id, command) in [
        ("c1", transfer("100")),
        ("c2", transfer("100")),
        ("c3", transfer("600")),
    ] {
        rt.publish(
            Topic::ControlCommands,
            MessageType::ControlCommand,
            id.into(),
            "*",
            &command,
        )
        .await
        .unwrap();
    }
    assert_eq!(ack_of(&bus, "c1").await.outcome, CommandOutcome::Applied);
    assert_eq!(
        ack_of(&bus, "c2").await.outcome,
        CommandOutcome::Applied,
        "same transfer"
    );
    assert!(matches!(
        ack_of(&bus, "c3").await.outcome,
        CommandOutcome::Refused {
            reason: RefusalCode::TransferRefused,
            ..
        }
    ));
    assert_eq!(fake.exchange().transfers.len(), 1, "made once");
    let record = store.get_transfer("xfer-100").await.unwrap().unwrap();
    assert_eq!(record.state, TransferState::Confirmed);
    let usdt = fake
        .exchange()
        .books(0)
        .and_then(|b| b.balances.get(&Asset::new("USDT")).map(|a| a.get()))
        .unwrap();
    assert!(
        usdt > d("10099") && usdt < d("10100"),
        "10000 + 100 − fees − funding: {usdt}"
    );

    // An undecodable user-data frame: a dead letter with its bytes.
    fake.exchange()
        .send_to(0, "{\"e\":\"ORDER_TRADE_UPDATE\",\"o\":42}");
    eventually("dead letter recorded", || {
        let store = store.clone();
        async move {
            !store
                .recent(AuditKind::DeadLetter, 10)
                .await
                .unwrap()
                .is_empty()
        }
    })
    .await;
    let letters = store.recent(AuditKind::DeadLetter, 10).await.unwrap();
    assert!(
        letters[0].body.contains("ORDER_TRADE_UPDATE"),
        "{}",
        letters[0].body
    );

    // Another client on the same IP fills the weight window: the gateway's next request to the
    // host (an order, or the funding poll) meets a 429, and a critical venue_banned alert says
    // so; the trading client, told the window is full by the headers, waits instead.
    let http = reqwest::Client::new();
    while http
        .get(format!("{base}/fapi/v1/exchangeInfo"))
        .send()
        .await
        .unwrap()
        .status()
        .is_success()
    {}
    let portfolio = PortfolioId::new("p1");
    let intent_id = IntentId::for_portfolio(&portfolio, 2);
    let second = OrderIntent {
        client_order_id: ClientOrderId::for_intent(&intent_id),
        intent_id,
        ..intent.clone()
    };
    rt.publish(
        Topic::OrdersSubmission,
        MessageType::OrderCommand,
        "cmd:2".into(),
        "p1",
        &Command::Submit(second),
    )
    .await
    .unwrap();
    eventually("venue_banned alert", || {
        let store = store.clone();
        async move {
            store
                .recent(AuditKind::Alert, 20)
                .await
                .unwrap()
                .iter()
                .any(|a| a.body.contains("venue_banned"))
        }
    })
    .await;
    assert_eq!(fake.weights().refusals.1, 0, "a 429, never a 418");

    trigger.trigger();
    running.await.unwrap().unwrap();
}

/// Binance's bad days through the gateway: an answer lost after the order was placed, a 5xx
/// of unknown outcome, the user stream cut while an order fills, frames dropped while the
/// connection stays up. Each order is placed once at the fake, each fill recorded once, and
/// the records end as the fake's do; no 418.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_the_gateway_no_order_is_duplicated_and_no_fill_lost() {
    use chimera_fake_binance::faults::Faults;
    use chimera_ports::FillRepository;
    let fake_config =
        FakeConfig::new(FakeProduct::Usdm).with_hmac_account(KEY, SECRET, &[("USDT", d("100000"))]);
    let Harness {
        fake,
        store,
        rt,
        trigger,
        running,
        ..
    } = start(
        "bgf",
        fake_config,
        "40000",
        "request_timeout_ms = 500\nrecv_window_ms = 1000\nsweep_ms = 1000",
        "",
    )
    .await;
    let portfolio = PortfolioId::new("p1");
    let order = |n: u64, side: Side, kind: OrderKind| {
        let intent_id = IntentId::for_portfolio(&portfolio, n);
        OrderIntent {
            client_order_id: ClientOrderId::for_intent(&intent_id),
            intent_id,
            portfolio_id: portfolio.clone(),
            symbol: Symbol::new("BTCUSDT"),
            side,
            qty: Quantity::new(d("0.01")).unwrap(),
            kind,
            time_in_force: TimeInForce::Gtc,
            reduce_only: false,
            close_position: false,
            created_at: wall_clock(),
            tag: "entry".into(),
        }
    };
    let send = |intent: OrderIntent, n: u64| {
        let rt = Arc::clone(&rt);
        async move {
            rt.publish(
                Topic::OrdersSubmission,
                MessageType::OrderCommand,
                format!("cmd:{n}"),
                "p1",
                &Command::Submit(intent),
            )
            .await
            .unwrap();
        }
    };
    let mut intents = Vec::new();
    // 1. The answer is lost after the order was placed; 2. a 503 -1007.
    for (n, faults) in [
        (
            1,
            Faults {
                lose_responses: 1,
                lose_delay_ms: 1_500,
                ..Faults::default()
            },
        ),
        (
            2,
            Faults {
                unknown_5xx: 1,
                ..Faults::default()
            },
        ),
    ] {
        fake.set_faults(faults);
        let intent = order(n, Side::Buy, OrderKind::Market);
        send(intent.clone(), n).await;
        intents.push(intent);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // 3. A resting sell fills while the user stream is cut; 4. another while frames are dropped.
    for (n, faults, price) in [
        (
            3,
            Faults {
                close_user_streams: true,
                ..Faults::default()
            },
            "40100",
        ),
        (
            4,
            Faults {
                drop_user_frames: 5,
                ..Faults::default()
            },
            "40200",
        ),
    ] {
        let limit = OrderKind::Limit {
            price: Price::new(d(price)).unwrap(),
            post_only: false,
        };
        let intent = order(n, Side::Sell, limit);
        send(intent.clone(), n).await;
        intents.push(intent.clone());
        let coid = intent.client_order_id.clone();
        order_reaches(&store, &coid, OrderStatus::Accepted, "resting").await;
        fake.set_faults(faults);
        let up = d(price) + d("10");
        fake.set_quote("BTCUSDT", up, up + d("0.1")).unwrap();
    }
    for intent in &intents {
        let coid = intent.client_order_id.clone();
        order_reaches(&store, &coid, OrderStatus::Filled, "filled and recorded").await;
        let placed = fake
            .exchange()
            .records
            .values()
            .filter(|r| r.cid == coid.as_str())
            .count();
        assert_eq!(placed, 1, "{coid}: placed once");
    }
    let recorded = store.fills(&portfolio).await.unwrap().len();
    assert_eq!(
        recorded,
        fake.exchange().trades.len(),
        "every fill recorded once"
    );
    assert_eq!(fake.weights().refusals, (0, 0), "no 429, no 418");
    trigger.trigger();
    running.await.unwrap().unwrap();
}
