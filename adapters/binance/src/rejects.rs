//! Binance's refusals mapped onto the kernel's [`RejectReason`]s. Spot and USDⓈ-M use different
//! codes for the same refusal (insufficient funds: spot `-2010` with a message, futures
//! `-2019`; a post-only cross: spot `-2010`, futures `-5022`), and spot packs several refusals
//! into `-2010` and `-1013`, told apart by the message. Codes from the "Error codes" pages of
//! the spot and the USDⓈ-M futures documentation.

use crate::config::Product;
use chimera_kernel::event::RejectReason;

/// The reason for an order refused with `code` and `msg` on `product`.
pub fn order_reject(product: Product, code: i64, msg: &str) -> RejectReason {
    use RejectReason as R;
    let lower = msg.to_ascii_lowercase();
    match code {
        -1013 | -1111 | -4003 | -4005 | -4014 | -4164 | -4131 => filter(code, &lower),
        -4013 | -4016 | -4024 => R::PriceOutOfBand,
        -1121 | -1122 => R::UnknownInstrument,
        -2011 | -2013 => R::UnknownOrder,
        -2019 => R::InsufficientBalance,
        -5022 => R::PostOnlyWouldCross,
        -2021 if product == Product::Usdm => R::WouldImmediatelyTrigger,
        -2022 if lower.contains("reduceonly") => R::ReduceOnlyWouldIncrease,
        -2022 | -2021 => R::CancelReplaceFailed,
        -4116 | -4015 => R::DuplicateClientOrderId,
        -1112 => R::NoMarketData,
        -1101..=-1100 | -1106..=-1102 | -1117..=-1114 | -1130 | -4120 | -2027 | -2028 => {
            R::InvalidOrder
        }
        -2010 => new_order_rejected(&lower),
        _ => R::VenueError,
    }
}

/// `-2010 NEW_ORDER_REJECTED` (spot, and some futures list refusals) by its message.
fn new_order_rejected(lower: &str) -> RejectReason {
    use RejectReason as R;
    if lower.contains("insufficient balance") {
        R::InsufficientBalance
    } else if lower.contains("immediately match") {
        R::PostOnlyWouldCross
    } else if lower.contains("trigger immediately") || lower.contains("immediately trigger") {
        R::WouldImmediatelyTrigger
    } else if lower.contains("duplicate order") {
        R::DuplicateClientOrderId
    } else if lower.contains("relationship of the prices") {
        R::OrderListPriceRelationship
    } else if lower.contains("unknown order") {
        R::UnknownOrder
    } else {
        R::VenueError
    }
}

/// A filter refusal (`-1013 Filter failure: X`, futures' precision and notional codes).
fn filter(code: i64, lower: &str) -> RejectReason {
    use RejectReason as R;
    match code {
        -4014 => R::TickSize,
        -4003 | -4005 | -1111 => R::LotSize,
        -4164 => R::MinNotional,
        _ if lower.contains("percent_price") => R::PriceOutOfBand,
        _ if lower.contains("price_filter") || lower.contains("tick size") => R::TickSize,
        _ if lower.contains("lot_size") || lower.contains("market_lot_size") => R::LotSize,
        _ if lower.contains("notional") => R::MinNotional,
        _ => R::VenueError,
    }
}

/// The reason for a cancel refused with `code`.
pub fn cancel_reject(code: i64) -> RejectReason {
    match code {
        -2011 | -2013 => RejectReason::UnknownOrder,
        -1121 => RejectReason::UnknownInstrument,
        _ => RejectReason::VenueError,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RejectReason as R;

    #[test]
    fn spot_and_futures_codes_map_to_the_same_reasons() {
        let cases = [
            (Product::Spot, -2010, "Account has insufficient balance for requested action.", R::InsufficientBalance),
            (Product::Usdm, -2019, "Margin is insufficient.", R::InsufficientBalance),
            (Product::Spot, -1013, "Filter failure: PRICE_FILTER", R::TickSize),
            (Product::Usdm, -4014, "Price not increased by tick size.", R::TickSize),
            (Product::Spot, -1013, "Filter failure: LOT_SIZE", R::LotSize),
            (Product::Spot, -1013, "Filter failure: NOTIONAL", R::MinNotional),
            (Product::Usdm, -4164, "Order's notional must be no smaller than 5 (unless you choose reduce only).", R::MinNotional),
            (Product::Spot, -2010, "Order would immediately match and take.", R::PostOnlyWouldCross),
            (Product::Usdm, -5022, "Due to the order could not be executed as maker, the Post Only order will be rejected.", R::PostOnlyWouldCross),
            (Product::Usdm, -2022, "ReduceOnly Order is rejected.", R::ReduceOnlyWouldIncrease),
            (Product::Usdm, -2021, "Order would immediately trigger.", R::WouldImmediatelyTrigger),
            (Product::Spot, -2010, "Stop price would trigger immediately.", R::WouldImmediatelyTrigger),
            (Product::Spot, -2022, "Order cancel-replace failed.", R::CancelReplaceFailed),
            (Product::Spot, -1121, "Invalid symbol.", R::UnknownInstrument),
            (Product::Usdm, -4120, "Order type not supported for this endpoint. Please use the Algo Order API endpoints instead.", R::InvalidOrder),
            (Product::Spot, -9999, "Something new.", R::VenueError),
        ];
        for (product, code, msg, want) in cases {
            assert_eq!(
                order_reject(product, code, msg),
                want,
                "{product:?} {code} {msg}"
            );
        }
    }
}
