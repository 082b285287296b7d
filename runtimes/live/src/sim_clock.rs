//! [`EventTimeSim`]: the simulated venue driven in event time.
//!
//! Market events are buffered per symbol and fed to the venue lazily: up to an order's own
//! timestamp just before the order is sent, or once they are more than `hold_ms` (event time)
//! behind the newest event of their symbol. A market order therefore fills at the price of the
//! event that caused it, however late the order arrives — as in the in-process backtest — so a
//! distributed run, a slow node or a restart do not change fills.
//!
//! A market-data delivery is acknowledged once it, and everything before it in its partition,
//! has been fed to the venue; after a restart the venue re-reads only what it had not consumed.

use chimera_kernel::event::MarketEvent;
use chimera_kernel::ids::Symbol;
use chimera_kernel::time::Timestamp;
use chimera_ports::Delivery;
use chimera_sim::{SimConfig, SimVenue};
use std::collections::{HashMap, HashSet, VecDeque};

/// `(topic, partition, offset)` of a delivery.
type Position = (String, i32, i64);

pub(crate) struct EventTimeSim {
    venue: SimVenue,
    hold_ms: i64,
    buffered: HashMap<Symbol, VecDeque<(MarketEvent, Position)>>,
    newest: HashMap<Symbol, Timestamp>,
    /// Per partition, deliveries in arrival order awaiting acknowledgement.
    arrivals: HashMap<(String, i32), VecDeque<Delivery>>,
    fed: HashSet<Position>,
}

impl EventTimeSim {
    pub(crate) fn new(hold_ms: i64) -> Self {
        Self {
            venue: SimVenue::new(SimConfig::default()),
            hold_ms,
            buffered: HashMap::new(),
            newest: HashMap::new(),
            arrivals: HashMap::new(),
            fed: HashSet::new(),
        }
    }

    pub(crate) fn venue(&self) -> &SimVenue {
        &self.venue
    }

    fn key(d: &Delivery) -> Position {
        (d.topic.clone(), d.partition, d.offset)
    }

    pub(crate) fn buffer(&mut self, event: MarketEvent, delivery: Delivery) {
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
    pub(crate) fn covers(&self, symbol: &Symbol, ts: Timestamp) -> bool {
        self.newest.get(symbol).is_some_and(|n| *n >= ts)
    }

    /// A delivery with nothing to feed (dead-lettered): acknowledge in turn.
    pub(crate) fn skip(&mut self, delivery: Delivery) {
        self.fed.insert(Self::key(&delivery));
        self.arrivals
            .entry((delivery.topic.clone(), delivery.partition))
            .or_default()
            .push_back(delivery);
    }

    /// Feeds `symbol`'s events stamped at or before `until`.
    pub(crate) fn feed_until(&mut self, symbol: &Symbol, until: Timestamp) {
        let Some(queue) = self.buffered.get_mut(symbol) else {
            return;
        };
        while queue.front().is_some_and(|(e, _)| e.ts() <= until) {
            if let Some((event, key)) = queue.pop_front() {
                self.venue.on_market(&event);
                self.fed.insert(key);
            }
        }
    }

    /// Feeds events more than `hold_ms` behind the newest of their symbol.
    pub(crate) fn flush_old(&mut self) {
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
    pub(crate) fn take_acks(&mut self) -> Vec<Delivery> {
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
            out.extend(last);
        }
        out
    }
}
