//! Answers to the requests portfolio engines make ([`chimera_kernel::request`]): shared risk
//! budgets reserved and released through the [`StateStore`], model scores from the runtime's
//! scorers, each within the request's deadline.
//!
//! Budget contract (the kernel's [`chimera_kernel::decision::LocalServices`] keeps the same in
//! memory): a reservation is all-or-nothing and idempotent by its key (the entry's intent id).
//! The store holds a marker `risk:{reservation}:<key>` while the reservation stands: asking again
//! finds it and answers `granted` without counting twice (a replay after a restart); a release
//! deletes the marker and gives the amounts back only if it deleted it, so a release is applied
//! once. A process that dies between writing the marker and the counters leaves the marker
//! without the count (the budget is under-counted by one entry until that position's release),
//! never the other way round.

use chimera_kernel::decision::{BudgetClaim, ScorerRegistry};
use chimera_kernel::request::{Outcome, Request, RequestKind, Response};
use chimera_ports::{Increment, PortResult, StateStore};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// The marker of reservation `key`.
pub fn reservation_key(key: &str) -> String {
    format!("risk:{{reservation}}:{key}")
}

/// What answers a runtime's engine requests.
pub struct RequestServices {
    /// Where budgets are kept (in this process only when no shared state is configured).
    state: Arc<dyn StateStore>,
    shared: bool,
    scorers: Arc<Mutex<ScorerRegistry>>,
}

impl std::fmt::Debug for RequestServices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestServices")
            .field("shared", &self.shared)
            .finish_non_exhaustive()
    }
}

impl RequestServices {
    /// Services over `state` (budgets shared by every process using it; `None`: an
    /// in-memory store, budgets shared by this process's portfolios only) with `scorers`.
    pub fn new(state: Option<Arc<dyn StateStore>>, scorers: ScorerRegistry) -> Self {
        let shared = state.is_some();
        Self {
            state: state.unwrap_or_else(|| {
                Arc::new(chimera_memory::MemoryStateStore::new(Arc::new(
                    chimera_memory::SystemClock,
                )))
            }),
            shared,
            scorers: Arc::new(Mutex::new(scorers)),
        }
    }

    /// The answer to `request`, given `budget` of wall time (the request's deadline minus its
    /// creation). A store that fails is a refusal naming the failure: the entry is skipped
    /// with `RISK_BUDGET`, never opened without its reservation.
    pub async fn answer(&self, request: &Request) -> Response {
        let budget = Duration::from_millis(
            u64::try_from((request.deadline.0 - request.created_at.0).max(1)).unwrap_or(1),
        );
        let outcome = match &request.kind {
            RequestKind::RiskReservation { key, claims } => {
                let state = self.state.as_ref();
                match tokio::time::timeout(budget, reserve(state, key, claims)).await {
                    Ok(Ok(outcome)) => outcome,
                    Ok(Err(e)) => Outcome::Refused {
                        reason: format!("state store: {e}"),
                    },
                    Err(_) => Outcome::TimedOut,
                }
            }
            // A release is retried by nobody: it gets time beyond the deadline.
            RequestKind::RiskRelease { key, claims } => {
                match release(self.state.as_ref(), key, claims).await {
                    Ok(()) => Outcome::Granted,
                    Err(e) => {
                        tracing::warn!("releasing risk reservation {key}: {e}");
                        Outcome::Refused {
                            reason: format!("state store: {e}"),
                        }
                    }
                }
            }
            RequestKind::ModelScore { model, features } => {
                let scorers = Arc::clone(&self.scorers);
                let (model, features) = (model.clone(), features.clone());
                let scoring = tokio::task::spawn_blocking(move || {
                    scorers
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .score(&model, &features)
                });
                match tokio::time::timeout(budget, scoring).await {
                    Ok(Ok(Ok(value))) => Outcome::Score { value },
                    Ok(Ok(Err(e))) => Outcome::Refused {
                        reason: e.to_string(),
                    },
                    Ok(Err(e)) => Outcome::Refused {
                        reason: format!("the scorer failed: {e}"),
                    },
                    Err(_) => Outcome::TimedOut,
                }
            }
        };
        Response {
            portfolio_id: request.portfolio_id.clone(),
            request_id: request.request_id,
            outcome,
        }
    }
}

/// Reserves every claim under `key`, or none.
///
/// # Errors
/// The store's error; claims already counted are given back first (best effort).
pub async fn reserve(
    state: &dyn StateStore,
    key: &str,
    claims: &[BudgetClaim],
) -> PortResult<Outcome> {
    let marker = reservation_key(key);
    let body = serde_json::to_vec(claims).unwrap_or_default();
    if !state.set_if_absent(&marker, &body, None).await? {
        return Ok(Outcome::Granted);
    }
    for (i, claim) in claims.iter().enumerate() {
        let result = state
            .increment_within(&claim.budget, claim.amount, claim.ceiling)
            .await;
        let refused = match result {
            Ok(Increment::Applied(_)) => continue,
            Ok(Increment::Refused(used)) => Ok(format!(
                "{} exhausted ({used} of {} in use, {} asked)",
                claim.budget, claim.ceiling, claim.amount
            )),
            Err(e) => Err(e),
        };
        for done in &claims[..i] {
            let _ = state
                .increment_within(&done.budget, -done.amount, done.ceiling)
                .await;
        }
        let _ = state.delete(&marker).await;
        return refused.map(|reason| Outcome::Refused { reason });
    }
    Ok(Outcome::Granted)
}

