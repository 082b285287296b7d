//! The simulated exchange's fill model, latency and determinism.

use chimera_kernel::event::{
    BookLevel, BookSnapshot, ExecutionReport, FundingRate, MarketEvent, ReportKind,
};
use chimera_kernel::ids::{Asset, ClientOrderId, IntentId, PortfolioId, Symbol};
use chimera_kernel::order::{OrderIntent, OrderKind, Side, TimeInForce};
use chimera_kernel::testing::{bar, btc_perp, px, qty};
use chimera_kernel::time::Timestamp;
use chimera_kernel::Decimal;
use chimera_sim::{BarFill, SimConfig, SimExchange};

fn exchange(config: SimConfig) -> (SimExchange, PortfolioId) {
    let mut x = SimExchange::new(config);
    x.add_instrument(btc_perp());
    let p = PortfolioId::new("p");
    x.deposit(
        &p,
        Asset::new("USDT"),
        chimera_kernel::value::Amount::new(Decimal::from(1_000_000)),
    );
    (x, p)
}

fn market(p: &PortfolioId, n: u64, side: Side, q: Decimal) -> OrderIntent {
    let intent_id = IntentId::for_portfolio(p, n);
    OrderIntent {
        client_order_id: ClientOrderId::for_intent(&intent_id),
        intent_id,
        portfolio_id: p.clone(),
        symbol: Symbol::new("BTCUSDT"),
        side,
        qty: qty(q),
        kind: OrderKind::Market,
        time_in_force: TimeInForce::Gtc,
        reduce_only: false,
        close_position: false,
        created_at: Timestamp(0),
        tag: "".into(),
    }
}

fn drain(x: &mut SimExchange) -> Vec<ExecutionReport> {
    std::iter::from_fn(|| x.pop_report()).collect()
}

fn fills(reports: &[ExecutionReport]) -> Vec<(Decimal, Decimal)> {
    reports
        .iter()
        .filter_map(ExecutionReport::fill)
        .map(|f| (f.price.get(), f.qty.get()))
        .collect()
}

#[test]
fn bar_close_and_next_open() {
    let (mut x, p) = exchange(SimConfig::default());
    x.on_market(&bar("BTCUSDT", 0, Decimal::from(100)));
    x.submit(market(&p, 0, Side::Buy, Decimal::ONE), Timestamp(0));
    assert_eq!(
        fills(&drain(&mut x)),
        vec![(Decimal::from(100), Decimal::ONE)],
        "fills at the bar close"
    );

    let (mut x, p) = exchange(SimConfig {
        bar_fill: BarFill::NextOpen,
        ..SimConfig::default()
    });
    x.on_market(&bar("BTCUSDT", 0, Decimal::from(100)));
    x.submit(market(&p, 0, Side::Buy, Decimal::ONE), Timestamp(0));
    let accepted = drain(&mut x);
    assert!(fills(&accepted).is_empty(), "waits for the next bar");
    let mut next = bar("BTCUSDT", 1, Decimal::from(105));
    if let MarketEvent::Bar(b) = &mut next {
        b.open = px(Decimal::from(101));
    }
    x.on_market(&next);
    assert_eq!(
        fills(&drain(&mut x)),
        vec![(Decimal::from(101), Decimal::ONE)],
        "fills at the next open"
    );
}

#[test]
fn market_order_walks_the_book() {
    let (mut x, p) = exchange(SimConfig::default());
    let level = |price: i64, q: i64| BookLevel {
        price: px(Decimal::from(price)),
        qty: qty(Decimal::new(q, 1)),
    };
    x.on_market(&MarketEvent::BookSnapshot(BookSnapshot {
        symbol: Symbol::new("BTCUSDT"),
        ts: Timestamp(5),
        last_update_id: 1,
        bids: vec![level(99, 10)],
        asks: vec![level(100, 3), level(101, 4), level(102, 100)],
    }));
    x.submit(market(&p, 0, Side::Buy, Decimal::ONE), Timestamp(5));
    let reports = drain(&mut x);
    assert_eq!(
        fills(&reports),
        vec![
            (Decimal::from(100), Decimal::new(3, 1)),
            (Decimal::from(101), Decimal::new(4, 1)),
            (Decimal::from(102), Decimal::new(3, 1))
        ]
    );
    assert!(matches!(
        reports.last().map(|r| &r.kind),
        Some(ReportKind::Filled(_))
    ));
    let position = x
        .account_of(&p)
        .unwrap()
        .position(&Symbol::new("BTCUSDT"))
        .unwrap()
        .qty;
    assert_eq!(position.get(), Decimal::ONE);
}

#[test]
fn latency_delays_arrival_until_a_later_event() {
    let (mut x, p) = exchange(SimConfig {
        latency_ms: 1_500,
        ..SimConfig::default()
    });
    x.on_market(&bar("BTCUSDT", 0, Decimal::from(100)));
    x.submit(market(&p, 0, Side::Buy, Decimal::ONE), Timestamp(0));
    assert!(drain(&mut x).is_empty(), "not at the venue yet");
    x.on_market(&bar("BTCUSDT", 1, Decimal::from(103)));
    assert_eq!(
        fills(&drain(&mut x)),
        vec![(Decimal::from(103), Decimal::ONE)]
    );
}

