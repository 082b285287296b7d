//! Amend and cancel-replace on the simulated venue, with Binance's rules per market: on
//! perpetuals a LIMIT order's price and quantity change and it goes to the back of the queue
//! (or trades at once, or is canceled where Binance cancels it); on spot only the quantity
//! goes down and the order keeps its place. Refused amends leave the order as it was.

mod common;
use common::*;

use chimera_kernel::event::{ExecutionReport, RejectReason, ReportKind};
use chimera_kernel::ids::{Asset, PortfolioId};
use chimera_kernel::order::{
    AmendRequest, CancelReplaceRequest, CancelRequest, OrderIntent, OrderKind, ReplaceMode, Side,
    TriggerSource,
};
use chimera_kernel::testing::{btc_spot, px, qty};
use chimera_kernel::time::Timestamp;
use chimera_kernel::value::Amount;
use chimera_kernel::Decimal;
use chimera_sim::{QueueModel, SimConfig, SimExchange};
use rust_decimal_macros::dec;

fn limit(price: Decimal, post_only: bool) -> OrderKind {
    OrderKind::Limit {
        price: px(price),
        post_only,
    }
}

/// Rests a buy of 1 at 100 (behind the book's 2) and drains its acceptance.
fn rest_bid(x: &mut SimExchange, p: &PortfolioId, post_only: bool) -> OrderIntent {
    let bid = order(p, 1, Side::Buy, dec!(1), limit(dec!(100), post_only));
    x.submit(bid.clone(), Timestamp(2));
    assert_eq!(drain(x).len(), 1, "accepted and resting");
    bid
}

fn amend(o: &OrderIntent, price: Option<Decimal>, q: Decimal, n: u32) -> AmendRequest {
    AmendRequest {
        portfolio_id: o.portfolio_id.clone(),
        client_order_id: o.client_order_id.clone(),
        symbol: o.symbol.clone(),
        price: price.map(px),
        qty: qty(q),
        amendment: n,
        created_at: Timestamp(3),
    }
}

fn amend_rejection(reports: &[ExecutionReport]) -> (RejectReason, String) {
    match reports {
        [ExecutionReport {
            kind: ReportKind::AmendRejected {
                reason, message, ..
            },
            ..
        }] => (*reason, message.clone()),
        other => panic!("expected one amend rejection, got {other:?}"),
    }
}

fn kinds(reports: &[ExecutionReport]) -> Vec<&'static str> {
    reports.iter().map(|r| r.kind.name()).collect()
}

fn spot_exchange() -> (SimExchange, PortfolioId) {
    let mut x = SimExchange::new(SimConfig {
        queue: QueueModel::Queue,
        ..SimConfig::default()
    });
    x.add_instrument(btc_spot());
    let p = PortfolioId::new("p");
    x.deposit(
        &p,
        Asset::new("USDT"),
        Amount::new(Decimal::from(1_000_000)),
    );
    (x, p)
}

#[test]
fn a_perp_amend_moves_the_order_to_the_back_of_its_new_level() {
    let (mut x, p) = exchange(QueueModel::Queue);
    book(&mut x);
    let bid = rest_bid(&mut x, &p, true);
    x.amend(&amend(&bid, Some(dec!(99)), dec!(1), 1), Timestamp(3));
    let reports = drain(&mut x);
    assert_eq!(
        reports[0].kind,
        ReportKind::Amended {
            price: Some(px(dec!(99))),
            qty: qty(dec!(1)),
            amendment: 1
        }
    );
    x.on_market(&trade(dec!(100), dec!(5), Side::Sell));
    assert!(fills(&drain(&mut x)).is_empty(), "no longer at 100");
    x.on_market(&trade(dec!(99), dec!(2), Side::Sell));
    assert!(fills(&drain(&mut x)).is_empty(), "3 were ahead at 99");
    x.on_market(&trade(dec!(99), dec!(1.5), Side::Sell));
    assert_eq!(fills(&drain(&mut x)), vec![(dec!(99), dec!(0.5))]);
}

