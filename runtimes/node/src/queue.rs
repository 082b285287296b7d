//! [`PortfolioQueue`]: one portfolio's bounded input queue, with pressure levels and the
//! overflow policy.
//!
//! Policy when the queue is full (documented in the README):
//! - a quote or mark price replaces the newest queued event of the same kind and symbol
//!   (coalescing: only the latest price matters); when none is queued it waits for room;
//! - every other market event (bars, trades, books) waits for room, which stops the router from
//!   reading further: the bus keeps the backlog, nothing is dropped;
//! - execution reports and control messages are never refused nor dropped: they may exceed the
//!   capacity, because refusing them could lose a fill.
//!
//! Pressure alerts have hysteresis in level and in time: a warning at 70 %, critical at
//! 95 %, each raised once per episode; the recovery only once the queue has stayed under 50 %
//! for [`CALM`] (a consumer draining in batches dips under 50 % between batches without the
//! episode being over). So a replay at full speed raises one warning and one recovery per
//! real episode, not one per batch.

use chimera_kernel::event::{ExecutionReport, MarketEvent};
use chimera_messages::{AlertCode, AlertLevel, ControlCommand};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// How long a queue under pressure must stay under 50 % before its recovery is reported.
pub(crate) const CALM: Duration = Duration::from_secs(1);

/// Where a message came from on the bus, for de-duplication against checkpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Origin {
    /// `topic/partition`.
    pub(crate) stream: Arc<str>,
    /// Offset within it.
    pub(crate) offset: i64,
    /// When the node read it off the bus (the queue-wait histogram starts here).
    pub(crate) read_at: Instant,
}

/// Counts the portfolios still handling one delivery; the router acknowledges the delivery
/// once it reaches zero.
pub(crate) type Pending = Arc<AtomicUsize>;

/// A control command with its envelope id (what its acknowledgement names).
#[derive(Debug, Clone)]
pub(crate) struct ControlInput {
    pub(crate) id: String,
    pub(crate) command: ControlCommand,
}

/// What a portfolio task consumes.
#[derive(Debug)]
pub(crate) enum Input {
    Market(MarketEvent, Origin, Pending),
    Feedback(ExecutionReport, Origin, Pending),
    Control(ControlInput, Origin, Pending),
    /// The kill switches now in force for the portfolio (from the shared store, not the bus:
    /// no origin, never skipped as a redelivery).
    Kill(chimera_kernel::risk::KillState, Pending),
}

impl Input {
    pub(crate) fn pending(&self) -> &Pending {
        match self {
            Input::Market(_, _, p)
            | Input::Feedback(_, _, p)
            | Input::Control(_, _, p)
            | Input::Kill(_, p) => p,
        }
    }

    /// When the node read it off the bus (`None`: not from the bus).
    pub(crate) fn read_at(&self) -> Option<Instant> {
        match self {
            Input::Market(_, o, _) | Input::Feedback(_, o, _) | Input::Control(_, o, _) => {
                Some(o.read_at)
            }
            Input::Kill(..) => None,
        }
    }

    fn coalesces_with(&self, other: &Input) -> bool {
        match (self, other) {
            (Input::Market(a, ..), Input::Market(b, ..)) => {
                matches!(
                    (a, b),
                    (MarketEvent::Quote(_), MarketEvent::Quote(_))
                        | (MarketEvent::MarkPrice(_), MarketEvent::MarkPrice(_))
                ) && a.symbol() == b.symbol()
            }
            _ => false,
        }
    }

    fn is_coalescable(&self) -> bool {
        matches!(
            self,
            Input::Market(MarketEvent::Quote(_) | MarketEvent::MarkPrice(_), ..)
        )
    }
}

/// Fill level of a queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Pressure {
    Normal,
    /// ≥ 70 %.
    Warning,
    /// ≥ 95 %.
    Critical,
}

/// Result of a push.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Pushed {
    Queued,
    /// Replaced an older event of the same kind and symbol.
    Coalesced,
    /// The portfolio left the node: the input counts as handled here.
    Closed,
}

