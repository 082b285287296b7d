//! [`Promises`]: how far each portfolio trading on the event-time venue has read, so the venue
//! can feed a symbol's market data before the next order asks for it.
//!
//! A portfolio's engine never goes back in time, so once it has read up to `clock` it sends no
//! order stamped before `clock` (a node publishes that as a `Progress` message, and every order
//! says as much with its own stamp). Market data of a symbol stamped before the smallest clock
//! of the portfolios trading that symbol can therefore be fed now: any later order would have
//! fed it first anyway, so fills are the same, and the work leaves the order's path.
//!
//! A portfolio counts once it has said which symbols it trades and promised a clock. One that
//! fell more than the venue's hold behind a symbol's newest data *and* has said nothing for
//! [`TRADER_SILENCE`] of wall time (no promise, no order) no longer holds that symbol back: a stopped or
//! moved portfolio stops slowing the others down. Lagging alone is not enough: in a replay the
//! market data runs far ahead of every engine in event time, and feeding past a portfolio that
//! is still reading would price its next order with data it had not seen (the run's fills
//! would then depend on how fast each part happened to be). Orders from a portfolio that had not
//! promised anything yet (it starts, or catches up after a restart) are late in the same way as
//! before: they go to the venue as it stands.

use chimera_kernel::ids::{PortfolioId, Symbol};
use chimera_kernel::time::Timestamp;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How long a portfolio may say nothing (wall time) before one left behind by the hold stops
/// holding its symbols back, and its orders stop holding others'. A node promises at least every
/// `[node] progress_ms` (at most 10 s) while its clock moves, backlog or not, so only a
/// portfolio that stopped, moved or lost its node stays silent this long.
pub const TRADER_SILENCE: Duration = Duration::from_secs(30);

/// What the portfolios trading a symbol let the venue feed of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bound {
    /// Nobody holds it back (no trader, or every one left behind and silent).
    Free,
    /// Data stamped at or before this time (just before the slowest clock among its traders).
    Upto(Timestamp),
    /// A trader that holds it back has promised nothing yet.
    Nothing,
}

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
    /// When it last said anything: registered, promised (moved or not) or ordered.
    heard: Instant,
}

impl Trader {
    /// Whether it has said nothing for [`TRADER_SILENCE`] at `now`.
    fn silent(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.heard) >= TRADER_SILENCE
    }
}

impl Promises {
    /// Whether `portfolio` said which symbols it trades.
    pub(crate) fn knows(&self, portfolio: &PortfolioId) -> bool {
        self.traders.contains_key(portfolio)
    }

