//! Fuzzing the rule parser: generated text (grammar fragments, mutated valid rules, random
//! characters) must parse or be refused with an error inside the text, never panic, never
//! hang; rules that parse must evaluate on any feature values (NaN and infinities included).
//!
//! `CHIMERA_RULES_FUZZ=10000000 cargo test --release -p chimera-kernel --test rules_fuzz --
//! --nocapture` runs ten million inputs; the default keeps the suite quick.

use chimera_kernel::decision::rules::{RuleInputs, RuleSet};
use chimera_kernel::decision::HealthLevel;
use chimera_kernel::features::FeatureSpec;
use chimera_kernel::ids::Symbol;
use chimera_kernel::order::Side;
use chimera_kernel::rng::SeededRng;
use chimera_kernel::time::Timestamp;
use std::time::{Duration, Instant};

const PIECES: &[&str] = &[
    "rule",
    "priority",
    "when",
    "then",
    "and",
    "or",
    "not",
    "true",
    "false",
    "skip_entry",
    "size_mult",
    "tp_mult",
    "sl_mult",
    "max_adds_override",
    "price",
    "side",
    "symbol",
    "signal",
    "signal_value",
    "regime",
    "health",
    "hour",
    "minute",
    "weekday",
    "position",
    "equity",
    "drawdown_pct",
    "open_positions",
    "adds",
    "atr(14)",
    "rv(20)",
    "mid()",
    "spread_bps()",
    "feature(\"atr:14\")",
    "feature(\"corr:ETHUSDT:50\", \"BTCUSDT\")",
    "abs(",
    "min(",
    "max(",
    "(",
    ")",
    ",",
    ";",
    "+",
    "-",
    "*",
    "/",
    "<",
    "<=",
    ">",
    ">=",
    "==",
    "!=",
    "=",
    "!",
    "0",
    "1",
    "0.5",
    "100",
    "1e5",
    "..",
    ".",
    "\"FROZEN\"",
    "\"mon\"",
    "\"unterminated",
    "\"esc\\\"\"",
    "\"bad\\q\"",
    "#comment\n",
    "\n",
    " ",
    "\t",
    "é",
    "∞",
    "\u{0}",
    "🙂",
    "999999999999999999999",
    "-1000001",
    "name",
    "_x",
    "a1",
];

const VALID: &[&str] = &[
    "rule frozen priority 100 when regime == \"FROZEN\" then skip_entry",
    "rule v priority 50 when atr(14) / price > 0.004 or regime == \"EXTREME\" then size_mult 0.5, sl_mult 1.5",
    "rule m when weekday == \"mon\" and hour >= 14 and not (minute < 30) then tp_mult 1.2, max_adds_override 1;",
    "rule \"x y\" priority -3 when -price + 2 * abs(position) - min(1, equity) / 3 != 0 then size_mult 2",
];

fn generate(rng: &mut SeededRng) -> String {
    let mut text = String::new();
    match rng.below(3) {
        0 => {
            for _ in 0..rng.below(40) {
                text.push_str(PIECES[rng.below(PIECES.len() as u64) as usize]);
                if rng.below(3) > 0 {
                    text.push(' ');
                }
            }
        }
        1 => {
            let base = VALID[rng.below(VALID.len() as u64) as usize];
            let mut chars: Vec<char> = base.chars().collect();
            for _ in 0..=rng.below(4) {
                if chars.is_empty() {
                    break;
                }
                let at = rng.below(chars.len() as u64) as usize;
                match rng.below(3) {
                    0 => {
                        chars.remove(at);
                    }
                    1 => chars.insert(at, char::from(b' ' + rng.below(95) as u8)),
                    _ => {
                        let other = rng.below(chars.len() as u64) as usize;
                        chars.swap(at, other);
                    }
                }
            }
            text = chars.into_iter().collect();
        }
        _ => {
            for _ in 0..rng.below(60) {
                let c = char::from_u32(rng.below(0x250) as u32).unwrap_or('?');
                text.push(c);
            }
        }
    }
    text
}

fn evaluate(rules: &RuleSet, rng: &mut SeededRng) {
    let special = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.0, -0.0, 1e308];
    let value = special[rng.below(special.len() as u64) as usize];
    let lookup = move |_: &Symbol, _: &FeatureSpec| Some(value);
    let symbol = Symbol::new("BTCUSDT");
    let _ = rules.decide(&RuleInputs {
        now: Timestamp(i64::try_from(rng.next_u64() >> 1).unwrap_or(0) - i64::MAX / 2),
        symbol: &symbol,
        side: Side::Sell,
        signal: "s",
        signal_value: Some(value),
        price: Some(value),
        regime: None,
        health: HealthLevel::Red,
        position: value,
        equity: value,
        drawdown_pct: value,
        open_positions: usize::MAX,
        adds: u32::MAX,
        feature: &lookup,
    });
}

#[test]
fn the_parser_never_panics_or_hangs_and_every_error_points_inside_the_text() {
    let runs: u64 = std::env::var("CHIMERA_RULES_FUZZ")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let mut rng = SeededRng::new(0x7275_6c65);
    let (mut parsed, mut refused) = (0_u64, 0_u64);
    let mut slowest = Duration::ZERO;
    let started = Instant::now();
    for _ in 0..runs {
        let text = generate(&mut rng);
        let t = Instant::now();
        let result = RuleSet::parse(&text);
        slowest = slowest.max(t.elapsed());
        match result {
            Ok(rules) => {
                parsed += 1;
                evaluate(&rules, &mut rng);
            }
            Err(e) => {
                refused += 1;
                let lines = u32::try_from(text.split('\n').count()).unwrap_or(u32::MAX);
                assert!(
                    e.line >= 1 && e.line <= lines,
                    "line {} of {lines}: {text:?}: {e}",
                    e.line
                );
                assert!(e.column >= 1, "{text:?}: {e}");
                assert!(!e.message.is_empty(), "{text:?}");
            }
        }
    }
    println!(
        "rule parser fuzz: {runs} inputs ({parsed} parsed, {refused} refused) in {:.1} s, slowest {} µs",
        started.elapsed().as_secs_f64(),
        slowest.as_micros()
    );
    assert!(
        parsed > 0 && refused > 0,
        "the generator must reach both outcomes"
    );
}
