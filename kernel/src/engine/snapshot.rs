//! [`EngineSnapshot`]: everything an engine needs to resume exactly where it stopped.
//!
//! A runtime checkpoints it after the effects of the events it covers are durable; restoring
//! it and replaying the inputs that came after gives the same engine, bit for bit, as the one
//! that never stopped (the strategy's indicators included, through
//! [`crate::strategy::Strategy::save_state`]).

use super::{EngineStats, PortfolioEngine};
use crate::order::Order;
use crate::portfolio::Portfolio;
use crate::strategy::{Strategy, StrategyStateError};
use serde::{Deserialize, Serialize};

/// The serializable state of a [`PortfolioEngine`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EngineSnapshot {
    /// Name of the strategy the state belongs to.
    pub strategy: String,
    /// Balances, positions, instruments.
    pub portfolio: Portfolio,
    /// Orders still working.
    pub open_orders: Vec<Order>,
    /// Next intent sequence number.
    pub next_seq: u64,
    /// Counters.
    pub stats: EngineStats,
    /// The strategy's own state.
    pub strategy_state: Option<serde_json::Value>,
    /// Recently finished orders, to recognise their late reports.
    #[serde(default)]
    pub recently_finished: Vec<crate::ids::ClientOrderId>,
    /// Why trading is paused, when it is ([`super::Control::Pause`]).
    #[serde(default)]
    pub halted: Option<String>,
    /// The run was stopped ([`super::Control::Stop`]).
    #[serde(default)]
    pub stopped: bool,
    /// The engine's time, so the restored engine's clock never goes back.
    #[serde(default)]
    pub clock: Option<crate::time::Timestamp>,
    /// Requests still waiting for an answer (their deadlines are restored with them).
    #[serde(default)]
    pub pending_requests: Vec<super::Request>,
    /// The next request id.
    #[serde(default)]
    pub next_request: u64,
    /// Parent orders being worked by execution algorithms (each resumes where it was).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parents: Vec<crate::execution::ParentOrder>,
    /// The next parent number.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub next_parent: u64,
    /// The decision pipeline's state (entries waiting for answers, reservations held, the
    /// next signal number, health and kill switches).
    #[serde(default, skip_serializing_if = "DecisionState::is_empty")]
    pub decisions: DecisionState,
    /// Positions under management and what decisions asked of positions about to open.
    #[serde(default, skip_serializing_if = "ManagerState::is_empty")]
    pub manager: ManagerState,
    /// The highest equity seen (the drawdown breaker's and the rules' reference).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::value::decimal_str::option"
    )]
    pub peak_equity: Option<rust_decimal::Decimal>,
}

/// The decision pipeline's part of a snapshot.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DecisionState {
    /// Entries waiting for a score or a reservation, by request id.
    #[serde(default)]
    pending: Vec<(u64, super::decide::PendingEntry)>,
    /// Release requests in flight.
    #[serde(default)]
    releases: Vec<u64>,
    /// Reservations held.
    #[serde(default)]
    pub reservations: Vec<super::HeldReservation>,
    /// The next decision's number.
    #[serde(default)]
    pub next_signal: u64,
    /// Health.
    #[serde(default)]
    pub gates: super::GateState,
    /// The kill switches in force.
    #[serde(default, skip_serializing_if = "crate::risk::KillState::is_clear")]
    pub kill: crate::risk::KillState,
}

impl DecisionState {
    fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// The position manager's part of a snapshot.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ManagerState {
    /// Positions under management.
    #[serde(default)]
    pub managed: Vec<(crate::ids::Symbol, crate::position_manager::ManagedPosition)>,
    #[serde(default)]
    plans: Vec<(crate::ids::Symbol, super::manage::Plan)>,
}

