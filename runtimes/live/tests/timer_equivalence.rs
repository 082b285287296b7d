//! The one portfolio loop, checked on a node: a strategy whose orders depend on timers (limits
//! placed between bars and canceled after a time, market orders at scripted times) sends the
//! same intents — ids, sides, quantities, prices, creation times — from a node and a gateway
//! over the in-memory bus as in the backtest. (The demo loop is checked against the backtest in
//! `chimera-cli`.)
#![allow(clippy::unwrap_used, reason = "tests")]

mod embedded;

use chimera_kernel::engine::PortfolioEngine;
use chimera_kernel::event::MarketEvent;
use chimera_kernel::strategy::StrategyRegistry;
use chimera_kernel::testing::{bar, intent_of, ReportLog, TimerDriven};
use chimera_kernel::Decimal;
use chimera_live::node;
use chimera_live::portfolio_spec::PortfolioSpec;
use chimera_live::runtime::shutdown_pair;
use chimera_sim::{Backtest, SimConfig};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

const FIRST_MINUTE: i64 = 29_000_000;
const MINUTES: i64 = 120;

/// A zig-zag around 40 000 with a 7.5 % dip every 37 minutes, so some resting limits fill.
fn market() -> Vec<MarketEvent> {
    (0..MINUTES)
        .map(|i| {
            let phase = i % 20;
            let close = if i % 37 == 20 {
                37_000
            } else {
                40_000 + 20 * phase.min(20 - phase)
            };
            bar("BTCUSDT", FIRST_MINUTE + i, Decimal::from(close))
        })
        .collect()
}

fn spec() -> PortfolioSpec {
    embedded::btcusdt_perp("id = \"timers\"\nstrategy = \"timer-driven\"")
}

/// The built-in strategies and `timer-driven`, logging to `log`.
fn registry(log: &ReportLog) -> StrategyRegistry {
    let mut strategies = StrategyRegistry::builtin();
    let log = Arc::clone(log);
    strategies.register("timer-driven", move |_| {
        Ok(Box::new(TimerDriven::new(
            "BTCUSDT",
            FIRST_MINUTE * 60_000,
            Arc::clone(&log),
        )))
    });
    strategies
}

/// The distinct orders of a report log, in order of first report.
fn intents(log: &ReportLog) -> Vec<String> {
    let lines = log.lock().unwrap().clone();
    let mut seen = BTreeSet::new();
    lines
        .iter()
        .map(|l| intent_of(l))
        .filter(|i| seen.insert(i.clone()))
        .collect()
}

fn backtest() -> (Vec<String>, usize) {
    let log = ReportLog::default();
    let spec = spec();
    let engine: PortfolioEngine = spec.build_engine(&registry(&log)).unwrap();
    let mut backtest = Backtest::new(SimConfig::default(), 60_000);
    for instrument in engine.portfolio().instruments.values() {
        backtest.add_instrument(instrument.clone());
    }
    backtest.add_portfolio(engine);
    for event in market() {
        backtest.step(&event);
    }
    backtest.finish();
    let canceled = log
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.ends_with(" canceled"))
        .count();
    (intents(&log), canceled)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn timer_driven_intents_are_the_same_on_a_node_as_in_the_backtest() {
    let (expected, canceled) = backtest();
    assert!(
        expected.len() > 60 && canceled > 40,
        "the scenario exercises timers: {} orders, {canceled} canceled",
        expected.len()
    );
    assert!(
        expected.iter().filter(|i| i.contains("Market")).count() == 2,
        "two market orders at scripted times between bars: {expected:#?}"
    );

    let world = embedded::World::new("timers").await;
    let (trigger, shutdown) = shutdown_pair();
    let (node_rt, gateway_rt, feed_rt) = world.node_gateway_feed("timers.", &shutdown);
    node::register_portfolios(&node_rt, "n1", &[spec()])
        .await
        .unwrap();
    let log = ReportLog::default();
    let strategies = registry(&log);
    let (node_task, gateway_task) =
        embedded::spawn_node_and_gateway(node_rt, "id = \"n1\"", gateway_rt, strategies);
    embedded::publish_btcusdt(&feed_rt, &market(), 0).await;
    let started = Instant::now();
    while intents(&log).len() < expected.len() && started.elapsed() < Duration::from_mins(1) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Anything further would be a difference: give it time to show.
    tokio::time::sleep(Duration::from_millis(500)).await;
    trigger.trigger();
    node_task.await.unwrap().unwrap();
    gateway_task.await.unwrap().unwrap();
    let live = intents(&log);
    println!(
        "{} intents ({canceled} canceled in the backtest); the node sent {}",
        expected.len(),
        live.len()
    );
    assert_eq!(live, expected, "same intents, same times");
    world.remove().await;
}
