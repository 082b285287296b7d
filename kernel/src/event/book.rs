//! A local L2 order book maintained from snapshots and sequenced deltas.
//!
//! Synchronisation follows the procedure venues such as Binance document: deltas that arrive
//! before the snapshot are buffered; once the snapshot is in, buffered deltas whose final update
//! id is at or below the snapshot's are dropped, the first applied delta must straddle
//! `last_update_id + 1` (or, on venues that chain by `prev_final_update_id`, continue from the
//! snapshot's id), and afterwards each delta must continue the chain (its `first_update_id`
//! is the previous final id + 1, or, on venues that send it, `prev_final_update_id` equals the
//! previous final id). A break in the chain is reported as [`BookError::Gap`] and the book must
//! be rebuilt from a new snapshot.

use super::book_levels::Levels;
use super::market::{BookDelta, BookLevel, BookSnapshot};
use crate::value::{Price, Quantity};

/// Why a delta could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BookError {
    /// The delta does not continue from the last applied update.
    #[error(
        "order-book gap: last applied update {last}, next delta starts at {first} (prev {prev:?})"
    )]
    Gap {
        /// Last applied final update id.
        last: u64,
        /// First update id of the offending delta.
        first: u64,
        /// Its `prev_final_update_id`, if any.
        prev: Option<u64>,
    },
}

/// An L2 book: price → size per side, plus the sequencing state. Serializable, so a component
/// holding a book (a simulated venue) can be checkpointed.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct OrderBook {
    bids: Levels,
    asks: Levels,
    last_update_id: Option<u64>,
    buffered: Vec<BookDelta>,
}

impl OrderBook {
    /// An empty, unsynchronised book.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether a snapshot has been applied and the chain is intact.
    pub fn is_synced(&self) -> bool {
        self.last_update_id.is_some()
    }

    /// The last applied update id.
    pub fn last_update_id(&self) -> Option<u64> {
        self.last_update_id
    }

    /// Replaces the book with a snapshot, then applies any buffered deltas that follow it.
    ///
    /// # Errors
    /// [`BookError::Gap`] when the buffered deltas do not bridge the snapshot.
    pub fn apply_snapshot(&mut self, snapshot: &BookSnapshot) -> Result<(), BookError> {
        self.bids = Levels::from_levels(&snapshot.bids);
        self.asks = Levels::from_levels(&snapshot.asks);
        self.last_update_id = Some(snapshot.last_update_id);
        let buffered = std::mem::take(&mut self.buffered);
        let mut first_applied = true;
        for delta in buffered
            .iter()
            .filter(|d| d.final_update_id > snapshot.last_update_id)
        {
            if first_applied {
                let bridges = delta.first_update_id <= snapshot.last_update_id + 1
                    || delta.prev_final_update_id == Some(snapshot.last_update_id);
                if !bridges {
                    self.last_update_id = None;
                    return Err(BookError::Gap {
                        last: snapshot.last_update_id,
                        first: delta.first_update_id,
                        prev: delta.prev_final_update_id,
                    });
                }
                self.apply_levels(delta);
                first_applied = false;
            } else {
                self.apply_delta(delta)?;
            }
        }
        Ok(())
    }

    /// Applies a delta, or buffers it when no snapshot has been applied yet. Deltas entirely at
    /// or before the current state are ignored (replays are harmless).
    ///
    /// # Errors
    /// [`BookError::Gap`] when the delta skips updates; the book is then unsynchronised.
    pub fn apply_delta(&mut self, delta: &BookDelta) -> Result<(), BookError> {
        let Some(last) = self.last_update_id else {
            self.buffered.push(delta.clone());
            return Ok(());
        };
        if delta.final_update_id <= last {
            return Ok(());
        }
        let continues = match delta.prev_final_update_id {
            Some(prev) => prev == last,
            None => delta.first_update_id <= last + 1,
        };
        if !continues {
            self.last_update_id = None;
            return Err(BookError::Gap {
                last,
                first: delta.first_update_id,
                prev: delta.prev_final_update_id,
            });
        }
        self.apply_levels(delta);
        Ok(())
    }

    fn apply_levels(&mut self, delta: &BookDelta) {
        for level in &delta.bids {
            self.bids.set(level);
        }
        for level in &delta.asks {
            self.asks.set(level);
        }
        self.last_update_id = Some(delta.final_update_id);
    }

    /// The size resting at `price` on the side where `side` orders rest (bids for buys).
    pub fn level_qty(&self, side: crate::order::Side, price: Price) -> Quantity {
        let levels = match side {
            crate::order::Side::Buy => &self.bids,
            crate::order::Side::Sell => &self.asks,
        };
        levels.get(price)
    }

    /// Removes `qty` from the level at `price` on the side where `side` orders rest (our own
    /// fills taking it), deleting the level when nothing is left. The next update of the level
    /// states its size again, so what we took stays gone until the venue says otherwise.
    pub fn consume(&mut self, side: crate::order::Side, price: Price, qty: Quantity) {
        let levels = match side {
            crate::order::Side::Buy => &mut self.bids,
            crate::order::Side::Sell => &mut self.asks,
        };
        if let Some(level) = levels.get_mut(price) {
            match level.checked_sub(qty) {
                Some(left) if !left.is_zero() => *level = left,
                _ => levels.remove(price),
            }
        }
    }

