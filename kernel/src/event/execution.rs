//! Execution reports: what a venue says happened to one of our orders.

use crate::ids::{ClientOrderId, PortfolioId, Symbol, TradeId, VenueOrderId};
use crate::time::Timestamp;
use crate::value::{Money, Price, Quantity};
use serde::{Deserialize, Serialize};

/// Whether a fill added or removed liquidity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Liquidity {
    /// Resting order was hit.
    Maker,
    /// Order crossed the spread.
    Taker,
}

/// One execution of (part of) an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fill {
    /// Venue trade id: the idempotency key of the fill.
    pub trade_id: TradeId,
    /// Execution price.
    pub price: Price,
    /// Executed quantity (> 0).
    pub qty: Quantity,
    /// Fee charged for this fill (a negative amount is a rebate).
    pub fee: Money,
    /// Maker or taker.
    pub liquidity: Liquidity,
}

/// Why a venue (or our own pre-trade checks) refused an order or a cancel. A closed set so that
/// callers can branch on it; the free-text detail travels next to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// Not enough balance or margin.
    InsufficientBalance,
    /// Price is not a multiple of the tick size.
    TickSize,
    /// Quantity is zero or not a multiple of the lot size.
    LotSize,
    /// Notional below the minimum.
    MinNotional,
    /// Cancel or query for an order the venue does not know (or no longer has open).
    UnknownOrder,
    /// Symbol not listed on the venue.
    UnknownInstrument,
    /// A post-only order would have taken liquidity.
    PostOnlyWouldCross,
    /// A market order arrived before any price was known.
    NoMarketData,
    /// The client order id was already used for a different order.
    DuplicateClientOrderId,
    /// A reduce-only order would open or increase a position.
    ReduceOnlyWouldIncrease,
    /// The kill switch is on: no new positions.
    KillSwitch,
    /// A risk limit refused it.
    RiskLimit,
    /// The prices of an order list (OCO) are in the wrong order for its side (Binance: "The
    /// relationship of the prices for the orders is not correct.").
    OrderListPriceRelationship,
    /// A stop or take-profit whose trigger condition already holds when it arrives (Binance:
    /// "Order would immediately trigger.").
    WouldImmediatelyTrigger,
    /// The order's type, time in force and flags do not go together (or an amend asks for a
    /// change the venue does not make).
    InvalidOrder,
    /// The cancel of a cancel-replace failed, so the new order was not placed (Binance:
    /// "Order cancel-replace failed.").
    CancelReplaceFailed,
    /// The price is outside the venue's allowed range or too far from the market
    /// (Binance `PRICE_FILTER` min/max, `PERCENT_PRICE`).
    PriceOutOfBand,
    /// Anything else the venue said; see the message.
    VenueError,
}

impl From<crate::instrument::FilterViolation> for RejectReason {
    fn from(v: crate::instrument::FilterViolation) -> Self {
        use crate::instrument::FilterViolation as F;
        match v {
            F::TickSize => RejectReason::TickSize,
            F::LotSize | F::MaxQuantity | F::MarketLotSize => RejectReason::LotSize,
            F::MinNotional => RejectReason::MinNotional,
            F::PriceRange | F::PercentPrice => RejectReason::PriceOutOfBand,
        }
    }
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReportKind {
    /// The venue accepted the order; it is working.
    Accepted,
    /// The venue refused the order.
    Rejected {
        /// Reason code.
        reason: RejectReason,
        /// Human-readable detail.
        message: String,
    },
    /// Part of the order executed; more remains.
    PartiallyFilled(Fill),
    /// The order executed completely with this fill.
    Filled(Fill),
    /// The order was canceled by request.
    Canceled,
    /// The order expired: the unfilled rest of an IOC order, a FOK order that could not fill
    /// completely, a triggered order the venue could no longer execute (reduce-only with no
    /// position left, insufficient balance), or the rest of a close-position order larger than
    /// the position.
    Expired,
    /// A cancel request was refused; the order keeps its state.
    CancelRejected {
        /// Reason code.
        reason: RejectReason,
    },
    /// The order was changed in place (see [`crate::order::AmendRequest`]): it now has this
    /// limit price and total quantity.
    Amended {
        /// The new limit price (`None` for an order without one).
        price: Option<Price>,
        /// The new total quantity (including what already executed).
        qty: Quantity,
        /// Which amendment this confirms.
        amendment: u32,
    },
    /// An amend was refused; the order keeps working unchanged.
    AmendRejected {
        /// Reason code.
        reason: RejectReason,
        /// Human-readable detail.
        message: String,
        /// Which amendment was refused.
        amendment: u32,
    },
    /// The venue closed (part of) a position by liquidation: the account's equity fell below
    /// its maintenance margin. The client order id is the venue's own (it names no order of
    /// ours); the fill's trade id makes it idempotent like any other.
    Liquidated {
        /// The side of the liquidating trade (a long is liquidated by a sell).
        side: crate::order::Side,
        /// The execution.
        fill: Fill,
    },
}

impl ReportKind {
    /// Whether the report ends its order (filled, canceled, expired or rejected).
    pub fn ends_order(&self) -> bool {
        matches!(
            self,
            ReportKind::Filled(_)
                | ReportKind::Canceled
                | ReportKind::Expired
                | ReportKind::Rejected { .. }
        )
    }

    /// Its stable lower-case name (as serialised in the `kind` tag).
    pub fn name(&self) -> &'static str {
        match self {
            ReportKind::Accepted => "accepted",
            ReportKind::Rejected { .. } => "rejected",
            ReportKind::PartiallyFilled(_) => "partially_filled",
            ReportKind::Filled(_) => "filled",
            ReportKind::Canceled => "canceled",
            ReportKind::Expired => "expired",
            ReportKind::CancelRejected { .. } => "cancel_rejected",
            ReportKind::Liquidated { .. } => "liquidated",
            ReportKind::Amended { .. } => "amended",
            ReportKind::AmendRejected { .. } => "amend_rejected",
        }
    }
}

/// A report about one order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionReport {
    /// Owning portfolio.
    pub portfolio_id: PortfolioId,
    /// Our id of the order.
    pub client_order_id: ClientOrderId,
    /// The venue's id, once it has one.
    pub venue_order_id: Option<VenueOrderId>,
    /// Instrument.
    pub symbol: Symbol,
    /// Venue time of the event.
    pub ts: Timestamp,
    /// What happened.
    pub kind: ReportKind,
}

impl ExecutionReport {
    /// The fill carried by this report, if any.
    pub fn fill(&self) -> Option<&Fill> {
        match &self.kind {
            ReportKind::PartiallyFilled(f)
            | ReportKind::Filled(f)
            | ReportKind::Liquidated { fill: f, .. } => Some(f),
            _ => None,
        }
    }
}
