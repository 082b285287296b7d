//! A netting position: signed quantity, cost basis, realised PnL, fees and funding.
//!
//! Exactness: the position keeps its *cost basis* (Σ entry price × quantity of the open
//! quantity) rather than an average price, so a full round trip realises exactly
//! `Σ exit notional − Σ entry notional`. Only a partial close divides: its share of the basis is
//! rounded to [`COST_SCALE`] decimal places, and the rounding residue stays in the basis of the
//! remaining quantity, to be realised when that closes. Nothing is ever lost or double-counted.
//!
//! The same arithmetic serves spot and perpetuals. For a perpetual the signed quantity *is* the
//! position; for spot it is the net base quantity traded by this portfolio (the base balance
//! minus the starting inventory), so selling pre-existing inventory shows as a short relative to
//! the start. Realised PnL is booked when a fill reduces the position:
//! `(exit − entry) × closed × sign × multiplier`; a fill larger than the position closes it and
//! opens the rest on the other side at the fill price.

use crate::ids::Symbol;
use crate::instrument::MarketKind;
use crate::order::Side;
use crate::value::{Amount, Price, Quantity, SignedQty};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Decimal places kept for the cost share of a partial close.
pub const COST_SCALE: u32 = 12;

/// One instrument's position in a portfolio.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// Instrument.
    pub symbol: Symbol,
    /// Spot or perp.
    pub kind: MarketKind,
    /// Signed quantity: + long, − short.
    pub qty: SignedQty,
    /// Σ entry price × quantity of the open quantity (0 when flat), always ≥ 0, quote asset.
    pub cost_basis: Amount,
    /// Realised PnL, quote asset.
    pub realized_pnl: Amount,
    /// Fees paid on this instrument, valued in quote (rebates negative).
    pub fees: Amount,
    /// Funding received (+) or paid (−), quote asset.
    pub funding: Amount,
    /// Last mark price.
    pub mark: Option<Price>,
    /// Base units per contract.
    #[serde(with = "crate::value::decimal_str")]
    pub multiplier: Decimal,
    /// Account leverage (margin = notional / leverage).
    #[serde(with = "crate::value::decimal_str")]
    pub leverage: Decimal,
}

impl Position {
    /// A flat position.
    pub fn flat(symbol: Symbol, kind: MarketKind, multiplier: Decimal, leverage: Decimal) -> Self {
        Self {
            symbol,
            kind,
            qty: SignedQty::ZERO,
            cost_basis: Amount::ZERO,
            realized_pnl: Amount::ZERO,
            fees: Amount::ZERO,
            funding: Amount::ZERO,
            mark: None,
            multiplier,
            leverage,
        }
    }

    /// Whether the position is flat.
    pub fn is_flat(&self) -> bool {
        self.qty.is_zero()
    }

    /// Average entry price of the open quantity (0 when flat). Derived, for display and ROE.
    pub fn avg_entry(&self) -> Decimal {
        if self.qty.is_zero() {
            Decimal::ZERO
        } else {
            self.cost_basis.get() / self.qty.abs().get()
        }
    }

    /// Applies a fill and returns the PnL it realised.
    pub fn apply_fill(&mut self, side: Side, qty: Quantity, price: Price) -> Amount {
        let signed = SignedQty::from_side(side, qty);
        let px = price.get();
        if self.qty.same_direction(signed) {
            self.cost_basis += Amount::new(px * qty.get());
            self.qty += signed;
            return Amount::ZERO;
        }
        let open = self.qty.abs().get();
        let closed = open.min(qty.get());
        let basis = self.cost_basis.get();
        let closed_cost = if closed == open {
            basis
        } else {
            (basis * closed / open).round_dp(COST_SCALE)
        };
        let direction = if self.qty.is_positive() {
            Decimal::ONE
        } else {
            Decimal::NEGATIVE_ONE
        };
        let realized = Amount::new((px * closed - closed_cost) * direction * self.multiplier);
        self.realized_pnl += realized;
        self.cost_basis -= Amount::new(closed_cost);
        self.qty += signed;
        if self.qty.is_zero() {
            self.cost_basis = Amount::ZERO;
        } else if closed == open {
            // Flipped: the remainder opened at the fill price.
            self.cost_basis = Amount::new(px * self.qty.abs().get());
        }
        realized
    }

