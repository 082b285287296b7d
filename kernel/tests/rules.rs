//! The L1 rule language: parsing (with line and column errors), three-valued evaluation, and
//! how fired rules combine.

use chimera_kernel::decision::rules::{RuleAction, RuleInputs, RuleSet};
use chimera_kernel::decision::HealthLevel;
use chimera_kernel::features::{FeatureSpec, RegimeLabel};
use chimera_kernel::ids::Symbol;
use chimera_kernel::order::Side;
use chimera_kernel::time::Timestamp;
use rust_decimal_macros::dec;

/// 2022-01-03 (a Monday) at 14:30 UTC.
const MONDAY_1430: i64 = 1_641_220_200_000;

fn decide(
    rules: &RuleSet,
    atr: Option<f64>,
    regime: Option<RegimeLabel>,
) -> chimera_kernel::decision::rules::RuleOutcome {
    let symbol = Symbol::new("BTCUSDT");
    let lookup = move |_: &Symbol, spec: &FeatureSpec| match spec {
        FeatureSpec::Atr(14) => atr,
        FeatureSpec::SpreadBps => Some(3.0),
        _ => None,
    };
    rules.decide(&RuleInputs {
        now: Timestamp(MONDAY_1430),
        symbol: &symbol,
        side: Side::Buy,
        signal: "cross_up",
        signal_value: Some(1.5),
        price: Some(40_000.0),
        regime,
        health: HealthLevel::Green,
        position: 0.0,
        equity: 100_000.0,
        drawdown_pct: 2.5,
        open_positions: 1,
        adds: 0,
        feature: &lookup,
    })
}

const RULES: &str = r#"
# Fees eat small moves.
rule frozen priority 100 when regime == "frozen" then skip_entry

rule "volatile: smaller, wider stops"
  priority 50
  when atr(14) / price > 0.004 or regime == "EXTREME"
  then size_mult 0.5, sl_mult 1.5

rule monday_afternoon priority 10
  when weekday == "mon" and hour >= 14 and not (minute < 30)
  then size_mult 2, tp_mult 1.2, max_adds_override 1;

rule always then size_mult 3
"#;

#[test]
fn rules_parse_sorted_by_priority_with_their_lines() {
    let rules = RuleSet::parse(RULES).expect("parses");
    let names: Vec<(&str, i64, u32)> = rules
        .rules()
        .iter()
        .map(|r| (r.name.as_str(), r.priority, r.line))
        .collect();
    assert_eq!(
        names,
        vec![
            ("frozen", 100, 3),
            ("volatile: smaller, wider stops", 50, 5),
            ("monday_afternoon", 10, 10),
            ("always", 0, 14),
        ]
    );
    assert_eq!(
        rules.features(),
        vec![(FeatureSpec::Atr(14), None)],
        "the features the rules read, for the feature engine"
    );
}

#[test]
fn the_highest_priority_rule_decides_each_parameter_and_any_skip_wins() {
    let rules = RuleSet::parse(RULES).expect("parses");
    // ATR 200 / 40 000 = 0.005 > 0.004: "volatile" fires before the Monday rule and "always".
    let outcome = decide(&rules, Some(200.0), Some(RegimeLabel::Normal));
    assert_eq!(outcome.skipped_by, None);
    assert_eq!(outcome.size_mult, dec!(0.5), "priority 50 beats 10 and 0");
    assert_eq!(outcome.sl_mult, dec!(1.5));
    assert_eq!(outcome.tp_mult, dec!(1.2), "only the Monday rule sets it");
    assert_eq!(outcome.max_adds, Some(1));
    let fired: Vec<&str> = outcome.fired.iter().map(|f| f.rule.as_str()).collect();
    assert_eq!(
        fired,
        [
            "volatile: smaller, wider stops",
            "monday_afternoon",
            "always"
        ]
    );
    assert_eq!(
        outcome.fired[1].overridden,
        vec![RuleAction::SizeMult(dec!(2))],
        "the trace says what was overridden"
    );
    // Frozen: skipped, whatever else fires.
    let frozen = decide(&rules, Some(200.0), Some(RegimeLabel::Frozen));
    assert_eq!(frozen.skipped_by.as_deref(), Some("frozen"));
}

#[test]
fn unknown_values_never_fire_a_rule() {
    let rules = RuleSet::parse(
        "rule a when not (atr(14) > 5) then size_mult 2\n\
         rule b when atr(14) > 5 or spread_bps() < 10 then tp_mult 3\n\
         rule c when regime != \"FROZEN\" then sl_mult 2\n\
         rule d when price / (position) > 0 then skip_entry",
    )
    .expect("parses");
    let outcome = decide(&rules, None, None);
    // a: ATR unknown → unknown, not true. b: unknown or true → true. c: regime unknown.
    // d: division by a zero position → unknown.
    let fired: Vec<&str> = outcome.fired.iter().map(|f| f.rule.as_str()).collect();
    assert_eq!(fired, ["b"]);
    assert_eq!(outcome.size_mult, dec!(1));
    assert_eq!(outcome.tp_mult, dec!(3));
    assert_eq!(outcome.skipped_by, None);
}

