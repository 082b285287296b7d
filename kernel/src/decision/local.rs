//! Answers to an engine's requests without any service: shared budgets kept in memory and
//! scorers called in place. Backtests and the demo use it so a recorded run goes through the
//! same reservation and model steps as a live node, which answers from the shared store.
//!
//! The ledger keeps the store's contract: a reservation is all-or-nothing, idempotent by key
//! (asking again answers as the first time and reserves nothing more), and a release gives
//! back exactly what its key holds, once.

use super::{BudgetClaim, ScorerRegistry};
use crate::request::{Outcome, Request, RequestKind, Response};
use std::collections::BTreeMap;

/// In-memory budgets and scorers.
#[derive(Debug, Default)]
pub struct LocalServices {
    used: BTreeMap<String, i64>,
    held: BTreeMap<String, Vec<BudgetClaim>>,
    /// The models requests may name.
    pub scorers: ScorerRegistry,
}

impl LocalServices {
    /// Units of `budget` in use.
    pub fn used(&self, budget: &str) -> i64 {
        self.used.get(budget).copied().unwrap_or(0)
    }

    /// Reservations held.
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// The answer to `request`.
    pub fn answer(&mut self, request: &Request) -> Response {
        let outcome = match &request.kind {
            RequestKind::RiskReservation { key, claims } => self.reserve(key, claims),
            RequestKind::RiskRelease { key, .. } => {
                for claim in self.held.remove(key).unwrap_or_default() {
                    let used = self.used.entry(claim.budget).or_insert(0);
                    *used = (*used - claim.amount).max(0);
                }
                Outcome::Granted
            }
            RequestKind::ModelScore { model, features } => {
                match self.scorers.score(model, features) {
                    Ok(value) => Outcome::Score { value },
                    Err(e) => Outcome::Refused {
                        reason: e.to_string(),
                    },
                }
            }
        };
        Response {
            portfolio_id: request.portfolio_id.clone(),
            request_id: request.request_id,
            outcome,
        }
    }

    fn reserve(&mut self, key: &str, claims: &[BudgetClaim]) -> Outcome {
        if self.held.contains_key(key) {
            return Outcome::Granted;
        }
        if let Some(full) = claims
            .iter()
            .find(|c| self.used(&c.budget).saturating_add(c.amount) > c.ceiling)
        {
            return Outcome::Refused {
                reason: format!(
                    "{} exhausted ({} of {})",
                    full.budget,
                    self.used(&full.budget),
                    full.ceiling
                ),
            };
        }
        for claim in claims {
            *self.used.entry(claim.budget.clone()).or_insert(0) += claim.amount;
        }
        self.held.insert(key.to_owned(), claims.to_vec());
        Outcome::Granted
    }
}
