//! Native OCO order lists on spot: the venue admits a list whole or refuses every leg, holds
//! the balance once for both legs, expires one leg when the other fills or triggers, and
//! cancels both when one is canceled. The engine's OCO and bracket place spot exits as such a
//! list (on perpetuals they stay emulated, see `exec_algos.rs`).

mod common;
use common::run::*;
use common::{book, drain, fills, order, trade, SYMBOL};

use chimera_kernel::event::{ExecutionReport, RejectReason, ReportKind};
use chimera_kernel::execution::{ExecSpec, ExecState};
use chimera_kernel::ids::{Asset, ClientOrderId, PortfolioId, Symbol};
use chimera_kernel::order::{
    CancelRequest, Contingency, OrderIntent, OrderKind, OrderListRequest, Side, TriggerSource,
};
use chimera_kernel::testing::{btc_perp, btc_spot, px};
use chimera_kernel::time::Timestamp;
use chimera_kernel::value::Amount;
use chimera_kernel::Decimal;
use chimera_sim::{QueueModel, SimConfig, SimExchange};
use rust_decimal_macros::dec;

/// A spot venue with the book of `common::book` (bids 100, 99; asks 101, 102) and an account
/// holding exactly 1 BTC.
fn spot_with_one_btc() -> (SimExchange, PortfolioId) {
    let mut x = SimExchange::new(SimConfig {
        queue: QueueModel::Queue,
        ..SimConfig::default()
    });
    x.add_instrument(btc_spot());
    let p = PortfolioId::new("p");
    x.deposit(&p, Asset::new("BTC"), Amount::new(Decimal::ONE));
    book(&mut x);
    (x, p)
}

/// A SELL OCO of 1: take-profit limit at `tp`, stop-market at `stop`.
fn sell_oco(p: &PortfolioId, tp: Decimal, stop: Decimal) -> OrderListRequest {
    let limit = order(
        p,
        1,
        Side::Sell,
        dec!(1),
        OrderKind::Limit {
            price: px(tp),
            post_only: false,
        },
    );
    let stop = order(
        p,
        2,
        Side::Sell,
        dec!(1),
        OrderKind::StopMarket {
            stop_price: px(stop),
            trigger: TriggerSource::Last,
        },
    );
    OrderListRequest {
        list_id: ClientOrderId::new("list-1"),
        portfolio_id: p.clone(),
        symbol: Symbol::new(SYMBOL),
        contingency: Contingency::Oco,
        orders: vec![limit, stop],
    }
}

fn told(reports: &[ExecutionReport]) -> Vec<String> {
    reports
        .iter()
        .map(|r| format!("{} {}", r.client_order_id, r.kind.name()))
        .collect()
}

fn ids(list: &OrderListRequest) -> (String, String) {
    (
        list.orders[0].client_order_id.to_string(),
        list.orders[1].client_order_id.to_string(),
    )
}

#[test]
fn a_list_is_admitted_whole_with_the_balance_held_once() {
    let (mut x, p) = spot_with_one_btc();
    let list = sell_oco(&p, dec!(105), dec!(95));
    x.submit_list(&list, Timestamp(2));
    x.submit_list(&list, Timestamp(3));
    let (tp, stop) = ids(&list);
    assert_eq!(
        told(&drain(&mut x)),
        [format!("{tp} accepted"), format!("{stop} accepted")],
        "both legs sell the same 1 BTC: it is held once; a repeated list does nothing"
    );
    let more: OrderIntent = order(
        &p,
        3,
        Side::Sell,
        dec!(0.5),
        OrderKind::Limit {
            price: px(dec!(110)),
            post_only: false,
        },
    );
    x.submit(more, Timestamp(4));
    let reports = drain(&mut x);
    assert!(
        matches!(
            &reports[..],
            [ExecutionReport {
                kind: ReportKind::Rejected {
                    reason: RejectReason::InsufficientBalance,
                    ..
                },
                ..
            }]
        ),
        "the list holds the 1 BTC: {reports:?}"
    );
}

