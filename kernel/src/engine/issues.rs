//! Refusals and issues: the engine's outcomes that are not commands, kept as typed data with
//! closed reason codes, so a store or a dashboard can count and filter them without parsing text.

use crate::event::ExecutionReport;
use crate::ids::ClientOrderId;
use crate::order::OrderError;
use crate::portfolio::AccountingError;
use crate::strategy::OrderRequest;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// Why the engine did not turn a strategy's request into an order. A closed set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalReason {
    /// Trading is paused (operator or kill switch): requests are refused, the market is followed.
    TradingPaused,
    /// The symbol is not one of the portfolio's instruments.
    UnknownInstrument,
    /// The quantity rounds down to zero lots.
    ZeroQuantity,
    /// A reduce-only order would open or increase the (projected) position.
    ReduceOnlyWouldIncrease,
    /// A cancel names an order that is not working (unknown, or already finished).
    UnknownOrder,
    /// The run is stopping: no new orders after the strategy's stop hook.
    Stopped,
    /// A close-position order found no position to close (or one on the order's own side).
    NothingToClose,
    /// The order type and time in force do not go together (see
    /// [`crate::order::OrderKind::check_time_in_force`]).
    InvalidOrder,
    /// An amend asks for what the order cannot become: a price on an order without a limit
    /// price, a quantity at or below what already executed, or a change of nothing.
    InvalidAmend,
    /// The order is a child of an execution algorithm, which alone changes it.
    WorkedByAlgorithm,
    /// Risk: the position would exceed its limit relative to equity.
    RiskPositionRatio,
    /// Risk: the order's notional is above the limit.
    RiskOrderNotional,
    /// Risk: too many working orders.
    RiskOpenOrders,
    /// Risk: the limit price is outside the band around the mid.
    RiskPriceBand,
    /// Risk: too many orders in the rate window.
    RiskOrderRate,
    /// A kill switch is in force for the symbol and the order would not reduce the position.
    KillSwitch,
}

impl From<crate::risk::RiskCheck> for RefusalReason {
    fn from(check: crate::risk::RiskCheck) -> Self {
        use crate::risk::RiskCheck as C;
        match check {
            C::PositionRatio => Self::RiskPositionRatio,
            C::OrderNotional => Self::RiskOrderNotional,
            C::OpenOrders => Self::RiskOpenOrders,
            C::PriceBand => Self::RiskPriceBand,
            C::OrderRate => Self::RiskOrderRate,
        }
    }
}

impl RefusalReason {
    /// The canonical spelling (as serialised).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TradingPaused => "trading_paused",
            Self::UnknownInstrument => "unknown_instrument",
            Self::ZeroQuantity => "zero_quantity",
            Self::ReduceOnlyWouldIncrease => "reduce_only_would_increase",
            Self::UnknownOrder => "unknown_order",
            Self::Stopped => "stopped",
            Self::NothingToClose => "nothing_to_close",
            Self::InvalidOrder => "invalid_order",
            Self::InvalidAmend => "invalid_amend",
            Self::WorkedByAlgorithm => "worked_by_algorithm",
            Self::RiskPositionRatio => "risk_position_ratio",
            Self::RiskOrderNotional => "risk_order_notional",
            Self::RiskOpenOrders => "risk_open_orders",
            Self::RiskPriceBand => "risk_price_band",
            Self::RiskOrderRate => "risk_order_rate",
            Self::KillSwitch => "kill_switch",
        }
    }
}

