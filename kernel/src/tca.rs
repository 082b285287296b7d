//! Transaction-cost fields of a fill: what the market looked like when the order was sent
//! (mid and the top three levels of each side), the slippage of the fill against that mid,
//! and the venue's latency from send to acknowledgement and to the fill.
//!
//! Pure bookkeeping: whoever sends orders (the backtest, the demo, the live gateway) passes the
//! book it sees at send time and every report; the costs come back with each fill, for the
//! fills table and the report.

use crate::event::{BookLevel, ExecutionReport, ReportKind};
use crate::ids::{ClientOrderId, FastMap};
use crate::order::{OrderIntent, Side};
use crate::time::Timestamp;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Book levels recorded per side at send.
pub const TCA_LEVELS: usize = 3;

/// The market when an order was sent, and what became of it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FillCosts {
    /// When the order was sent.
    pub sent_at: Timestamp,
    /// Milliseconds from send to the venue's acknowledgement (`None` when it filled at once).
    pub ack_ms: Option<i64>,
    /// Milliseconds from send to this fill.
    pub fill_ms: i64,
    /// The mid at send, when both sides were known.
    #[serde(with = "crate::value::decimal_str::option")]
    pub mid_at_send: Option<Decimal>,
    /// The fill price against the mid at send, in basis points, positive when it cost.
    #[serde(with = "crate::value::decimal_str::option")]
    pub slippage_bps: Option<Decimal>,
    /// Best bids at send, best first (up to [`TCA_LEVELS`]).
    pub bids_at_send: Vec<BookLevel>,
    /// Best asks at send, best first.
    pub asks_at_send: Vec<BookLevel>,
}

#[derive(Debug, Clone)]
struct Sent {
    side: Side,
    at: Timestamp,
    acked_at: Option<Timestamp>,
    mid: Option<Decimal>,
    bids: Vec<BookLevel>,
    asks: Vec<BookLevel>,
}

/// Orders in flight, with the market at their send: call [`FillCostTracker::on_submit`] as an
/// order goes to the venue and [`FillCostTracker::on_report`] for each of its reports.
#[derive(Debug, Default)]
pub struct FillCostTracker {
    sent: FastMap<ClientOrderId, Sent>,
}

impl FillCostTracker {
    /// Notes an order about to be sent, with the best `bids` and `asks` (best first, up to
    /// [`TCA_LEVELS`] are kept) the sender sees; empty when it sees no book.
    pub fn on_submit(
        &mut self,
        intent: &OrderIntent,
        mut bids: Vec<BookLevel>,
        mut asks: Vec<BookLevel>,
    ) {
        bids.truncate(TCA_LEVELS);
        asks.truncate(TCA_LEVELS);
        let mid = match (bids.first(), asks.first()) {
            (Some(b), Some(a)) => Some((b.price.get() + a.price.get()) / Decimal::TWO),
            _ => None,
        };
        self.sent.insert(
            intent.client_order_id.clone(),
            Sent {
                side: intent.side,
                at: intent.created_at,
                acked_at: None,
                mid,
                bids,
                asks,
            },
        );
    }

    /// Notes a report; returns the costs of its fill, if it carries one. Forgets the order
    /// once it is done.
    pub fn on_report(&mut self, report: &ExecutionReport) -> Option<FillCosts> {
        let id = &report.client_order_id;
        if report.kind == ReportKind::Accepted {
            if let Some(sent) = self.sent.get_mut(id) {
                sent.acked_at.get_or_insert(report.ts);
            }
        }
        let costs = report.fill().and_then(|fill| {
            let sent = self.sent.get(id)?;
            let slippage_bps = sent.mid.filter(|m| !m.is_zero()).map(|mid| {
                ((fill.price.get() - mid) / mid * Decimal::from(10_000) * sent.side.sign())
                    .round_dp(4)
            });
            Some(FillCosts {
                sent_at: sent.at,
                ack_ms: sent.acked_at.map(|a| a.0 - sent.at.0),
                fill_ms: report.ts.0 - sent.at.0,
                mid_at_send: sent.mid,
                slippage_bps,
                bids_at_send: sent.bids.clone(),
                asks_at_send: sent.asks.clone(),
            })
        });
        let done = report.kind.ends_order();
        if done {
            self.sent.remove(id);
        }
        costs
    }
}
