//! The one portfolio loop, checked: strategies whose orders depend on timers produce the same
//! orders (ids, times, sides, quantities, prices) and are told the same reports in the backtest
//! and in the demo's bus-carried loop.

use super::lockstep::Lockstep;
use super::synthetic;
use chimera_kernel::engine::PortfolioEngine;
use chimera_kernel::event::{ExecutionReport, MarketEvent, ReportKind};
use chimera_kernel::ids::{Asset, PortfolioId};
use chimera_kernel::instrument::{Instrument, MarketKind};
use chimera_kernel::order::{Order, Side};
use chimera_kernel::portfolio::Portfolio;
use chimera_kernel::strategy::{Actions, OrderRequest, Strategy, StrategyContext};
use chimera_kernel::time::Timestamp;
use chimera_kernel::value::{Amount, Price, Quantity};
use chimera_kernel::Decimal;
use chimera_memory::MemoryEventBus;
use chimera_sim::{Backtest, SimConfig, SimVenue};
use std::sync::{Arc, Mutex};

type Log = Arc<Mutex<Vec<String>>>;

/// Every `every_ms` (between the one-minute bars) places a post-only buy limit 5 % under the
/// last price, cancels its limits older than `ttl_ms`, and at the scripted times sends a market
/// order. Logs every report it is told with the order it concerns.
struct TimerDriven {
    every_ms: i64,
    ttl_ms: i64,
    next: Timestamp,
    market_at: Vec<Timestamp>,
    last: Option<Price>,
    log: Log,
}

impl Strategy for TimerDriven {
    fn name(&self) -> &'static str {
        "timer-driven"
    }

    fn on_market(&mut self, event: &MarketEvent, _: &StrategyContext<'_>, _: &mut Actions) {
        if let MarketEvent::Bar(bar) = event {
            self.last = Some(bar.close);
        }
    }

    fn next_deadline(&self) -> Option<Timestamp> {
        Some(self.next)
    }

    fn on_timer(&mut self, ctx: &StrategyContext<'_>, out: &mut Actions) {
        let symbol = chimera_kernel::ids::Symbol::new("BTCUSDT");
        for order in ctx.open_orders() {
            if ctx.now.0 - order.intent.created_at.0 >= self.ttl_ms {
                out.cancel(order.intent.client_order_id.clone());
            }
        }
        let one = Quantity::new(Decimal::new(1, 1)).unwrap_or(Quantity::ZERO);
        if let Some(last) = self.last {
            let below = (last.get() * Decimal::new(95, 2)).round_dp(1);
            if let Ok(price) = Price::new(below) {
                out.submit(OrderRequest::limit(
                    symbol.clone(),
                    Side::Buy,
                    one,
                    price,
                    true,
                    "rest",
                ));
            }
        }
        while self.market_at.first().is_some_and(|t| *t <= ctx.now) {
            self.market_at.remove(0);
            out.submit(OrderRequest::market(
                symbol.clone(),
                Side::Buy,
                one,
                "scripted",
            ));
        }
        self.next = Timestamp(self.next.0 + self.every_ms);
    }

    fn on_report(
        &mut self,
        report: &ExecutionReport,
        order: &Order,
        ctx: &StrategyContext<'_>,
        _: &mut Actions,
    ) {
        let kind = match &report.kind {
            ReportKind::Filled(f) | ReportKind::PartiallyFilled(f) => format!("fill {}", f.price),
            other => format!("{other:?}"),
        };
        let line = format!(
            "now={} {} {:?} {} {:?} created={} {kind}",
            ctx.now,
            order.intent.intent_id,
            order.intent.side,
            order.intent.qty,
            order.intent.kind,
            order.intent.created_at,
        );
        if let Ok(mut log) = self.log.lock() {
            log.push(line);
        }
    }
}

fn btc() -> Instrument {
    Instrument::linear("BTCUSDT", "USDT", MarketKind::Perp).unwrap_or_else(|_| unreachable!())
}

fn engine(log: &Log) -> PortfolioEngine {
    let start = synthetic::START_MS;
    let mut portfolio = Portfolio::new(PortfolioId::new("timers"), Asset::new("USDT"));
    portfolio.add_instrument(btc());
    portfolio.deposit(Asset::new("USDT"), Amount::new(Decimal::from(1_000_000)));
    let strategy = TimerDriven {
        every_ms: 90_000,
        ttl_ms: 150_000,
        next: Timestamp(start + 30_000),
        // Between bars: 9.5 and 45.5 minutes in (timers fire at 0.5 + 1.5·k minutes).
        market_at: vec![Timestamp(start + 570_000), Timestamp(start + 2_730_000)],
        last: None,
        log: Arc::clone(log),
    };
    PortfolioEngine::new(portfolio, Box::new(strategy))
}

fn market() -> Vec<MarketEvent> {
    synthetic::series(&btc(), 42_000.0, 120, 7)
}

#[test]
fn timer_driven_orders_are_the_same_in_the_backtest_and_the_demo_loop() {
    let backtest_log = Log::default();
    let mut backtest = Backtest::new(SimConfig::default(), 60_000);
    backtest.add_instrument(btc());
    backtest.add_portfolio(engine(&backtest_log));
    for event in market() {
        backtest.step(&event);
    }
    let (backtest_summary, _, backtest_fills) = backtest.finish();

    let demo_log = Log::default();
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
        .filter(|l| l.contains("Accepted"))
        .count();
    let canceled = backtest_log
        .iter()
        .filter(|l| l.contains("Canceled"))
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