    /// Unrealised PnL at the last mark (0 without a mark).
    pub fn unrealized_pnl(&self) -> Amount {
        let Some(mark) = self.mark else {
            return Amount::ZERO;
        };
        if self.qty.is_zero() {
            return Amount::ZERO;
        }
        // Evaluated on every mark-to-market: avoid multiplying by ±1 and by a unit multiplier.
        let long_pnl = Amount::new(mark.get() * self.qty.abs().get()) - self.cost_basis;
        let pnl = if self.qty.is_positive() {
            long_pnl
        } else {
            -long_pnl
        };
        if self.multiplier == Decimal::ONE {
            pnl
        } else {
            pnl.scale(self.multiplier)
        }
    }

    /// Absolute notional at the mark (or at entry without a mark).
    pub fn notional(&self) -> Amount {
        match self.mark {
            Some(mark) => Amount::new(self.qty.abs().get() * mark.get() * self.multiplier),
            None => self.cost_basis.scale(self.multiplier),
        }
    }

    /// Initial margin held for the position (perps; 0 for spot).
    pub fn margin_used(&self) -> Amount {
        match self.kind {
            MarketKind::Perp => self
                .notional()
                .checked_div(self.leverage)
                .unwrap_or(Amount::ZERO),
            MarketKind::Spot => Amount::ZERO,
        }
    }

    /// Return on equity: unrealised PnL over the margin committed at entry (`None` when flat).
    pub fn roe(&self) -> Option<Decimal> {
        let entry_margin = self
            .cost_basis
            .scale(self.multiplier)
            .checked_div(self.leverage.max(Decimal::ONE))?;
        self.unrealized_pnl().ratio_to(entry_margin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn pos() -> Position {
        Position::flat(
            Symbol::new("BTCUSDT"),
            MarketKind::Perp,
            Decimal::ONE,
            Decimal::ONE,
        )
    }
    fn q(d: Decimal) -> Quantity {
        Quantity::new(d).unwrap()
    }
    fn p(d: Decimal) -> Price {
        Price::new(d).unwrap()
    }
    fn a(d: Decimal) -> Amount {
        Amount::new(d)
    }

    #[test]
    fn averages_entries_and_realises_on_reduce() {
        let mut pos = pos();
        assert_eq!(
            pos.apply_fill(Side::Buy, q(dec!(1)), p(dec!(100))),
            a(dec!(0))
        );
        assert_eq!(
            pos.apply_fill(Side::Buy, q(dec!(1)), p(dec!(110))),
            a(dec!(0))
        );
        assert_eq!(pos.avg_entry(), dec!(105));
        assert_eq!(
            pos.apply_fill(Side::Sell, q(dec!(0.5)), p(dec!(125))),
            a(dec!(10))
        );
        assert_eq!(pos.qty, SignedQty::new(dec!(1.5)));
        assert_eq!(pos.avg_entry(), dec!(105));
    }

    #[test]
    fn partial_close_residue_is_realised_on_final_close() {
        let mut pos = pos();
        for price in [dec!(100), dec!(100), dec!(101)] {
            pos.apply_fill(Side::Buy, q(dec!(1)), p(price));
        }
        // 1/3 of 301 is not exact; the residue must come back on the last close.
        let r1 = pos.apply_fill(Side::Sell, q(dec!(1)), p(dec!(110)));
        let r2 = pos.apply_fill(Side::Sell, q(dec!(2)), p(dec!(110)));
        assert_eq!(r1 + r2, a(dec!(330) - dec!(301)));
        assert!(pos.is_flat());
        assert_eq!(pos.cost_basis, Amount::ZERO);
    }

    #[test]
    fn flip_opens_remainder_at_fill_price() {
        let mut pos = pos();
        pos.apply_fill(Side::Sell, q(dec!(2)), p(dec!(100)));
        let realized = pos.apply_fill(Side::Buy, q(dec!(3)), p(dec!(90)));
        assert_eq!(realized, a(dec!(20)));
        assert_eq!(pos.qty, SignedQty::new(dec!(1)));
        assert_eq!(pos.avg_entry(), dec!(90));
    }

    #[test]
    fn unrealized_and_margin_follow_the_mark() {
        let mut pos = pos();
        pos.leverage = dec!(5);
        pos.apply_fill(Side::Sell, q(dec!(2)), p(dec!(100)));
        pos.mark = Some(p(dec!(95)));
        assert_eq!(pos.unrealized_pnl(), a(dec!(10)));
        assert_eq!(pos.margin_used(), a(dec!(38)));
        assert_eq!(pos.roe(), Some(dec!(0.25)));
    }
}
