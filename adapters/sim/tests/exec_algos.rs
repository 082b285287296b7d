//! Execution algorithms end to end: a portfolio engine whose market orders are worked by
//! TWAP or maker→taker, against the simulated venue on synthetic L2 data. Each scenario checks
//! the children the venue saw, the fills, and the parent's reported progress; others deliver
//! every report twice or restart the engine and the venue mid-algorithm.

mod common;
use common::run::*;
use common::SYMBOL;

use chimera_kernel::engine::Input;
use chimera_kernel::event::{Liquidity, MarketEvent, Trade};
use chimera_kernel::execution::{ExecSpec, ExecState, GuardParams, MakerTakerParams, TrailParams};
use chimera_kernel::ids::{PortfolioId, Symbol};
use chimera_kernel::order::{Side, TriggerSource};
use chimera_kernel::testing::{px, qty};
use chimera_kernel::time::Timestamp;
use chimera_kernel::Decimal;
use rust_decimal_macros::dec;

#[test]
fn twap_sends_equal_slices_on_its_timers_and_finishes_exactly() {
    let mut run = Run::new(&twap(60, 10, 0), Side::Buy, dec!(0.6));
    flat_market(&mut run, 0..90);
    let slices: Vec<(i64, Decimal)> = run
        .submits
        .iter()
        .map(|i| (i.created_at.0, i.qty.get()))
        .collect();
    assert_eq!(
        slices,
        (0..6)
            .map(|k| (1_000 + k * 10_000, dec!(0.1)))
            .collect::<Vec<_>>(),
        "six slices of 0.1, ten seconds apart from the order's arrival"
    );
    let done = run.last();
    assert_eq!(done.state, ExecState::Completed);
    assert_eq!(done.filled.get(), dec!(0.6));
    assert_eq!(
        done.avg_price,
        Some(dec!(100.1)),
        "market slices lift the ask"
    );
    assert_eq!(done.arrival_mid, Some(dec!(100.05)));
    assert_eq!(
        done.slippage_bps,
        Some(dec!(4.9975)),
        "half the spread, in bps of the mid"
    );
    assert_eq!(
        run.engine
            .portfolio()
            .position(&Symbol::new(SYMBOL))
            .map(|p| p.qty.get()),
        Some(dec!(0.6))
    );
    assert!(
        run.submits
            .iter()
            .all(|i| i.client_order_id.as_str().len() <= 36),
        "venue-safe child ids"
    );
}

#[test]
fn twap_with_jitter_still_adds_up_and_is_the_same_for_a_seed() {
    let runs: Vec<Run> = (0..2)
        .map(|_| {
            let mut run = Run::new(&twap(60, 7, 40), Side::Sell, dec!(1.003));
            flat_market(&mut run, 0..90);
            run
        })
        .collect();
    let sizes: Vec<Decimal> = runs[0].submits.iter().map(|i| i.qty.get()).collect();
    assert_eq!(sizes.len(), 9);
    assert_eq!(sizes.iter().copied().sum::<Decimal>(), dec!(1.003));
    assert!(
        sizes.windows(2).any(|w| w[0] != w[1]),
        "jitter changes sizes: {sizes:?}"
    );
    assert_eq!(runs[0].fills(), runs[1].fills(), "same seed, same fills");
    assert_eq!(runs[0].last().state, ExecState::Completed);
}

#[test]
fn every_report_delivered_twice_changes_nothing() {
    let mut once = Run::new(&twap(30, 10, 0), Side::Buy, dec!(0.3));
    let mut twice = Run::new(&twap(30, 10, 0), Side::Buy, dec!(0.3));
    twice.deliver_twice = true;
    flat_market(&mut once, 0..60);
    flat_market(&mut twice, 0..60);
    assert_eq!(once.submits, twice.submits);
    assert_eq!(once.progress.last(), twice.progress.last());
    assert_eq!(
        once.engine
            .portfolio()
            .position(&Symbol::new(SYMBOL))
            .map(|p| p.qty),
        twice
            .engine
            .portfolio()
            .position(&Symbol::new(SYMBOL))
            .map(|p| p.qty)
    );
}

