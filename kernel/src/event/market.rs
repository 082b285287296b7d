//! Market-data events. Each carries its symbol and the exchange event time (epoch ms).

use crate::ids::{Symbol, TradeId};
use crate::order::Side;
use crate::time::Timestamp;
use crate::value::{Price, Quantity};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// A public trade print.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trade {
    /// Instrument.
    pub symbol: Symbol,
    /// Exchange trade time.
    pub ts: Timestamp,
    /// Trade price.
    pub price: Price,
    /// Trade size.
    pub qty: Quantity,
    /// Side of the aggressor, when the venue says.
    pub aggressor: Option<Side>,
    /// Venue trade id, when known.
    pub trade_id: Option<TradeId>,
}

/// Best bid and offer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    /// Instrument.
    pub symbol: Symbol,
    /// Event time.
    pub ts: Timestamp,
    /// Best bid price.
    pub bid: Price,
    /// Size at the best bid.
    pub bid_qty: Quantity,
    /// Best ask price.
    pub ask: Price,
    /// Size at the best ask.
    pub ask_qty: Quantity,
    /// The order-book update id this quote reflects (Binance `u`), when known.
    pub update_id: Option<u64>,
}

impl Quote {
    /// Mid price `(bid + ask) / 2`.
    pub fn mid(&self) -> Decimal {
        (self.bid.get() + self.ask.get()) / Decimal::TWO
    }
}

/// One price level of a book side; a quantity of zero in a delta deletes the level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookLevel {
    /// Level price.
    pub price: Price,
    /// Total size at the level.
    pub qty: Quantity,
}

/// A full order-book snapshot (e.g. Binance REST depth).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookSnapshot {
    /// Instrument.
    pub symbol: Symbol,
    /// Receive or event time.
    pub ts: Timestamp,
    /// The last update id included in the snapshot.
    pub last_update_id: u64,
    /// Bids, best (highest) first.
    pub bids: Vec<BookLevel>,
    /// Asks, best (lowest) first.
    pub asks: Vec<BookLevel>,
}

/// An incremental order-book update covering update ids `first_update_id..=final_update_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookDelta {
    /// Instrument.
    pub symbol: Symbol,
    /// Event time.
    pub ts: Timestamp,
    /// First update id in this event (Binance `U`).
    pub first_update_id: u64,
    /// Final update id in this event (Binance `u`).
    pub final_update_id: u64,
    /// Final update id of the previous event (Binance futures `pu`), when the venue chains them.
    pub prev_final_update_id: Option<u64>,
    /// Changed bid levels.
    pub bids: Vec<BookLevel>,
    /// Changed ask levels.
    pub asks: Vec<BookLevel>,
}

/// An OHLCV bar. Its event time is its timestamp as written by the source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bar {
    /// Instrument.
    pub symbol: Symbol,
    /// Bar timestamp as written by the source.
    pub ts: Timestamp,
    /// Open.
    pub open: Price,
    /// High.
    pub high: Price,
    /// Low.
    pub low: Price,
    /// Close.
    pub close: Price,
    /// Traded volume (unit as the source gives it).
    pub volume: Quantity,
}

/// A funding settlement on a perpetual: positions pay or receive `rate × mark × size`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FundingRate {
    /// Instrument.
    pub symbol: Symbol,
    /// Funding time.
    pub ts: Timestamp,
    /// The funding rate (0.0001 = 0.01%); longs pay when positive.
    #[serde(with = "crate::value::decimal_str")]
    pub rate: Decimal,
    /// Mark price used for the settlement.
    pub mark_price: Price,
}

/// A mark-price update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkPrice {
    /// Instrument.
    pub symbol: Symbol,
    /// Event time.
    pub ts: Timestamp,
    /// Mark price.
    pub mark: Price,
}

/// Any market-data event: a JSON object with its kind in `"type"` (`"bar"`, `"quote"`, …) and
/// the event's fields beside it. Decoded by hand (`market_decode`), much faster when
/// `"type"` comes first, as it does in what Chimera writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MarketEvent {
    /// A trade print.
    Trade(Trade),
    /// Best bid / offer.
    Quote(Quote),
    /// Full book.
    BookSnapshot(BookSnapshot),
    /// Book update.
    BookDelta(BookDelta),
    /// OHLCV bar.
    Bar(Bar),
    /// Funding settlement.
    Funding(FundingRate),
    /// Mark price.
    MarkPrice(MarkPrice),
}

impl MarketEvent {
    /// The instrument the event is about.
    pub fn symbol(&self) -> &crate::ids::Symbol {
        match self {
            MarketEvent::Trade(e) => &e.symbol,
            MarketEvent::Quote(e) => &e.symbol,
            MarketEvent::BookSnapshot(e) => &e.symbol,
            MarketEvent::BookDelta(e) => &e.symbol,
            MarketEvent::Bar(e) => &e.symbol,
            MarketEvent::Funding(e) => &e.symbol,
            MarketEvent::MarkPrice(e) => &e.symbol,
        }
    }

    /// The instrument's symbol, to replace: a consumer holding many events of one symbol can
    /// make them share one allocation, which its per-symbol maps then match by pointer.
    pub fn symbol_mut(&mut self) -> &mut crate::ids::Symbol {
        match self {
            MarketEvent::Trade(e) => &mut e.symbol,
            MarketEvent::Quote(e) => &mut e.symbol,
            MarketEvent::BookSnapshot(e) => &mut e.symbol,
            MarketEvent::BookDelta(e) => &mut e.symbol,
            MarketEvent::Bar(e) => &mut e.symbol,
            MarketEvent::Funding(e) => &mut e.symbol,
            MarketEvent::MarkPrice(e) => &mut e.symbol,
        }
    }

    /// The event time.
    pub fn ts(&self) -> Timestamp {
        match self {
            MarketEvent::Trade(e) => e.ts,
            MarketEvent::Quote(e) => e.ts,
            MarketEvent::BookSnapshot(e) => e.ts,
            MarketEvent::BookDelta(e) => e.ts,
            MarketEvent::Bar(e) => e.ts,
            MarketEvent::Funding(e) => e.ts,
            MarketEvent::MarkPrice(e) => e.ts,
        }
    }

    /// The price this event says the instrument is worth now, for mark-to-market: last trade,
    /// quote mid, bar close or mark price. Books do not mark.
    pub fn mark_price(&self) -> Option<Price> {
        match self {
            MarketEvent::Trade(e) => Some(e.price),
            MarketEvent::Quote(e) => Price::new(e.mid()).ok(),
            MarketEvent::Bar(e) => Some(e.close),
            MarketEvent::MarkPrice(e) => Some(e.mark),
            MarketEvent::Funding(e) => Some(e.mark_price),
            MarketEvent::BookSnapshot(_) | MarketEvent::BookDelta(_) => None,
        }
    }
}
