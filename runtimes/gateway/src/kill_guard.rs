//! The gateway's own hold on the kill switches: while a switch covers an order's portfolio and
//! symbol, an order that is not reduce-only is refused here whatever the node sent (a node
//! that missed the switch, a zombie, a strategy bug). The node's engine already refuses such
//! orders; this is the second lock on the same door. Fails closed like the nodes: while the
//! switches cannot be read, nothing that could add exposure goes out.

use chimera_kernel::order::OrderIntent;
use chimera_kernel::risk::KillMode;
use chimera_runtime::kill_switch::{
    alert_on, KillSwitches, KillWatch, WatchEvent, DEFAULT_KILL_SWITCH_POLL_MS,
};
use chimera_runtime::runtime::{wall_clock, Runtime};
use std::time::{Duration, Instant};

pub(super) struct KillGuard {
    /// `None` without shared state: no switches to hold.
    switches: Option<KillSwitches>,
    view: KillWatch,
    last_read: Option<Instant>,
}

impl KillGuard {
    pub(super) fn new(rt: &Runtime) -> Self {
        Self {
            switches: rt
                .state
                .as_ref()
                .map(|s| KillSwitches::new(std::sync::Arc::clone(&s.store))),
            view: KillWatch::new(),
            last_read: None,
        }
    }

    /// Reads the switches again when the last read is older than the poll period.
    pub(super) async fn refresh_if_due(&mut self, rt: &Runtime) {
        let Some(switches) = &self.switches else {
            return;
        };
        let poll = Duration::from_millis(DEFAULT_KILL_SWITCH_POLL_MS);
        if self.last_read.is_some_and(|at| at.elapsed() < poll) {
            return;
        }
        self.last_read = Some(Instant::now());
        let event = self.view.refresh(switches).await;
        alert_on(rt, &event, "refusing new entries");
        if matches!(event, WatchEvent::Changed) {
            tracing::info!(
                component = %rt.source,
                version = self.view.board().version,
                "kill switches changed"
            );
        }
    }

    /// The mode that refuses `intent`, if one does.
    pub(super) fn refuses(&self, intent: &OrderIntent) -> Option<KillMode> {
        if self.switches.is_none() || intent.reduce_only {
            return None;
        }
        self.view
            .mode_for(&intent.portfolio_id, &intent.symbol, wall_clock().0)
    }
}
