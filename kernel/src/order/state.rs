//! The order state machine.
//!
//! ```text
//!   PendingNew ──Accepted──► Accepted ──fill──► PartiallyFilled ──fill──► Filled
//!       │  └──fill──────────────┼───────────────────┘  │
//!       │                      ├──Canceled / Expired──┴──► Canceled / Expired
//!       └──Rejected──► Rejected
//! ```
//! Terminal states (`Filled`, `Canceled`, `Rejected`, `Expired`) accept nothing further. A fill
//! whose trade id was already applied is reported as [`OrderUpdate::Duplicate`] in any state, so
//! redelivered reports are harmless. Anything else illegal is an [`OrderError`] value; the
//! order is left unchanged.

use super::Order;
use crate::event::{ExecutionReport, Fill, ReportKind};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// Where an order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Sent, not yet acknowledged.
    PendingNew,
    /// Working at the venue, nothing filled.
    Accepted,
    /// Working, partly filled.
    PartiallyFilled,
    /// Completely filled (terminal).
    Filled,
    /// Canceled (terminal).
    Canceled,
    /// Refused (terminal).
    Rejected,
    /// Expired (terminal).
    Expired,
}

impl OrderStatus {
    /// Whether no further report can change the order.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            OrderStatus::Filled
                | OrderStatus::Canceled
                | OrderStatus::Rejected
                | OrderStatus::Expired
        )
    }

    /// How far along the life cycle: pending 0, accepted 1, partly filled 2, terminal 3.
    pub fn rank(self) -> u8 {
        match self {
            OrderStatus::PendingNew => 0,
            OrderStatus::Accepted => 1,
            OrderStatus::PartiallyFilled => 2,
            _ => 3,
        }
    }

    /// Stable lower-case name (for storage and reports).
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::PendingNew => "pending_new",
            OrderStatus::Accepted => "accepted",
            OrderStatus::PartiallyFilled => "partially_filled",
            OrderStatus::Filled => "filled",
            OrderStatus::Canceled => "canceled",
            OrderStatus::Rejected => "rejected",
            OrderStatus::Expired => "expired",
        }
    }
}

/// What applying a report did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderUpdate {
    /// Status changed (no fill).
    Status(OrderStatus),
    /// A new fill was applied; the portfolio must account for it.
    Filled(Fill),
    /// The report was already applied (same trade id, or a repeated acknowledgement).
    Duplicate,
    /// A cancel was refused; the order keeps working.
    CancelRejected,
    /// The order was amended: its price and quantity changed.
    Amended,
    /// An amend was refused; the order keeps working unchanged.
    AmendRejected,
}

/// Why a report could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    /// The report is not legal in the order's current state.
    #[error("order {order}: `{report}` is not allowed in state {from:?}")]
    IllegalTransition {
        /// Client order id.
        order: String,
        /// Current state.
        from: OrderStatus,
        /// The report kind that was refused.
        report: &'static str,
    },
    /// A fill would execute more than the order's quantity.
    #[error("order {order}: fill of {fill_qty} would exceed the remaining {remaining}")]
    Overfill {
        /// Client order id.
        order: String,
        /// The fill's quantity.
        fill_qty: String,
        /// What remained.
        remaining: String,
    },
    /// A `Filled` report left quantity unfilled, or a partial fill completed the order.
    #[error("order {order}: report `{report}` disagrees with the quantities (remaining after fill {remaining})")]
    InconsistentFill {
        /// Client order id.
        order: String,
        /// Report kind.
        report: &'static str,
        /// Remaining quantity after the fill.
        remaining: String,
    },
    /// The report names a different order.
    #[error("report for {report_order} applied to order {order}")]
    WrongOrder {
        /// This order.
        order: String,
        /// The report's order.
        report_order: String,
    },
}

fn report_name(kind: &ReportKind) -> &'static str {
    kind.name()
}

