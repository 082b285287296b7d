//! Built-in strategies driven through the portfolio engine, with an instant-fill loop.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

use chimera_kernel::engine::{Command, Input, Output, PortfolioEngine, RefusalReason};
use chimera_kernel::ids::{Asset, PortfolioId};
use chimera_kernel::instrument::Instrument;
use chimera_kernel::order::{OrderIntent, Side};
use chimera_kernel::portfolio::Portfolio;
use chimera_kernel::strategy::{build_strategy, StrategyParams};
use chimera_kernel::testing::{bar, btc_perp, btc_spot, commands_of, drain, fill_report};
use chimera_kernel::Decimal;

fn engine(
    instrument: Instrument,
    base: i64,
    strategy: &str,
    params: &[(&str, &str)],
) -> PortfolioEngine {
    let mut p = Portfolio::new(PortfolioId::new("p1"), Asset::new("USDT"));
    p.deposit(
        Asset::new("USDT"),
        chimera_kernel::value::Amount::new(Decimal::from(1_000_000)),
    );
    p.deposit(
        instrument.base.clone(),
        chimera_kernel::value::Amount::new(Decimal::from(base)),
    );
    p.add_instrument(instrument);
    let params: StrategyParams = params
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect();
    PortfolioEngine::new(p, build_strategy(strategy, &params).unwrap())
}

/// Feeds closes one bar a minute; fills every submitted order at that close. Returns the intents.
fn run(engine: &mut PortfolioEngine, closes: &[i64]) -> Vec<(usize, OrderIntent)> {
    let mut sent = Vec::new();
    for (minute, &close) in closes.iter().enumerate() {
        let event = bar("BTCUSDT", minute as i64, Decimal::from(close));
        let now = event.ts();
        for command in commands_of(engine, Input::Market(&event), now) {
            let Command::Submit(intent) = command else {
                panic!("unexpected cancel")
            };
            let report = fill_report(
                &intent.client_order_id,
                &format!("t-{}", intent.intent_id),
                Decimal::from(close),
                intent.qty.get(),
                Decimal::ZERO,
                true,
            );
            assert!(commands_of(engine, Input::Execution(&report), now).is_empty());
            sent.push((minute, intent));
        }
    }
    sent
}

fn summary(sent: &[(usize, OrderIntent)]) -> Vec<(usize, Side, String, &str)> {
    sent.iter()
        .map(|(m, i)| (*m, i.side, i.qty.to_string(), i.tag.as_str()))
        .collect()
}

const UP_THEN_DOWN: &[i64] = &[
    100, 100, 100, 101, 102, 103, 104, 103, 100, 96, 92, 90, 95, 101, 108, 115,
];

#[test]
fn ema_cross_perp_enters_and_reverses_with_two_orders() {
    let mut e = engine(
        btc_perp(),
        0,
        "ema-cross",
        &[("fast", "2"), ("slow", "3"), ("qty", "0.5")],
    );
    let sent = run(&mut e, UP_THEN_DOWN);
    // Slow EMA ready at minute 2 (fast == slow → buy), reverse to short on the way down, back long.
    assert_eq!(
        summary(&sent),
        vec![
            (2, Side::Buy, "0.5".into(), "entry"),
            (8, Side::Sell, "0.5".into(), "close"),
            (8, Side::Sell, "0.5".into(), "entry"),
            (13, Side::Buy, "0.5".into(), "close"),
            (13, Side::Buy, "0.5".into(), "entry"),
        ]
    );
    let pos = e.portfolio().position(&"BTCUSDT".into()).unwrap();
    assert_eq!(pos.qty.get(), Decimal::new(5, 1));
    // long 0.5 @100 → 100 (0), short 0.5 @100 → 101 (−0.5)
    assert_eq!(pos.realized_pnl.get(), Decimal::new(-5, 1));
    assert_eq!(e.stats().fills, 5);
}

#[test]
fn ema_cross_emits_nothing_before_slow_is_ready() {
    let mut e = engine(
        btc_perp(),
        0,
        "ema-cross",
        &[("fast", "2"), ("slow", "10"), ("qty", "1")],
    );
    assert!(run(&mut e, &UP_THEN_DOWN[..9]).is_empty());
}

