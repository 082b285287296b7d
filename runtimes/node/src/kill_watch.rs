//! Follows the kill switches in the shared store and tells each of the node's portfolios the
//! state in force for it ([`chimera_runtime::kill_switch`]): at start, whenever the switches
//! change or a switch lapses, and to a portfolio that (re)joins the node. Polls every
//! [`DEFAULT_KILL_SWITCH_POLL_MS`], so a switch is honoured within that plus one batch even
//! if its announcement is lost. Fails closed: while the switches cannot be read, every
//! portfolio is held at `halt_entries` at least. A portfolio that starts is put under the view
//! last read by the roster itself, before its catch-up can send anything.

use super::queue::{Input, PortfolioQueue};
use super::routes::RouteTable;
use chimera_kernel::ids::PortfolioId;
use chimera_kernel::risk::KillState;
use chimera_runtime::kill_switch::{
    alert_on, KillSwitches, KillWatch, DEFAULT_KILL_SWITCH_POLL_MS,
};
use chimera_runtime::runtime::{wall_clock, Runtime};
use std::collections::HashMap;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::Duration;

/// Reads the switches once into `shared`, so the portfolios that start with the node start
/// under them (closed if they cannot be read). Without shared state there is nothing to read.
pub(crate) async fn first_read(rt: &Runtime, shared: &std::sync::RwLock<KillWatch>) {
    let Some(state) = &rt.state else {
        return;
    };
    let switches = KillSwitches::new(Arc::clone(&state.store));
    let mut view = KillWatch::new();
    let event = view.refresh(&switches).await;
    alert_on(rt, &event, "no new entries until it can");
    *shared
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = view;
}

/// Runs until shutdown, starting from the view of [`first_read`]. Without shared state there
/// are no switches to follow.
pub(crate) async fn watch(
    rt: Arc<Runtime>,
    table: Arc<RouteTable>,
    shared: Arc<std::sync::RwLock<KillWatch>>,
) -> anyhow::Result<()> {
    let Some(state) = &rt.state else {
        tracing::info!(component = %rt.source, "no shared state: kill switches are not followed");
        return Ok(());
    };
    let switches = KillSwitches::new(Arc::clone(&state.store));
    let mut view = shared
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    // What each portfolio was last told, with the queue it was told on (a portfolio that
    // leaves and comes back has a new queue and is told again).
    let mut told: HashMap<PortfolioId, (Arc<PortfolioQueue>, KillState)> = HashMap::new();
    let mut shutdown = rt.shutdown.clone();
    loop {
        let event = view.refresh(&switches).await;
        *shared
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = view.clone();
        alert_on(&rt, &event, "no new entries until it can");
        let now = wall_clock().0;
        let routes = table.load();
        told.retain(|id, _| routes.by_portfolio.contains_key(id));
        for (id, queue) in &routes.by_portfolio {
            let state = view.state_for(id, now);
            let current = told
                .get(id)
                .is_some_and(|(q, s)| Arc::ptr_eq(q, queue) && *s == state);
            if !current {
                let pending = Arc::new(AtomicUsize::new(1));
                queue.push_urgent(Input::Kill(state.clone(), pending));
                told.insert(id.clone(), (Arc::clone(queue), state));
            }
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(DEFAULT_KILL_SWITCH_POLL_MS)) => {}
            () = shutdown.wait() => return Ok(()),
        }
    }
}
