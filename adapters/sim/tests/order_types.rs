//! Every order type and time in force on the simulated venue, on L2 data: triggers (last and
//! mark), trailing stops, close-position, FOK / IOC / GTX, Binance's reject codes, our own
//! fills consuming the book, and resting orders filling by queue position or on touch.

use chimera_kernel::event::{
    ExecutionReport, Liquidity, MarkPrice, MarketEvent, RejectReason, ReportKind,
};
use chimera_kernel::ids::{Asset, ClientOrderId, IntentId, PortfolioId, Symbol};
use chimera_kernel::order::{OrderKind, Side, TimeInForce, TrailingKind, TriggerSource};
use chimera_kernel::testing::{btc_perp, px};
use chimera_kernel::time::Timestamp;
use chimera_kernel::Decimal;
use chimera_sim::{QueueModel, SimConfig, SimExchange};
use rust_decimal_macros::dec;

mod common;
use common::*;

fn expired(reports: &[ExecutionReport]) -> bool {
    reports.iter().any(|r| r.kind == ReportKind::Expired)
}

fn stop_market(stop: Decimal, trigger: TriggerSource) -> OrderKind {
    OrderKind::StopMarket {
        stop_price: px(stop),
        trigger,
    }
}

#[test]
fn a_market_order_walks_the_book_and_consumes_it_until_the_next_update() {
    let (mut x, p) = exchange(QueueModel::Queue);
    book(&mut x);
    x.submit(
        order(&p, 1, Side::Buy, dec!(2), OrderKind::Market),
        Timestamp(2),
    );
    assert_eq!(
        fills(&drain(&mut x)),
        vec![(dec!(101), dec!(1)), (dec!(102), dec!(1))]
    );
    x.submit(
        order(&p, 2, Side::Buy, dec!(1), OrderKind::Market),
        Timestamp(3),
    );
    assert_eq!(
        fills(&drain(&mut x)),
        vec![(dec!(102), dec!(1))],
        "101 was taken by our first order and 102 has 3 left"
    );
    x.on_market(&delta(11, vec![], vec![level(dec!(101), dec!(5))]));
    x.submit(
        order(&p, 3, Side::Buy, dec!(1), OrderKind::Market),
        Timestamp(4),
    );
    assert_eq!(
        fills(&drain(&mut x)),
        vec![(dec!(101), dec!(1))],
        "the update restated the level"
    );
}

#[test]
fn a_stop_rests_until_the_last_price_reaches_it_then_sells_at_market() {
    let (mut x, p) = exchange(QueueModel::Queue);
    book(&mut x);
    x.on_market(&trade(dec!(100.5), dec!(0.1), Side::Buy));
    x.submit(
        order(&p, 1, Side::Buy, dec!(1), OrderKind::Market),
        Timestamp(2),
    );
    drain(&mut x);
    let mut stop = order(
        &p,
        2,
        Side::Sell,
        dec!(1),
        stop_market(dec!(99.5), TriggerSource::Last),
    );
    stop.reduce_only = true;
    x.submit(stop, Timestamp(3));
    let placed = drain(&mut x);
    assert_eq!(placed.len(), 1);
    assert_eq!(placed[0].kind, ReportKind::Accepted);
    x.on_market(&trade(dec!(99.6), dec!(0.1), Side::Sell));
    assert!(drain(&mut x).is_empty(), "99.6 is above the stop");
    x.on_market(&trade(dec!(99.5), dec!(0.1), Side::Sell));
    let fired = drain(&mut x);
    assert_eq!(
        fills(&fired),
        vec![(dec!(100), dec!(1))],
        "sold into the best bid"
    );
    assert!(fired
        .iter()
        .filter_map(ExecutionReport::fill)
        .all(|f| f.liquidity == Liquidity::Taker));
}

#[test]
fn a_stop_that_would_trigger_at_once_is_refused_with_binances_code() {
    let (mut x, p) = exchange(QueueModel::Queue);
    book(&mut x);
    x.on_market(&trade(dec!(100.5), dec!(0.1), Side::Buy));
    x.submit(
        order(
            &p,
            1,
            Side::Sell,
            dec!(1),
            stop_market(dec!(101), TriggerSource::Last),
        ),
        Timestamp(2),
    );
    let (reason, message) = rejection(&drain(&mut x)).expect("refused");
    assert_eq!(reason, RejectReason::WouldImmediatelyTrigger);
    assert!(
        message.starts_with("-2021 Order would immediately trigger."),
        "{message}"
    );
}