#[derive(Debug)]
struct State {
    items: VecDeque<Input>,
    /// The level last reported, for edge-triggered alerts with hysteresis.
    reported: Pressure,
    /// Since when the queue has been under 50 % while a pressure level is reported.
    calm_since: Option<Instant>,
    /// The portfolio left the node: nothing is queued any more.
    closed: bool,
}

/// A bounded multi-producer, single-consumer queue.
#[derive(Debug)]
pub(crate) struct PortfolioQueue {
    capacity: usize,
    state: Mutex<State>,
    readable: Notify,
    writable: Notify,
    coalesced: AtomicUsize,
}

impl PortfolioQueue {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            state: Mutex::new(State {
                items: VecDeque::with_capacity(capacity),
                reported: Pressure::Normal,
                calm_since: None,
                closed: false,
            }),
            readable: Notify::new(),
            writable: Notify::new(),
            coalesced: AtomicUsize::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queues `input` under the overflow policy; returns how, and a new pressure level when
    /// the queue crossed one (upwards, or back to normal below 50 %).
    pub(crate) async fn push(&self, mut input: Input) -> (Pushed, Option<Pressure>) {
        loop {
            let waiter = self.writable.notified();
            {
                let mut s = self.lock();
                if s.closed {
                    input.pending().fetch_sub(1, Ordering::AcqRel);
                    return (Pushed::Closed, None);
                }
                let must_wait =
                    s.items.len() >= self.capacity && matches!(input, Input::Market(..));
                if !must_wait {
                    s.items.push_back(input);
                    let change = self.level_change(&mut s, Instant::now());
                    drop(s);
                    self.readable.notify_one();
                    return (Pushed::Queued, change);
                }
                if input.is_coalescable() {
                    if let Some(slot) = s.items.iter_mut().rev().find(|q| q.coalesces_with(&input))
                    {
                        std::mem::swap(slot, &mut input);
                        // `input` now holds the superseded event: it counts as handled.
                        input.pending().fetch_sub(1, Ordering::AcqRel);
                        self.coalesced.fetch_add(1, Ordering::Relaxed);
                        return (Pushed::Coalesced, None);
                    }
                }
            }
            waiter.await;
        }
    }

    /// The pressure level to report now, if it changed (see the module docs).
    fn level_change(&self, s: &mut State, now: Instant) -> Option<Pressure> {
        let fill = s.items.len() * 100 / self.capacity.max(1);
        let level = if fill >= 95 {
            Pressure::Critical
        } else if fill >= 70 {
            Pressure::Warning
        } else {
            Pressure::Normal
        };
        if level > s.reported {
            s.reported = level;
            s.calm_since = None;
            return Some(level);
        }
        if s.reported == Pressure::Normal {
            return None;
        }
        if fill >= 50 {
            s.calm_since = None;
            return None;
        }
        let since = *s.calm_since.get_or_insert(now);
        if now.duration_since(since) >= CALM {
            s.reported = Pressure::Normal;
            s.calm_since = None;
            return Some(Pressure::Normal);
        }
        None
    }

    /// Queues `input` ahead of everything waiting (a kill-switch state: it concerns the
    /// present, not the market events queued before it, and must not wait behind a backlog).
    pub(crate) fn push_urgent(&self, input: Input) {
        let mut s = self.lock();
        if s.closed {
            input.pending().fetch_sub(1, Ordering::AcqRel);
            return;
        }
        s.items.push_front(input);
        drop(s);
        self.readable.notify_one();
    }

    /// Waits for input, then takes up to `max` items. Returns early, with nothing taken, when
    /// an idle queue has been calm long enough to report its recovery.
    pub(crate) async fn pop_batch(&self, max: usize, out: &mut Vec<Input>) -> Option<Pressure> {
        loop {
            let waiter = self.readable.notified();
            let recovering = {
                let mut s = self.lock();
                let now = Instant::now();
                if !s.items.is_empty() {
                    let n = s.items.len().min(max);
                    out.extend(s.items.drain(..n));
                    let change = self.level_change(&mut s, now);
                    drop(s);
                    self.writable.notify_waiters();
                    return change;
                }
                if let Some(change) = self.level_change(&mut s, now) {
                    return Some(change);
                }
                s.reported != Pressure::Normal
            };
            if recovering {
                tokio::select! {
                    () = waiter => {}
                    () = tokio::time::sleep(CALM) => {}
                }
            } else {
                waiter.await;
            }
        }
    }

