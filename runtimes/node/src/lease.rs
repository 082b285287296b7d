//! Portfolio leases: one process at a time runs a portfolio.
//!
//! Before restoring a portfolio the node takes its lease `lock:{portfolio}:<id>` (a lock with
//! a token and a TTL in the shared state). While another process holds it, the node waits,
//! alerting once: after a holder is killed its leases expire within a TTL, so a replacement
//! (or a node the portfolio moved to) takes over without two processes ever trading it at
//! once. The node renews its leases every third of the TTL; if one cannot be renewed (it
//! expired during a state-store outage, and may now be someone else's) the node stops, since
//! it can no longer prove it is the only one trading the portfolio. Leases are released after
//! the final checkpoints of a clean shutdown.

use chimera_kernel::ids::PortfolioId;
use chimera_messages::{AlertCode, AlertLevel};
use chimera_ports::LockToken;
use chimera_runtime::runtime::{Runtime, SharedState};
use std::time::Instant;

/// The leases a node holds.
pub(super) struct Leases {
    state: SharedState,
    held: Vec<(PortfolioId, String, LockToken)>,
}

fn key(id: &PortfolioId) -> String {
    format!("lock:{{portfolio}}:{}", id.as_str())
}

impl Leases {
    /// Takes the lease of every portfolio in `ids`, waiting for those another process holds.
    /// `None` when shutdown was asked while waiting (what was taken is released).
    ///
    /// # Errors
    /// When the state store fails with a non-transient error.
    pub(super) async fn acquire(
        rt: &Runtime,
        state: &SharedState,
        ids: &[PortfolioId],
    ) -> anyhow::Result<Option<Self>> {
        let mut leases = Self {
            state: state.clone(),
            held: Vec::new(),
        };
        let mut shutdown = rt.shutdown.clone();
        for id in ids {
            let key = key(id);
            let mut alerted = false;
            loop {
                match state.store.lock(&key, state.lease).await {
                    Ok(Some(token)) => {
                        if alerted {
                            rt.alert(
                                AlertLevel::Warning,
                                AlertCode::PortfolioLeaseTaken,
                                format!("portfolio {id}: lease taken over"),
                                Some(id.clone()),
                            )
                            .await;
                        }
                        leases.held.push((id.clone(), key, token));
                        break;
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
                        )
                        .await;
                    }
                    Ok(None) => {}
                    Err(e) if e.is_transient() => {
                        tracing::warn!(
                            component = %rt.source, portfolio = %id, "lease: {e}; retrying"
                        );
                    }
                    Err(e) => return Err(chimera_runtime::runtime::fatal("take lease", &e)),
                }
                tokio::select! {
                    () = tokio::time::sleep(state.lease / 5) => {}
                    () = shutdown.wait() => {
                        leases.release(rt).await;
                        return Ok(None);
                    }
                }
            }
        }
        Ok(Some(leases))
    }

    /// Renews the leases every third of the TTL until shutdown.
    ///
    /// # Errors
    /// When a lease could not be renewed before it expired, or was found taken.
    pub(super) async fn keep(&self, rt: &Runtime) -> anyhow::Result<()> {
        let mut shutdown = rt.shutdown.clone();
        let mut renewed = Instant::now();
        loop {
            tokio::select! {
                () = tokio::time::sleep(self.state.lease / 3) => {}
                () = shutdown.wait() => return Ok(()),
            }
            let mut failure = None;
            for (id, key, token) in &self.held {
                match self
                    .state
                    .store
                    .extend_lock(key, token, self.state.lease)
                    .await
                {
                    Ok(true) => {}
                    Ok(false) => anyhow::bail!(
                        "portfolio {id}: lease lost (expired and possibly taken by another \
                         process); stopping so that only one process trades it"
                    ),
                    Err(e) => failure = Some(e),
                }
            }
            match failure {
                None => renewed = Instant::now(),
                Some(e) if e.is_transient() && renewed.elapsed() < self.state.lease => {
                    tracing::warn!(component = %rt.source, "renewing leases: {e}; retrying");
                }
                Some(e) => {
                    anyhow::bail!("leases could not be renewed before they expired: {e}")
                }
            }
        }
    }

    /// Releases every lease still held (after the final checkpoints).
    pub(super) async fn release(&self, rt: &Runtime) {
        for (id, key, token) in &self.held {
            if let Err(e) = self.state.store.unlock(key, token).await {
                tracing::warn!(
                    component = %rt.source,
                    portfolio = %id,
                    "releasing the lease: {e} (it expires by itself)"
                );
            }
        }
    }
}
