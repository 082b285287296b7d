//! The price rule of a one-cancels-the-other pair (a take-profit limit and a stop), checked up
//! front as the venue does, so an invalid pair is refused with a reason code before anything is
//! sent, and a locally emulated OCO (perpetuals) obeys the same rule as a native one (spot):
//! for a SELL, limit price > last price > stop price; for a BUY, limit price < last price <
//! stop price.

use super::Side;
use crate::event::RejectReason;
use crate::value::Price;

/// The OCO's prices break the rule for its side.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "The relationship of the prices for the orders is not correct: a {side:?} OCO needs \
     {expected} (limit {limit}, last {last}, stop {stop})"
)]
pub struct OcoPriceError {
    /// The OCO's side.
    pub side: Side,
    /// The take-profit limit price.
    pub limit: Price,
    /// The last price the rule was checked against.
    pub last: Price,
    /// The stop (trigger) price.
    pub stop: Price,
    /// The rule, in words.
    pub expected: &'static str,
}

impl OcoPriceError {
    /// The venue's reason code for it.
    pub fn reason(&self) -> RejectReason {
        RejectReason::OrderListPriceRelationship
    }
}

/// Checks an OCO's limit (take-profit) and stop prices against the last price.
///
/// # Errors
/// [`OcoPriceError`] when they are not strictly ordered for `side`.
pub fn check_oco_prices(
    side: Side,
    limit: Price,
    last: Price,
    stop: Price,
) -> Result<(), OcoPriceError> {
    let (ok, expected) = match side {
        Side::Sell => (limit > last && last > stop, "limit > last > stop"),
        Side::Buy => (limit < last && last < stop, "limit < last < stop"),
    };
    if ok {
        Ok(())
    } else {
        Err(OcoPriceError {
            side,
            limit,
            last,
            stop,
            expected,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Price {
        text.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_sell_takes_profit_above_and_stops_below_the_market() {
        assert!(check_oco_prices(Side::Sell, p("41000"), p("40000"), p("39000")).is_ok());
        for (limit, stop) in [("39500", "39000"), ("41000", "40500"), ("40000", "39000")] {
            let err = check_oco_prices(Side::Sell, p(limit), p("40000"), p(stop));
            assert_eq!(
                err.map_err(|e| e.reason()),
                Err(RejectReason::OrderListPriceRelationship),
                "limit {limit} stop {stop}"
            );
        }
    }

    #[test]
    fn a_buy_takes_profit_below_and_stops_above_the_market() {
        assert!(check_oco_prices(Side::Buy, p("39000"), p("40000"), p("41000")).is_ok());
        let err = check_oco_prices(Side::Buy, p("41000"), p("40000"), p("39000"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("limit < last < stop"), "{err}");
    }
}
