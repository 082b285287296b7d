//! Time bars from trades, for bar features on tick data: a trade stamped at `ts` belongs to the
//! bar starting at `ts − ts mod interval`; a bar is complete when the first trade of a later
//! bar arrives (bars without trades are not made up).

use crate::time::Timestamp;

/// A completed bar in `f64`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FBar {
    /// Start of the bar.
    pub start: Timestamp,
    /// First trade price.
    pub open: f64,
    /// Highest.
    pub high: f64,
    /// Lowest.
    pub low: f64,
    /// Last.
    pub close: f64,
    /// Traded quantity.
    pub volume: f64,
}

/// Builds bars of `interval_ms` from trades.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct BarBuilder {
    interval_ms: i64,
    current: Option<FBar>,
}

impl BarBuilder {
    /// Bars of `interval_ms` (≥ 1).
    pub fn new(interval_ms: i64) -> Self {
        Self {
            interval_ms: interval_ms.max(1),
            current: None,
        }
    }

    /// Adds a trade; returns the bar it completed, if it starts a new one. A trade older than
    /// the current bar is folded into it (time going backwards is flagged elsewhere).
    pub fn trade(&mut self, ts: Timestamp, price: f64, qty: f64) -> Option<FBar> {
        let start = Timestamp(ts.0 - ts.0.rem_euclid(self.interval_ms));
        match &mut self.current {
            Some(bar) if start <= bar.start => {
                bar.high = bar.high.max(price);
                bar.low = bar.low.min(price);
                bar.close = price;
                bar.volume += qty;
                None
            }
            slot => slot.replace(FBar {
                start,
                open: price,
                high: price,
                low: price,
                close: price,
                volume: qty,
            }),
        }
    }
}