#[test]
fn every_variable_and_function_reads_as_documented() {
    let cases = [
        (
            "symbol == \"btcusdt\" and side == \"buy\" and signal == \"cross_up\"",
            true,
        ),
        ("signal_value > 1.4 and signal_value < 1.6", true),
        ("hour == 14 and minute == 30 and weekday == \"mon\"", true),
        (
            "equity == 100000 and drawdown_pct == 2.5 and open_positions == 1",
            true,
        ),
        ("health == \"GREEN\" and adds == 0 and position == 0", true),
        ("abs(-2) == 2 and min(1, 2) == 1 and max(1, 2) == 2", true),
        (
            "feature(\"spread_bps\") == 3 and feature(\"atr:14\", \"BTCUSDT\") == 100",
            true,
        ),
        ("-price + 2 * 3 - 4 / 2 == -39996", true),
        ("true and not false", true),
        ("price < 100", false),
    ];
    for (condition, expected) in cases {
        let rules = RuleSet::parse(&format!("rule r when {condition} then skip_entry"))
            .unwrap_or_else(|e| panic!("{condition}: {e}"));
        let fired = decide(&rules, Some(100.0), None).skipped_by.is_some();
        assert_eq!(fired, expected, "{condition}");
    }
}

#[test]
fn errors_point_at_the_line_and_column() {
    let cases = [
        (
            "rule a when price > then skip_entry",
            1,
            21,
            "expected a value",
        ),
        (
            "rule a\n  when price >> 3 then skip_entry",
            2,
            15,
            "expected a value",
        ),
        (
            "rule a when prise > 3 then skip_entry",
            1,
            13,
            "unknown name `prise`",
        ),
        (
            "rule a when price > \"x\" then skip_entry",
            1,
            19,
            "cannot compare a number with text",
        ),
        (
            "rule a when price then skip_entry",
            1,
            13,
            "must be true/false",
        ),
        ("rule a when price > 1 then size_mult 0", 1, 38, "above 0"),
        (
            "rule a when price > 1 then explode",
            1,
            28,
            "unknown action `explode`",
        ),
        ("rule a when atr(1.5) > 1 then skip_entry", 1, 17, "atr:1.5"),
        (
            "rule a when feature(\"atr:0\") > 1 then skip_entry",
            1,
            21,
            "atr:0",
        ),
        (
            "rule a then skip_entry\nrule a then skip_entry",
            2,
            1,
            "defined twice",
        ),
        (
            "rule a when price = 3 then skip_entry",
            1,
            19,
            "compare with `==`",
        ),
        ("rule a when \"open then skip_entry", 1, 13, "not closed"),
        (
            "rule a when price > 1 then skip_entry size_mult 2",
            1,
            39,
            "`,` and another action",
        ),
        (
            "rule a when 1.2.3 > 1 then skip_entry",
            1,
            13,
            "not a number",
        ),
        ("when price > 1 then skip_entry", 1, 1, "`rule`"),
        (
            "rule a when price > 1 then skip_entry @",
            1,
            39,
            "unexpected character",
        ),
    ];
    for (text, line, column, needle) in cases {
        let err = RuleSet::parse(text).expect_err(text);
        assert_eq!((err.line, err.column), (line, column), "{text}: {err}");
        assert!(err.message.contains(needle), "{text}: {err}");
    }
}

#[test]
fn hostile_input_is_refused_not_crashed_on() {
    let deep = format!(
        "rule a when {}true{} then skip_entry",
        "(".repeat(500),
        ")".repeat(500)
    );
    assert!(RuleSet::parse(&deep)
        .expect_err("deep")
        .message
        .contains("nests deeper"));
    let nots = format!("rule a when {}true then skip_entry", "not ".repeat(500));
    assert!(RuleSet::parse(&nots).is_err());
    let long_chain = format!(
        "rule a when {} then skip_entry",
        vec!["price > 1"; 5_000].join(" and ")
    );
    assert!(RuleSet::parse(&long_chain)
        .expect_err("chain")
        .message
        .contains("more than 1000"));
    let huge = "#".repeat(chimera_kernel::decision::rules::MAX_RULES_BYTES + 1);
    assert!(RuleSet::parse(&huge).is_err());
    assert!(RuleSet::parse("").expect("empty is no rules").is_empty());
}
