//! Portfolio accounting: balances per asset and positions per instrument, updated exactly.
//!
//! Invariants (checked by property tests in `kernel/tests/accounting.rs`):
//! - `equity = Σ balances valued at their marks + Σ perpetual unrealised PnL`;
//! - a position's quantity is the sum of its signed fill quantities;
//! - once a position is flat, the change in the quote balance equals
//!   `realised PnL − fees + funding` over its life.
//!
//! Spot fills move base and quote balances; perpetual fills move only the quote balance, by the
//! realised PnL. Fees are debited from whatever asset they are charged in.

mod position;

pub use position::{Position, COST_SCALE};

use crate::event::Fill;
use crate::ids::{Asset, PortfolioId, Symbol};
use crate::instrument::{Instrument, MarketKind};
use crate::order::Side;
use crate::value::{Amount, Price};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Why the portfolio could not account for something.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountingError {
    /// The instrument was never registered with this portfolio.
    #[error("portfolio {portfolio}: unknown instrument {symbol}")]
    UnknownInstrument {
        /// Portfolio id.
        portfolio: String,
        /// The symbol.
        symbol: String,
    },
}

fn unknown_instrument(portfolio: &PortfolioId, symbol: &Symbol) -> AccountingError {
    AccountingError::UnknownInstrument {
        portfolio: portfolio.to_string(),
        symbol: symbol.to_string(),
    }
}

/// A portfolio's books.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Portfolio {
    /// Identifier.
    pub id: PortfolioId,
    /// The asset equity and PnL are reported in (e.g. `USDT`).
    pub reporting_asset: Asset,
    /// Balance per asset (spot holdings and the perpetual wallet balance).
    pub balances: BTreeMap<Asset, Amount>,
    /// Position per instrument.
    pub positions: BTreeMap<Symbol, Position>,
    /// Instruments this portfolio trades.
    pub instruments: BTreeMap<Symbol, Instrument>,
    /// Σ realised PnL.
    pub realized_pnl: Amount,
    /// Σ fees valued in the reporting asset.
    pub fees: Amount,
    /// Σ funding (+ received, − paid).
    pub funding: Amount,
    /// Number of fills applied.
    pub fill_count: u64,
}

impl Portfolio {
    /// An empty portfolio reporting in `reporting_asset`.
    pub fn new(id: PortfolioId, reporting_asset: Asset) -> Self {
        Self {
            id,
            reporting_asset,
            balances: BTreeMap::new(),
            positions: BTreeMap::new(),
            instruments: BTreeMap::new(),
            realized_pnl: Amount::ZERO,
            fees: Amount::ZERO,
            funding: Amount::ZERO,
            fill_count: 0,
        }
    }

    /// Registers an instrument (and a flat position for it).
    pub fn add_instrument(&mut self, instrument: Instrument) {
        let position = Position::flat(
            instrument.symbol.clone(),
            instrument.kind,
            instrument.contract_multiplier,
            instrument.leverage,
        );
        self.positions
            .entry(instrument.symbol.clone())
            .or_insert(position);
        self.instruments
            .insert(instrument.symbol.clone(), instrument);
    }

    /// Credits (or debits, when negative) an asset balance, e.g. an initial deposit.
    pub fn deposit(&mut self, asset: Asset, amount: Amount) {
        match self.balances.get_mut(&asset) {
            Some(balance) => *balance += amount,
            None => {
                self.balances.insert(asset, amount);
            }
        }
    }

    /// Balance of one asset (0 when never touched).
    pub fn balance(&self, asset: &Asset) -> Amount {
        self.balances.get(asset).copied().unwrap_or(Amount::ZERO)
    }

    /// The position in an instrument, if registered.
    pub fn position(&self, symbol: &Symbol) -> Option<&Position> {
        self.positions.get(symbol)
    }

    fn unknown(&self, symbol: &Symbol) -> AccountingError {
        unknown_instrument(&self.id, symbol)
    }

