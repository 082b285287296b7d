//! The venue's working orders, kept apart by what moves them: live limit orders (matched by
//! the market on every event of their symbol) and armed contingent orders (waiting for their
//! trigger, looked at only when an event moves a trigger price). A book update, the most common
//! event, then never walks the stops, and a trade never walks resting quotes twice.
//!
//! Both share one sequence of numbers (time priority) and are checkpointed as one map keyed by
//! it, as before the split.

use super::Working;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;

#[derive(Debug, Default)]
pub(super) struct WorkingOrders {
    live: BTreeMap<u64, Working>,
    armed: BTreeMap<u64, Working>,
}

impl WorkingOrders {
    /// Files `working` under `seq`, by whether it waits for a trigger.
    pub(super) fn insert(&mut self, seq: u64, working: Working) {
        if working.armed.is_some() {
            self.armed.insert(seq, working);
        } else {
            self.live.insert(seq, working);
        }
    }

    /// Takes the order filed under `seq`, wherever it is.
    pub(super) fn remove(&mut self, seq: u64) -> Option<Working> {
        self.live.remove(&seq).or_else(|| self.armed.remove(&seq))
    }

    /// Every working order with its number, in time priority.
    pub(super) fn iter(&self) -> impl Iterator<Item = (&u64, &Working)> {
        let mut all: Vec<(&u64, &Working)> = self.live.iter().chain(&self.armed).collect();
        all.sort_unstable_by_key(|(seq, _)| **seq);
        all.into_iter()
    }

    /// Every working order, in time priority.
    pub(super) fn values(&self) -> impl Iterator<Item = &Working> {
        self.iter().map(|(_, w)| w)
    }

    /// Every working order, in no particular order (for sums).
    pub(super) fn all(&self) -> impl Iterator<Item = &Working> {
        self.live.values().chain(self.armed.values())
    }

    /// Live limit orders, in time priority.
    pub(super) fn live_mut(&mut self) -> impl Iterator<Item = (&u64, &mut Working)> {
        self.live.iter_mut()
    }

    /// Armed contingent orders, in the order they were placed.
    pub(super) fn armed_mut(&mut self) -> impl Iterator<Item = (&u64, &mut Working)> {
        self.armed.iter_mut()
    }

    /// Whether any order waits for a trigger.
    pub(super) fn any_armed(&self) -> bool {
        !self.armed.is_empty()
    }

    /// Whether any live limit order rests.
    pub(super) fn any_live(&self) -> bool {
        !self.live.is_empty()
    }
}

impl Serialize for WorkingOrders {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for WorkingOrders {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let all = BTreeMap::<u64, Working>::deserialize(deserializer)?;
        let mut orders = WorkingOrders::default();
        for (seq, working) in all {
            orders.insert(seq, working);
        }
        Ok(orders)
    }
}
