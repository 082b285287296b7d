//! The client order ids a simulated venue has received, remembered within a bounded window.
//!
//! A venue must refuse an order id it has seen (clients resend after restarts), but a venue
//! that is checkpointed after every batch cannot carry every id it ever saw. The window keeps
//! the most recent [`KNOWN_WINDOW`] ids and, per portfolio, the newest creation time among its
//! ids the window let go, so a caller can tell "never received" from "too old to say"
//! ([`Knowledge`]) and consult its own records for the latter.
//!
//! Why per portfolio and by creation time: a portfolio's orders are created in its own event
//! time, which only moves forward, so an id of `p` created after every id of `p` the window
//! forgot cannot be one of them. One mark for all portfolios, in the venue's time, made every
//! new order of a portfolio behind the others (one catching up after a move) "too old to say",
//! and a record read each. With the mark per portfolio, the window only has to hold what a
//! client may resend soon after a restart, so it is kept small: the gateway writes it in every
//! checkpoint.

use chimera_kernel::ids::{ClientOrderId, FxHasher, PortfolioId};
use chimera_kernel::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::{HashSet, VecDeque};
use std::hash::BuildHasherDefault;

/// How many recent client order ids a venue remembers exactly.
pub const KNOWN_WINDOW: usize = 1024;

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

/// One remembered id: when its client created it, and its portfolio's slot in
/// [`KnownOrders::portfolios`] (`None` for ids restored from a checkpoint that did not say).
type Entry = (ClientOrderId, Timestamp, Option<u32>);

/// Recently received client order ids, in arrival order, with each portfolio's mark.
/// Serialized without the set (rebuilt on restore), by reference: a checkpoint does not copy
/// the window.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(from = "KnownWire")]
pub(crate) struct KnownOrders {
    order: VecDeque<Entry>,
    set: HashSet<ClientOrderId, BuildHasherDefault<FxHasher>>,
    /// Each portfolio seen, with the newest creation time of its ids evicted from the window.
    portfolios: Vec<(PortfolioId, Option<Timestamp>)>,
    /// A mark for every portfolio, from a checkpoint written before marks were per portfolio
    /// (the venue time of the newest id evicted then), and raised by evicting its ids.
    forgotten_until: Option<Timestamp>,
}

/// The checkpointed form. `order` is the form before marks were per portfolio: pairs of an id
/// and the venue time it arrived, read back as entries of no portfolio.
#[derive(Deserialize)]
struct KnownWire {
    #[serde(default)]
    recent: VecDeque<Entry>,
    #[serde(default)]
    portfolios: Vec<(PortfolioId, Option<Timestamp>)>,
    #[serde(default)]
    order: VecDeque<(ClientOrderId, Timestamp)>,
    #[serde(default)]
    forgotten_until: Option<Timestamp>,
}

impl From<KnownWire> for KnownOrders {
    fn from(wire: KnownWire) -> Self {
        let slots = wire.portfolios.len();
        let mut order: VecDeque<Entry> = wire
            .order
            .into_iter()
            .map(|(id, at)| (id, at, None))
            .collect();
        // A slot past the table (a hand-edited checkpoint) is treated as unknown: safe, since
        // evicting it raises the mark of every portfolio.
        order.extend(wire.recent.into_iter().map(|(id, at, slot)| {
            let slot = slot.filter(|s| usize::try_from(*s).is_ok_and(|s| s < slots));
            (id, at, slot)
        }));
        Self {
            set: order.iter().map(|(id, _, _)| id.clone()).collect(),
            order,
            portfolios: wire.portfolios,
            forgotten_until: wire.forgotten_until,
        }
    }
}

/// [`KnownWire`] borrowed, as written now.
#[derive(Serialize)]
struct KnownWireRef<'a> {
    recent: &'a VecDeque<Entry>,
    portfolios: &'a [(PortfolioId, Option<Timestamp>)],
    #[serde(skip_serializing_if = "Option::is_none")]
    forgotten_until: Option<Timestamp>,
}

impl Serialize for KnownOrders {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        KnownWireRef {
            recent: &self.order,
            portfolios: &self.portfolios,
            forgotten_until: self.forgotten_until,
        }
        .serialize(serializer)
    }
}

impl KnownOrders {
    /// Records `id` of `portfolio`, created at `created_at`, as received; `false` when it was
    /// already known.
    pub(crate) fn insert(
        &mut self,
        id: &ClientOrderId,
        portfolio: &PortfolioId,
        created_at: Timestamp,
    ) -> bool {
        if !self.set.insert(id.clone()) {
            return false;
        }
        let slot = self.slot(portfolio);
        self.order.push_back((id.clone(), created_at, Some(slot)));
        while self.order.len() > KNOWN_WINDOW {
            if let Some((old, at, slot)) = self.order.pop_front() {
                self.set.remove(&old);
                let mark = match slot.and_then(|s| self.portfolios.get_mut(s as usize)) {
                    Some((_, mark)) => mark,
                    None => &mut self.forgotten_until,
                };
                *mark = Some(mark.map_or(at, |m| m.max(at)));
            }
        }
        true
    }

    /// Whether `id` is in the window.
    #[cfg(test)]
    pub(crate) fn contains(&self, id: &ClientOrderId) -> bool {
        self.set.contains(id)
    }

    /// What the window says of `id`, an order `portfolio` created at `created_at`.
    pub(crate) fn knows(
        &self,
        id: &ClientOrderId,
        portfolio: &PortfolioId,
        created_at: Timestamp,
    ) -> Knowledge {
        if self.set.contains(id) {
            return Knowledge::Received;
        }
        let own = self
            .portfolios
            .iter()
            .find(|(p, _)| p == portfolio)
            .and_then(|(_, mark)| *mark);
        if [own, self.forgotten_until]
            .into_iter()
            .flatten()
            .any(|mark| created_at <= mark)
        {
            Knowledge::Forgotten
        } else {
            Knowledge::NeverReceived
        }
    }

    /// `portfolio`'s slot, added on its first order. Portfolios are few (a venue serves the
    /// portfolios of one gateway), so a scan beats a map here.
    fn slot(&mut self, portfolio: &PortfolioId) -> u32 {
        let at = if let Some(at) = self.portfolios.iter().position(|(p, _)| p == portfolio) {
            at
        } else {
            self.portfolios.push((portfolio.clone(), None));
            self.portfolios.len() - 1
        };
        u32::try_from(at).unwrap_or(u32::MAX)
    }
}

#[cfg(test)]
#[path = "known_tests.rs"]
mod tests;