    /// The portfolio left the node (its worker has stopped): what is queued counts as handled
    /// here (the node it moved to reads it from its checkpoint's offsets), and so does what
    /// arrives later, so the routers acknowledge on and none waits for room.
    pub(crate) fn close(&self) {
        let dropped: Vec<Input> = {
            let mut s = self.lock();
            s.closed = true;
            s.items.drain(..).collect()
        };
        for input in dropped {
            input.pending().fetch_sub(1, Ordering::AcqRel);
        }
        self.writable.notify_waiters();
    }

    /// Items queued now.
    pub(crate) fn len(&self) -> usize {
        self.lock().items.len()
    }

    /// Events replaced by newer ones so far.
    pub(crate) fn coalesced(&self) -> usize {
        self.coalesced.load(Ordering::Relaxed)
    }

    /// Capacity.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }
}

/// Raises the alert for a queue that crossed a pressure level (70 %, 95 %, or back to normal).
pub(crate) fn pressure_alert(
    rt: &chimera_runtime::runtime::Runtime,
    id: &chimera_kernel::ids::PortfolioId,
    queue: &PortfolioQueue,
    level: Pressure,
) {
    let (alert, code, gauge) = match level {
        Pressure::Warning => (AlertLevel::Warning, AlertCode::QueuePressure, 1),
        Pressure::Critical => (AlertLevel::Critical, AlertCode::QueuePressure, 2),
        Pressure::Normal => (AlertLevel::Warning, AlertCode::QueueRecovered, 0),
    };
    crate::telemetry::pressure(&rt.source, id.as_str(), gauge);
    rt.alert(
        alert,
        code,
        format!(
            "portfolio {id} queue at {}/{} ({level:?}), {} quotes coalesced so far",
            queue.len(),
            queue.capacity(),
            queue.coalesced()
        ),
        Some(id.clone()),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue_at(fill: usize) -> (PortfolioQueue, State) {
        let q = PortfolioQueue::new(100);
        let mut s = State {
            items: VecDeque::new(),
            reported: Pressure::Normal,
            calm_since: None,
            closed: false,
        };
        set_fill(&mut s, fill);
        (q, s)
    }

    fn set_fill(s: &mut State, fill: usize) {
        let pending: Pending = Arc::new(AtomicUsize::new(0));
        s.items.clear();
        for _ in 0..fill {
            s.items.push_back(Input::Control(
                ControlInput {
                    id: String::new(),
                    command: ControlCommand::Resume { portfolio_id: None },
                },
                Origin {
                    stream: Arc::from("t/0"),
                    offset: 0,
                    read_at: Instant::now(),
                },
                Arc::clone(&pending),
            ));
        }
    }

    #[test]
    fn a_batched_drain_is_one_episode_not_one_per_batch() {
        let t0 = Instant::now();
        let (q, mut s) = queue_at(80);
        assert_eq!(q.level_change(&mut s, t0), Some(Pressure::Warning));
        // The consumer drains a batch, the producer refills: dips under 50 % and back.
        for i in 1..50_u64 {
            let now = t0 + Duration::from_millis(i * 10);
            set_fill(&mut s, if i % 2 == 0 { 20 } else { 75 });
            assert_eq!(q.level_change(&mut s, now), None, "step {i}");
        }
        set_fill(&mut s, 96);
        assert_eq!(
            q.level_change(&mut s, t0 + Duration::from_millis(600)),
            Some(Pressure::Critical),
            "worse is reported at once"
        );
        set_fill(&mut s, 10);
        let calm = t0 + Duration::from_millis(700);
        assert_eq!(q.level_change(&mut s, calm), None, "not calm long enough");
        assert_eq!(q.level_change(&mut s, calm + CALM), Some(Pressure::Normal));
        assert_eq!(q.level_change(&mut s, calm + CALM * 2), None, "once");
    }
}
