//! [`EventTimeVenue`]: the simulated venue driven in event time, as a live trade gateway runs
//! it from market data read off the bus.
//!
//! Market events are buffered per symbol and fed to the venue lazily: up to an order's own
//! timestamp just before the order is sent, or once they are more than `hold_ms` (event time)
//! behind the newest event of their symbol. A market order therefore fills at the price of the
//! event that caused it, however late the order arrives — as in the in-process backtest — so a
//! distributed run, a slow node or a restart do not change fills.
//!
//! A market-data delivery is acknowledged once it, and everything before it in its partition,
//! has been fed to the venue. The whole of it — the venue's state and which deliveries were fed —
//! is checkpointed ([`SimState`]) before anything is acknowledged; after a restart the venue is
//! restored and redelivered events it had already consumed are skipped, so a crash changes no
//! fill.

use crate::{SimConfig, SimExchange, SimVenue};
use chimera_kernel::event::MarketEvent;
use chimera_kernel::ids::Symbol;
use chimera_kernel::portfolio::Portfolio;
use chimera_kernel::time::Timestamp;
use chimera_ports::Delivery;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};

/// `(topic, partition, offset)` of a delivery.
type Position = (String, i32, i64);

/// The simulated venue in event time: buffers market deliveries, feeds them lazily, knows
/// which it may acknowledge, and checkpoints all of it.
pub struct EventTimeVenue {
    venue: SimVenue,
    hold_ms: i64,
    buffered: HashMap<Symbol, VecDeque<(MarketEvent, Position)>>,
    newest: HashMap<Symbol, Timestamp>,
    /// Per symbol, the time of the newest event fed to the venue.
    fed_ts: HashMap<Symbol, Timestamp>,
    /// Per partition, deliveries in arrival order awaiting acknowledgement.
    arrivals: HashMap<(String, i32), VecDeque<Delivery>>,
    fed: HashSet<Position>,
    /// Per `topic/partition`, what had been fed when the state was last restored or taken.
    marks: BTreeMap<String, FedMarks>,
}

/// Which deliveries of one partition the venue has consumed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FedMarks {
    /// Every offset up to this one was fed (or skipped).
    upto: Option<i64>,
    /// Offsets after `upto` that were fed out of order (another symbol's data lagged).
    extra: BTreeSet<i64>,
}

/// A checkpoint of the event-time venue.
#[derive(Debug, Serialize, Deserialize)]
pub struct SimState {
    exchange: SimExchange,
    marks: BTreeMap<String, FedMarks>,
    /// Per symbol, the newest event time fed (not merely buffered: what was buffered and not
    /// fed is redelivered, and must be read again before an order relies on it).
    fed: BTreeMap<String, Timestamp>,
}

/// [`SimState`] borrowed, for writing without copying the venue.
#[derive(Serialize)]
struct SimStateRef<'a> {
    exchange: &'a SimExchange,
    marks: &'a BTreeMap<String, FedMarks>,
    fed: &'a BTreeMap<&'a str, Timestamp>,
}

fn partition_key(topic: &str, partition: i32) -> String {
    format!("{topic}/{partition}")
}

impl EventTimeVenue {
    /// A fresh venue that lets a symbol's events wait at most `hold_ms` (event time) behind its
    /// newest for orders stamped earlier.
    pub fn new(hold_ms: i64) -> Self {
        Self {
            venue: SimVenue::new(SimConfig::default()),
            hold_ms,
            buffered: HashMap::new(),
            newest: HashMap::new(),
            fed_ts: HashMap::new(),
            arrivals: HashMap::new(),
            fed: HashSet::new(),
            marks: BTreeMap::new(),
        }
    }

    /// Resumes from a checkpoint ([`Self::checkpoint`]).
    pub fn restore(state: SimState, hold_ms: i64) -> Self {
        let mut sim = Self::new(hold_ms);
        sim.venue = SimVenue::from_exchange(state.exchange);
        sim.marks = state.marks;
        sim.fed_ts = state
            .fed
            .into_iter()
            .map(|(s, t)| (Symbol::new(s), t))
            .collect();
        sim.newest.clone_from(&sim.fed_ts);
        sim
    }

    /// The state to checkpoint: call after [`Self::take_acks`], and acknowledge those
    /// deliveries only once the checkpoint is durable.
    ///
    /// # Errors
    /// The venue could not be serialized.
    pub fn checkpoint(&mut self) -> serde_json::Result<String> {
        for (topic, partition, offset) in &self.fed {
            let marks = self
                .marks
                .entry(partition_key(topic, *partition))
                .or_default();
            if marks.upto.is_none_or(|u| *offset > u) {
                marks.extra.insert(*offset);
            }
        }
        let fed: BTreeMap<&str, Timestamp> =
            self.fed_ts.iter().map(|(s, t)| (s.as_str(), *t)).collect();
        let marks = &self.marks;
        self.venue.with_exchange(|exchange| {
            serde_json::to_string(&SimStateRef {
                exchange,
                marks,
                fed: &fed,
            })
        })
    }

