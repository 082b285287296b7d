//! Rehearsals ([`PortfolioEngine::rehearse`]): the strategy's last orders played again on a
//! copy of the engine, sides reversed, changing nothing in the engine itself.

use chimera_kernel::engine::{Command, Input, Output, PortfolioEngine};
use chimera_kernel::order::Side;
use chimera_kernel::testing::{bar, ema_cross_engine, fill_report, PORTFOLIO};
use chimera_kernel::time::Timestamp;
use rust_decimal::Decimal;

fn engine(rehearsing: bool) -> PortfolioEngine {
    let mut engine = ema_cross_engine(PORTFOLIO);
    engine.set_rehearsals(rehearsing);
    engine
}

fn close(minute: i64) -> Decimal {
    Decimal::from(40_000 + (minute * 37 % 23) * 10 - minute * 3)
}

/// Runs minutes `from..to`, filling every order at once at the bar's close, and returns every
/// output; with `rehearse`, rehearses after every bar and every fill (its outputs dropped).
fn run(engine: &mut PortfolioEngine, from: i64, to: i64, rehearse: bool) -> Vec<Output> {
    let mut outputs = Vec::new();
    for minute in from..to {
        let event = bar("BTCUSDT", minute, close(minute));
        engine.handle(Input::Market(&event), Timestamp(minute * 60_000));
        let mut fills = Vec::new();
        while let Some(output) = engine.poll_output() {
            if let Output::Command(Command::Submit(intent)) = &output {
                let qty = intent.qty.get();
                fills.push(fill_report(
                    &intent.client_order_id,
                    &format!("t{}", fills.len() + outputs.len()),
                    close(minute),
                    qty,
                    Decimal::ZERO,
                    true,
                ));
            }
            outputs.push(output);
        }
        if rehearse {
            drop(engine.rehearse());
        }
        for fill in fills {
            engine.handle(Input::Execution(&fill), Timestamp(minute * 60_000));
            outputs.extend(std::iter::from_fn(|| engine.poll_output()));
            if rehearse {
                drop(engine.rehearse());
            }
        }
    }
    outputs
}

fn submits(outputs: &[Output]) -> Vec<(Side, Decimal)> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Command(Command::Submit(intent)) => Some((intent.side, intent.qty.get())),
            _ => None,
        })
        .collect()
}

#[test]
fn nothing_is_rehearsed_when_off_or_before_the_strategy_places_an_order() {
    let mut off = engine(false);
    let mut on = engine(true);
    assert!(on.rehearse().is_empty(), "nothing placed yet");
    // Not one cross in the first minutes (the slow average is not ready).
    run(&mut on, 0, 3, false);
    assert!(!on.can_rehearse() && on.rehearse().is_empty());
    run(&mut off, 0, 120, false);
    assert!(!off.can_rehearse() && off.rehearse().is_empty());
}

#[test]
fn a_rehearsal_places_the_mirror_of_the_last_orders_and_changes_nothing() {
    let mut engine = engine(true);
    let outputs = run(&mut engine, 0, 120, false);
    let placed = submits(&outputs);
    assert!(placed.len() > 4, "the scenario reverses a few times");
    let before = serde_json::to_string(&engine.snapshot()).expect("encode");
    let rehearsed = engine.rehearse();
    let after = serde_json::to_string(&engine.snapshot()).expect("encode");
    assert_eq!(before, after, "the engine is untouched");
    assert_eq!(
        engine.pending_outputs(),
        0,
        "nothing of the stage's came out"
    );
    // The last bar that traded: a reversal (close, then entry), both on the same side; the
    // rehearsal sells what it bought or buys what it sold, and records its decision.
    let rehearsed_submits = submits(&rehearsed);
    let (last_side, _) = *placed.last().expect("placed");
    assert!(!rehearsed_submits.is_empty(), "{rehearsed:?}");
    assert!(rehearsed_submits
        .iter()
        .all(|(side, _)| *side == last_side.opposite()));
    assert!(
        rehearsed.iter().any(|o| matches!(o, Output::Decision(_))),
        "the entry's decision is rehearsed too"
    );
}

#[test]
fn rehearsing_after_every_bar_and_fill_changes_no_output() {
    let mut plain = engine(false);
    let mut rehearsing = engine(true);
    let a = run(&mut plain, 0, 240, false);
    let b = run(&mut rehearsing, 0, 240, true);
    assert!(submits(&a).len() > 8);
    assert_eq!(
        format!("{a:?}"),
        format!("{b:?}"),
        "same outputs, ids included"
    );
    assert_eq!(
        serde_json::to_string(&plain.snapshot()).expect("encode"),
        serde_json::to_string(&rehearsing.snapshot()).expect("encode"),
    );
}
