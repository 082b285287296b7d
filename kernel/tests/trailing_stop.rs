//! Trailing stop and take-profit triggers against the five scenarios of Binance's spot
//! trailing-stop FAQ (each leg a series of linear trades), and the rule that the trigger level
//! only ever moves in the order's favour.

use chimera_kernel::order::{Side, TrailingKind, TrailingState, TrailingTrigger};
use chimera_kernel::value::Price;
use chimera_kernel::Decimal;
use proptest::prelude::*;

fn px(text: &str) -> Price {
    text.parse().unwrap_or_else(|e| panic!("{e}"))
}

/// Feeds linear trades along `legs` (`from` excluded, each `to` included) in steps of `step`;
/// returns the trade that fired the trigger, if one did.
fn walk(trigger: &mut TrailingTrigger, start: &str, legs: &[&str], step: &str) -> Option<Price> {
    let step: Decimal = step.parse().unwrap_or_default();
    let mut at: Decimal = start.parse().unwrap_or_default();
    for to in legs {
        let to: Decimal = to.parse().unwrap_or_default();
        while at != to {
            at = if to > at {
                (at + step).min(to)
            } else {
                (at - step).max(to)
            };
            let price = Price::new(at).unwrap_or_else(|e| panic!("{e}"));
            if trigger.on_trade(price) {
                return Some(price);
            }
        }
    }
    None
}

#[test]
fn scenario_a_stop_loss_limit_buy() {
    let mut t = TrailingTrigger::new(Side::Buy, TrailingKind::StopLoss, 500, Some(px("44000")));
    // Down to 37 000 (ignored: not tracking yet), up to 45 000 (tracking from 44 000), 46 000
    // (+454 bips, not enough), down to 42 000 (new lowest).
    assert_eq!(
        walk(
            &mut t,
            "40000",
            &["37000", "45000", "46000", "42000"],
            "100"
        ),
        None
    );
    assert_eq!(
        t.state(),
        TrailingState::Tracking {
            extreme: px("42000")
        }
    );
    assert_eq!(
        walk(&mut t, "42000", &["44100"], "100"),
        Some(px("44100")),
        "44 100 = 42 000 × 1.05"
    );
}

#[test]
fn scenario_b_stop_loss_limit_sell() {
    let mut t = TrailingTrigger::new(Side::Sell, TrailingKind::StopLoss, 1_000, Some(px("39000")));
    assert_eq!(
        walk(&mut t, "40000", &["41500", "37000", "41000"], "100"),
        None
    );
    assert_eq!(
        t.state(),
        TrailingState::Tracking {
            extreme: px("41000")
        }
    );
    assert_eq!(
        walk(&mut t, "41000", &["36900"], "100"),
        Some(px("36900")),
        "36 900 = 41 000 × 0.90"
    );
}

#[test]
fn scenario_c_take_profit_limit_buy() {
    let mut t = TrailingTrigger::new(Side::Buy, TrailingKind::TakeProfit, 850, Some(px("38000")));
    assert_eq!(
        walk(&mut t, "40000", &["42000", "37000", "39000", "38000"], "5"),
        None
    );
    assert_eq!(
        t.state(),
        TrailingState::Tracking {
            extreme: px("37000")
        }
    );
    assert_eq!(
        walk(&mut t, "38000", &["40145"], "5"),
        Some(px("40145")),
        "40 145 = 37 000 × 1.085"
    );
}

#[test]
fn scenario_d_take_profit_limit_sell() {
    let mut t = TrailingTrigger::new(Side::Sell, TrailingKind::TakeProfit, 750, Some(px("42000")));
    assert_eq!(
        walk(
            &mut t,
            "40000",
            &["41500", "39000", "45000", "44000", "46500"],
            "12.5"
        ),
        None
    );
    assert_eq!(
        walk(&mut t, "46500", &["43012.5"], "12.5"),
        Some(px("43012.5")),
        "43 012.5 = 46 500 × 0.925"
    );
}

#[test]
fn scenario_e_without_a_stop_price_tracks_from_the_first_trade() {
    let mut t = TrailingTrigger::new(Side::Sell, TrailingKind::StopLoss, 700, None);
    assert!(
        !t.on_trade(px("40000")),
        "the trade at placement starts the tracking"
    );
    assert_eq!(
        walk(&mut t, "40000", &["42000", "39500", "45500"], "5"),
        None
    );
    assert_eq!(
        walk(&mut t, "45500", &["42315"], "5"),
        Some(px("42315")),
        "42 315 = 45 500 × 0.93"
    );
    assert!(!t.on_trade(px("30000")), "it fires once");
}

proptest! {
    #[test]
    fn the_trigger_level_only_moves_in_the_orders_favour(
        sell in any::<bool>(),
        delta in 1_u32..3_000,
        moves in prop::collection::vec(-300_i64..300, 1..200),
    ) {
        let side = if sell { Side::Sell } else { Side::Buy };
        let mut t = TrailingTrigger::new(side, TrailingKind::StopLoss, delta, None);
        let mut price = 1_000_000_i64;
        let mut last_level: Option<Decimal> = None;
        for m in moves {
            price = (price + m).max(1);
            if t.on_trade(Price::new(Decimal::new(price, 2)).unwrap_or_else(|e| panic!("{e}"))) {
                break;
            }
            let level = t.trigger_level();
            if let (Some(before), Some(now)) = (last_level, level) {
                prop_assert!(if sell { now >= before } else { now <= before }, "{before} → {now}");
            }
            last_level = level;
        }
    }
}