#[test]
fn a_mark_price_stop_follows_mark_events_not_trades() {
    let (mut x, p) = exchange(QueueModel::Queue);
    book(&mut x);
    let mark = |m: Decimal| {
        MarketEvent::MarkPrice(MarkPrice {
            symbol: Symbol::new(SYMBOL),
            ts: Timestamp(60),
            mark: px(m),
        })
    };
    x.on_market(&mark(dec!(100.4)));
    x.submit(
        order(
            &p,
            1,
            Side::Buy,
            dec!(1),
            stop_market(dec!(100.8), TriggerSource::Mark),
        ),
        Timestamp(2),
    );
    drain(&mut x);
    x.on_market(&trade(dec!(101), dec!(0.1), Side::Buy));
    assert!(
        drain(&mut x).is_empty(),
        "a trade at 101 does not move the mark"
    );
    x.on_market(&mark(dec!(100.8)));
    assert_eq!(fills(&drain(&mut x)), vec![(dec!(101), dec!(1))]);
}

#[test]
fn a_take_profit_limit_becomes_a_resting_limit_when_triggered() {
    let (mut x, p) = exchange(QueueModel::Queue);
    book(&mut x);
    x.on_market(&trade(dec!(100.5), dec!(0.1), Side::Buy));
    let kind = OrderKind::TakeProfitLimit {
        stop_price: px(dec!(100.8)),
        price: px(dec!(103)),
        trigger: TriggerSource::Last,
    };
    x.submit(order(&p, 1, Side::Sell, dec!(1), kind), Timestamp(2));
    drain(&mut x);
    x.on_market(&trade(dec!(100.9), dec!(0.1), Side::Buy));
    assert!(
        fills(&drain(&mut x)).is_empty(),
        "103 is above every bid: it rests"
    );
    assert_eq!(x.open_orders(&p).len(), 1);
    x.on_market(&trade(dec!(103.5), dec!(0.1), Side::Buy));
    assert_eq!(fills(&drain(&mut x)), vec![(dec!(103), dec!(1))]);
}

#[test]
fn a_trailing_stop_fires_on_the_retrace_from_the_best_price() {
    let (mut x, p) = exchange(QueueModel::Queue);
    book(&mut x);
    x.on_market(&trade(dec!(100), dec!(0.1), Side::Buy));
    let kind = OrderKind::TrailingStop {
        flavour: TrailingKind::StopLoss,
        delta_bips: 100,
        activation: None,
        price: None,
        trigger: TriggerSource::Last,
    };
    x.submit(order(&p, 1, Side::Sell, dec!(1), kind), Timestamp(2));
    drain(&mut x);
    for price in [dec!(104), dec!(110), dec!(109)] {
        x.on_market(&trade(price, dec!(0.1), Side::Buy));
    }
    assert!(drain(&mut x).is_empty(), "109 is within 1% of 110");
    x.on_market(&trade(dec!(108.9), dec!(0.1), Side::Sell));
    assert_eq!(fills(&drain(&mut x)).len(), 1, "108.9 is 1% below 110");
}

#[test]
fn a_close_position_stop_closes_what_is_held_when_it_fires_and_expires_when_flat() {
    let (mut x, p) = exchange(QueueModel::Queue);
    book(&mut x);
    x.on_market(&trade(dec!(100.5), dec!(0.1), Side::Buy));
    x.submit(
        order(&p, 1, Side::Buy, dec!(0.5), OrderKind::Market),
        Timestamp(2),
    );
    let mut stop = order(
        &p,
        2,
        Side::Sell,
        dec!(2),
        stop_market(dec!(99.5), TriggerSource::Last),
    );
    stop.reduce_only = true;
    stop.close_position = true;
    x.submit(stop, Timestamp(3));
    drain(&mut x);
    x.on_market(&trade(dec!(99.4), dec!(0.1), Side::Sell));
    let fired = drain(&mut x);
    assert_eq!(
        fills(&fired),
        vec![(dec!(100), dec!(0.5))],
        "cut to the position"
    );
    assert!(expired(&fired), "the rest beyond the position expires");

    let mut flat_stop = order(
        &p,
        3,
        Side::Sell,
        dec!(1),
        stop_market(dec!(98.5), TriggerSource::Last),
    );
    flat_stop.close_position = true;
    flat_stop.reduce_only = true;
    x.submit(flat_stop, Timestamp(4));
    let placed = drain(&mut x);
    assert_eq!(
        rejection(&placed).map(|r| r.0),
        Some(RejectReason::ReduceOnlyWouldIncrease),
        "nothing to close"
    );
}

