//! Microstructure features from quotes, trades and the local L2 book: mid, spread in basis
//! points, book depth within ±X bp of the mid, trade imbalance and VWAP over the last N trades.
//! Each is O(1) per update except depth, which walks the book's levels within its band (a few
//! levels; the walk stops at the first level outside it).

use crate::event::OrderBook;
use std::collections::VecDeque;

/// The best bid and ask as the features see them (from the book when it is synchronised,
/// else from the latest quote).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Top {
    /// Best bid.
    pub bid: Option<f64>,
    /// Best ask.
    pub ask: Option<f64>,
}

impl Top {
    /// (bid + ask) / 2.
    pub fn mid(&self) -> Option<f64> {
        Some(f64::midpoint(self.bid?, self.ask?))
    }

    /// (ask − bid) / mid in basis points (negative on a crossed book).
    pub fn spread_bps(&self) -> Option<f64> {
        let mid = self.mid().filter(|m| *m > 0.0)?;
        Some((self.ask? - self.bid?) / mid * 10_000.0)
    }
}

/// Quote notional (Σ price × size, both sides) resting within ±`band_bps` of the mid.
pub fn depth_within(book: &OrderBook, band_bps: f64) -> Option<f64> {
    use rust_decimal::prelude::ToPrimitive;
    if !book.is_synced() {
        return None;
    }
    let mid = book.mid()?.to_f64()?;
    let reach = mid * band_bps / 10_000.0;
    let side = |levels: &mut dyn Iterator<Item = crate::event::BookLevel>| {
        let mut notional = 0.0;
        for level in levels {
            let (Some(price), Some(qty)) = (level.price.get().to_f64(), level.qty.get().to_f64())
            else {
                continue;
            };
            if (price - mid).abs() > reach {
                break;
            }
            notional += price * qty;
        }
        notional
    };
    Some(side(&mut book.bids()) + side(&mut book.asks()))
}

/// Over the last `n` trades: (buy volume − sell volume) / total volume, by aggressor, in
/// [−1, 1]. Trades without an aggressor count for neither side but fill the window.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct TradeImbalance {
    n: usize,
    trades: VecDeque<f64>,
    signed: f64,
    total: f64,
}

impl TradeImbalance {
    /// Over the last `n` trades.
    pub fn new(n: usize) -> Self {
        Self {
            n: n.max(1),
            trades: VecDeque::with_capacity(n.max(1) + 1),
            signed: 0.0,
            total: 0.0,
        }
    }

    /// Feeds a trade: `signed_qty` is its size, + for a buyer's trade, − for a seller's, 0
    /// when the aggressor is unknown.
    pub fn update(&mut self, signed_qty: f64) {
        self.trades.push_back(signed_qty);
        self.signed += signed_qty;
        self.total += signed_qty.abs();
        if self.trades.len() > self.n {
            if let Some(old) = self.trades.pop_front() {
                self.signed -= old;
                self.total -= old.abs();
            }
        }
    }

    /// The imbalance once `n` trades were seen (`None` while no side is known).
    pub fn value(&self) -> Option<f64> {
        (self.trades.len() == self.n && self.total > 0.0)
            .then(|| (self.signed / self.total).clamp(-1.0, 1.0))
    }
}

/// Volume-weighted average price of the last `n` trades (or bars, by their close).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Vwap {
    n: usize,
    fills: VecDeque<(f64, f64)>,
    notional: f64,
    volume: f64,
}

impl Vwap {
    /// Over the last `n` trades.
    pub fn new(n: usize) -> Self {
        Self {
            n: n.max(1),
            fills: VecDeque::with_capacity(n.max(1) + 1),
            notional: 0.0,
            volume: 0.0,
        }
    }

    /// Feeds a trade at `price` of `qty`.
    pub fn update(&mut self, price: f64, qty: f64) {
        self.fills.push_back((price, qty));
        self.notional += price * qty;
        self.volume += qty;
        if self.fills.len() > self.n {
            if let Some((p, q)) = self.fills.pop_front() {
                self.notional -= p * q;
                self.volume -= q;
            }
        }
    }

    /// The VWAP once `n` trades were seen.
    pub fn value(&self) -> Option<f64> {
        (self.fills.len() == self.n && self.volume > 0.0).then(|| self.notional / self.volume)
    }
}
