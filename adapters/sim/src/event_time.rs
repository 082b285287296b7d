//! [`EventTimeVenue`]: the simulated venue driven in event time, as a live trade gateway runs
//! it from market data read off the bus.
//!
//! Market events are buffered per symbol and fed to the venue lazily: up to an order's own
//! timestamp just before the order is sent, once every portfolio trading the symbol has promised
//! to send nothing stamped that early ([`Self::promise`]), or once they are more than `hold_ms`
//! (event time) behind the newest event of their symbol and no portfolio still reading holds
//! them ([`Self::flush_old`]). A market order therefore fills at the price of the event that
//! caused it, however late the order arrives — as in the in-process backtest — so a
//! distributed run, a slow node, a replay at full speed or a restart do not change fills.
//!
//! When a portfolio that is still reading holds data beyond the hold, [`Self::flush_old`] says
//! so, and the gateway stops reading market data until the portfolio moves on (the bus keeps
//! it): the buffer stays about `hold_ms` deep instead of feeding past the portfolio.
//!
//! A market-data delivery is acknowledged once it, and everything before it in its partition,
//! has been fed to the venue. The whole of it — the venue's state and which deliveries were fed —
//! is checkpointed ([`SimState`]) before anything is acknowledged; after a restart the venue is
//! restored and redelivered events it had already consumed are skipped, so a crash changes no
//! fill.

use crate::promises::{Bound, Promises};
use crate::{SimConfig, SimExchange, SimVenue};
use chimera_kernel::event::MarketEvent;
use chimera_kernel::ids::{FastMap, PortfolioId, Symbol};
use chimera_kernel::portfolio::Portfolio;
use chimera_kernel::time::Timestamp;
use chimera_ports::Delivery;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Instant;

/// The simulated venue in event time: buffers market deliveries, feeds them lazily, knows
/// which it may acknowledge, and checkpoints all of it.
pub struct EventTimeVenue {
    venue: SimVenue,
    hold_ms: i64,
    buffered: FastMap<Symbol, VecDeque<Held>>,
    newest: FastMap<Symbol, Timestamp>,
    /// Per symbol, the time of the newest event fed to the venue.
    fed_ts: FastMap<Symbol, Timestamp>,
    /// Per partition, deliveries in arrival order awaiting acknowledgement. A handful at most
    /// (one per partition of `market.data`), so found by a scan rather than a hashed key.
    arrivals: Vec<Arrivals>,
    /// Per `topic/partition`, what had been fed when the state was last restored or taken.
    marks: BTreeMap<String, FedMarks>,
    /// How far the portfolios trading each symbol have read (not checkpointed: promises
    /// arrive again, and until they do orders feed what they need).
    promises: Promises,
    /// Events fed on promises rather than for an order or by the hold.
    fed_on_promises: u64,
}

/// A buffered market event and where its delivery waits for acknowledgement.
struct Held {
    event: MarketEvent,
    /// Index into [`EventTimeVenue::arrivals`].
    partition: usize,
    /// Its arrival number in that partition.
    seq: u64,
}

/// One partition's deliveries in arrival order, each with whether the venue consumed it.
///
/// Feeding an event marks its delivery by arrival number (`seq - front` indexes `pending`), so
/// the order path allocates and hashes nothing per event; a delivery leaves only from the front,
/// once it and everything before it were consumed.
struct Arrivals {
    topic: std::sync::Arc<str>,
    partition: i32,
    /// `topic/partition`: the key of its [`FedMarks`].
    key: String,
    /// Deliveries (their payload dropped once decoded) and whether each was consumed.
    pending: VecDeque<(Delivery, bool)>,
    /// The arrival number of `pending`'s front.
    front: u64,
}