impl std::fmt::Display for RefusalReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::TradingPaused => "trading is paused",
            Self::UnknownInstrument => "instrument not registered with the portfolio",
            Self::ZeroQuantity => "quantity rounds down to zero lots",
            Self::ReduceOnlyWouldIncrease => "reduce-only order would not reduce the position",
            Self::UnknownOrder => "no working order with that client order id",
            Self::Stopped => "the run is stopping",
            Self::NothingToClose => "no position to close on the order's side",
            Self::InvalidOrder => "order type and time in force do not go together",
            Self::InvalidAmend => "the order cannot be amended that way",
            Self::WorkedByAlgorithm => "the order belongs to an execution algorithm",
            Self::RiskPositionRatio => "risk: the position would exceed its limit to equity",
            Self::RiskOrderNotional => "risk: the order's notional is above the limit",
            Self::RiskOpenOrders => "risk: too many working orders",
            Self::RiskPriceBand => "risk: the limit price is outside the band around the mid",
            Self::RiskOrderRate => "risk: too many orders in the rate window",
            Self::KillSwitch => "a kill switch is in force and the order would not reduce",
        })
    }
}

/// What a refused request asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum RefusedAction {
    /// A new order.
    Submit(OrderRequest),
    /// A cancel of one of the portfolio's orders.
    Cancel {
        /// The order named.
        client_order_id: ClientOrderId,
    },
    /// An amend of one of the portfolio's orders.
    Amend {
        /// The order named.
        client_order_id: ClientOrderId,
        /// The price asked for.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        price: Option<crate::value::Price>,
        /// The quantity asked for.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        qty: Option<crate::value::Quantity>,
    },
    /// A cancel-replace of one of the portfolio's orders.
    CancelReplace {
        /// The order named.
        client_order_id: ClientOrderId,
        /// The replacement asked for.
        replacement: OrderRequest,
    },
}

/// A strategy request the engine did not act on, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// What was asked.
    pub request: RefusedAction,
    /// When.
    pub at: Timestamp,
    /// Why not.
    pub reason: RefusalReason,
}

impl Refusal {
    pub(crate) fn submit(request: OrderRequest, at: Timestamp, reason: RefusalReason) -> Self {
        Self {
            request: RefusedAction::Submit(request),
            at,
            reason,
        }
    }
}

/// What was wrong with an execution report the engine could not apply. A closed set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IssueKind {
    /// The report names an order this engine never sent (or forgot long ago).
    UnknownOrder,
    /// The report would move the order along an illegal transition (or overfill it).
    IllegalTransition,
    /// The fill could not be booked (unknown instrument, arithmetic overflow).
    Accounting,
    /// A response names a request that is not waiting (answered already, timed out, or never
    /// made).
    UnknownRequest,
    /// The venue liquidated a position (applied to the books; recorded so it is never
    /// mistaken for an ordinary fill).
    Liquidation,
}

/// An input the engine could not apply: an execution report, or a response to a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineIssue {
    /// The report, when the issue is with one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<ExecutionReport>,
    /// The response, when the issue is with one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<super::Response>,
    /// When it was handled.
    pub at: Timestamp,
    /// The reason code.
    pub kind: IssueKind,
    /// Human-readable detail (the underlying error's message).
    pub detail: String,
}

impl EngineIssue {
    pub(crate) fn unknown_order(report: &ExecutionReport, at: Timestamp) -> Self {
        Self {
            report: Some(report.clone()),
            response: None,
            at,
            kind: IssueKind::UnknownOrder,
            detail: format!("report for unknown order {}", report.client_order_id),
        }
    }

    pub(crate) fn order(report: &ExecutionReport, at: Timestamp, error: &OrderError) -> Self {
        Self {
            report: Some(report.clone()),
            response: None,
            at,
            kind: IssueKind::IllegalTransition,
            detail: error.to_string(),
        }
    }

    pub(crate) fn liquidation(report: &ExecutionReport, at: Timestamp, detail: String) -> Self {
        Self {
            report: Some(report.clone()),
            response: None,
            at,
            kind: IssueKind::Liquidation,
            detail,
        }
    }

    pub(crate) fn accounting(
        report: &ExecutionReport,
        at: Timestamp,
        error: &AccountingError,
    ) -> Self {
        Self {
            report: Some(report.clone()),
            response: None,
            at,
            kind: IssueKind::Accounting,
            detail: error.to_string(),
        }
    }
}