impl ManagerState {
    fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

#[allow(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if passes a reference"
)]
fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Why a snapshot cannot be restored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    /// The snapshot was taken with another strategy.
    #[error("snapshot is of strategy {snapshot:?}, the portfolio now runs {configured:?}")]
    StrategyMismatch {
        /// In the snapshot.
        snapshot: String,
        /// Configured now.
        configured: String,
    },
    /// The strategy refused its state.
    #[error(transparent)]
    StrategyState(#[from] StrategyStateError),
}

impl PortfolioEngine {
    /// The engine's state, to checkpoint.
    pub fn snapshot(&self) -> EngineSnapshot {
        EngineSnapshot {
            strategy: self.strategy.name().to_owned(),
            portfolio: self.portfolio.clone(),
            open_orders: self.open_orders.values().cloned().collect(),
            next_seq: self.next_seq,
            stats: self.stats,
            strategy_state: self.strategy.save_state(),
            recently_finished: self.recently_finished.iter().cloned().collect(),
            halted: self.halted.clone(),
            stopped: self.stopped,
            clock: self.clock(),
            pending_requests: self.requests.values().cloned().collect(),
            next_request: self.next_request,
            parents: self.parents.values().cloned().collect(),
            next_parent: self.next_parent,
            decisions: DecisionState {
                pending: self
                    .pending_entries
                    .iter()
                    .map(|(id, p)| (*id, p.clone()))
                    .collect(),
                releases: self.releases.iter().copied().collect(),
                reservations: self.reservations.values().cloned().collect(),
                next_signal: self.next_signal,
                gates: self.gate_state,
                kill: self.kill.clone(),
            },
            manager: ManagerState {
                managed: self
                    .managed
                    .iter()
                    .map(|(s, m)| (s.clone(), m.clone()))
                    .collect(),
                plans: self.plans.iter().map(|(s, p)| (s.clone(), *p)).collect(),
            },
            peak_equity: self.peak_equity,
        }
    }

    /// Rebuilds an engine from a snapshot and a freshly built strategy of the same kind.
    ///
    /// # Errors
    /// [`SnapshotError`] when the strategy differs or refuses its saved state.
    pub fn from_snapshot(
        snapshot: EngineSnapshot,
        mut strategy: Box<dyn Strategy>,
    ) -> Result<Self, SnapshotError> {
        if snapshot.strategy != strategy.name() {
            return Err(SnapshotError::StrategyMismatch {
                snapshot: snapshot.strategy,
                configured: strategy.name().to_owned(),
            });
        }
        if let Some(state) = &snapshot.strategy_state {
            strategy.load_state(state)?;
        }
        let mut engine = Self::restore(
            snapshot.portfolio,
            strategy,
            snapshot.open_orders,
            snapshot.next_seq,
        );
        engine.stats = snapshot.stats;
        engine.recently_finished = snapshot.recently_finished.into();
        engine.halted = snapshot.halted;
        engine.stopped = snapshot.stopped;
        if let Some(clock) = snapshot.clock {
            engine.clock = clock;
        }
        engine.next_request = snapshot.next_request;
        for request in snapshot.pending_requests {
            engine.timers.set(
                super::TimerKey::Request(request.request_id),
                Some(request.deadline),
            );
            engine.requests.insert(request.request_id, request);
        }
        engine.next_parent = snapshot.next_parent;
        for parent in snapshot.parents {
            for child in parent.open_children.keys() {
                engine.child_parent.insert(child.clone(), parent.seq);
            }
            engine
                .timers
                .set(super::TimerKey::Exec(parent.seq), parent.deadline);
            engine.parents.insert(parent.seq, parent);
        }
        let decisions = snapshot.decisions;
        engine.pending_entries = decisions.pending.into_iter().collect();
        engine.releases = decisions.releases.into_iter().collect();
        engine.reservations = decisions
            .reservations
            .into_iter()
            .map(|r| (r.key.clone(), r))
            .collect();
        engine.next_signal = decisions.next_signal;
        engine.gate_state = decisions.gates;
        engine.kill = decisions.kill;
        engine.managed = snapshot.manager.managed.into_iter().collect();
        engine.plans = snapshot.manager.plans.into_iter().collect();
        engine.peak_equity = snapshot.peak_equity;
        engine.recompute_working();
        engine.sync_strategy_timer();
        Ok(engine)
    }
}