    /// Brings the top of a synchronised book up to a best bid and offer newer than its last
    /// update (a Binance `bookTicker` whose `u` is past the book's): levels the new best
    /// prices have moved past are removed and the best levels take the quote's sizes. Between
    /// two depth updates this keeps the book consistent with the quotes; the next depth update
    /// restates every level it touches. Returns whether the quote was applied (it is not when
    /// the book is not synchronised or is already as new).
    pub fn apply_best(&mut self, quote: &super::market::Quote) -> bool {
        let newer = match (self.last_update_id, quote.update_id) {
            (Some(book), Some(q)) => q > book,
            _ => false,
        };
        if !newer || quote.bid >= quote.ask {
            return false;
        }
        self.bids.remove_above(quote.bid);
        self.bids.set(&BookLevel {
            price: quote.bid,
            qty: quote.bid_qty,
        });
        self.asks.remove_below(quote.ask);
        self.asks.set(&BookLevel {
            price: quote.ask,
            qty: quote.ask_qty,
        });
        true
    }

    /// `(best bid + best ask) / 2`, when both sides have a level.
    pub fn mid(&self) -> Option<rust_decimal::Decimal> {
        Some(
            (self.best_bid()?.price.get() + self.best_ask()?.price.get())
                / rust_decimal::Decimal::TWO,
        )
    }

    /// Best bid level.
    pub fn best_bid(&self) -> Option<BookLevel> {
        self.bids.ascending().next_back()
    }

    /// Best ask level.
    pub fn best_ask(&self) -> Option<BookLevel> {
        self.asks.ascending().next()
    }

    /// Bid levels, best first.
    pub fn bids(&self) -> impl Iterator<Item = BookLevel> + '_ {
        self.bids.ascending().rev()
    }

    /// Ask levels, best first.
    pub fn asks(&self) -> impl Iterator<Item = BookLevel> + '_ {
        self.asks.ascending()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::Symbol;
    use crate::time::Timestamp;
    use rust_decimal::Decimal;

    fn lvl(p: i64, q: i64) -> BookLevel {
        BookLevel {
            price: Price::new(Decimal::from(p)).unwrap(),
            qty: Quantity::new(Decimal::from(q)).unwrap(),
        }
    }

    fn delta(first: u64, last: u64, bids: Vec<BookLevel>) -> BookDelta {
        BookDelta {
            symbol: Symbol::new("X"),
            ts: Timestamp(0),
            first_update_id: first,
            final_update_id: last,
            prev_final_update_id: None,
            bids,
            asks: vec![],
        }
    }

    #[test]
    fn buffers_until_snapshot_then_bridges() {
        let mut book = OrderBook::new();
        book.apply_delta(&delta(5, 9, vec![lvl(99, 1)])).unwrap();
        book.apply_delta(&delta(10, 12, vec![lvl(101, 2)])).unwrap();
        assert!(!book.is_synced());
        let snap = BookSnapshot {
            symbol: Symbol::new("X"),
            ts: Timestamp(0),
            last_update_id: 10,
            bids: vec![lvl(100, 1), lvl(99, 3)],
            asks: vec![lvl(102, 1)],
        };
        book.apply_snapshot(&snap).unwrap();
        assert_eq!(book.last_update_id(), Some(12));
        assert_eq!(book.best_bid(), Some(lvl(101, 2)));
        assert_eq!(book.bids().count(), 3);
    }

    #[test]
    fn zero_quantity_deletes_and_gap_is_reported() {
        let mut book = OrderBook::new();
        let snap = BookSnapshot {
            symbol: Symbol::new("X"),
            ts: Timestamp(0),
            last_update_id: 1,
            bids: vec![lvl(100, 1)],
            asks: vec![],
        };
        book.apply_snapshot(&snap).unwrap();
        book.apply_delta(&delta(
            2,
            2,
            vec![BookLevel {
                price: lvl(100, 1).price,
                qty: Quantity::ZERO,
            }],
        ))
        .unwrap();
        assert_eq!(book.best_bid(), None);
        assert!(matches!(
            book.apply_delta(&delta(5, 6, vec![])),
            Err(BookError::Gap { last: 2, .. })
        ));
        assert!(!book.is_synced());
    }

    #[test]
    fn futures_delta_bridges_the_snapshot_by_prev_id() {
        let mut book = OrderBook::new();
        let mut bridging = delta(20, 25, vec![lvl(100, 4)]);
        bridging.prev_final_update_id = Some(10);
        book.apply_delta(&bridging).unwrap();
        let snap = BookSnapshot {
            symbol: Symbol::new("X"),
            ts: Timestamp(0),
            last_update_id: 10,
            bids: vec![lvl(99, 1)],
            asks: vec![],
        };
        book.apply_snapshot(&snap).unwrap();
        assert_eq!(book.last_update_id(), Some(25));
        let mut next = delta(30, 31, vec![]);
        next.prev_final_update_id = Some(24);
        assert!(
            book.apply_delta(&next).is_err(),
            "futures chain by prev id, not by first id"
        );
    }
}
