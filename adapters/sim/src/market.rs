//! What the simulated venue knows about one instrument's market, and the prices it offers.

use chimera_kernel::event::{Bar, MarketEvent, OrderBook};
use chimera_kernel::order::{Side, TriggerSource};
use chimera_kernel::time::Timestamp;
use chimera_kernel::value::{Price, Quantity};
use chimera_kernel::Decimal;

/// The latest market state of one symbol.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct MarketState {
    pub(crate) book: OrderBook,
    pub(crate) bid: Option<Price>,
    pub(crate) ask: Option<Price>,
    /// Sizes at the best bid and ask, when a quote carried them.
    #[serde(default)]
    pub(crate) bid_qty: Option<Quantity>,
    #[serde(default)]
    pub(crate) ask_qty: Option<Quantity>,
    pub(crate) last_trade: Option<Price>,
    pub(crate) last_bar: Option<Bar>,
    /// The latest mark price from the data (mark-price or funding events).
    #[serde(default)]
    pub(crate) mark: Option<Price>,
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
                if self.book.is_synced() {
                    // Newer than the book: it moves the book's top (levels the quote moved past
                    // are gone); older: the book knows better.
                    if self.book.apply_best(q) {
                        self.refresh_top();
                    }
                } else {
                    self.bid = Some(q.bid);
                    self.ask = Some(q.ask);
                    self.bid_qty = Some(q.bid_qty);
                    self.ask_qty = Some(q.ask_qty);
                }
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
            MarketEvent::Funding(f) => self.mark = Some(f.mark_price),
            MarketEvent::MarkPrice(m) => self.mark = Some(m.mark),
        }
    }

    fn refresh_top(&mut self) {
        if self.book.is_synced() {
            if let Some(b) = self.book.best_bid() {
                self.bid = Some(b.price);
                self.bid_qty = Some(b.qty);
            }
            if let Some(a) = self.book.best_ask() {
                self.ask = Some(a.price);
                self.ask_qty = Some(a.qty);
            }
        }
    }

    /// Our own taker fill took `qty` at `price` from the book side where `side` orders rest.
    pub(crate) fn consume(&mut self, side: Side, price: Price, qty: Quantity) {
        if self.uses_book() {
            self.book.consume(side, price, qty);
            self.refresh_top();
        }
    }

    /// Whether aggressive orders walk a synchronised L2 book.
    pub(crate) fn uses_book(&self) -> bool {
        self.book.is_synced() && !self.bar_driven
    }

    /// Liquidity an aggressive `side` order of `qty` can take, best first, no worse than
    /// `limit`: the book's levels until they cover `qty`, else one unlimited level at the best
    /// price known. Empty when the venue has no price yet (or none within `limit`).
    pub(crate) fn liquidity(&self, side: Side, limit: Option<Price>, qty: Quantity) -> Vec<Level> {
        let within = |p: Price| match (limit, side) {
            (None, _) => true,
            (Some(l), Side::Buy) => p <= l,
            (Some(l), Side::Sell) => p >= l,
        };
        if self.uses_book() {
            let book_side: Box<dyn Iterator<Item = chimera_kernel::event::BookLevel> + '_> =
                match side {
                    Side::Buy => Box::new(self.book.asks()),
                    Side::Sell => Box::new(self.book.bids()),
                };
            let mut levels: Vec<Level> = Vec::new();
            let mut covered = Decimal::ZERO;
            let mut any = false;
            for level in book_side {
                any = true;
                if (!levels.is_empty() && covered >= qty.get()) || !within(level.price) {
                    break;
                }
                covered += level.qty.get();
                levels.push((level.price, Some(level.qty)));
            }
            if any {
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
            .filter(|p| within(*p))
            .map(|p| vec![(p, None)])
            .unwrap_or_default()
    }

    /// The best price an aggressive `side` order would get now, if any is known.
    pub(crate) fn reference_price(&self, side: Side) -> Option<Price> {
        self.liquidity(side, None, Quantity::ZERO)
            .first()
            .map(|l| l.0)
    }

    /// The mid of the book or the quote, when both sides are known.
    pub(crate) fn mid(&self) -> Option<Decimal> {
        Some((self.bid?.get() + self.ask?.get()) / Decimal::TWO)
    }

    /// The current value of a trigger price: the last trade (else the last bar's close) or the
    /// mark (else the mid).
    pub(crate) fn trigger_price(&self, source: TriggerSource) -> Option<Price> {
        let last = || {
            self.last_trade
                .or_else(|| self.last_bar.as_ref().map(|b| b.close))
        };
        match source {
            TriggerSource::Last => last(),
            TriggerSource::Mark => self
                .mark
                .or_else(|| self.mid().and_then(|m| Price::new(m).ok()))
                .or_else(last),
        }
    }

    /// The trigger prices `event` sets, in the order a `side` order is assumed to see them. A
    /// bar's path is unknown, so it is taken the way that is worst for the order: a sell sees
    /// open, high, low, close (its stop fires at the low after the high raised a trailing
    /// extreme); a buy open, low, high, close. Quote and book events move the mark only where
    /// the data carries no mark of its own.
    pub(crate) fn trigger_path(
        &self,
        event: &MarketEvent,
        source: TriggerSource,
        side: Side,
    ) -> TriggerPath {
        match (event, source) {
            (MarketEvent::Trade(t), TriggerSource::Last) => TriggerPath::one(t.price),
            (MarketEvent::Bar(b), _) => TriggerPath(
                match side {
                    Side::Sell => [b.open, b.high, b.low, b.close],
                    Side::Buy => [b.open, b.low, b.high, b.close],
                }
                .map(Some),
            ),
            (MarketEvent::MarkPrice(m), TriggerSource::Mark) => TriggerPath::one(m.mark),
            (MarketEvent::Funding(f), TriggerSource::Mark) => TriggerPath::one(f.mark_price),
            (
                MarketEvent::Quote(_) | MarketEvent::BookDelta(_) | MarketEvent::BookSnapshot(_),
                TriggerSource::Mark,
            ) if self.mark.is_none() => self
                .mid()
                .and_then(|m| Price::new(m).ok())
                .map_or(TriggerPath::EMPTY, TriggerPath::one),
            _ => TriggerPath::EMPTY,
        }
    }

    /// Whether a resting limit order on `side` at `limit` is traded through by the latest
    /// state (strictly: the market went beyond its price).
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

/// Up to four trigger prices, in the order they are seen (no allocation per event).
#[derive(Debug, Clone, Copy)]
pub(crate) struct TriggerPath([Option<Price>; 4]);

impl TriggerPath {
    const EMPTY: TriggerPath = TriggerPath([None; 4]);

    fn one(price: Price) -> Self {
        TriggerPath([Some(price), None, None, None])
    }

    /// The prices, in order.
    pub(crate) fn prices(&self) -> impl Iterator<Item = Price> + '_ {
        self.0.iter().flatten().copied()
    }
}