impl Arrivals {
    /// Marks arrival `seq` consumed (a no-op for one already acknowledged).
    fn consume(&mut self, seq: u64) {
        let index = seq
            .checked_sub(self.front)
            .and_then(|i| usize::try_from(i).ok());
        if let Some(entry) = index.and_then(|i| self.pending.get_mut(i)) {
            entry.1 = true;
        }
    }
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
            buffered: FastMap::default(),
            newest: FastMap::default(),
            fed_ts: FastMap::default(),
            arrivals: Vec::new(),
            marks: BTreeMap::new(),
            promises: Promises::default(),
            fed_on_promises: 0,
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
        let mut out = Vec::new();
        self.checkpoint_into(&mut out)?;
        // serde_json writes UTF-8 only.
        String::from_utf8(out).map_err(serde::ser::Error::custom)
    }

    /// [`Self::checkpoint`] appended to `out`: a gateway writes its whole checkpoint into one
    /// buffer sized once, instead of copying the venue's text (most of it, the window of known
    /// order ids) into the next layer's.
    ///
    /// # Errors
    /// The venue could not be serialized.
    pub fn checkpoint_into(&mut self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        for arrivals in &self.arrivals {
            let mut consumed = arrivals
                .pending
                .iter()
                .filter(|(_, fed)| *fed)
                .map(|(d, _)| d.offset)
                .peekable();
            if consumed.peek().is_none() {
                continue;
            }
            let marks = self.marks.entry(arrivals.key.clone()).or_default();
            for offset in consumed {
                if marks.upto.is_none_or(|u| offset > u) {
                    marks.extra.insert(offset);
                }
            }
        }
        let fed: BTreeMap<&str, Timestamp> =
            self.fed_ts.iter().map(|(s, t)| (s.as_str(), *t)).collect();
        let marks = &self.marks;
        self.venue.with_exchange(|exchange| {
            serde_json::to_writer(
                out,
                &SimStateRef {
                    exchange,
                    marks,
                    fed: &fed,
                },
            )
        })
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

    /// Queues `delivery` for acknowledgement (its payload and shared value dropped: only its
    /// position is needed from here on); returns its partition's index and its arrival number
    /// there, and whether a restored checkpoint says the venue consumed it already.
    fn arrive(&mut self, delivery: Delivery, consumed: bool) -> (usize, u64, bool) {
        let delivery = delivery.acknowledgeable();
        let found = self
            .arrivals
            .iter()
            .position(|a| a.partition == delivery.partition && a.topic == delivery.topic);
        let index = if let Some(index) = found {
            index
        } else {
            self.arrivals.push(Arrivals {
                topic: delivery.topic.clone(),
                partition: delivery.partition,
                key: partition_key(&delivery.topic, delivery.partition),
                pending: VecDeque::new(),
                front: 0,
            });
            self.arrivals.len() - 1
        };
        let arrivals = &mut self.arrivals[index];
        let consumed = consumed
            || self.marks.get(&arrivals.key).is_some_and(|m| {
                m.upto.is_some_and(|u| delivery.offset <= u) || m.extra.contains(&delivery.offset)
            });
        let seq = arrivals.front + arrivals.pending.len() as u64;
        arrivals.pending.push_back((delivery, consumed));
        (index, seq, consumed)
    }

    /// Buffers a market event read in `delivery` (skipped when a restored checkpoint says the
    /// venue consumed it already).
    pub fn buffer(&mut self, mut event: MarketEvent, delivery: Delivery) {
        let (partition, seq, consumed) = self.arrive(delivery, false);
        if consumed {
            return;
        }
        let ts = event.ts();
        let symbol = event.symbol();
        if let Some((known, newest)) = self.newest.get_key_value(symbol) {
            let newest = (*newest).max(ts);
            // A decoded event's symbol is a fresh allocation: sharing the one already held
            // lets this venue's and the exchange's per-symbol maps match it by pointer.
            let known = known.clone();
            self.newest.insert(known.clone(), newest);
            *event.symbol_mut() = known;
        } else {
            self.newest.insert(symbol.clone(), ts);
        }
        let held = Held {
            event,
            partition,
            seq,
        };
        if let Some(queue) = self.buffered.get_mut(held.event.symbol()) {
            queue.push_back(held);
        } else {
            let symbol = held.event.symbol().clone();
            self.buffered.insert(symbol, VecDeque::from([held]));
        }
    }

    /// Whether an order of `portfolio` on `symbol` stamped `ts` comes in its turn at `now`
    /// (wall time): every other portfolio trading the symbol has promised `ts`, or has said
    /// nothing for [`crate::TRADER_SILENCE`]. Sent before that, it could find the venue moved
    /// past `ts` by another portfolio's newer order, or an older order of another could find
    /// the venue moved past its own time by this one.
    pub fn in_turn(
        &self,
        portfolio: &PortfolioId,
        symbol: &Symbol,
        ts: Timestamp,
        now: Instant,
    ) -> bool {
        self.promises.others_reached(portfolio, symbol, ts, now)
    }

    /// Whether the venue was fed `symbol`'s data stamped after `ts`: an order stamped `ts`
    /// would be priced with data its engine had not seen.
    pub fn fed_past(&self, symbol: &Symbol, ts: Timestamp) -> bool {
        self.fed_ts.get(symbol).is_some_and(|fed| *fed > ts)
    }

    /// Whether market data for `symbol` has reached `ts`.
    pub fn covers(&self, symbol: &Symbol, ts: Timestamp) -> bool {
        self.newest.get(symbol).is_some_and(|n| *n >= ts)
    }

    /// A delivery with nothing to feed (dead-lettered): acknowledge in turn.
    pub fn skip(&mut self, delivery: Delivery) {
        self.arrive(delivery, true);
    }

    /// Feeds `symbol`'s events stamped at or before `until`, under one lock of the venue;
    /// returns how many.
    pub fn feed_until(&mut self, symbol: &Symbol, until: Timestamp) -> usize {
        let Some(queue) = self.buffered.get_mut(symbol) else {
            return 0;
        };
        if queue.front().is_none_or(|h| h.event.ts() > until) {
            return 0;
        }
        let mut count = 0;
        let arrivals = &mut self.arrivals;
        let newest_fed = self.venue.with_exchange(|x| {
            let mut newest = None;
            while let Some(held) = queue.pop_front() {
                if held.event.ts() > until {
                    queue.push_front(held);
                    break;
                }
                x.on_market(&held.event);
                count += 1;
                newest = newest.max(Some(held.event.ts()));
                if let Some(a) = arrivals.get_mut(held.partition) {
                    a.consume(held.seq);
                }
            }
            newest
        });
        if let Some(ts) = newest_fed {
            match self.fed_ts.get_mut(symbol) {
                Some(fed) => *fed = (*fed).max(ts),
                None => {
                    self.fed_ts.insert(symbol.clone(), ts);
                }
            }
        }
        count
    }

    /// Whether `portfolio` said which symbols it trades ([`Self::trade`]).
    pub fn knows_trader(&self, portfolio: &PortfolioId) -> bool {
        self.promises.knows(portfolio)
    }

    /// Registers `portfolio` as trading `symbols`, whose data its promises
    /// ([`Self::promise`]) then govern with those of the other portfolios trading them; `now`
    /// (wall time) counts as hearing from it.
    pub fn trade(&mut self, portfolio: &PortfolioId, symbols: &[Symbol], now: Instant) {
        self.promises.trade(portfolio, symbols, now);
    }

    /// `portfolio` sends no order stamped before `clock` from here on (its engine has read its
    /// data up to there), said at `now` (wall time; an order's stamp says as much): feeds what
    /// that allows of its symbols — each up to just before the smallest clock promised by the
    /// portfolios trading it — and returns how many events. Nothing for a portfolio not
    /// registered with [`Self::trade`].
    pub fn promise(&mut self, portfolio: &PortfolioId, clock: Timestamp, now: Instant) -> usize {
        if !self.promises.promise(portfolio, clock, now) {
            return 0;
        }
        let mut fed = 0;
        let mut nth = 0;
        while let Some(index) = self.promises.traded_by(portfolio, nth) {
            fed += self.feed_promised(index, now);
            nth += 1;
        }
        fed
    }

    /// How many events were fed on promises ([`Self::promise`], [`Self::feed_all_promised`])
    /// since this venue was built or restored.
    pub fn fed_on_promises(&self) -> u64 {
        self.fed_on_promises
    }

    /// Feeds what the promises allow of every traded symbol (data read after the promises
    /// that cover it) at `now` (wall time); returns how many events.
    pub fn feed_all_promised(&mut self, now: Instant) -> usize {
        (0..self.promises.symbol_count())
            .map(|i| self.feed_promised(i, now))
            .sum()
    }

    /// Feeds traded symbol `index` up to what its traders' promises allow.
    fn feed_promised(&mut self, index: usize, now: Instant) -> usize {
        let Some(symbol) = self.promises.symbol(index).cloned() else {
            return 0;
        };
        let newest = self.newest.get(&symbol).copied();
        let Bound::Upto(until) = self.promises.bound(index, newest, self.hold_ms, now) else {
            return 0;
        };
        let fed = self.feed_until(&symbol, until);
        self.fed_on_promises += fed as u64;
        fed
    }

    /// Feeds events more than `hold_ms` behind the newest of their symbol, as far as the
    /// portfolios trading it allow at `now` (wall time): not past one that is still reading
    /// ([`crate::TRADER_SILENCE`]). Returns whether such a portfolio holds events older
    /// than the hold: the gateway then reads no more market data until it moves on, so the
    /// buffer stays about `hold_ms` deep rather than growing with a replay.
    pub fn flush_old(&mut self, now: Instant) -> bool {
        let due: Vec<(Symbol, Timestamp)> = self
            .newest
            .iter()
            .filter_map(|(symbol, newest)| {
                let limit = newest.0.saturating_sub(self.hold_ms).saturating_sub(1);
                let oldest = self.buffered.get(symbol)?.front()?.event.ts();
                (oldest.0 <= limit).then(|| (symbol.clone(), Timestamp(limit)))
            })
            .collect();
        let mut held = false;
        for (symbol, limit) in due {
            let bound = self.promises.index_of(&symbol).map_or(Bound::Free, |i| {
                self.promises
                    .bound(i, self.newest.get(&symbol).copied(), self.hold_ms, now)
            });
            let until = match bound {
                Bound::Free => limit,
                Bound::Upto(until) => until.min(limit),
                Bound::Nothing => Timestamp(i64::MIN),
            };
            self.feed_until(&symbol, until);
            held |= self
                .buffered
                .get(&symbol)
                .and_then(VecDeque::front)
                .is_some_and(|h| h.event.ts() <= limit);
        }
        held
    }

    /// Deliveries that may now be acknowledged: per partition, the last of the fed prefix.
    pub fn take_acks(&mut self) -> Vec<Delivery> {
        let mut out = Vec::new();
        for arrivals in &mut self.arrivals {
            let mut last = None;
            while arrivals.pending.front().is_some_and(|(_, fed)| *fed) {
                if let Some((d, _)) = arrivals.pending.pop_front() {
                    arrivals.front += 1;
                    last = Some(d);
                }
            }
            let Some(d) = last else {
                continue;
            };
            let marks = match self.marks.get_mut(&arrivals.key) {
                Some(marks) => marks,
                None => self.marks.entry(arrivals.key.clone()).or_default(),
            };
            let upto = marks.upto.map_or(d.offset, |u| u.max(d.offset));
            marks.upto = Some(upto);
            marks.extra.retain(|o| *o > upto);
            out.push(d);
        }
        out
    }
}
