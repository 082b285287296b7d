//! What the simulated venue knows about one instrument's market, and the prices it offers.

use chimera_kernel::event::{Bar, MarketEvent, OrderBook};
use chimera_kernel::order::Side;
use chimera_kernel::time::Timestamp;
use chimera_kernel::value::{Price, Quantity};

/// The latest market state of one symbol.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct MarketState {
    pub(crate) book: OrderBook,
    pub(crate) bid: Option<Price>,
    pub(crate) ask: Option<Price>,
    pub(crate) last_trade: Option<Price>,
    pub(crate) last_bar: Option<Bar>,
    /// The most recent event was a bar (market orders then use the bar fill model).
    pub(crate) bar_driven: bool,
    pub(crate) now: Timestamp,
}

/// A price at which an aggressive order can trade some quantity (`None` = unlimited).
pub(crate) type Level = (Price, Option<Quantity>);

impl MarketState {
    /// Updates the state with an event. Book gaps leave the book unsynchronised; the quote and
    /// trade fields keep the venue usable meanwhile.
    pub(crate) fn update(&mut self, event: &MarketEvent) {
        self.now = self.now.max(event.ts());
        self.bar_driven = matches!(event, MarketEvent::Bar(_));
        match event {
            MarketEvent::Trade(t) => self.last_trade = Some(t.price),
            MarketEvent::Quote(q) => {
                self.bid = Some(q.bid);
                self.ask = Some(q.ask);
            }
            MarketEvent::BookSnapshot(s) => {
                let _ = self.book.apply_snapshot(s);
                self.refresh_top();
            }
            MarketEvent::BookDelta(d) => {
                let _ = self.book.apply_delta(d);
                self.refresh_top();
            }
            MarketEvent::Bar(b) => self.last_bar = Some(b.clone()),
            MarketEvent::Funding(_) | MarketEvent::MarkPrice(_) => {}
        }
    }

    fn refresh_top(&mut self) {
        if self.book.is_synced() {
            if let Some(b) = self.book.best_bid() {
                self.bid = Some(b.price);
            }
            if let Some(a) = self.book.best_ask() {
                self.ask = Some(a.price);
            }
        }
    }

    /// Liquidity an aggressive order on `side` can take, best first. Empty when the venue has
    /// no price yet.
    pub(crate) fn liquidity(&self, side: Side) -> Vec<Level> {
        if self.book.is_synced() && !self.bar_driven {
            let levels: Vec<Level> = match side {
                Side::Buy => self.book.asks().map(|l| (l.price, Some(l.qty))).collect(),
                Side::Sell => self.book.bids().map(|l| (l.price, Some(l.qty))).collect(),
            };
            if !levels.is_empty() {
                return levels;
            }
        }
        let top = match side {
            Side::Buy => self.ask,
            Side::Sell => self.bid,
        };
        let price = if self.bar_driven {
            None
        } else {
            top.or(self.last_trade)
        };
        price
            .or_else(|| self.last_bar.as_ref().map(|b| b.close))
            .map(|p| vec![(p, None)])
            .unwrap_or_default()
    }

    /// Whether a resting limit order on `side` at `limit` is traded through by the latest state.
    pub(crate) fn trades_through(&self, event: &MarketEvent, side: Side, limit: Price) -> bool {
        let (low, high) = match event {
            MarketEvent::Trade(t) => (t.price, t.price),
            MarketEvent::Quote(q) => (q.ask, q.bid),
            MarketEvent::BookSnapshot(_) | MarketEvent::BookDelta(_) => {
                match (self.ask, self.bid) {
                    (Some(a), Some(b)) => (a, b),
                    _ => return false,
                }
            }
            MarketEvent::Bar(b) => (b.low, b.high),
            MarketEvent::Funding(_) | MarketEvent::MarkPrice(_) => return false,
        };
        match side {
            Side::Buy => low < limit,
            Side::Sell => high > limit,
        }
    }
}