#[test]
fn a_perp_quantity_cut_loses_priority_and_a_spot_one_keeps_it() {
    // Perpetual: 1.5 of the 2 ahead trade, then the order is cut to 0.5: it requeues behind
    // the level's 2 again, so another 1 traded does not reach it.
    let (mut x, p) = exchange(QueueModel::Queue);
    book(&mut x);
    let bid = rest_bid(&mut x, &p, true);
    x.on_market(&trade(dec!(100), dec!(1.5), Side::Sell));
    x.amend(&amend(&bid, Some(dec!(100)), dec!(0.5), 1), Timestamp(3));
    assert_eq!(kinds(&drain(&mut x)), ["amended"]);
    x.on_market(&trade(dec!(100), dec!(1), Side::Sell));
    assert!(fills(&drain(&mut x)).is_empty(), "requeued behind 2");

    // Spot: the same, but the order keeps its place: the next 1 traded fills it.
    let (mut x, p) = spot_exchange();
    book(&mut x);
    let bid = rest_bid(&mut x, &p, true);
    x.on_market(&trade(dec!(100), dec!(1.5), Side::Sell));
    x.amend(&amend(&bid, None, dec!(0.5), 1), Timestamp(3));
    assert_eq!(kinds(&drain(&mut x)), ["amended"]);
    x.on_market(&trade(dec!(100), dec!(1), Side::Sell));
    assert_eq!(fills(&drain(&mut x)), vec![(dec!(100), dec!(0.5))]);
}

#[test]
fn a_perp_amend_across_the_spread_trades_at_once() {
    let (mut x, p) = exchange(QueueModel::Queue);
    book(&mut x);
    let bid = rest_bid(&mut x, &p, false);
    x.amend(&amend(&bid, Some(dec!(101)), dec!(1), 1), Timestamp(3));
    let reports = drain(&mut x);
    assert_eq!(kinds(&reports), ["amended", "filled"]);
    assert_eq!(fills(&reports), vec![(dec!(101), dec!(1))]);
}

#[test]
fn binance_cancels_a_post_only_amend_that_would_take_and_a_cut_below_the_executed() {
    let (mut x, p) = exchange(QueueModel::Queue);
    book(&mut x);
    let bid = rest_bid(&mut x, &p, true);
    x.amend(&amend(&bid, Some(dec!(101)), dec!(1), 1), Timestamp(3));
    assert_eq!(kinds(&drain(&mut x)), ["canceled"]);

    let (mut x, p) = exchange(QueueModel::Queue);
    book(&mut x);
    let bid = rest_bid(&mut x, &p, true);
    x.on_market(&trade(dec!(100), dec!(2.4), Side::Sell));
    assert_eq!(fills(&drain(&mut x)), vec![(dec!(100), dec!(0.4))]);
    x.amend(&amend(&bid, Some(dec!(100)), dec!(0.4), 1), Timestamp(3));
    assert_eq!(kinds(&drain(&mut x)), ["canceled"]);
}

#[test]
fn refused_amends_carry_binance_codes_and_leave_the_order_in_place() {
    let (mut x, p) = exchange(QueueModel::Queue);
    book(&mut x);
    let bid = rest_bid(&mut x, &p, true);
    let (reason, message) = {
        x.amend(&amend(&bid, Some(dec!(99.999)), dec!(1), 1), Timestamp(3));
        amend_rejection(&drain(&mut x))
    };
    assert_eq!(reason, RejectReason::TickSize);
    assert!(message.starts_with("-1013 "), "{message}");
    x.amend(&amend(&bid, Some(dec!(100)), dec!(1), 2), Timestamp(3));
    let (reason, message) = amend_rejection(&drain(&mut x));
    assert_eq!(reason, RejectReason::InvalidOrder);
    assert!(message.contains("-5027"), "{message}");
    let ghost = order(&p, 9, Side::Buy, dec!(1), limit(dec!(100), true));
    x.amend(&amend(&ghost, Some(dec!(99)), dec!(1), 1), Timestamp(3));
    let (reason, message) = amend_rejection(&drain(&mut x));
    assert_eq!(reason, RejectReason::UnknownOrder);
    assert!(message.starts_with("-2011 "), "{message}");
    // Still first in line behind the book's 2 at 100.
    x.on_market(&trade(dec!(100), dec!(2.5), Side::Sell));
    assert_eq!(fills(&drain(&mut x)), vec![(dec!(100), dec!(0.5))]);
}