#[test]
fn fill_or_kill_fills_completely_or_expires_unfilled() {
    let (mut x, p) = exchange(QueueModel::Queue);
    book(&mut x);
    let limit = |price: Decimal| OrderKind::Limit {
        price: px(price),
        post_only: false,
    };
    let mut too_big = order(&p, 1, Side::Buy, dec!(2), limit(dec!(101)));
    too_big.time_in_force = TimeInForce::Fok;
    x.submit(too_big, Timestamp(2));
    let reports = drain(&mut x);
    assert!(fills(&reports).is_empty() && expired(&reports));
    let mut fits = order(&p, 2, Side::Buy, dec!(2), limit(dec!(102)));
    fits.time_in_force = TimeInForce::Fok;
    x.submit(fits, Timestamp(3));
    assert_eq!(
        fills(&drain(&mut x)),
        vec![(dec!(101), dec!(1)), (dec!(102), dec!(1))]
    );
}

#[test]
fn ioc_takes_what_it_can_and_expires_the_rest() {
    let (mut x, p) = exchange(QueueModel::Queue);
    book(&mut x);
    let mut ioc = order(
        &p,
        1,
        Side::Sell,
        dec!(3),
        OrderKind::Limit {
            price: px(dec!(100)),
            post_only: false,
        },
    );
    ioc.time_in_force = TimeInForce::Ioc;
    x.submit(ioc, Timestamp(2));
    let reports = drain(&mut x);
    assert_eq!(fills(&reports), vec![(dec!(100), dec!(2))]);
    assert!(expired(&reports));
    assert!(x.open_orders(&p).is_empty());
}

#[test]
fn gtx_that_would_cross_is_refused_as_binance_futures_does() {
    let (mut x, p) = exchange(QueueModel::Queue);
    book(&mut x);
    let mut gtx = order(
        &p,
        1,
        Side::Buy,
        dec!(1),
        OrderKind::Limit {
            price: px(dec!(101)),
            post_only: false,
        },
    );
    gtx.time_in_force = TimeInForce::Gtx;
    x.submit(gtx, Timestamp(2));
    let (reason, message) = rejection(&drain(&mut x)).expect("refused");
    assert_eq!(reason, RejectReason::PostOnlyWouldCross);
    assert!(message.starts_with("-5022 "), "{message}");
}

fn resting_bid(x: &mut SimExchange, p: &PortfolioId) {
    x.submit(
        order(
            p,
            1,
            Side::Buy,
            dec!(1),
            OrderKind::Limit {
                price: px(dec!(100)),
                post_only: true,
            },
        ),
        Timestamp(2),
    );
    assert_eq!(drain(x).len(), 1, "accepted, resting behind 2 at 100");
}

#[test]
fn a_resting_bid_fills_only_after_the_queue_ahead_has_traded() {
    let (mut x, p) = exchange(QueueModel::Queue);
    book(&mut x);
    resting_bid(&mut x, &p);
    x.on_market(&trade(dec!(100), dec!(1.5), Side::Sell));
    assert!(drain(&mut x).is_empty(), "1.5 of the 2 ahead traded");
    x.on_market(&trade(dec!(100), dec!(0.2), Side::Buy));
    assert!(
        drain(&mut x).is_empty(),
        "a buyer's trade does not hit bids"
    );
    x.on_market(&delta(11, vec![level(dec!(100), dec!(0.2))], vec![]));
    x.on_market(&trade(dec!(100), dec!(0.5), Side::Sell));
    let reports = drain(&mut x);
    assert_eq!(
        fills(&reports),
        vec![(dec!(100), dec!(0.3))],
        "the level shrank to 0.2 ahead, so 0.3 of this trade reached us"
    );
    assert!(reports
        .iter()
        .filter_map(ExecutionReport::fill)
        .all(|f| f.liquidity == Liquidity::Maker));
    x.on_market(&trade(dec!(99.9), dec!(0.1), Side::Sell));
    assert_eq!(
        fills(&drain(&mut x)),
        vec![(dec!(100), dec!(0.7))],
        "a trade through the price fills the rest"
    );
}

#[test]
fn fill_on_touch_fills_at_the_first_trade_at_the_price() {
    let (mut x, p) = exchange(QueueModel::Touch);
    book(&mut x);
    resting_bid(&mut x, &p);
    x.on_market(&trade(dec!(100), dec!(0.1), Side::Sell));
    assert_eq!(fills(&drain(&mut x)), vec![(dec!(100), dec!(1))]);
}