#[test]
fn ema_cross_spot_only_sells_what_it_holds() {
    let mut no_inventory = engine(
        btc_spot(),
        0,
        "ema-cross",
        &[("fast", "2"), ("slow", "3"), ("qty", "0.5")],
    );
    let sent = run(&mut no_inventory, &[100, 100, 99, 98, 97]);
    assert!(
        sent.is_empty(),
        "cannot short spot without inventory: {sent:?}"
    );

    let mut with_inventory = engine(
        btc_spot(),
        1,
        "ema-cross",
        &[("fast", "2"), ("slow", "3"), ("qty", "0.5")],
    );
    let sent = run(&mut with_inventory, &[100, 100, 99, 98, 97]);
    assert_eq!(summary(&sent), vec![(2, Side::Sell, "0.5".into(), "entry")]);
    let btc = with_inventory.portfolio().balance(&Asset::new("BTC"));
    assert_eq!(btc.get(), Decimal::new(5, 1));
}

#[test]
fn ema_cross_does_not_repeat_an_order_in_flight() {
    let mut e = engine(
        btc_perp(),
        0,
        "ema-cross",
        &[("fast", "2"), ("slow", "3"), ("qty", "1")],
    );
    let mut submitted = 0;
    for minute in 0..6 {
        let event = bar("BTCUSDT", minute, Decimal::from(100 + minute));
        submitted += commands_of(
            &mut e,
            Input::Market(&event),
            chimera_kernel::time::Timestamp(minute * 60_000),
        )
        .len();
    }
    assert_eq!(submitted, 1, "the unfilled entry counts as the position");
    assert_eq!(e.open_orders().count(), 1);
}

#[test]
fn scripted_places_orders_at_first_event_at_or_after_their_time() {
    let orders =
        "1970-01-01T00:02:30Z:BUY:1,1970-01-01T00:00:00Z:BUY:0.5,1970-01-01T00:05:00Z:SELL:1.5";
    let mut e = engine(btc_perp(), 0, "scripted", &[("orders", orders)]);
    let sent = run(&mut e, &[100, 101, 102, 103, 104, 105, 106]);
    assert_eq!(
        summary(&sent),
        vec![
            (0, Side::Buy, "0.5".into(), "scripted"),
            (3, Side::Buy, "1".into(), "scripted"),
            (5, Side::Sell, "1.5".into(), "scripted"),
        ]
    );
    let pos = e.portfolio().position(&"BTCUSDT".into()).unwrap();
    assert!(pos.is_flat());
    // 0.5 @100 + 1 @103 sold @105 → 2.5 + 2
    assert_eq!(pos.realized_pnl.get(), Decimal::new(45, 1));
}

#[test]
fn unknown_report_becomes_an_issue_not_a_panic() {
    let mut e = engine(btc_perp(), 0, "scripted", &[("orders", "")]);
    let report = fill_report(
        &"nope".into(),
        "t",
        Decimal::ONE,
        Decimal::ONE,
        Decimal::ZERO,
        true,
    );
    e.handle(
        Input::Execution(&report),
        chimera_kernel::time::Timestamp(0),
    );
    let outputs = drain(&mut e);
    assert!(
        matches!(outputs.as_slice(), [Output::Issue(issue)] if issue.kind == chimera_kernel::engine::IssueKind::UnknownOrder),
        "{outputs:?}"
    );
}

#[test]
fn tiny_requests_are_refused_as_data() {
    let mut e = engine(
        btc_perp(),
        0,
        "scripted",
        &[("orders", "1970-01-01T00:00:00Z:BUY:0.0001")],
    );
    let event = bar("BTCUSDT", 0, Decimal::from(100));
    e.handle(Input::Market(&event), event.ts());
    let outputs = drain(&mut e);
    assert!(
        matches!(outputs.as_slice(), [Output::Refused(r)] if r.reason == RefusalReason::ZeroQuantity),
        "{outputs:?}"
    );
}
