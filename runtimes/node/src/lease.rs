//! Portfolio leases: one process at a time runs a portfolio.
//!
//! Before restoring a portfolio the node takes its lease `lock:{portfolio}:<id>` (a lock with
//! a token and a TTL in the shared state). While another process holds it, the node waits,
//! alerting once: after a holder is killed its leases expire within a TTL, so a replacement
//! (or a node the portfolio moved to) takes over without two processes ever trading it at
//! once. The node renews the leases it holds every third of the TTL; if one cannot be renewed
//! (it expired during a state-store outage, and may now be someone else's) the node stops,
//! since it can no longer prove it is the only one trading the portfolio. A lease is released
//! after the portfolio's final checkpoint: when the node gives the portfolio up (the scheduler
//! moved it) or shuts down cleanly.
//!
//! Without shared state (a single process), leases are not needed and every call succeeds.

use chimera_kernel::ids::PortfolioId;
use chimera_messages::{AlertCode, AlertLevel};
use chimera_ports::LockToken;
use chimera_runtime::runtime::{Runtime, SharedState};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// The leases a node holds, changing as portfolios come and go.
pub(super) struct Leases {
    state: Option<SharedState>,
    held: Mutex<BTreeMap<PortfolioId, LockToken>>,
}

fn key(id: &PortfolioId) -> String {
    format!("lock:{{portfolio}}:{}", id.as_str())
}

impl Leases {
    pub(super) fn new(state: Option<SharedState>) -> Self {
        Self {
            state,
            held: Mutex::default(),
        }
    }

    fn held(&self) -> std::sync::MutexGuard<'_, BTreeMap<PortfolioId, LockToken>> {
        self.held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes the lease of `id`, waiting while another process holds it. `Ok(false)` when
    /// `cancel` turned true (or was dropped) or shutdown was asked while waiting.
    ///
    /// # Errors
    /// When the state store fails with a non-transient error.
    pub(super) async fn take(
        &self,
        rt: &Runtime,
        id: &PortfolioId,
        cancel: &mut watch::Receiver<bool>,
    ) -> anyhow::Result<bool> {
        let Some(state) = &self.state else {
            return Ok(true);
        };
        if self.held().contains_key(id) {
            return Ok(true);
        }
        let key = key(id);
        let mut alerted = false;
        let mut shutdown = rt.shutdown.clone();
        loop {
            match state.store.lock(&key, state.lease).await {
                Ok(Some(token)) => {
                    if alerted {
                        rt.alert(
                            AlertLevel::Warning,
                            AlertCode::PortfolioLeaseTaken,
                            format!("portfolio {id}: lease taken over"),
                            Some(id.clone()),
                        );
                    }
                    self.held().insert(id.clone(), token);
                    return Ok(true);
                }
                Ok(None) if !alerted => {
                    alerted = true;
                    rt.alert(
                        AlertLevel::Warning,
                        AlertCode::PortfolioLeasedElsewhere,
                        format!(
                            "portfolio {id}: another process holds its lease; waiting until it \
                             is released or expires (≤ {} ms)",
                            state.lease.as_millis()
                        ),
                        Some(id.clone()),
                    );
                }
                Ok(None) => {}
                Err(e) if e.is_transient() => {
                    tracing::warn!(component = %rt.source, portfolio = %id, "lease: {e}; retrying");
                }
                Err(e) => return Err(chimera_runtime::runtime::fatal("take lease", &e)),
            }
            tokio::select! {
                () = tokio::time::sleep(state.lease / 10) => {}
                () = shutdown.wait() => return Ok(false),
                changed = cancel.changed() => {
                    if changed.is_err() || *cancel.borrow() {
                        return Ok(false);
                    }
                }
            }
        }
    }

    /// Renews the held leases every third of the TTL until shutdown.
    ///
    /// # Errors
    /// When a lease could not be renewed before it expired, or was found taken.
    pub(super) async fn keep(&self, rt: &Runtime) -> anyhow::Result<()> {
        let Some(state) = &self.state else {
            return Ok(());
        };
        let mut shutdown = rt.shutdown.clone();
        let mut renewed = Instant::now();
        // After a failed round, try again soon rather than a third of the lease later: a store
        // that was away for a moment (a Redis restart) must see the renewal before the lease
        // lapses.
        let mut retry_soon = false;
        loop {
            let pause = if retry_soon {
                (state.lease / 20).max(Duration::from_millis(50))
            } else {
                state.lease / 3
            };
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = shutdown.wait() => return Ok(()),
            }
            let held: Vec<(PortfolioId, LockToken)> = self
                .held()
                .iter()
                .map(|(id, token)| (id.clone(), token.clone()))
                .collect();
            let mut failure = None;
            for (id, token) in &held {
                match state.store.extend_lock(&key(id), token, state.lease).await {
                    Ok(true) => {}
                    // Given up meanwhile (released by `release`): not a loss.
                    Ok(false) if !self.held().contains_key(id) => {}
                    Ok(false) => anyhow::bail!(
                        "portfolio {id}: lease lost (expired and possibly taken by another \
                         process); stopping so that only one process trades it"
                    ),
                    Err(e) => failure = Some(e),
                }
            }
            retry_soon = failure.is_some();
            match failure {
                None => renewed = Instant::now(),
                Some(e) if e.is_transient() && renewed.elapsed() < state.lease => {
                    tracing::warn!(component = %rt.source, "renewing leases: {e}; retrying");
                }
                Some(e) => {
                    anyhow::bail!("leases could not be renewed before they expired: {e}")
                }
            }
        }
    }

    /// Releases the lease of `id` (after its final checkpoint).
    pub(super) async fn release(&self, rt: &Runtime, id: &PortfolioId) {
        let (Some(state), Some(token)) = (&self.state, self.held().remove(id)) else {
            return;
        };
        if let Err(e) = state.store.unlock(&key(id), &token).await {
            tracing::warn!(
                component = %rt.source,
                portfolio = %id,
                "releasing the lease: {e} (it expires by itself)"
            );
        }
    }

    /// How many leases the node holds (without shared state: none needed, none counted).
    pub(super) fn count(&self) -> usize {
        self.held().len()
    }

    /// Releases every lease still held (after the final checkpoints of a clean shutdown).
    pub(super) async fn release_all(&self, rt: &Runtime) {
        let ids: Vec<PortfolioId> = self.held().keys().cloned().collect();
        for id in ids {
            self.release(rt, &id).await;
        }
    }
}
