//! [`Promises`]: how far each portfolio trading on the event-time venue has read, so the venue
//! can feed a symbol's market data before the next order asks for it.
//!
//! A portfolio's engine never goes back in time, so once it has read up to `clock` it sends no
//! order stamped before `clock` (a node publishes that as a `Progress` message, and every order
//! says as much with its own stamp). Market data of a symbol stamped before the smallest clock
//! of the portfolios trading that symbol can therefore be fed now: any later order would have
//! fed it first anyway, so fills are the same, and the work leaves the order's path.
//!
//! A portfolio counts once it has said which symbols it trades and promised a clock. One whose
//! clock fell more than the venue's hold behind a symbol's newest data no longer holds that
//! symbol back (the hold feeds past it regardless): a stopped or moved portfolio stops slowing
//! the others down after that long. Orders from a portfolio that had not promised anything yet
//! (it starts, or catches up after a restart) are late in the same way as before: they go to the
//! venue as it stands.

use chimera_kernel::ids::{PortfolioId, Symbol};
use chimera_kernel::time::Timestamp;
use std::collections::BTreeMap;

/// Per portfolio, its promised clock and its symbols; per symbol, who trades it.
#[derive(Debug, Default)]
pub(crate) struct Promises {
    traders: BTreeMap<PortfolioId, Trader>,
    /// Each traded symbol with the portfolios trading it, in the order first seen.
    symbols: Vec<(Symbol, Vec<PortfolioId>)>,
}

#[derive(Debug)]
struct Trader {
    clock: Option<Timestamp>,
    /// Indices into [`Promises::symbols`].
    symbols: Vec<usize>,
}

impl Promises {
    /// Whether `portfolio` said which symbols it trades.
    pub(crate) fn knows(&self, portfolio: &PortfolioId) -> bool {
        self.traders.contains_key(portfolio)
    }

    /// Registers `portfolio` as trading `symbols` (again: replaces its symbols, keeps its clock).
    pub(crate) fn trade(&mut self, portfolio: &PortfolioId, symbols: &[Symbol]) {
        let clock = self.traders.get(portfolio).and_then(|t| t.clock);
        for (_, traders) in &mut self.symbols {
            traders.retain(|p| p != portfolio);
        }
        let mut indices = Vec::with_capacity(symbols.len());
        for symbol in symbols {
            let found = self.symbols.iter().position(|(s, _)| s == symbol);
            let index = found.unwrap_or_else(|| {
                self.symbols.push((symbol.clone(), Vec::new()));
                self.symbols.len() - 1
            });
            self.symbols[index].1.push(portfolio.clone());
            indices.push(index);
        }
        let trader = Trader {
            clock,
            symbols: indices,
        };
        self.traders.insert(portfolio.clone(), trader);
    }

    /// Raises `portfolio`'s promised clock to `clock` (an older one changes nothing); returns
    /// whether it moved (`false` for an unknown portfolio too).
    pub(crate) fn promise(&mut self, portfolio: &PortfolioId, clock: Timestamp) -> bool {
        let Some(trader) = self.traders.get_mut(portfolio) else {
            return false;
        };
        if trader.clock.is_some_and(|c| c >= clock) {
            return false;
        }
        trader.clock = Some(clock);
        true
    }

    /// The index (for [`Self::symbol`]) of `portfolio`'s `nth` symbol.
    pub(crate) fn traded_by(&self, portfolio: &PortfolioId, nth: usize) -> Option<usize> {
        self.traders.get(portfolio)?.symbols.get(nth).copied()
    }

    /// How many symbols are traded (the indices [`Self::symbol`] takes).
    pub(crate) fn symbol_count(&self) -> usize {
        self.symbols.len()
    }

    /// Traded symbol `index`.
    pub(crate) fn symbol(&self, index: usize) -> Option<&Symbol> {
        self.symbols.get(index).map(|(s, _)| s)
    }

