//! Binance's codes and wording for what the simulated venue refuses, so a user reading a
//! simulated reject sees what the real venue would have said (spot and USD-M futures differ
//! for some of them).

use chimera_kernel::event::RejectReason;
use chimera_kernel::instrument::MarketKind;

/// Binance's error code and message for `reason` on a `market` of that kind.
pub(crate) fn binance(reason: RejectReason, market: MarketKind) -> (i32, &'static str) {
    use MarketKind::{Perp, Spot};
    use RejectReason as R;
    match (reason, market) {
        (R::InsufficientBalance, Spot) => {
            (-2010, "Account has insufficient balance for requested action.")
        }
        (R::InsufficientBalance, Perp) => (-2019, "Margin is insufficient."),
        (R::TickSize, _) => (-1013, "Filter failure: PRICE_FILTER"),
        (R::LotSize, _) => (-1013, "Filter failure: LOT_SIZE"),
        (R::MinNotional, Spot) => (-1013, "Filter failure: NOTIONAL"),
        (R::MinNotional, Perp) => (
            -4164,
            "Order's notional must be no smaller than the minimum notional.",
        ),
        (R::UnknownOrder, _) => (-2011, "Unknown order sent."),
        (R::UnknownInstrument, _) => (-1121, "Invalid symbol."),
        (R::PostOnlyWouldCross, Spot) => (-2010, "Order would immediately match and take."),
        (R::PostOnlyWouldCross, Perp) => (
            -5022,
            "Due to the order could not be executed as maker, the Post Only order will be rejected.",
        ),
        (R::NoMarketData, _) => (-1112, "No orders on book for symbol."),
        (R::DuplicateClientOrderId, _) => (-2010, "Duplicate order sent."),
        (R::ReduceOnlyWouldIncrease, _) => (-2022, "ReduceOnly Order is rejected."),
        (R::OrderListPriceRelationship, _) => (
            -2010,
            "The relationship of the prices for the orders is not correct.",
        ),
        (R::WouldImmediatelyTrigger, Spot) => (-2010, "Stop price would trigger immediately."),
        (R::WouldImmediatelyTrigger, Perp) => (-2021, "Order would immediately trigger."),
        (R::CancelReplaceFailed, _) => (-2022, "Order cancel-replace failed."),
        (R::InvalidOrder, _) => (-1106, "Parameter sent when not required."),
        (R::PriceOutOfBand, Spot) => (-1013, "Filter failure: PERCENT_PRICE_BY_SIDE"),
        (R::PriceOutOfBand, Perp) => (
            -4016,
            "Limit price is outside the allowed band around the mark price.",
        ),
        (R::KillSwitch | R::RiskLimit | R::VenueError, _) => (-1000, "An unknown error occurred."),
    }
}

/// The message the simulated venue puts in a reject: Binance's code and wording, then what
/// this order did wrong.
pub(crate) fn message(reason: RejectReason, market: MarketKind, detail: &str) -> String {
    let (code, text) = binance(reason, market);
    if detail.is_empty() {
        format!("{code} {text}")
    } else {
        format!("{code} {text} ({detail})")
    }
}