#[cfg(test)]
mod tests {
    use crate::engine::{Command, Control, Input, Output, PortfolioEngine, RefusalReason};
    use crate::strategy::build_strategy;
    use crate::testing::{bar, ema_cross_3_5, ema_cross_engine};
    use rust_decimal::Decimal;

    fn engine() -> PortfolioEngine {
        ema_cross_engine("p")
    }

    fn commands(engine: &mut PortfolioEngine, from: i64, to: i64) -> Vec<Command> {
        let mut out = Vec::new();
        for minute in from..to {
            let close = Decimal::from(40_000 + (minute * 37 % 23) * 10 - minute * 3);
            let event = bar("BTCUSDT", minute, close);
            engine.handle(
                Input::Market(&event),
                crate::time::Timestamp(minute * 60_000),
            );
            while let Some(output) = engine.poll_output() {
                if let Output::Command(command) = output {
                    out.push(command);
                }
            }
        }
        out
    }

    #[test]
    fn a_restored_engine_continues_exactly_like_the_original() {
        let mut original = engine();
        let mut first = commands(&mut original, 0, 40);
        let text = serde_json::to_string(&original.snapshot()).expect("encode");
        let snapshot = serde_json::from_str(&text).expect("decode");
        let mut restored =
            PortfolioEngine::from_snapshot(snapshot, ema_cross_3_5()).expect("restore");
        assert_eq!(restored.snapshot(), original.snapshot());
        let a = commands(&mut original, 40, 120);
        let b = commands(&mut restored, 40, 120);
        assert!(!a.is_empty(), "the scenario trades after the checkpoint");
        assert_eq!(a, b, "same intents (ids included) after the restore");
        first.extend(a);
        assert!(first.len() > 2);
    }

    #[test]
    fn a_halted_engine_refuses_requests_keeps_following_and_survives_a_restore() {
        let mut free = engine();
        let mut halted = engine();
        halted.handle(
            Input::Control(&Control::Pause {
                reason: "operator".into(),
            }),
            crate::time::Timestamp(0),
        );
        let mut refusals = Vec::new();
        for minute in 0..120 {
            let close = Decimal::from(40_000 + (minute * 37 % 23) * 10 - minute * 3);
            let event = bar("BTCUSDT", minute, close);
            halted.handle(
                Input::Market(&event),
                crate::time::Timestamp(minute * 60_000),
            );
            while let Some(output) = halted.poll_output() {
                match output {
                    Output::Refused(refusal) => refusals.push(refusal),
                    other => panic!("nothing but refusals while paused: {other:?}"),
                }
            }
        }
        assert!(!commands(&mut free, 0, 120).is_empty());
        assert!(!refusals.is_empty(), "each request refused, as data");
        assert!(refusals
            .iter()
            .all(|r| r.reason == RefusalReason::TradingPaused));
        assert_eq!(
            halted.snapshot().strategy_state,
            free.snapshot().strategy_state,
            "the strategy followed the market while paused"
        );
        let mut restored =
            PortfolioEngine::from_snapshot(halted.snapshot(), ema_cross_3_5()).expect("restore");
        assert_eq!(restored.halted(), Some("operator"));
        restored.handle(Input::Control(&Control::Resume), crate::time::Timestamp(0));
        assert!(
            !commands(&mut restored, 120, 400).is_empty(),
            "trades again once resumed"
        );
    }

    #[test]
    fn another_strategy_is_refused() {
        let snapshot = engine().snapshot();
        let params = [(
            "orders".to_owned(),
            "2022-01-01T00:00:00Z:buy:0.1".to_owned(),
        )]
        .into();
        let other = build_strategy("scripted", &params).expect("scripted");
        assert!(PortfolioEngine::from_snapshot(snapshot, other).is_err());
    }
}