#[test]
fn a_restart_in_the_middle_of_a_twap_resumes_it_exactly() {
    let spec = twap(60, 10, 25);
    let mut straight = Run::new(&spec, Side::Buy, dec!(0.7));
    flat_market(&mut straight, 0..90);

    let mut first = Run::new(&spec, Side::Buy, dec!(0.7));
    flat_market(&mut first, 0..25);
    let mut resumed = first.restarted(&spec, Side::Buy, dec!(0.7));
    assert_eq!(
        resumed.engine.parents().count(),
        1,
        "the parent survived the restart"
    );
    flat_market(&mut resumed, 25..90);
    assert_eq!(resumed.submits, straight.submits);
    assert_eq!(resumed.fills(), straight.fills());
    assert_eq!(resumed.last(), straight.last());
}

fn maker_taker(max_repegs: u32, deadline_s: i64) -> ExecSpec {
    ExecSpec::MakerTaker(MakerTakerParams {
        max_repegs,
        deadline_ms: deadline_s * 1000,
    })
}

#[test]
fn maker_taker_repegs_as_the_bid_runs_away_then_crosses_at_the_deadline() {
    let mut run = Run::new(&maker_taker(3, 20), Side::Buy, dec!(1));
    for second in 0..40 {
        // The bid climbs a tick every two seconds: a resting buy is left behind.
        let bid = dec!(100) + Decimal::from(second / 2) / dec!(10);
        run.event(&book_at(second, bid));
    }
    let kinds: Vec<&str> = run.submits.iter().map(|i| i.kind.name()).collect();
    assert_eq!(
        kinds,
        [
            "LIMIT_MAKER",
            "LIMIT_MAKER",
            "LIMIT_MAKER",
            "LIMIT_MAKER",
            "MARKET"
        ],
        "the first post, three re-pegs, then the cross"
    );
    let prices: Vec<Decimal> = run
        .submits
        .iter()
        .filter_map(|i| i.kind.limit_price().map(chimera_kernel::value::Price::get))
        .collect();
    assert!(
        prices.windows(2).all(|w| w[1] > w[0]),
        "each re-peg follows the bid: {prices:?}"
    );
    let cross = run.submits.last().expect("cross");
    assert_eq!(
        cross.created_at,
        Timestamp(21_000),
        "at the deadline, 20 s after arrival"
    );
    let done = run.last();
    assert_eq!(done.state, ExecState::Completed);
    assert_eq!(done.filled.get(), dec!(1));
    assert!(run.fills().iter().all(|f| f.3 == Liquidity::Taker));
}

#[test]
fn maker_taker_fills_passively_once_the_queue_ahead_has_traded() {
    let mut run = Run::new(&maker_taker(3, 60), Side::Buy, dec!(1));
    for second in 0..5 {
        run.event(&book_at(second, dec!(100)));
    }
    let trade = MarketEvent::Trade(Trade {
        symbol: Symbol::new(SYMBOL),
        ts: Timestamp(5_500),
        price: px(dec!(100)),
        qty: qty(dec!(6)),
        aggressor: Some(Side::Sell),
        trade_id: None,
    });
    run.event(&trade);
    assert_eq!(run.submits.len(), 1);
    assert_eq!(
        run.fills(),
        vec![(
            run.submits[0].client_order_id.as_str().to_owned(),
            dec!(100),
            dec!(1),
            Liquidity::Maker
        )],
        "5 were ahead at 100; the trade of 6 reached the order"
    );
    let done = run.last();
    assert_eq!(done.state, ExecState::Completed);
    assert_eq!(
        done.slippage_bps,
        Some(dec!(-4.9975)),
        "bought half a spread under the mid"
    );
}

