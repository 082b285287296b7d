//! Data-quality checks, flagged on every update of a symbol's features, so a decision can
//! refuse to trade on data it should not trust. A closed set of flags: they are stored with
//! decisions and counted in reports.

use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// What looked wrong with an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DqcFlag {
    /// The symbol had no update for longer than the stale limit before this one.
    Stale,
    /// Best bid above best ask.
    CrossedBook,
    /// Best bid equal to best ask.
    LockedBook,
    /// The update's time is before the previous one's.
    TimeBackwards,
    /// The price moved more than k·ATR from the previous price.
    PriceJump,
    /// A book delta did not continue the previous one (updates were lost; the book is
    /// unsynchronised until the next snapshot).
    SequenceGap,
}

/// Limits of the checks.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DqcLimits {
    /// An update more than this after the previous one is flagged stale. Bars come once per
    /// bar, so between bars the silence allowed is at least two bar lengths.
    pub stale_after_ms: i64,
    /// A price move beyond this many ATRs is a jump (needs the ATR warm).
    pub jump_atr: f64,
}

impl Default for DqcLimits {
    fn default() -> Self {
        Self {
            stale_after_ms: 5_000,
            jump_atr: 5.0,
        }
    }
}

/// The checks' memory of one symbol.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct DqcState {
    latest_ts: Option<Timestamp>,
    prev_price: Option<f64>,
    /// The last book update id seen, where no local book is kept to check the sequence.
    book_update: Option<u64>,
}

impl DqcState {
    /// Time checks of an update at `ts`.
    /// Time checks of an update at `ts`; `stale_after_ms` is the silence allowed before it.
    pub(crate) fn on_time(&mut self, ts: Timestamp, stale_after_ms: i64, flags: &mut Vec<DqcFlag>) {
        if let Some(last) = self.latest_ts {
            if ts < last {
                flags.push(DqcFlag::TimeBackwards);
            } else if ts.0 - last.0 > stale_after_ms {
                flags.push(DqcFlag::Stale);
            }
        }
        self.latest_ts = Some(self.latest_ts.map_or(ts, |l| l.max(ts)));
    }

    /// Price checks of a traded (or closing) `price`, against `atr` when known.
    pub(crate) fn on_price(
        &mut self,
        price: f64,
        atr: Option<f64>,
        limits: &DqcLimits,
        flags: &mut Vec<DqcFlag>,
    ) {
        if let (Some(prev), Some(atr)) = (self.prev_price, atr) {
            if atr > 0.0 && (price - prev).abs() > limits.jump_atr * atr {
                flags.push(DqcFlag::PriceJump);
            }
        }
        self.prev_price = Some(price);
    }

    /// A book snapshot: the sequence continues from its id, or from a delta already seen
    /// past it (Binance sends the delta bridging a snapshot before the snapshot itself).
    pub(crate) fn on_snapshot(&mut self, last_update_id: u64) {
        self.book_update = Some(
            self.book_update
                .map_or(last_update_id, |l| l.max(last_update_id)),
        );
    }

    /// A book delta where no local book is kept: flags a gap in the update sequence by the
    /// rule the book applies (futures chain by the previous final id, spot by the first id).
    pub(crate) fn on_delta(&mut self, delta: &crate::event::BookDelta, flags: &mut Vec<DqcFlag>) {
        if let Some(last) = self.book_update {
            if delta.final_update_id <= last {
                return;
            }
            let continues = match delta.prev_final_update_id {
                Some(prev) => prev == last,
                None => delta.first_update_id <= last + 1,
            };
            if !continues {
                flags.push(DqcFlag::SequenceGap);
            }
        }
        self.book_update = Some(delta.final_update_id);
    }

    /// Book checks of a best bid and ask.
    /// (Prices converted from the same decimals compare exactly.)
    pub(crate) fn on_top(bid: f64, ask: f64, flags: &mut Vec<DqcFlag>) {
        match bid.total_cmp(&ask) {
            std::cmp::Ordering::Greater => flags.push(DqcFlag::CrossedBook),
            std::cmp::Ordering::Equal => flags.push(DqcFlag::LockedBook),
            std::cmp::Ordering::Less => {}
        }
    }
}
