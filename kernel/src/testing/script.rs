//! [`Script`]: a strategy a test steers step by step.

use crate::event::MarketEvent;
use crate::strategy::{Actions, Strategy, StrategyContext};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

/// What a [`Script`] does on one market event.
pub type ScriptStep = Box<dyn FnOnce(&mut Actions) + Send>;

/// The queue a test fills and a [`Script`] empties, one step per market event.
pub type ScriptSteps = Arc<Mutex<VecDeque<ScriptStep>>>;

/// A strategy that, on each market event, runs the next step the test queued (nothing when
/// the queue is empty).
pub struct Script(pub ScriptSteps);

impl Script {
    /// A script and the queue that steers it.
    pub fn new() -> (Self, ScriptSteps) {
        let steps = ScriptSteps::default();
        (Self(Arc::clone(&steps)), steps)
    }
}

impl Strategy for Script {
    fn name(&self) -> &'static str {
        "script"
    }

    fn on_market(&mut self, _: &MarketEvent, _: &StrategyContext<'_>, out: &mut Actions) {
        let step = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop_front();
        if let Some(step) = step {
            step(out);
        }
    }
}