#[test]
fn a_list_breaking_the_price_rule_or_on_a_perp_is_refused_leg_by_leg() {
    let (mut x, p) = spot_with_one_btc();
    // Last price: the mid 100.5. A SELL needs limit > last > stop.
    let list = sell_oco(&p, dec!(100.2), dec!(95));
    x.submit_list(&list, Timestamp(2));
    let reports = drain(&mut x);
    assert_eq!(reports.len(), 2);
    for r in &reports {
        let ReportKind::Rejected { reason, message } = &r.kind else {
            panic!("{r:?}")
        };
        assert_eq!(*reason, RejectReason::OrderListPriceRelationship);
        assert!(message.starts_with("-2010 The relationship"), "{message}");
    }

    let mut perp = SimExchange::new(SimConfig::default());
    perp.add_instrument(btc_perp());
    book(&mut perp);
    perp.submit_list(&sell_oco(&p, dec!(105), dec!(95)), Timestamp(2));
    let reports = drain(&mut perp);
    assert_eq!(reports.len(), 2);
    assert!(reports.iter().all(|r| matches!(
        &r.kind,
        ReportKind::Rejected { reason: RejectReason::InvalidOrder, message } if message.contains("spot")
    )));
}

#[test]
fn a_take_profit_fill_expires_the_stop() {
    let (mut x, p) = spot_with_one_btc();
    let list = sell_oco(&p, dec!(101), dec!(95));
    x.submit_list(&list, Timestamp(2));
    drain(&mut x);
    // 1 ahead at 101 on the ask; a buyer takes 1.4: 0.4 reach us.
    x.on_market(&trade(dec!(101), dec!(1.4), Side::Buy));
    let reports = drain(&mut x);
    let (tp, stop) = ids(&list);
    assert_eq!(
        told(&reports),
        [format!("{tp} partially_filled"), format!("{stop} expired")],
        "a partial fill is enough to end the other leg"
    );
    assert_eq!(fills(&reports), vec![(dec!(101), dec!(0.4))]);
    x.on_market(&trade(dec!(90), dec!(1), Side::Sell));
    assert!(
        fills(&drain(&mut x)).is_empty(),
        "the stop is gone: a fall through 95 sells nothing"
    );
}

#[test]
fn a_triggered_stop_expires_the_take_profit_then_sells() {
    let (mut x, p) = spot_with_one_btc();
    let list = sell_oco(&p, dec!(105), dec!(99.5));
    x.submit_list(&list, Timestamp(2));
    drain(&mut x);
    x.on_market(&trade(dec!(99.4), dec!(0.1), Side::Sell));
    let (tp, stop) = ids(&list);
    let reports = drain(&mut x);
    assert_eq!(
        told(&reports),
        [format!("{tp} expired"), format!("{stop} filled")],
        "the take-profit ends before the stop trades"
    );
    assert_eq!(
        fills(&reports),
        vec![(dec!(100), dec!(1))],
        "at the best bid"
    );
}

#[test]
fn a_venue_restored_from_its_checkpoint_keeps_its_lists() {
    let (mut x, p) = spot_with_one_btc();
    let list = sell_oco(&p, dec!(105), dec!(99.5));
    x.submit_list(&list, Timestamp(2));
    drain(&mut x);
    let saved = serde_json::to_string(&x).expect("checkpoint");
    let mut x: SimExchange = serde_json::from_str(&saved).expect("restore");
    x.on_market(&trade(dec!(99.4), dec!(0.1), Side::Sell));
    let (tp, stop) = ids(&list);
    assert_eq!(
        told(&drain(&mut x)),
        [format!("{tp} expired"), format!("{stop} filled")]
    );
}

#[test]
fn canceling_one_leg_cancels_the_list() {
    let (mut x, p) = spot_with_one_btc();
    let list = sell_oco(&p, dec!(105), dec!(95));
    x.submit_list(&list, Timestamp(2));
    drain(&mut x);
    let (tp, stop) = ids(&list);
    x.cancel(
        &CancelRequest {
            portfolio_id: p.clone(),
            client_order_id: list.orders[1].client_order_id.clone(),
            symbol: Symbol::new(SYMBOL),
            created_at: Timestamp(3),
        },
        Timestamp(3),
    );
    assert_eq!(
        told(&drain(&mut x)),
        [format!("{stop} canceled"), format!("{tp} canceled")]
    );
    assert!(x.open_orders(&p).is_empty());
}