    /// The newest time up to which symbol `index`'s data may be fed (inclusive), given the
    /// newest data of the symbol and the venue's hold: just before the smallest clock among its
    /// traders still within the hold. `None` while one of them promised nothing, or none did.
    pub(crate) fn feedable(
        &self,
        index: usize,
        newest: Option<Timestamp>,
        hold_ms: i64,
    ) -> Option<Timestamp> {
        let (_, traders) = self.symbols.get(index)?;
        let horizon = newest.map(|n| n.0.saturating_sub(hold_ms));
        let mut bound: Option<i64> = None;
        for portfolio in traders {
            let clock = self.traders.get(portfolio)?.clock?;
            if horizon.is_some_and(|h| clock.0 < h) {
                continue; // left behind by the hold
            }
            bound = Some(bound.map_or(clock.0, |b| b.min(clock.0)));
        }
        bound.map(|b| Timestamp(b.saturating_sub(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> (PortfolioId, PortfolioId, Symbol, Symbol) {
        (
            PortfolioId::new("a"),
            PortfolioId::new("b"),
            Symbol::new("BTC"),
            Symbol::new("ETH"),
        )
    }

    #[test]
    fn a_symbol_is_fed_just_before_the_slowest_clock_of_its_traders() {
        let (a, b, btc, eth) = ids();
        let mut promises = Promises::default();
        promises.trade(&a, std::slice::from_ref(&btc));
        promises.trade(&b, &[btc.clone(), eth.clone()]);
        assert_eq!(
            promises.feedable(0, None, i64::MAX),
            None,
            "nothing promised"
        );
        assert!(promises.promise(&a, Timestamp(100)));
        assert_eq!(
            promises.feedable(0, None, i64::MAX),
            None,
            "b trades BTC and promised nothing"
        );
        assert!(promises.promise(&b, Timestamp(70)));
        assert_eq!(promises.traded_by(&b, 0), Some(0));
        assert_eq!(promises.traded_by(&b, 1), Some(1));
        assert_eq!(promises.traded_by(&b, 2), None);
        assert_eq!(promises.feedable(0, None, i64::MAX), Some(Timestamp(69)));
        assert_eq!(promises.feedable(1, None, i64::MAX), Some(Timestamp(69)));
        assert!(!promises.promise(&b, Timestamp(60)), "never back");
        promises.promise(&b, Timestamp(150));
        assert_eq!(promises.feedable(0, None, i64::MAX), Some(Timestamp(99)));
        assert_eq!(promises.feedable(1, None, i64::MAX), Some(Timestamp(149)));
        assert!(!promises.promise(&PortfolioId::new("c"), Timestamp(1)));
    }

    #[test]
    fn a_trader_left_behind_by_the_hold_holds_nothing_back() {
        let (a, b, btc, _) = ids();
        let mut promises = Promises::default();
        promises.trade(&a, std::slice::from_ref(&btc));
        promises.trade(&b, &[btc]);
        promises.promise(&a, Timestamp(1_000));
        promises.promise(&b, Timestamp(10));
        let newest = Some(Timestamp(1_000));
        assert_eq!(promises.feedable(0, newest, 5_000), Some(Timestamp(9)));
        assert_eq!(promises.feedable(0, newest, 500), Some(Timestamp(999)));
    }

    #[test]
    fn trading_again_replaces_the_symbols_and_keeps_the_clock() {
        let (a, _, btc, eth) = ids();
        let mut promises = Promises::default();
        promises.trade(&a, &[btc]);
        promises.promise(&a, Timestamp(50));
        promises.trade(&a, &[eth]);
        assert!(promises.knows(&a));
        assert_eq!(promises.symbol_count(), 2);
        assert_eq!(
            promises.feedable(0, None, i64::MAX),
            None,
            "nobody trades BTC"
        );
        assert_eq!(promises.feedable(1, None, i64::MAX), Some(Timestamp(49)));
    }
}
