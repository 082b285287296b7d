//! [`TimerTable`]: the one table of deadlines an engine owns. Every stage that needs to be
//! called back without a market event (the strategy today; execution-algorithm slices, re-pegs
//! and position checks next) keeps its deadline here under its own [`TimerKey`], and
//! [`super::PortfolioEngine::next_deadline`] is the earliest entry. One key holds at most one
//! deadline: setting it again moves it.

use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Who a deadline belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimerKey {
    /// The strategy's [`crate::strategy::Strategy::next_deadline`].
    Strategy,
    /// The deadline of a request the engine made (by its id): it times out then.
    Request(u64),
    /// The next step of an execution algorithm's parent order (by its number).
    Exec(u64),
}

/// Deadlines by key, ordered by time (ties by key, so firing order is deterministic).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimerTable {
    by_time: BTreeSet<(Timestamp, TimerKey)>,
    by_key: BTreeMap<TimerKey, Timestamp>,
}

impl TimerTable {
    /// Sets (`Some`) or clears (`None`) the deadline of `key`.
    pub fn set(&mut self, key: TimerKey, deadline: Option<Timestamp>) {
        if self.by_key.get(&key).copied() == deadline {
            return;
        }
        if let Some(old) = self.by_key.remove(&key) {
            self.by_time.remove(&(old, key));
        }
        if let Some(at) = deadline {
            self.by_key.insert(key, at);
            self.by_time.insert((at, key));
        }
    }

    /// The earliest deadline.
    pub fn next(&self) -> Option<Timestamp> {
        self.by_time.first().map(|(at, _)| *at)
    }

    /// Removes and returns the earliest entry due at `now` (deadline ≤ `now`).
    pub fn pop_due(&mut self, now: Timestamp) -> Option<(Timestamp, TimerKey)> {
        let &(at, key) = self.by_time.first()?;
        if at > now {
            return None;
        }
        self.by_time.remove(&(at, key));
        self.by_key.remove(&key);
        Some((at, key))
    }

    /// Number of pending deadlines.
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    /// No pending deadline.
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_deadline_per_key_fired_in_time_order() {
        let mut t = TimerTable::default();
        t.set(TimerKey::Strategy, Some(Timestamp(50)));
        t.set(TimerKey::Strategy, Some(Timestamp(20)));
        assert_eq!(t.len(), 1, "setting again moves the deadline");
        assert_eq!(t.next(), Some(Timestamp(20)));
        assert_eq!(t.pop_due(Timestamp(19)), None);
        assert_eq!(
            t.pop_due(Timestamp(25)),
            Some((Timestamp(20), TimerKey::Strategy))
        );
        assert!(t.is_empty());
        t.set(TimerKey::Strategy, Some(Timestamp(30)));
        t.set(TimerKey::Strategy, None);
        assert_eq!(t.next(), None);
    }
}
