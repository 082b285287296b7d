//! Position sizing, table-driven: each rule, the decision's multiplier, the cap by margin or
//! balance, lot rounding and the minimum notional, and every refusal.

use chimera_kernel::instrument::Instrument;
use chimera_kernel::sizing::{Sized, SizingInputs, SizingRefusal, SizingRule};
use chimera_kernel::testing::{btc_perp, btc_spot, px, qty};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

fn perp(leverage: Decimal) -> Instrument {
    Instrument {
        leverage,
        ..btc_perp()
    }
}

fn inputs(instrument: &Instrument, price: Decimal, available: Decimal) -> SizingInputs<'_> {
    SizingInputs {
        instrument,
        price: px(price),
        equity: dec!(20000),
        available,
        atr: Some(dec!(500)),
        size_mult: Decimal::ONE,
    }
}

fn sized(q: Decimal, capped: bool) -> Sized {
    Sized {
        qty: qty(q),
        capped,
    }
}

#[test]
fn each_rule_sizes_as_documented() {
    let one_x = perp(Decimal::ONE);
    let ten_x = perp(Decimal::TEN);
    let spot = Instrument {
        leverage: Decimal::TEN, // ignored on spot
        ..btc_spot()
    };
    let notional = |n| SizingRule::FixedNotional { notional: n };
    let cases: Vec<(
        &str,
        SizingRule,
        SizingInputs<'_>,
        Result<Sized, SizingRefusal>,
    )> = vec![
        (
            "fixed quantity, rounded down to the lot",
            SizingRule::FixedQty {
                qty: qty(dec!(0.0129)),
            },
            inputs(&one_x, dec!(50000), dec!(100000)),
            Ok(sized(dec!(0.012), false)),
        ),
        (
            "fixed notional",
            notional(dec!(1000)),
            inputs(&one_x, dec!(50000), dec!(100000)),
            Ok(sized(dec!(0.02), false)),
        ),
        (
            "fraction of equity: 10 % of 20 000",
            SizingRule::EquityFraction {
                fraction: dec!(0.1),
            },
            inputs(&one_x, dec!(50000), dec!(100000)),
            Ok(sized(dec!(0.04), false)),
        ),
        (
            "volatility target: 100 risked over 2 ATRs of 500",
            SizingRule::VolTarget {
                risk: dec!(100),
                atr_mult: dec!(2),
            },
            inputs(&one_x, dec!(50000), dec!(100000)),
            Ok(sized(dec!(0.1), false)),
        ),
        (
            "half size",
            notional(dec!(1000)),
            SizingInputs {
                size_mult: dec!(0.5),
                ..inputs(&one_x, dec!(50000), dec!(100000))
            },
            Ok(sized(dec!(0.01), false)),
        ),
        (
            "capped by margin at 1x",
            notional(dec!(100000)),
            inputs(&one_x, dec!(50000), dec!(10000)),
            Ok(sized(dec!(0.2), true)),
        ),
        (
            "10x leverage: the margin covers it",
            notional(dec!(100000)),
            inputs(&ten_x, dec!(50000), dec!(10000)),
            Ok(sized(dec!(2), false)),
        ),
        (
            "spot: the balance caps it, leverage or not",
            notional(dec!(100000)),
            inputs(&spot, dec!(50000), dec!(10000)),
            Ok(sized(dec!(0.2), true)),
        ),
    ];
    for (what, rule, input, want) in cases {
        assert_eq!(rule.size(&input), want, "{what}");
    }
}

#[test]
fn every_refusal_has_its_reason() {
    let one_x = perp(Decimal::ONE);
    let vol = SizingRule::VolTarget {
        risk: dec!(100),
        atr_mult: dec!(2),
    };
    let cases: Vec<(&str, SizingRule, SizingInputs<'_>, SizingRefusal)> = vec![
        (
            "no ATR yet",
            vol,
            SizingInputs {
                atr: None,
                ..inputs(&one_x, dec!(50000), dec!(100000))
            },
            SizingRefusal::NoAtr,
        ),
        (
            "a zero ATR",
            vol,
            SizingInputs {
                atr: Some(Decimal::ZERO),
                ..inputs(&one_x, dec!(50000), dec!(100000))
            },
            SizingRefusal::NoAtr,
        ),
        (
            "a zero multiplier",
            vol,
            SizingInputs {
                size_mult: Decimal::ZERO,
                ..inputs(&one_x, dec!(50000), dec!(100000))
            },
            SizingRefusal::NotPositive,
        ),
        (
            "a zero notional",
            SizingRule::FixedNotional {
                notional: Decimal::ZERO,
            },
            inputs(&one_x, dec!(50000), dec!(100000)),
            SizingRefusal::NotPositive,
        ),
        (
            "nothing available",
            vol,
            inputs(&one_x, dec!(50000), Decimal::ZERO),
            SizingRefusal::NoMargin,
        ),
        (
            "under one lot",
            SizingRule::FixedQty {
                qty: qty(dec!(0.0004)),
            },
            inputs(&one_x, dec!(50000), dec!(100000)),
            SizingRefusal::ZeroQuantity,
        ),
        (
            "one lot at 1 000 is a notional of 1, under the minimum of 5",
            SizingRule::FixedQty {
                qty: qty(dec!(0.001)),
            },
            inputs(&one_x, dec!(1000), dec!(100000)),
            SizingRefusal::BelowMinNotional,
        ),
    ];
    for (what, rule, input, want) in cases {
        assert_eq!(rule.size(&input), Err(want), "{what}");
    }
}

#[test]
fn rules_read_from_configuration_with_decimals_as_strings() {
    let rule: SizingRule =
        serde_json::from_str(r#"{"rule":"vol_target","risk":"100","atr_mult":"2"}"#).expect("rule");
    assert_eq!(
        rule,
        SizingRule::VolTarget {
            risk: dec!(100),
            atr_mult: dec!(2)
        }
    );
    assert_eq!(
        serde_json::to_string(&SizingRule::EquityFraction {
            fraction: dec!(0.1)
        })
        .expect("json"),
        r#"{"rule":"equity_fraction","fraction":"0.1"}"#
    );
    let unknown = serde_json::from_str::<SizingRule>(r#"{"rule":"fixed_qty","qty":"1","x":1}"#);
    assert!(unknown.is_err(), "unknown fields are refused");
}
