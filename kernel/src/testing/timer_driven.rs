//! [`TimerDriven`]: a strategy whose orders depend on timers, for the equivalence tests that
//! check the backtest, the demo loop and a node produce the same orders.

use crate::event::{ExecutionReport, MarketEvent, ReportKind};
use crate::ids::Symbol;
use crate::order::{Order, Side};
use crate::strategy::{Actions, OrderRequest, Strategy, StrategyContext};
use crate::time::Timestamp;
use crate::value::{Price, Quantity};
use rust_decimal::Decimal;
use std::sync::{Arc, Mutex};

/// Lines a [`TimerDriven`] writes, one per report it is told, shared with the test.
pub type ReportLog = Arc<Mutex<Vec<String>>>;

/// Every `every_ms` (between the bars) places a post-only buy limit 5 % under the last close
/// of `symbol`, cancels its orders older than `ttl_ms`, and at the scripted times sends a
/// market buy. Logs every report it is told: `now=… <intent id> <side> <qty> <kind>
/// created=… <report>`.
#[derive(Debug)]
pub struct TimerDriven {
    symbol: Symbol,
    every_ms: i64,
    ttl_ms: i64,
    next: Timestamp,
    market_at: Vec<Timestamp>,
    last: Option<Price>,
    log: ReportLog,
}

impl TimerDriven {
    /// First timer at `start + 30 s`, then every 90 s; limits canceled after 150 s; market
    /// buys at `start` + 9.5 and 45.5 minutes (between one-minute bars).
    pub fn new(symbol: &str, start_ms: i64, log: ReportLog) -> Self {
        Self {
            symbol: Symbol::new(symbol),
            every_ms: 90_000,
            ttl_ms: 150_000,
            next: Timestamp(start_ms + 30_000),
            market_at: vec![
                Timestamp(start_ms + 570_000),
                Timestamp(start_ms + 2_730_000),
            ],
            last: None,
            log,
        }
    }
}

/// The order of a log line: `<intent id> <side> <qty> <kind> created=…` (its `now` and report
/// dropped), to compare what was sent regardless of when reports came back.
pub fn intent_of(line: &str) -> String {
    let rest = line.split_once(' ').map_or("", |(_, rest)| rest);
    match rest.split_once(" created=") {
        Some((head, tail)) => {
            let created = tail.split(' ').next().unwrap_or_default();
            format!("{head} created={created}")
        }
        None => rest.to_owned(),
    }
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
                    self.symbol.clone(),
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
                self.symbol.clone(),
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
            ReportKind::Accepted => "accepted".into(),
            ReportKind::Rejected { reason, .. } => format!("rejected {reason:?}"),
            ReportKind::Canceled => "canceled".into(),
            ReportKind::Expired => "expired".into(),
            ReportKind::CancelRejected { .. } => "cancel_rejected".into(),
            ReportKind::Liquidated { .. } => "liquidated".into(),
            ReportKind::Amended { amendment, .. } => format!("amended {amendment}"),
            ReportKind::AmendRejected { reason, .. } => format!("amend_rejected {reason:?}"),
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