    /// Registers `portfolio` as trading `symbols` (again: replaces its symbols, keeps its clock),
    /// heard from at `now`.
    pub(crate) fn trade(&mut self, portfolio: &PortfolioId, symbols: &[Symbol], now: Instant) {
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
            heard: now,
        };
        self.traders.insert(portfolio.clone(), trader);
    }

    /// Raises `portfolio`'s promised clock to `clock` (an older one changes nothing), heard from
    /// at `now`; returns whether it moved (`false` for an unknown portfolio too).
    pub(crate) fn promise(
        &mut self,
        portfolio: &PortfolioId,
        clock: Timestamp,
        now: Instant,
    ) -> bool {
        let Some(trader) = self.traders.get_mut(portfolio) else {
            return false;
        };
        trader.heard = trader.heard.max(now);
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

    /// The index of traded `symbol` (for [`Self::bound`]).
    pub(crate) fn index_of(&self, symbol: &Symbol) -> Option<usize> {
        self.symbols.iter().position(|(s, _)| s == symbol)
    }

    /// Whether every portfolio but `portfolio` trading `symbol` has promised `ts` (it will send
    /// nothing stamped earlier), or has said nothing for [`TRADER_SILENCE`]: an order of
    /// `portfolio` stamped `ts` then comes in its turn, after every earlier order on the symbol.
    pub(crate) fn others_reached(
        &self,
        portfolio: &PortfolioId,
        symbol: &Symbol,
        ts: Timestamp,
        now: Instant,
    ) -> bool {
        let Some(index) = self.index_of(symbol) else {
            return true;
        };
        self.symbols[index]
            .1
            .iter()
            .filter(|p| *p != portfolio)
            .filter_map(|p| self.traders.get(p))
            .all(|t| t.clock.is_some_and(|c| c >= ts) || t.silent(now))
    }

    /// What symbol `index`'s traders let the venue feed, given the symbol's newest data, the
    /// venue's hold and the time now: just before the smallest clock among them, leaving out a
    /// trader only when it is both more than `hold_ms` behind `newest` and silent for
    /// [`TRADER_SILENCE`].
    pub(crate) fn bound(
        &self,
        index: usize,
        newest: Option<Timestamp>,
        hold_ms: i64,
        now: Instant,
    ) -> Bound {
        let Some((_, traders)) = self.symbols.get(index) else {
            return Bound::Free;
        };
        let horizon = newest.map(|n| n.0.saturating_sub(hold_ms));
        let mut bound: Option<i64> = None;
        for trader in traders.iter().filter_map(|p| self.traders.get(p)) {
            let behind = horizon.is_some_and(|h| trader.clock.is_none_or(|c| c.0 < h));
            if behind && trader.silent(now) {
                continue; // left behind by the hold, and gone quiet
            }
            let Some(clock) = trader.clock else {
                return Bound::Nothing;
            };
            bound = Some(bound.map_or(clock.0, |b| b.min(clock.0)));
        }
        bound.map_or(Bound::Free, |b| Bound::Upto(Timestamp(b.saturating_sub(1))))
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
        let now = Instant::now();
        let mut promises = Promises::default();
        promises.trade(&a, std::slice::from_ref(&btc), now);
        promises.trade(&b, &[btc.clone(), eth.clone()], now);
        let bound = |p: &Promises, index| p.bound(index, None, i64::MAX, now);
        assert_eq!(bound(&promises, 0), Bound::Nothing, "nothing promised");
        assert!(promises.promise(&a, Timestamp(100), now));
        assert_eq!(
            bound(&promises, 0),
            Bound::Nothing,
            "b trades BTC and promised nothing"
        );
        assert!(promises.promise(&b, Timestamp(70), now));
        assert_eq!(promises.traded_by(&b, 0), Some(0));
        assert_eq!(promises.traded_by(&b, 1), Some(1));
        assert_eq!(promises.traded_by(&b, 2), None);
        assert_eq!(promises.index_of(&eth), Some(1));
        assert_eq!(bound(&promises, 0), Bound::Upto(Timestamp(69)));
        assert_eq!(bound(&promises, 1), Bound::Upto(Timestamp(69)));
        assert!(!promises.promise(&b, Timestamp(60), now), "never back");
        promises.promise(&b, Timestamp(150), now);
        assert_eq!(bound(&promises, 0), Bound::Upto(Timestamp(99)));
        assert_eq!(bound(&promises, 1), Bound::Upto(Timestamp(149)));
        assert!(!promises.promise(&PortfolioId::new("c"), Timestamp(1), now));
        assert_eq!(bound(&promises, 7), Bound::Free, "not a traded symbol");
    }

    #[test]
    fn a_trader_behind_the_hold_holds_its_symbol_back_until_it_goes_quiet() {
        let (a, b, btc, _) = ids();
        let start = Instant::now();
        let mut promises = Promises::default();
        promises.trade(&a, std::slice::from_ref(&btc), start);
        promises.trade(&b, &[btc], start);
        promises.promise(&a, Timestamp(1_000), start);
        promises.promise(&b, Timestamp(10), start);
        let newest = Some(Timestamp(1_000));
        assert_eq!(
            promises.bound(0, newest, 5_000, start),
            Bound::Upto(Timestamp(9))
        );
        // b is 990 ms behind, beyond a hold of 500, but it spoke just now: it still holds.
        assert_eq!(
            promises.bound(0, newest, 500, start),
            Bound::Upto(Timestamp(9))
        );
        let later = start + TRADER_SILENCE;
        assert_eq!(
            promises.bound(0, newest, 500, later),
            Bound::Upto(Timestamp(999)),
            "behind and silent: left out"
        );
        assert_eq!(
            promises.bound(0, newest, 5_000, later),
            Bound::Upto(Timestamp(9)),
            "silent but within the hold: still holds"
        );
        // A promise that does not move the clock still says b is there.
        assert!(!promises.promise(&b, Timestamp(10), later));
        assert_eq!(
            promises.bound(0, newest, 500, later),
            Bound::Upto(Timestamp(9))
        );
        assert_eq!(
            promises.bound(0, newest, 500, later + TRADER_SILENCE),
            Bound::Upto(Timestamp(999))
        );
        assert_eq!(
            promises.bound(0, Some(Timestamp(10_000)), 500, later + TRADER_SILENCE),
            Bound::Free,
            "both behind and silent"
        );
    }

    #[test]
    fn a_silent_trader_that_never_promised_holds_nothing_back_beyond_the_hold() {
        let (a, _, btc, _) = ids();
        let start = Instant::now();
        let mut promises = Promises::default();
        promises.trade(&a, &[btc], start);
        let newest = Some(Timestamp(1_000));
        assert_eq!(promises.bound(0, newest, 500, start), Bound::Nothing);
        assert_eq!(
            promises.bound(0, newest, 500, start + TRADER_SILENCE),
            Bound::Free
        );
    }

    #[test]
    fn trading_again_replaces_the_symbols_and_keeps_the_clock() {
        let (a, _, btc, eth) = ids();
        let now = Instant::now();
        let mut promises = Promises::default();
        promises.trade(&a, &[btc], now);
        promises.promise(&a, Timestamp(50), now);
        promises.trade(&a, &[eth], now);
        assert!(promises.knows(&a));
        assert_eq!(promises.symbol_count(), 2);
        assert_eq!(
            promises.bound(0, None, i64::MAX, now),
            Bound::Free,
            "nobody trades BTC"
        );
        assert_eq!(
            promises.bound(1, None, i64::MAX, now),
            Bound::Upto(Timestamp(49))
        );
    }
}
