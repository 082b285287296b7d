//! The client order ids a simulated venue has received, remembered within a bounded window.
//!
//! A venue must refuse an order id it has seen (clients resend after restarts), but a venue
//! that is checkpointed after every batch cannot carry every id it ever saw. The window keeps
//! the most recent [`KNOWN_WINDOW`] ids and the venue time up to which forgotten ids reach, so
//! a caller can tell "never received" from "too old to say" ([`Knowledge`]) and consult its own
//! records for the latter.

use chimera_kernel::ids::ClientOrderId;
use chimera_kernel::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::{HashSet, VecDeque};

/// How many recent client order ids a venue remembers exactly.
pub const KNOWN_WINDOW: usize = 4096;

/// What the venue can say about a client order id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Knowledge {
    /// The venue received this order.
    Received,
    /// The venue never received it: the order is newer than anything it has forgotten.
    NeverReceived,
    /// The order is older than the window; the venue may have received and forgotten it.
    Forgotten,
}

/// Recently received client order ids, in arrival order. Serialized as the ids alone (the set
/// is rebuilt on restore), by reference: a checkpoint does not copy the window.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(from = "KnownWire")]
pub(crate) struct KnownOrders {
    order: VecDeque<(ClientOrderId, Timestamp)>,
    set: HashSet<ClientOrderId>,
    /// Venue time of the newest id evicted from the window.
    forgotten_until: Option<Timestamp>,
}

#[derive(Deserialize)]
struct KnownWire {
    order: VecDeque<(ClientOrderId, Timestamp)>,
    forgotten_until: Option<Timestamp>,
}

impl From<KnownWire> for KnownOrders {
    fn from(wire: KnownWire) -> Self {
        Self {
            set: wire.order.iter().map(|(id, _)| id.clone()).collect(),
            order: wire.order,
            forgotten_until: wire.forgotten_until,
        }
    }
}

/// [`KnownWire`] borrowed.
#[derive(Serialize)]
struct KnownWireRef<'a> {
    order: &'a VecDeque<(ClientOrderId, Timestamp)>,
    forgotten_until: Option<Timestamp>,
}

impl Serialize for KnownOrders {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        KnownWireRef {
            order: &self.order,
            forgotten_until: self.forgotten_until,
        }
        .serialize(serializer)
    }
}

impl KnownOrders {
    /// Records `id` received at venue time `now`; `false` when it was already known.
    pub(crate) fn insert(&mut self, id: &ClientOrderId, now: Timestamp) -> bool {
        if !self.set.insert(id.clone()) {
            return false;
        }
        self.order.push_back((id.clone(), now));
        while self.order.len() > KNOWN_WINDOW {
            if let Some((old, at)) = self.order.pop_front() {
                self.set.remove(&old);
                self.forgotten_until = Some(self.forgotten_until.map_or(at, |f| f.max(at)));
            }
        }
        true
    }

    /// Whether `id` is in the window.
    pub(crate) fn contains(&self, id: &ClientOrderId) -> bool {
        self.set.contains(id)
    }

    /// What is known of `id`, an order its client created at `created_at`.
    pub(crate) fn knows(&self, id: &ClientOrderId, created_at: Timestamp) -> Knowledge {
        if self.set.contains(id) {
            Knowledge::Received
        } else if self.forgotten_until.is_some_and(|f| created_at <= f) {
            Knowledge::Forgotten
        } else {
            Knowledge::NeverReceived
        }
    }
}

/// Serializes a map with tuple keys as a list of pairs (JSON keys must be strings).
pub(crate) mod pairs {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::collections::BTreeMap;

    pub(crate) fn serialize<K, V, S>(map: &BTreeMap<K, V>, serializer: S) -> Result<S::Ok, S::Error>
    where
        K: Serialize,
        V: Serialize,
        S: Serializer,
    {
        serializer.collect_seq(map.iter())
    }

    pub(crate) fn deserialize<'de, K, V, D>(deserializer: D) -> Result<BTreeMap<K, V>, D::Error>
    where
        K: Deserialize<'de> + Ord,
        V: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        Ok(Vec::<(K, V)>::deserialize(deserializer)?
            .into_iter()
            .collect())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    fn id(n: usize) -> ClientOrderId {
        ClientOrderId::new(format!("c-{n}"))
    }

    #[test]
    fn remembers_a_window_and_says_when_it_cannot_tell() {
        let mut known = KnownOrders::default();
        for n in 0..KNOWN_WINDOW + 10 {
            assert!(known.insert(&id(n), Timestamp(i64::try_from(n).unwrap())));
        }
        assert!(!known.insert(&id(KNOWN_WINDOW + 9), Timestamp(0)));
        assert_eq!(known.knows(&id(20), Timestamp(20)), Knowledge::Received);
        assert_eq!(known.knows(&id(3), Timestamp(3)), Knowledge::Forgotten);
        assert_eq!(
            known.knows(&id(99_999), Timestamp(99_999)),
            Knowledge::NeverReceived
        );
        let json = serde_json::to_string(&known).unwrap();
        let back: KnownOrders = serde_json::from_str(&json).unwrap();
        assert_eq!(back.knows(&id(20), Timestamp(20)), Knowledge::Received);
        assert_eq!(back.knows(&id(3), Timestamp(3)), Knowledge::Forgotten);
    }
}
