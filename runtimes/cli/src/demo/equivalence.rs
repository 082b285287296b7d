//! The one portfolio loop, checked: strategies whose orders depend on timers produce the same
//! orders (ids, times, sides, quantities, prices) and are told the same reports in the backtest
//! and in the demo's bus-carried loop.

use super::lockstep::Lockstep;
use super::synthetic;
use chimera_kernel::engine::PortfolioEngine;
use chimera_kernel::event::MarketEvent;
use chimera_kernel::ids::{Asset, PortfolioId};
use chimera_kernel::instrument::{Instrument, MarketKind};
use chimera_kernel::portfolio::Portfolio;
use chimera_kernel::testing::{ReportLog, TimerDriven};
use chimera_kernel::time::Timestamp;
use chimera_kernel::value::Amount;
use chimera_kernel::Decimal;
use chimera_memory::MemoryEventBus;
use chimera_sim::{Backtest, SimConfig, SimVenue};
use std::sync::Arc;

fn btc() -> Instrument {
    Instrument::linear("BTCUSDT", "USDT", MarketKind::Perp).unwrap_or_else(|_| unreachable!())
}

fn engine(log: &ReportLog) -> PortfolioEngine {
    let start = synthetic::START_MS;
    let mut portfolio = Portfolio::new(PortfolioId::new("timers"), Asset::new("USDT"));
    portfolio.add_instrument(btc());
    portfolio.deposit(Asset::new("USDT"), Amount::new(Decimal::from(1_000_000)));
    // Market orders between bars, 9.5 and 45.5 minutes in (timers fire at 0.5 + 1.5·k min).
    let strategy = TimerDriven::new("BTCUSDT", start, Arc::clone(log));
    PortfolioEngine::new(portfolio, Box::new(strategy))
}

fn market() -> Vec<MarketEvent> {
    synthetic::series(&btc(), 42_000.0, 120, 7)
}

#[test]
fn timer_driven_orders_are_the_same_in_the_backtest_and_the_demo_loop() {
    let backtest_log = ReportLog::default();
    let mut backtest = Backtest::new(SimConfig::default(), 60_000);
    backtest.add_instrument(btc());
    backtest.add_portfolio(engine(&backtest_log));
    for event in market() {
        backtest.step(&event);
    }
    let (backtest_summary, _, backtest_fills) = backtest.finish();

    let demo_log = ReportLog::default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let (demo_summary, demo_fills) = runtime.block_on(async {
        let venue = SimVenue::new(SimConfig::default());
        let engine = engine(&demo_log);
        venue.with_exchange(|x| {
            x.add_instrument(btc());
            x.fund(engine.portfolio());
        });
        let bus = MemoryEventBus::new();
        let mut node = Lockstep::new(&bus, &venue, vec![engine], 60_000)
            .await
            .unwrap_or_else(|e| panic!("lockstep: {e}"));
        for event in market() {
            node.step(&event)
                .await
                .unwrap_or_else(|e| panic!("step: {e}"));
        }
        node.stop().await.unwrap_or_else(|e| panic!("stop: {e}"));
        let (summary, _, fills) = node.finish();
        (summary, fills)
    });

    let backtest_log = backtest_log.lock().map(|l| l.clone()).unwrap_or_default();
    let demo_log = demo_log.lock().map(|l| l.clone()).unwrap_or_default();
    let placed = backtest_log
        .iter()
        .filter(|l| l.ends_with("accepted"))
        .count();
    let canceled = backtest_log
        .iter()
        .filter(|l| l.ends_with("canceled"))
        .count();
    let scripted = backtest_log.iter().filter(|l| l.contains("Market")).count();
    assert!(
        placed > 50 && canceled > 40 && scripted >= 2,
        "the scenario exercises timers: {placed} placed, {canceled} canceled, {scripted} market"
    );
    assert!(
        backtest_log.iter().any(|l| l.contains(&format!(
            "created={}",
            Timestamp(synthetic::START_MS + 570_000)
        ))),
        "an order was created between two bars, at its timer's time"
    );
    assert_eq!(
        backtest_log, demo_log,
        "same orders, same reports, same times"
    );
    assert_eq!(backtest_fills, demo_fills);
    assert_eq!(backtest_summary, demo_summary);
}
