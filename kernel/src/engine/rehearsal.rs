//! Rehearsals: the engine's order branch run again on a copy of the engine, so it is warm in
//! the processor's caches when the strategy next acts.
//!
//! A live portfolio acts rarely (a cross every few seconds) and follows the market between:
//! by the time it acts again, the code and data of its order branch (the pipeline's decision,
//! sizing, pre-trade checks, the intent and its records) have been pushed out of the caches by
//! everything else the process did, and the order takes two to three times as long as one
//! placed right after another (15–17 µs against 5–8 in process, measured with the node's
//! workers). A runtime that keeps a core awake for latency can rehearse instead: when
//! rehearsals are on ([`PortfolioEngine::set_rehearsals`]), the engine keeps the last actions
//! the strategy took on a market event and the event, and [`PortfolioEngine::rehearse`] plays
//! them on a stage (a copy of the engine with a strategy that only repeats them), sides
//! reversed, so the order the portfolio's position now calls for is the one rehearsed.
//!
//! The stage is a copy: `rehearse` takes `&self`, so the engine (its books, sequence numbers,
//! rate windows, decisions, timers) is left exactly as it was; what the stage produced is
//! returned for the caller to drop (or to rehearse its own part on) and is never an output.

use super::{Output, PortfolioEngine};
use crate::event::MarketEvent;
use crate::strategy::{Action, Actions, Strategy, StrategyContext};
use std::collections::VecDeque;

/// Whether the engine keeps what to rehearse, and what.
#[derive(Debug, Clone, Default)]
pub(super) struct Rehearsal {
    enabled: bool,
    /// The market event the strategy last acted on, and the actions it took.
    model: Option<(MarketEvent, Vec<Action>)>,
}

impl Rehearsal {
    /// Keeps `actions`, taken on `event`, as the next rehearsal's model (when rehearsals are
    /// on and they place orders: cancels and amends name orders a stage may not have).
    pub(super) fn acted(&mut self, event: &MarketEvent, actions: &Actions) {
        if !self.enabled {
            return;
        }
        let kept: Vec<Action> = actions
            .as_slice()
            .iter()
            .filter(|a| matches!(a, Action::Submit(_) | Action::Enter(_)))
            .map(reversed)
            .collect();
        if !kept.is_empty() {
            self.model = Some((event.clone(), kept));
        }
    }
}

/// `action` with its side reversed: after the real orders, the position is what they made, so
/// their mirror is what it would take next (a reversal's close and entry stay valid).
fn reversed(action: &Action) -> Action {
    let mut action = action.clone();
    match &mut action {
        Action::Submit(request) => request.side = request.side.opposite(),
        Action::Enter(entry) => entry.side = entry.side.opposite(),
        _ => {}
    }
    action
}

/// The stage's strategy: on its one market event, the model's actions.
struct Echo {
    name: String,
    actions: Vec<Action>,
}

impl Strategy for Echo {
    fn name(&self) -> &str {
        &self.name
    }

    fn on_market(&mut self, _: &MarketEvent, _: &StrategyContext<'_>, out: &mut Actions) {
        for action in self.actions.drain(..) {
            match action {
                Action::Submit(request) => out.submit(request),
                Action::Enter(entry) => out.enter(entry),
                _ => {}
            }
        }
    }
}

impl PortfolioEngine {
    /// Turns rehearsals on or off (off by default): while on, the engine keeps the last
    /// actions its strategy took on a market event (a copy, made only when they place
    /// orders), for [`Self::rehearse`].
    pub fn set_rehearsals(&mut self, enabled: bool) {
        self.rehearsal.enabled = enabled;
        if !enabled {
            self.rehearsal.model = None;
        }
    }

    /// Whether there is something to rehearse: rehearsals are on and the strategy has placed
    /// an order since.
    pub fn can_rehearse(&self) -> bool {
        self.rehearsal.model.is_some()
    }

    /// Plays the strategy's last order-placing actions again, sides reversed, on a copy of
    /// this engine, and returns what the copy produced (orders, decisions, requests...); an
    /// empty list when there is nothing to rehearse. Changes nothing here (see the module).
    pub fn rehearse(&self) -> Vec<Output> {
        let Some((event, actions)) = &self.rehearsal.model else {
            return Vec::new();
        };
        let echo = Echo {
            name: self.strategy.name().to_owned(),
            actions: actions.clone(),
        };
        let mut stage = self.stage(Box::new(echo));
        stage.handle(super::Input::Market(event), self.clock);
        stage.outputs.into()
    }

    /// A copy of this engine with `strategy` instead of its own, no outputs waiting and
    /// rehearsals off.
    fn stage(&self, strategy: Box<dyn Strategy>) -> Self {
        Self {
            portfolio: self.portfolio.clone(),
            strategy,
            open_orders: self.open_orders.clone(),
            working: self.working.clone(),
            recently_finished: self.recently_finished.clone(),
            outputs: VecDeque::new(),
            timers: self.timers.clone(),
            clock: self.clock,
            next_seq: self.next_seq,
            actions: Actions::default(),
            stats: self.stats,
            halted: self.halted.clone(),
            stopped: self.stopped,
            requests: self.requests.clone(),
            next_request: self.next_request,
            exec: self.exec.clone(),
            parents: self.parents.clone(),
            child_parent: self.child_parent.clone(),
            next_parent: self.next_parent,
            market_view: self.market_view.clone(),
            features: self.features.clone(),
            risk: self.risk,
            order_rate: self.order_rate.clone(),
            peak_equity: self.peak_equity,
            policy: self.policy.clone(),
            rules_read_drawdown: self.rules_read_drawdown,
            gate_state: self.gate_state,
            kill: self.kill.clone(),
            flatten_retry: self.flatten_retry.clone(),
            pending_entries: self.pending_entries.clone(),
            releases: self.releases.clone(),
            reservations: self.reservations.clone(),
            next_signal: self.next_signal,
            preassigned_intent: self.preassigned_intent.clone(),
            manager: self.manager.clone(),
            managed: self.managed.clone(),
            plans: self.plans.clone(),
            rehearsal: Rehearsal::default(),
        }
    }
}