#[test]
fn only_limit_orders_amend_on_perps_and_only_downwards_on_spot() {
    let (mut x, p) = exchange(QueueModel::Queue);
    book(&mut x);
    let stop = order(
        &p,
        1,
        Side::Sell,
        dec!(1),
        OrderKind::StopMarket {
            stop_price: px(dec!(90)),
            trigger: TriggerSource::Last,
        },
    );
    x.submit(stop.clone(), Timestamp(2));
    drain(&mut x);
    x.amend(&amend(&stop, None, dec!(2), 1), Timestamp(3));
    assert!(amend_rejection(&drain(&mut x)).1.contains("only LIMIT"));

    let (mut x, p) = spot_exchange();
    book(&mut x);
    let bid = rest_bid(&mut x, &p, true);
    x.amend(&amend(&bid, Some(dec!(99)), dec!(1), 1), Timestamp(3));
    assert!(amend_rejection(&drain(&mut x)).1.contains("cancel-replace"));
    x.amend(&amend(&bid, None, dec!(2), 2), Timestamp(3));
    assert_eq!(
        amend_rejection(&drain(&mut x)).0,
        RejectReason::InvalidOrder
    );
}

#[test]
fn an_amend_that_needs_more_margin_than_is_free_is_refused() {
    let (mut x, _) = exchange(QueueModel::Queue);
    book(&mut x);
    let poor = PortfolioId::new("poor");
    x.deposit(&poor, Asset::new("USDT"), Amount::new(Decimal::from(150)));
    let bid = rest_bid(&mut x, &poor, true);
    x.amend(&amend(&bid, Some(dec!(100)), dec!(2), 1), Timestamp(3));
    assert_eq!(
        amend_rejection(&drain(&mut x)).0,
        RejectReason::InsufficientBalance
    );
    assert_eq!(x.open_orders(&poor)[0].intent.qty, qty(dec!(1)));
}

#[test]
fn a_repeated_amend_applies_once() {
    let (mut x, p) = exchange(QueueModel::Queue);
    book(&mut x);
    let bid = rest_bid(&mut x, &p, true);
    let request = amend(&bid, Some(dec!(99)), dec!(1), 1);
    x.amend(&request, Timestamp(3));
    x.amend(&request, Timestamp(4));
    assert_eq!(kinds(&drain(&mut x)), ["amended"]);
}

fn replace(old: &OrderIntent, new: OrderIntent, mode: ReplaceMode) -> CancelReplaceRequest {
    CancelReplaceRequest {
        cancel: CancelRequest {
            portfolio_id: old.portfolio_id.clone(),
            client_order_id: old.client_order_id.clone(),
            symbol: old.symbol.clone(),
            created_at: Timestamp(3),
        },
        replacement: new,
        mode,
    }
}

#[test]
fn cancel_replace_cancels_then_places_and_stops_when_the_cancel_fails() {
    let (mut x, p) = exchange(QueueModel::Queue);
    book(&mut x);
    let bid = rest_bid(&mut x, &p, true);
    let new = order(&p, 2, Side::Buy, dec!(1), limit(dec!(99), true));
    let request = replace(&bid, new.clone(), ReplaceMode::StopOnFailure);
    x.cancel_replace(&request, Timestamp(3));
    let reports = drain(&mut x);
    assert_eq!(kinds(&reports), ["canceled", "accepted"]);
    assert_eq!(reports[1].client_order_id, new.client_order_id);
    x.cancel_replace(&request, Timestamp(4));
    assert!(
        drain(&mut x).is_empty(),
        "a repeated cancel-replace does nothing"
    );

    // The old order is gone now: the cancel of the next one fails.
    let third = order(&p, 3, Side::Buy, dec!(1), limit(dec!(98), true));
    x.cancel_replace(
        &replace(&bid, third, ReplaceMode::StopOnFailure),
        Timestamp(5),
    );
    let reports = drain(&mut x);
    assert_eq!(kinds(&reports), ["cancel_rejected", "rejected"]);
    let ReportKind::Rejected { reason, message } = &reports[1].kind else {
        unreachable!()
    };
    assert_eq!(*reason, RejectReason::CancelReplaceFailed);
    assert!(message.starts_with("-2022 "), "{message}");

    let fourth = order(&p, 4, Side::Buy, dec!(1), limit(dec!(98), true));
    x.cancel_replace(
        &replace(&bid, fourth, ReplaceMode::AllowFailure),
        Timestamp(6),
    );
    assert_eq!(kinds(&drain(&mut x)), ["cancel_rejected", "accepted"]);
}
