//! Features survive a checkpoint: a feature engine restored from its saved state and fed the
//! same events gives the same values, bit for bit, and the same regime as one that never
//! stopped; features asked for after the checkpoint start warming up.

use chimera_kernel::event::{Bar, MarketEvent};
use chimera_kernel::features::{FeatureEngine, FeatureSpec, FeaturesConfig, RegimeConfig};
use chimera_kernel::ids::Symbol;
use chimera_kernel::rng::SeededRng;
use chimera_kernel::testing::{px, qty};
use chimera_kernel::time::Timestamp;
use rust_decimal::Decimal;

fn bars(n: i64) -> Vec<MarketEvent> {
    let mut rng = SeededRng::new(9);
    let mut prices = [40_000.0_f64, 2_500.0];
    let mut out = Vec::new();
    for minute in 0..n {
        for (i, symbol) in ["BTCUSDT", "ETHUSDT"].iter().enumerate() {
            let open = prices[i];
            prices[i] *= 1.0 + rng.next_gaussian() * 0.002;
            let p = |x: f64| px(Decimal::new((x * 100.0).round() as i64, 2));
            out.push(MarketEvent::Bar(Bar {
                symbol: Symbol::new(*symbol),
                ts: Timestamp(minute * 60_000),
                open: p(open),
                high: p(open.max(prices[i]) * 1.001),
                low: p(open.min(prices[i]) * 0.999),
                close: p(prices[i]),
                volume: qty(Decimal::ONE),
            }));
        }
    }
    out
}

fn engine() -> FeatureEngine {
    let config = FeaturesConfig {
        regime: RegimeConfig {
            every_ms: 3_600_000,
            ..RegimeConfig::default()
        },
        ..FeaturesConfig::default()
    };
    let mut engine = FeatureEngine::new(config);
    for spec in [
        "atr:14",
        "rv:20",
        "ema:10",
        "sma:30",
        "tr",
        "corr:ETHUSDT:30",
    ] {
        engine.require(&Symbol::new("BTCUSDT"), &spec.parse().expect("spec"));
    }
    engine
}

#[test]
fn a_restored_feature_engine_goes_on_bit_for_bit() {
    let events = bars(600);
    let (first, rest) = events.split_at(500);
    let mut original = engine();
    for e in first {
        original.on_event(e);
    }
    let saved = serde_json::to_string(&original.save().expect("save")).expect("json");
    let mut restored = engine();
    // A feature added to the configuration since the checkpoint.
    let added: FeatureSpec = "sma:5".parse().expect("spec");
    restored.require(&Symbol::new("BTCUSDT"), &added);
    restored
        .restore(&serde_json::from_str(&saved).expect("json"))
        .expect("restore");
    let btc = Symbol::new("BTCUSDT");
    let set = original.set(&btc).expect("btc");
    let specs: Vec<FeatureSpec> = set.specs().to_vec();
    assert!(
        set.regime().is_some(),
        "the regime was evaluated before the checkpoint"
    );
    for (n, e) in rest.iter().enumerate() {
        original.on_event(e);
        restored.on_event(e);
        for spec in &specs {
            assert_eq!(
                original.value(&btc, spec).map(f64::to_bits),
                restored.value(&btc, spec).map(f64::to_bits),
                "{spec} after {n} events"
            );
        }
        assert_eq!(
            original
                .set(&btc)
                .and_then(chimera_kernel::features::FeatureSet::regime),
            restored
                .set(&btc)
                .and_then(chimera_kernel::features::FeatureSet::regime)
        );
        if n < 6 {
            assert_eq!(restored.value(&btc, &added), None, "sma:5 warms up");
        }
    }
    assert!(restored.value(&btc, &added).is_some());
    assert!(
        original
            .value(&btc, &"corr:ETHUSDT:30".parse().expect("spec"))
            .is_some(),
        "the pair state came back too"
    );
}

#[test]
fn a_state_that_is_not_a_feature_engine_is_refused_and_changes_nothing() {
    let mut engine = engine();
    for e in bars(50) {
        engine.on_event(&e);
    }
    let before = engine.value(&Symbol::new("BTCUSDT"), &"atr:14".parse().expect("spec"));
    assert!(engine.restore(&serde_json::json!({"sets": 3})).is_err());
    assert_eq!(
        engine.value(&Symbol::new("BTCUSDT"), &"atr:14".parse().expect("spec")),
        before
    );
}