/// Gives back what reservation `key` holds, once.
///
/// # Errors
/// The store's error.
pub async fn release(state: &dyn StateStore, key: &str, claims: &[BudgetClaim]) -> PortResult<()> {
    if state.delete(&reservation_key(key)).await? {
        for claim in claims {
            state
                .increment_within(&claim.budget, -claim.amount, claim.ceiling)
                .await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chimera_kernel::ids::PortfolioId;
    use chimera_kernel::time::Timestamp;

    fn claim(budget: &str, amount: i64, ceiling: i64) -> BudgetClaim {
        BudgetClaim {
            budget: budget.into(),
            amount,
            ceiling,
        }
    }

    fn request(id: u64, kind: RequestKind) -> Request {
        Request {
            portfolio_id: PortfolioId::new("p"),
            request_id: id,
            kind,
            created_at: Timestamp(0),
            deadline: Timestamp(1_000),
        }
    }

    #[tokio::test]
    async fn reservations_are_all_or_nothing_idempotent_and_released_once() {
        let store: Arc<dyn StateStore> = Arc::new(chimera_memory::MemoryStateStore::new(Arc::new(
            chimera_memory::SystemClock,
        )));
        let services = RequestServices::new(Some(Arc::clone(&store)), ScorerRegistry::default());
        let both = vec![
            claim("risk:{concurrency}:BTC", 1, 1),
            claim("risk:{budget}:margin", 600, 1_000),
        ];
        let reserve = |id, key: &str, claims: Vec<BudgetClaim>| {
            request(
                id,
                RequestKind::RiskReservation {
                    key: key.into(),
                    claims,
                },
            )
        };
        let outcome = |r: Response| r.outcome;
        assert_eq!(
            outcome(services.answer(&reserve(1, "a", both.clone())).await),
            Outcome::Granted
        );
        assert_eq!(
            outcome(services.answer(&reserve(2, "a", both.clone())).await),
            Outcome::Granted,
            "replayed: counted once"
        );
        // The concurrency budget is full: refused, and the margin claim is not left counted.
        let refused = outcome(
            services
                .answer(&reserve(
                    3,
                    "b",
                    vec![
                        claim("risk:{budget}:margin", 100, 1_000),
                        claim("risk:{concurrency}:BTC", 1, 1),
                    ],
                ))
                .await,
        );
        assert!(
            matches!(refused, Outcome::Refused { ref reason } if reason.contains("risk:{concurrency}:BTC exhausted")),
            "{refused:?}"
        );
        let counter = |key: &'static str| {
            let store = Arc::clone(&store);
            async move {
                store
                    .increment_within(key, 0, i64::MAX)
                    .await
                    .expect("read")
            }
        };
        assert_eq!(
            counter("risk:{budget}:margin").await,
            Increment::Applied(600),
            "rolled back"
        );
        assert_eq!(store.get(&reservation_key("b")).await.expect("get"), None);
        let release = request(
            4,
            RequestKind::RiskRelease {
                key: "a".into(),
                claims: both.clone(),
            },
        );
        assert_eq!(outcome(services.answer(&release).await), Outcome::Granted);
        assert_eq!(outcome(services.answer(&release).await), Outcome::Granted);
        assert_eq!(
            counter("risk:{budget}:margin").await,
            Increment::Applied(0),
            "released once"
        );
        assert_eq!(
            counter("risk:{concurrency}:BTC").await,
            Increment::Applied(0)
        );
    }

    #[tokio::test]
    async fn scores_come_from_the_registered_models() {
        let mut scorers = ScorerRegistry::default();
        scorers.register(Box::new(chimera_kernel::decision::LogisticScorer {
            name: "logit".into(),
            bias: 0.0,
            weights: [("atr:14".to_owned(), 0.0)].into(),
        }));
        let services = RequestServices::new(None, scorers);
        let ask = |model: &str, value: &str| {
            request(
                1,
                RequestKind::ModelScore {
                    model: model.into(),
                    features: [("atr:14".to_owned(), value.to_owned())].into(),
                },
            )
        };
        assert_eq!(
            services.answer(&ask("logit", "3")).await.outcome,
            Outcome::Score {
                value: rust_decimal::Decimal::new(5, 1)
            }
        );
        assert!(
            matches!(services.answer(&ask("other", "3")).await.outcome, Outcome::Refused { ref reason } if reason.contains("no model named"))
        );
        assert!(matches!(
            services.answer(&ask("logit", "x")).await.outcome,
            Outcome::Refused { .. }
        ));
    }
}