#[test]
fn a_bracket_places_both_exits_once_the_entry_fills_and_the_take_profit_cancels_the_stop() {
    let mut run = Run::new(
        &ExecSpec::Bracket(exits(dec!(100.5), dec!(99.5))),
        Side::Buy,
        dec!(1),
    );
    run.event(&trade_at(500, dec!(100), dec!(0.1), Side::Sell));
    flat_market(&mut run, 0..3);
    assert_eq!(position(&run), dec!(1), "the entry filled");
    assert_eq!(
        live_legs(&run),
        ["c-p-0.t1", "c-p-0.x1"],
        "take-profit and stop rest"
    );
    let legs: Vec<(&str, bool, Side)> = run
        .submits
        .iter()
        .map(|i| (i.kind.name(), i.reduce_only, i.side))
        .collect();
    assert_eq!(
        legs,
        [
            ("MARKET", false, Side::Buy),
            ("LIMIT", true, Side::Sell),
            ("STOP_MARKET", true, Side::Sell)
        ]
    );
    run.event(&trade_at(3_500, dec!(100.5), dec!(2), Side::Buy));
    assert_eq!(
        position(&run),
        Decimal::ZERO,
        "the take-profit closed the position"
    );
    assert!(
        live_legs(&run).is_empty(),
        "the stop was canceled in the same step"
    );
    let done = run.last();
    assert_eq!(done.state, ExecState::Completed);
    assert_eq!((done.filled.get(), done.exited.get()), (dec!(1), dec!(1)));
}

#[test]
fn a_partly_filled_take_profit_shrinks_the_stop_and_the_stop_closes_the_rest() {
    let mut run = Run::new(
        &ExecSpec::Bracket(exits(dec!(100.5), dec!(99.5))),
        Side::Buy,
        dec!(1),
    );
    run.event(&trade_at(500, dec!(100), dec!(0.1), Side::Sell));
    flat_market(&mut run, 0..3);
    run.event(&trade_at(3_500, dec!(100.5), dec!(0.4), Side::Buy));
    assert_eq!(position(&run), dec!(0.6));
    assert_eq!(
        live_legs(&run),
        ["c-p-0.t1", "c-p-0.x2"],
        "the stop was replaced by one for the 0.6 left"
    );
    let stop = run.submits.last().expect("new stop");
    assert_eq!(
        (stop.kind.name(), stop.qty.get()),
        ("STOP_MARKET", dec!(0.6))
    );
    run.event(&trade_at(4_000, dec!(99.4), dec!(0.1), Side::Sell));
    assert_eq!(position(&run), Decimal::ZERO, "the stop closed the rest");
    assert!(
        live_legs(&run).is_empty(),
        "the take-profit's rest was canceled"
    );
    assert_eq!(run.last().state, ExecState::Completed);
}

#[test]
fn an_oco_whose_prices_break_binances_rule_sends_nothing() {
    // A SELL OCO needs limit > last > stop; here the stop is above the last price.
    let mut run = Run::new(
        &ExecSpec::Oco(exits(dec!(101), dec!(100.5))),
        Side::Sell,
        dec!(1),
    );
    run.event(&trade_at(500, dec!(100), dec!(0.1), Side::Sell));
    flat_market(&mut run, 0..3);
    assert!(run.submits.is_empty());
    let ExecState::Failed { reason } = &run.last().state else {
        panic!("failed expected, got {:?}", run.last().state)
    };
    assert!(reason.contains("relationship of the prices"), "{reason}");
}

#[test]
fn a_restart_between_the_entry_and_the_exit_resumes_the_bracket() {
    let spec = ExecSpec::Bracket(exits(dec!(100.5), dec!(99.5)));
    let mut first = Run::new(&spec, Side::Buy, dec!(1));
    first.event(&trade_at(500, dec!(100), dec!(0.1), Side::Sell));
    flat_market(&mut first, 0..3);
    let mut resumed = first.restarted(&spec, Side::Buy, dec!(1));
    resumed.event(&trade_at(4_000, dec!(99.4), dec!(0.1), Side::Sell));
    assert_eq!(
        resumed.submits.len(),
        first.submits.len(),
        "nothing sent again after the restart"
    );
    assert_eq!(
        position(&resumed),
        Decimal::ZERO,
        "the stop closed the position"
    );
    assert!(
        live_legs(&resumed).is_empty(),
        "the take-profit was canceled"
    );
    assert_eq!(resumed.last().state, ExecState::Completed);
}