impl Order {
    /// Applies an execution report.
    ///
    /// # Errors
    /// [`OrderError`] when the report is illegal in the current state, overfills, is
    /// inconsistent, or is about another order. The order is unchanged on error.
    pub fn apply(&mut self, report: &ExecutionReport) -> Result<OrderUpdate, OrderError> {
        use OrderStatus as S;
        if report.client_order_id != self.intent.client_order_id {
            return Err(OrderError::WrongOrder {
                order: self.intent.client_order_id.to_string(),
                report_order: report.client_order_id.to_string(),
            });
        }
        if let Some(fill) = report.fill() {
            if self.fills.iter().any(|f| f.trade_id == fill.trade_id) {
                return Ok(OrderUpdate::Duplicate);
            }
        }
        let illegal = || OrderError::IllegalTransition {
            order: self.intent.client_order_id.to_string(),
            from: self.status,
            report: report_name(&report.kind),
        };
        let update = match (&report.kind, self.status) {
            (ReportKind::Accepted, S::PendingNew) => OrderUpdate::Status(S::Accepted),
            (ReportKind::Accepted, S::Accepted | S::PartiallyFilled) => {
                return Ok(OrderUpdate::Duplicate)
            }
            (ReportKind::Rejected { .. }, S::PendingNew) => OrderUpdate::Status(S::Rejected),
            (ReportKind::Canceled, S::PendingNew | S::Accepted | S::PartiallyFilled) => {
                OrderUpdate::Status(S::Canceled)
            }
            (ReportKind::Expired, S::PendingNew | S::Accepted | S::PartiallyFilled) => {
                OrderUpdate::Status(S::Expired)
            }
            (ReportKind::CancelRejected { .. }, s) if !s.is_terminal() => {
                self.cancel_requested = false;
                self.touch(report.ts);
                return Ok(OrderUpdate::CancelRejected);
            }
            (
                ReportKind::PartiallyFilled(fill) | ReportKind::Filled(fill),
                S::PendingNew | S::Accepted | S::PartiallyFilled,
            ) => {
                return self.apply_fill(report, fill);
            }
            (ReportKind::Canceled | ReportKind::Expired, s)
                if s == S::Canceled || s == S::Expired =>
            {
                return Ok(OrderUpdate::Duplicate);
            }
            (
                ReportKind::Amended {
                    price,
                    qty,
                    amendment,
                },
                S::Accepted | S::PartiallyFilled,
            ) => return self.apply_amend(report, *price, *qty, *amendment),
            // A confirmation racing the order's end, or repeated: nothing left to change.
            (ReportKind::Amended { .. } | ReportKind::AmendRejected { .. }, s)
                if s.is_terminal() =>
            {
                return Ok(OrderUpdate::Duplicate);
            }
            (ReportKind::AmendRejected { .. }, S::Accepted | S::PartiallyFilled) => {
                self.touch(report.ts);
                return Ok(OrderUpdate::AmendRejected);
            }
            _ => return Err(illegal()),
        };
        if let OrderUpdate::Status(status) = update {
            self.status = status;
            if status.is_terminal() {
                self.cancel_requested = false;
            }
        }
        if self.venue_order_id.is_none() {
            self.venue_order_id.clone_from(&report.venue_order_id);
        }
        self.touch(report.ts);
        Ok(update)
    }

    /// Moves `updated_at` forward (never back: a venue may stamp a fill of a bar-driven order
    /// before the acceptance it follows, and stores order versions by it).
    fn touch(&mut self, ts: Timestamp) {
        self.updated_at = self.updated_at.max(ts);
    }

    /// Applies a confirmed amend: the newest amendment wins, an older or repeated one is a
    /// duplicate. The new quantity must leave something to execute (a venue cancels the order
    /// instead of amending it to its executed quantity or less).
    fn apply_amend(
        &mut self,
        report: &ExecutionReport,
        price: Option<crate::value::Price>,
        qty: crate::value::Quantity,
        amendment: u32,
    ) -> Result<OrderUpdate, OrderError> {
        if amendment <= self.amended {
            return Ok(OrderUpdate::Duplicate);
        }
        if qty <= self.filled_qty {
            return Err(OrderError::InconsistentFill {
                order: self.intent.client_order_id.to_string(),
                report: "amended",
                remaining: "0".to_string(),
            });
        }
        let kind = match price {
            Some(p) if self.intent.kind.limit_price() != Some(p) => {
                self.intent.kind.with_limit_price(p).ok_or_else(|| {
                    OrderError::IllegalTransition {
                        order: self.intent.client_order_id.to_string(),
                        from: self.status,
                        report: "amended",
                    }
                })?
            }
            _ => self.intent.kind,
        };
        self.intent.kind = kind;
        self.intent.qty = qty;
        self.amended = amendment;
        self.amendments = self.amendments.max(amendment);
        self.touch(report.ts);
        Ok(OrderUpdate::Amended)
    }

    fn apply_fill(
        &mut self,
        report: &ExecutionReport,
        fill: &Fill,
    ) -> Result<OrderUpdate, OrderError> {
        let before = self.remaining();
        let Some(remaining) = before.checked_sub(fill.qty) else {
            return Err(OrderError::Overfill {
                order: self.intent.client_order_id.to_string(),
                fill_qty: fill.qty.to_string(),
                remaining: before.to_string(),
            });
        };
        let is_final = matches!(report.kind, ReportKind::Filled(_));
        if is_final != remaining.is_zero() {
            return Err(OrderError::InconsistentFill {
                order: self.intent.client_order_id.to_string(),
                report: report_name(&report.kind),
                remaining: remaining.to_string(),
            });
        }
        self.filled_qty = self.filled_qty + fill.qty;
        self.cum_quote += (fill.price * fill.qty).get();
        self.fees.push(fill.fee.clone());
        self.fills.push(fill.clone());
        self.status = if is_final {
            OrderStatus::Filled
        } else {
            OrderStatus::PartiallyFilled
        };
        if is_final {
            self.cancel_requested = false;
        }
        if self.venue_order_id.is_none() {
            self.venue_order_id.clone_from(&report.venue_order_id);
        }
        self.touch(report.ts);
        Ok(OrderUpdate::Filled(fill.clone()))
    }
}