#[test]
fn a_resting_bid_fills_when_the_asks_come_down_to_it() {
    let (mut x, p) = exchange(QueueModel::Queue);
    book(&mut x);
    resting_bid(&mut x, &p);
    x.on_market(&delta(
        11,
        vec![level(dec!(100), Decimal::ZERO)],
        vec![level(dec!(100), dec!(1)), level(dec!(101), Decimal::ZERO)],
    ));
    assert_eq!(fills(&drain(&mut x)), vec![(dec!(100), dec!(1))]);
}

#[test]
fn resting_orders_hold_margin_so_a_second_order_cannot_spend_it_again() {
    let mut x = SimExchange::new(SimConfig::default());
    x.add_instrument(btc_perp());
    let p = PortfolioId::new("small");
    x.deposit(
        &p,
        Asset::new("USDT"),
        chimera_kernel::value::Amount::new(Decimal::from(150)),
    );
    book(&mut x);
    let bid = |n: u64| {
        order(
            &p,
            n,
            Side::Buy,
            dec!(1),
            OrderKind::Limit {
                price: px(dec!(99)),
                post_only: false,
            },
        )
    };
    x.submit(bid(1), Timestamp(2));
    assert_eq!(
        drain(&mut x)[0].kind,
        ReportKind::Accepted,
        "99 of 150 held"
    );
    x.submit(bid(2), Timestamp(3));
    let (reason, message) = rejection(&drain(&mut x)).expect("refused");
    assert_eq!(reason, RejectReason::InsufficientBalance);
    assert!(message.contains("held by open orders"), "{message}");
    // Canceling the first bid frees what it held.
    x.cancel(
        &chimera_kernel::order::CancelRequest {
            portfolio_id: p.clone(),
            client_order_id: ClientOrderId::for_intent(&IntentId::for_portfolio(&p, 1)),
            symbol: Symbol::new(SYMBOL),
            created_at: Timestamp(4),
        },
        Timestamp(4),
    );
    assert_eq!(drain(&mut x)[0].kind, ReportKind::Canceled);
    x.submit(bid(3), Timestamp(5));
    assert_eq!(
        drain(&mut x)[0].kind,
        ReportKind::Accepted,
        "the margin is free again"
    );
}

#[test]
fn a_perpetual_position_under_maintenance_margin_is_liquidated_and_reported_as_such() {
    let mut x = SimExchange::new(SimConfig::default());
    let mut instrument = btc_perp();
    instrument.leverage = Decimal::from(20);
    x.add_instrument(instrument);
    let p = PortfolioId::new("thin");
    x.deposit(
        &p,
        Asset::new("USDT"),
        chimera_kernel::value::Amount::new(Decimal::from(10)),
    );
    book(&mut x);
    x.submit(
        order(&p, 1, Side::Buy, dec!(1), OrderKind::Market),
        Timestamp(2),
    );
    assert_eq!(fills(&drain(&mut x)), vec![(dec!(101), dec!(1))]);
    x.submit(
        order(
            &p,
            2,
            Side::Buy,
            dec!(0.1),
            OrderKind::Limit {
                price: px(dec!(95)),
                post_only: false,
            },
        ),
        Timestamp(3),
    );
    drain(&mut x);
    x.on_market(&trade(dec!(95.5), dec!(0.1), Side::Sell));
    let reports = drain(&mut x);
    assert!(
        !reports
            .iter()
            .any(|r| matches!(r.kind, ReportKind::Liquidated { .. })),
        "equity 10 - 5.5 - fee is still above 0.4% of 95.5"
    );
    x.on_market(&trade(dec!(91.4), dec!(0.1), Side::Sell));
    let reports = drain(&mut x);
    let canceled = reports
        .iter()
        .any(|r| r.kind == ReportKind::Canceled && r.client_order_id.as_str().ends_with("-2"));
    assert!(canceled, "the open bid was canceled first: {reports:?}");
    let liquidation = reports
        .iter()
        .find_map(|r| match &r.kind {
            ReportKind::Liquidated { side, fill } => Some((
                r.client_order_id.as_str(),
                *side,
                fill.price.get(),
                fill.qty.get(),
            )),
            _ => None,
        })
        .expect("liquidated");
    assert_eq!(liquidation, ("liq-thin-1", Side::Sell, dec!(91.4), dec!(1)));
    let account = x.account_of(&p).expect("account");
    assert!(account
        .position(&Symbol::new(SYMBOL))
        .is_none_or(|pos| pos.qty.is_zero()));
}