#[test]
fn a_guard_stop_cancels_its_maker_exit_before_leaving_at_market() {
    let guard = GuardParams {
        exit_price: px(dec!(101)),
        stop: px(dec!(99.5)),
        trigger: TriggerSource::Last,
    };
    let mut run = protected_run(ExecSpec::GuardStop(guard));
    flat_market(&mut run, 0..3);
    assert_eq!(position(&run), dec!(1));
    assert_eq!(
        live_legs(&run),
        ["c-p-1.t1"],
        "only the maker exit rests at the venue"
    );
    run.event(&trade_at(3_500, dec!(99.6), dec!(0.1), Side::Sell));
    assert_eq!(live_legs(&run), ["c-p-1.t1"], "99.6 is above the stop");
    run.event(&trade_at(4_000, dec!(99.5), dec!(0.1), Side::Sell));
    assert_eq!(position(&run), Decimal::ZERO, "left at market");
    let order: Vec<String> = run
        .reports
        .iter()
        .filter(|r| r.client_order_id.as_str().starts_with("c-p-1"))
        .map(|r| format!("{} {}", r.client_order_id, r.kind.name()))
        .collect();
    let canceled = order
        .iter()
        .position(|o| o == "c-p-1.t1 canceled")
        .expect("maker canceled");
    let sold = order
        .iter()
        .position(|o| o.starts_with("c-p-1.x1 filled"))
        .expect("market exit");
    assert!(
        canceled < sold,
        "the maker order was gone before the market exit: {order:?}"
    );
    assert_eq!(run.last().state, ExecState::Completed);
}

#[test]
fn a_trailing_stop_follows_the_market_up_and_never_down() {
    let trail = TrailParams {
        distance_bps: 100,
        step_bps: 10,
    };
    let mut run = protected_run(ExecSpec::TrailingStop(trail));
    flat_market(&mut run, 0..3);
    assert_eq!(live_legs(&run), ["c-p-1.x1"]);
    let mut levels = Vec::new();
    for (k, price) in [dec!(100.5), dec!(101), dec!(102), dec!(101.5), dec!(103)]
        .into_iter()
        .enumerate()
    {
        let ms = 3_000 + i64::try_from(k).unwrap_or(0) * 500;
        run.event(&trade_at(ms, price, dec!(0.01), Side::Buy));
        let stop = run
            .x
            .open_orders(&PortfolioId::new("p"))
            .iter()
            .find_map(|o| match o.intent.kind {
                chimera_kernel::order::OrderKind::StopMarket { stop_price, .. } => {
                    Some(stop_price.get())
                }
                _ => None,
            });
        assert_eq!(live_legs(&run).len(), 1, "exactly one stop works at a time");
        levels.push(stop.expect("a stop works"));
    }
    assert!(
        levels.windows(2).all(|w| w[1] >= w[0]),
        "only up: {levels:?}"
    );
    assert_eq!(
        levels.last().copied(),
        Some(dec!(101.97)),
        "1% under 103, on the tick"
    );
    run.event(&trade_at(6_000, dec!(101.9), dec!(0.1), Side::Sell));
    assert_eq!(
        position(&run),
        Decimal::ZERO,
        "the trailed stop closed the position"
    );
    assert_eq!(run.last().state, ExecState::Completed);
}

#[test]
fn cancel_all_stops_a_parent_and_lets_it_go_once_its_child_is_canceled() {
    let mut run = Run::new(&maker_taker(3, 60), Side::Buy, dec!(1));
    flat_market(&mut run, 0..3);
    assert_eq!(live_legs(&run), ["c-p-0.s1"], "the passive child rests");
    run.engine.handle(
        Input::Control(&chimera_kernel::engine::Control::CancelAll),
        Timestamp(3_000),
    );
    run.pump();
    assert!(
        live_legs(&run).is_empty(),
        "the child was canceled at the venue"
    );
    assert_eq!(run.last().state, ExecState::Canceled);
    assert_eq!(
        run.engine.parents().count(),
        0,
        "the stopped parent is forgotten"
    );
    assert!(run.engine.snapshot().parents.is_empty());
}