#[test]
fn funding_is_settled_on_venue_accounts() {
    let (mut x, p) = exchange(SimConfig::default());
    x.on_market(&bar("BTCUSDT", 0, Decimal::from(100)));
    x.submit(market(&p, 0, Side::Sell, Decimal::TWO), Timestamp(0));
    drain(&mut x);
    x.on_market(&MarketEvent::Funding(FundingRate {
        symbol: Symbol::new("BTCUSDT"),
        ts: Timestamp(60_000),
        rate: Decimal::new(1, 3),
        mark_price: px(Decimal::from(100)),
    }));
    assert_eq!(
        x.account_of(&p).unwrap().funding.get(),
        Decimal::new(2, 1),
        "shorts receive a positive rate"
    );
}

#[test]
fn jittered_latency_is_reproducible_per_seed() {
    let run = |seed| {
        let (mut x, p) = exchange(SimConfig {
            latency_ms: 0,
            latency_jitter_ms: 180_000,
            seed,
            ..SimConfig::default()
        });
        let mut out = Vec::new();
        for minute in 0..10 {
            x.on_market(&bar("BTCUSDT", minute, Decimal::from(100 + minute)));
            if minute < 5 {
                x.submit(
                    market(&p, minute as u64, Side::Buy, Decimal::ONE),
                    Timestamp(minute * 60_000),
                );
            }
            out.extend(fills(&drain(&mut x)));
        }
        out
    };
    assert_eq!(run(7), run(7));
    assert_eq!(run(7).len(), 5);
    assert_ne!(
        run(7),
        run(8),
        "a different seed gives different arrival times"
    );
}

/// A venue serialized mid-run and restored continues exactly as the original: same reports,
/// same accounts. This is what lets the live gateway checkpoint its simulated venue.
#[test]
fn a_restored_exchange_continues_exactly() {
    let config = SimConfig {
        bar_fill: BarFill::NextOpen,
        latency_ms: 0,
        latency_jitter_ms: 90_000,
        seed: 11,
        ..SimConfig::default()
    };
    let (mut original, p) = exchange(config);
    let level = |price: i64, q: i64| BookLevel {
        price: px(Decimal::from(price)),
        qty: qty(Decimal::new(q, 1)),
    };
    original.on_market(&MarketEvent::BookSnapshot(BookSnapshot {
        symbol: Symbol::new("BTCUSDT"),
        ts: Timestamp(1),
        last_update_id: 1,
        bids: vec![level(99, 10)],
        asks: vec![level(100, 3), level(101, 4)],
    }));
    let mut limit = market(&p, 100, Side::Buy, Decimal::ONE);
    limit.kind = OrderKind::Limit {
        price: px(Decimal::from(90)),
        post_only: false,
    };
    let step = |x: &mut SimExchange, minute: i64| {
        x.on_market(&bar("BTCUSDT", minute, Decimal::from(100 - minute)));
        if minute < 6 {
            x.submit(
                market(&p, minute as u64, Side::Buy, Decimal::ONE),
                Timestamp(minute * 60_000),
            );
        }
        drain(x)
    };
    let mut before = Vec::new();
    for minute in 0..4 {
        before.extend(step(&mut original, minute));
    }
    original.submit(limit, Timestamp(4 * 60_000));
    before.extend(drain(&mut original));
    let json = serde_json::to_string(&original).unwrap();
    let mut restored: SimExchange = serde_json::from_str(&json).unwrap();
    assert!(!before.is_empty());
    for minute in 4..16 {
        let a = step(&mut original, minute);
        let b = step(&mut restored, minute);
        assert_eq!(a, b, "minute {minute}");
    }
    assert_eq!(original.account_of(&p), restored.account_of(&p));
    assert!(
        original.open_orders(&p).is_empty(),
        "the resting limit order was traded through after the restore"
    );
}

/// A symbol's reports do not depend on how far other symbols' data has been fed: the live
/// gateway feeds each symbol lazily, so the interleaving varies from run to run.
#[test]
fn reports_do_not_depend_on_other_symbols_interleaving() {
    let run = |eth_ahead: bool| {
        let (mut x, p) = exchange(SimConfig::default());
        let mut eth = btc_perp();
        eth.symbol = Symbol::new("ETHUSDT");
        x.add_instrument(eth);
        let eth_bar = |minute| bar("ETHUSDT", minute, Decimal::from(50 + minute));
        if eth_ahead {
            for minute in 0..30 {
                x.on_market(&eth_bar(minute));
            }
        }
        x.on_market(&bar("BTCUSDT", 0, Decimal::from(100)));
        let mut buy = market(&p, 0, Side::Buy, Decimal::ONE);
        buy.created_at = Timestamp(0);
        x.submit(buy, Timestamp(0));
        let mut limit = market(&p, 1, Side::Buy, Decimal::ONE);
        limit.kind = OrderKind::Limit {
            price: px(Decimal::from(98)),
            post_only: false,
        };
        x.submit(limit, Timestamp(0));
        for minute in 1..4 {
            if !eth_ahead {
                x.on_market(&eth_bar(minute));
            }
            x.on_market(&bar("BTCUSDT", minute, Decimal::from(100 - minute)));
        }
        drain(&mut x)
            .into_iter()
            .filter(|r| r.symbol.as_str() == "BTCUSDT")
            .collect::<Vec<_>>()
    };
    let interleaved = run(false);
    assert_eq!(interleaved.len(), 4, "{interleaved:?}");
    assert_eq!(interleaved, run(true));
}