    /// Whether the venue consumed this delivery before the last checkpoint it was restored from.
    fn consumed(&self, d: &Delivery) -> bool {
        self.marks
            .get(&partition_key(&d.topic, d.partition))
            .is_some_and(|m| m.upto.is_some_and(|u| d.offset <= u) || m.extra.contains(&d.offset))
    }

    /// The venue (for its trading and account ports).
    pub fn venue(&self) -> &SimVenue {
        &self.venue
    }

    /// Opens `portfolio`'s account funded with its books' balances and lists its instruments
    /// (the simulation's funding rule; a real exchange account is funded by its owner).
    pub fn fund(&self, portfolio: &Portfolio) {
        self.venue.with_exchange(|x| {
            for instrument in portfolio.instruments.values() {
                x.add_instrument(instrument.clone());
            }
            x.fund(portfolio);
        });
    }

    fn key(d: &Delivery) -> Position {
        (d.topic.clone(), d.partition, d.offset)
    }

    /// Buffers a market event read in `delivery` (skipped when a restored checkpoint says the
    /// venue consumed it already).
    pub fn buffer(&mut self, event: MarketEvent, delivery: Delivery) {
        if self.consumed(&delivery) {
            self.skip(delivery);
            return;
        }
        let symbol = event.symbol().clone();
        let ts = event.ts();
        let newest = self.newest.entry(symbol.clone()).or_insert(ts);
        *newest = (*newest).max(ts);
        self.buffered
            .entry(symbol)
            .or_default()
            .push_back((event, Self::key(&delivery)));
        self.arrivals
            .entry((delivery.topic.clone(), delivery.partition))
            .or_default()
            .push_back(delivery);
    }

    /// Whether market data for `symbol` has reached `ts`.
    pub fn covers(&self, symbol: &Symbol, ts: Timestamp) -> bool {
        self.newest.get(symbol).is_some_and(|n| *n >= ts)
    }

    /// A delivery with nothing to feed (dead-lettered): acknowledge in turn.
    pub fn skip(&mut self, delivery: Delivery) {
        self.fed.insert(Self::key(&delivery));
        self.arrivals
            .entry((delivery.topic.clone(), delivery.partition))
            .or_default()
            .push_back(delivery);
    }

    /// Feeds `symbol`'s events stamped at or before `until`.
    pub fn feed_until(&mut self, symbol: &Symbol, until: Timestamp) {
        let Some(queue) = self.buffered.get_mut(symbol) else {
            return;
        };
        while queue.front().is_some_and(|(e, _)| e.ts() <= until) {
            if let Some((event, key)) = queue.pop_front() {
                let fed = self.fed_ts.entry(symbol.clone()).or_insert(event.ts());
                *fed = (*fed).max(event.ts());
                self.venue.on_market(&event);
                self.fed.insert(key);
            }
        }
    }

    /// Feeds events more than `hold_ms` behind the newest of their symbol.
    pub fn flush_old(&mut self) {
        let limits: Vec<(Symbol, Timestamp)> = self
            .newest
            .iter()
            .map(|(s, t)| (s.clone(), Timestamp(t.0.saturating_sub(self.hold_ms))))
            .collect();
        for (symbol, limit) in limits {
            self.feed_until(&symbol, Timestamp(limit.0 - 1));
        }
    }

    /// Deliveries that may now be acknowledged: per partition, the last of the fed prefix.
    pub fn take_acks(&mut self) -> Vec<Delivery> {
        let mut out = Vec::new();
        for queue in self.arrivals.values_mut() {
            let mut last = None;
            while queue
                .front()
                .is_some_and(|d| self.fed.contains(&(d.topic.clone(), d.partition, d.offset)))
            {
                if let Some(d) = queue.pop_front() {
                    self.fed.remove(&(d.topic.clone(), d.partition, d.offset));
                    last = Some(d);
                }
            }
            if let Some(d) = &last {
                let marks = self
                    .marks
                    .entry(partition_key(&d.topic, d.partition))
                    .or_default();
                let upto = marks.upto.map_or(d.offset, |u| u.max(d.offset));
                marks.upto = Some(upto);
                marks.extra.retain(|o| *o > upto);
            }
            out.extend(last);
        }
        out
    }
}
