//! Answers to the decision pipeline's own requests: a model's score (or its absence) resumes
//! an entry at sizing, a reservation's grant sends it, a refusal or timeout skips it with
//! `RISK_BUDGET`; and releases, when a symbol whose position held a reservation is flat with
//! nothing working. A grant that comes too late, or for an entry that can no longer be sent, is
//! released at once, so no budget leaks.

use super::decide::{HeldReservation, PendingEntry, Stage, BUDGET_TIMEOUT_MS};
use super::PortfolioEngine;
use crate::decision::{DecisionReason, ModelFallback, TraceStep};
use crate::request::{Outcome, RequestKind};

impl PortfolioEngine {
    /// An answer to one of the pipeline's own requests (`true`), or not one of them.
    pub(super) fn pipeline_answer(&mut self, request_id: u64, outcome: &Outcome) -> bool {
        if self.releases.remove(&request_id) {
            return true;
        }
        let Some(pending) = self.pending_entries.remove(&request_id) else {
            return false;
        };
        let PendingEntry {
            entry,
            mut record,
            stage,
        } = pending;
        match stage {
            Stage::Model => {
                let Some(model) = self.policy.model.clone() else {
                    return true;
                };
                let fallback = |why| TraceStep::ModelFallback {
                    model: model.model.clone(),
                    fallback: why,
                };
                match outcome {
                    Outcome::Score { value } => {
                        record.model_p = Some(*value);
                        if model.skip_below.is_some_and(|floor| *value < floor) {
                            let mult = model.size_mult(*value);
                            record.decision.trace.push(TraceStep::ModelScored {
                                model: model.model.clone(),
                                p: *value,
                                size_mult: mult,
                            });
                            record.decision.skip(DecisionReason::Model);
                            self.decided(record);
                            return true;
                        }
                        let mult = model.size_mult(*value);
                        record.decision.size_mult *= mult;
                        record.decision.trace.push(TraceStep::ModelScored {
                            model: model.model.clone(),
                            p: *value,
                            size_mult: mult,
                        });
                    }
                    Outcome::TimedOut => record
                        .decision
                        .trace
                        .push(fallback(ModelFallback::TimedOut)),
                    Outcome::Refused { reason } => {
                        record.decision.trace.push(fallback(ModelFallback::Failed {
                            reason: reason.clone(),
                        }));
                    }
                    Outcome::Granted => {
                        record.decision.trace.push(fallback(ModelFallback::Failed {
                            reason: "answered `granted` to a score request".into(),
                        }));
                    }
                }
                if self.stopped || self.halted.is_some() {
                    record.decision.skip(DecisionReason::Halted);
                    self.decided(record);
                } else {
                    self.size_and_reserve(entry, record);
                }
            }
            Stage::Budget {
                intent_id,
                qty,
                claims,
            } => {
                match outcome {
                    Outcome::Granted if !self.stopped && self.halted.is_none() => {
                        record.decision.trace.push(TraceStep::Budget {
                            granted: true,
                            detail: None,
                        });
                        let key = intent_id.as_str().to_owned();
                        if self.open(&entry, record, qty, Some(intent_id)) {
                            self.reservations.insert(
                                key.clone(),
                                HeldReservation {
                                    key,
                                    symbol: entry.symbol.clone(),
                                    claims,
                                },
                            );
                        } else {
                            // Pre-trade risk refused the order: nothing holds the budget.
                            self.release(key, claims);
                        }
                    }
                    other => {
                        let detail = match other {
                            Outcome::Refused { reason } => reason.clone(),
                            Outcome::TimedOut => "timed_out".into(),
                            _ => "halted".into(),
                        };
                        record.decision.trace.push(TraceStep::Budget {
                            granted: false,
                            detail: Some(detail),
                        });
                        if matches!(other, Outcome::TimedOut | Outcome::Granted) {
                            // A late or unused grant must not stay reserved.
                            self.release(intent_id.as_str().to_owned(), claims);
                        }
                        record.decision.skip(if matches!(other, Outcome::Granted) {
                            DecisionReason::Halted
                        } else {
                            DecisionReason::RiskBudget
                        });
                        self.decided(record);
                    }
                }
            }
        }
        true
    }

    fn release(&mut self, key: String, claims: Vec<crate::decision::BudgetClaim>) {
        let id = self.make_request(RequestKind::RiskRelease { key, claims }, BUDGET_TIMEOUT_MS);
        self.releases.insert(id);
    }

    /// Releases the reservations of symbols now flat with nothing working.
    pub(super) fn release_flat(&mut self) {
        if self.reservations.is_empty() {
            return;
        }
        let flat: Vec<String> = self
            .reservations
            .values()
            .filter(|r| {
                self.projected(&r.symbol).is_zero()
                    && self
                        .portfolio
                        .position(&r.symbol)
                        .is_none_or(crate::portfolio::Position::is_flat)
                    && !self
                        .open_orders
                        .values()
                        .any(|o| o.intent.symbol == r.symbol)
            })
            .map(|r| r.key.clone())
            .collect();
        for key in flat {
            if let Some(held) = self.reservations.remove(&key) {
                self.release(held.key, held.claims);
            }
        }
    }
}