/// The engine's OCO on spot: one list, and the venue, not the engine, ends the other leg.
#[test]
fn the_engines_spot_oco_is_a_native_list() {
    let spec = ExecSpec::Oco(exits(dec!(100.5), dec!(99.5)));
    let mut run = protected_run_on(btc_spot(), spec);
    flat_market(&mut run, 0..3);
    assert_eq!(position(&run), dec!(1));
    assert_eq!(run.lists, 1, "both exits went as one list");
    assert_eq!(live_legs(&run), ["c-p-1.t1", "c-p-1.x1"]);
    run.event(&trade_at(3_500, dec!(100.5), dec!(6), Side::Buy));
    assert_eq!(position(&run), Decimal::ZERO, "the take-profit sold");
    let stop_end: Vec<String> = run
        .reports
        .iter()
        .filter(|r| r.client_order_id.as_str() == "c-p-1.x1")
        .map(|r| r.kind.name().to_owned())
        .collect();
    assert_eq!(stop_end, ["accepted", "expired"], "expired by the venue");
    assert!(live_legs(&run).is_empty());
    assert_eq!(run.last().state, ExecState::Completed);
}

/// A partial take-profit: the venue expired the stop. While the market stays at the
/// take-profit its rest keeps working; back inside, the rest is canceled and a new list placed
/// for what is left, which the stop then closes.
#[test]
fn after_a_partial_fill_the_engine_places_a_new_list_once_the_market_is_back_inside() {
    let spec = ExecSpec::Oco(exits(dec!(100.5), dec!(99.5)));
    let mut run = protected_run_on(btc_spot(), spec);
    flat_market(&mut run, 0..3);
    // Nothing rests at 100.5 ahead of us: a buyer's 0.4 there is ours.
    run.event(&trade_at(3_500, dec!(100.5), dec!(0.4), Side::Buy));
    assert_eq!(position(&run), dec!(0.6));
    assert_eq!(
        live_legs(&run),
        ["c-p-1.t1"],
        "the stop expired, the rest works on"
    );
    assert_eq!(run.lists, 1);
    run.event(&trade_at(3_700, dec!(100), dec!(0.1), Side::Sell));
    assert_eq!(run.lists, 2, "back inside: a new list for the rest");
    assert_eq!(live_legs(&run), ["c-p-1.t2", "c-p-1.x2"]);
    let second = &run.submits[run.submits.len() - 2..];
    assert!(
        second.iter().all(|o| o.qty.get() == dec!(0.6)),
        "{second:?}"
    );
    run.event(&trade_at(4_000, dec!(99.4), dec!(0.1), Side::Sell));
    assert_eq!(
        position(&run),
        Decimal::ZERO,
        "the new stop closed the rest"
    );
    assert!(live_legs(&run).is_empty());
    assert_eq!(run.last().state, ExecState::Completed);
}

/// After a partial fill the market falls straight through the stop: with no stop at the venue,
/// the engine cancels the take-profit's rest and exits at market.
#[test]
fn after_a_partial_fill_a_fall_through_the_stop_exits_at_market() {
    let spec = ExecSpec::Oco(exits(dec!(100.5), dec!(99.5)));
    let mut run = protected_run_on(btc_spot(), spec);
    flat_market(&mut run, 0..3);
    run.event(&trade_at(3_500, dec!(100.5), dec!(0.4), Side::Buy));
    run.event(&trade_at(3_700, dec!(99.4), dec!(0.1), Side::Sell));
    assert_eq!(position(&run), Decimal::ZERO, "left at market");
    assert_eq!(run.lists, 1, "no list while the market is beyond the stop");
    let exit = run.submits.last().expect("the exit");
    assert_eq!((exit.kind.name(), exit.qty.get()), ("MARKET", dec!(0.6)));
    assert_eq!(run.last().state, ExecState::Completed);
}