    /// Accounts for one fill of an order on `symbol`; returns the PnL it realised.
    ///
    /// # Errors
    /// [`AccountingError::UnknownInstrument`] when the symbol was never added.
    pub fn apply_fill(
        &mut self,
        symbol: &Symbol,
        side: Side,
        fill: &Fill,
    ) -> Result<Amount, AccountingError> {
        let instrument = self
            .instruments
            .get(symbol)
            .ok_or_else(|| self.unknown(symbol))?;
        let (kind, base, quote) = (
            instrument.kind,
            instrument.base.clone(),
            instrument.quote.clone(),
        );
        let notional = instrument.notional(fill.price, fill.qty);
        let position = self
            .positions
            .get_mut(symbol)
            .ok_or_else(|| unknown_instrument(&self.id, symbol))?;
        let realized = position.apply_fill(side, fill.qty, fill.price);
        let fee_in_quote = if fill.fee.asset == quote {
            fill.fee.amount
        } else if fill.fee.asset == base {
            fill.fee.amount * fill.price.get()
        } else {
            Decimal::ZERO
        };
        let fee_in_quote = Amount::new(fee_in_quote);
        position.fees += fee_in_quote;
        position.mark.get_or_insert(fill.price);
        match kind {
            MarketKind::Spot => {
                self.deposit(base, Amount::new(fill.qty.get() * side.sign()));
                self.deposit(quote, Amount::new(-notional * side.sign()));
            }
            MarketKind::Perp => self.deposit(quote, realized),
        }
        self.deposit(fill.fee.asset.clone(), Amount::new(-fill.fee.amount));
        self.realized_pnl += realized;
        self.fees += fee_in_quote;
        self.fill_count += 1;
        Ok(realized)
    }

    /// Settles funding on a perpetual: the position receives `−qty × mark × rate × multiplier`
    /// (longs pay a positive rate). Returns the amount credited (negative when paid).
    ///
    /// # Errors
    /// [`AccountingError::UnknownInstrument`] when the symbol was never added.
    pub fn apply_funding(
        &mut self,
        symbol: &Symbol,
        rate: Decimal,
        mark: Price,
    ) -> Result<Amount, AccountingError> {
        let instrument = self
            .instruments
            .get(symbol)
            .ok_or_else(|| self.unknown(symbol))?;
        if instrument.kind != MarketKind::Perp {
            return Ok(Amount::ZERO);
        }
        let quote = instrument.quote.clone();
        let position = self
            .positions
            .get_mut(symbol)
            .ok_or_else(|| unknown_instrument(&self.id, symbol))?;
        let amount = (-position.qty * mark)
            .scale(rate)
            .scale(position.multiplier);
        position.funding += amount;
        position.mark = Some(mark);
        self.funding += amount;
        self.deposit(quote, amount);
        Ok(amount)
    }

    /// Marks an instrument to a new price; unknown symbols are ignored (the portfolio is not
    /// interested in them).
    pub fn mark(&mut self, symbol: &Symbol, price: Price) {
        if let Some(position) = self.positions.get_mut(symbol) {
            position.mark = Some(price);
        }
    }

    /// Value of one asset balance in the reporting asset, using the mark of an instrument that
    /// trades it against the reporting asset (0 without such a mark).
    fn valued(&self, asset: &Asset, amount: Amount) -> Amount {
        if *asset == self.reporting_asset {
            return amount;
        }
        self.instruments
            .values()
            .filter(|i| i.base == *asset && i.quote == self.reporting_asset)
            .find_map(|i| self.positions.get(&i.symbol).and_then(|p| p.mark))
            .map_or(Amount::ZERO, |mark| amount.scale(mark.get()))
    }

    /// Balances valued in the reporting asset ("cash").
    pub fn cash_value(&self) -> Amount {
        let mut total = Amount::ZERO;
        for (asset, &amount) in &self.balances {
            if !amount.is_zero() {
                total += self.valued(asset, amount);
            }
        }
        total
    }

    /// Σ unrealised PnL of perpetual positions (spot holdings are already in the cash value).
    pub fn unrealized_pnl(&self) -> Amount {
        self.positions
            .values()
            .filter(|p| p.kind == MarketKind::Perp)
            .map(Position::unrealized_pnl)
            .sum()
    }

    /// Equity in the reporting asset: cash value plus perpetual unrealised PnL.
    pub fn equity(&self) -> Amount {
        self.cash_value() + self.unrealized_pnl()
    }

    /// Initial margin held by perpetual positions.
    pub fn margin_used(&self) -> Amount {
        self.positions.values().map(Position::margin_used).sum()
    }

    /// Equity not committed as margin.
    pub fn available_margin(&self) -> Amount {
        self.equity() - self.margin_used()
    }
}
