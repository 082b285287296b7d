//! The engine's side of the decision pipeline ([`crate::decision`]): a strategy's
//! [`Entry`] goes through the gates and rules at once, then waits for the model's score and the
//! shared budgets' reservation (requests with deadlines), then is sized and sent as an order.
//! Every entry ends in one [`Output::Decision`].
//!
//! Reservations are held per symbol and released (a [`RequestKind::RiskRelease`]) once the
//! symbol is flat with nothing working, so a budget follows the position's life. Both the
//! entries waiting for an answer and the reservations held are in the engine's snapshot: a
//! restarted node neither forgets to release nor reserves twice (the key is the intent id).

use super::{Output, PortfolioEngine};
use crate::decision::rules::RuleInputs;
use crate::decision::{
    budget_claims, Decision, DecisionReason, DecisionRecord, Entry, GateInputs, HealthLevel,
    TraceStep,
};
use crate::features::FeatureSpec;
use crate::ids::{IntentId, SignalId, Symbol};
use crate::request::RequestKind;
use crate::strategy::OrderRequest;
use crate::value::Quantity;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How long a budget reservation may take (engine time).
pub(super) const BUDGET_TIMEOUT_MS: i64 = 1_000;

/// Where an entry waits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
pub(crate) enum Stage {
    /// For the model's score.
    Model,
    /// For the shared budgets, with the order it will send.
    Budget {
        intent_id: IntentId,
        qty: Quantity,
        claims: Vec<crate::decision::BudgetClaim>,
    },
}

/// An entry waiting for an answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PendingEntry {
    pub(crate) entry: Entry,
    pub(crate) record: DecisionRecord,
    pub(crate) stage: Stage,
}

/// A reservation the portfolio holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldReservation {
    /// The key (the entry's intent id).
    pub key: String,
    /// The symbol whose position it covers.
    pub symbol: Symbol,
    /// What it reserved.
    pub claims: Vec<crate::decision::BudgetClaim>,
}

/// What the runtime tells the gates besides the kill switch (see [`crate::risk::KillState`],
/// kept apart because it is per symbol).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateState {
    /// The system's health.
    #[serde(default)]
    pub health: HealthLevel,
}

impl PortfolioEngine {
    /// Sets how entries are decided.
    #[must_use]
    pub fn with_policy(mut self, policy: crate::decision::DecisionPolicy) -> Self {
        self.rules_read_drawdown = policy.rules.reads_drawdown();
        self.policy = policy;
        self.rebuild_feature_view();
        self
    }

    /// How entries are decided.
    pub fn policy(&self) -> &crate::decision::DecisionPolicy {
        &self.policy
    }

    /// What the gates were last told.
    pub fn gate_state(&self) -> GateState {
        self.gate_state
    }

    /// Reservations held, by key.
    pub fn reservations(&self) -> impl Iterator<Item = &HeldReservation> {
        self.reservations.values()
    }

    /// The features the decision policy reads for `symbols`.
    pub(super) fn policy_features(&self) -> Vec<(Symbol, FeatureSpec)> {
        let mut wanted = Vec::new();
        for (spec, symbol) in self.policy.rules.features() {
            match symbol {
                Some(symbol) => wanted.push((symbol, spec)),
                None => {
                    for s in self.portfolio.instruments.keys() {
                        wanted.push((s.clone(), spec.clone()));
                    }
                }
            }
        }
        let mut per_symbol: Vec<FeatureSpec> = self
            .policy
            .model
            .as_ref()
            .map(|m| m.features.clone())
            .unwrap_or_default();
        if matches!(
            self.policy.sizing,
            Some(crate::sizing::SizingRule::VolTarget { .. })
        ) {
            per_symbol.push(self.sizing_atr());
        }
        for spec in per_symbol {
            for s in self.portfolio.instruments.keys() {
                wanted.push((s.clone(), spec.clone()));
            }
        }
        wanted
    }

    fn sizing_atr(&self) -> FeatureSpec {
        FeatureSpec::Atr(self.risk.atr_period.unwrap_or(14).max(1))
    }

    /// A strategy's entry: gates and rules now, then the model, sizing and budgets.
    pub(super) fn enter(&mut self, entry: Entry) {
        let signal_id = SignalId::new(crate::ids::numbered(
            &[self.portfolio.id.as_str(), "-sig-"],
            self.next_signal,
        ));
        self.next_signal += 1;
        let regime = self
            .features
            .regime(&entry.symbol)
            .filter(|r| r.valid_at(self.clock))
            .map(|r| r.label);
        let mut features = BTreeMap::new();
        for (symbol, spec) in self.features.wanted() {
            if *symbol == entry.symbol {
                if let Some(v) = self.features.value(symbol, spec) {
                    features.insert(spec.to_string(), format!("{v}"));
                }
            }
        }
        let mut record = DecisionRecord {
            signal_id,
            portfolio_id: self.portfolio.id.clone(),
            t0: self.clock,
            symbol: entry.symbol.clone(),
            side: entry.side,
            signal: entry.signal.clone(),
            value: entry.value,
            features,
            regime,
            decision: Decision::pending(),
            model_p: None,
            config_rev: self.policy.config_rev,
            intent_id: None,
        };
        if self.stopped || self.halted.is_some() {
            // Refused as any order would be (the refusal names pause or stop).
            let reason = if self.stopped {
                super::RefusalReason::Stopped
            } else {
                super::RefusalReason::TradingPaused
            };
            let request =
                OrderRequest::market(entry.symbol.clone(), entry.side, entry.qty, "entry");
            // No record: the pipeline did not run, and a paused portfolio's strategy may ask
            // on every bar.
            self.refuse(super::RefusedAction::Submit(request), reason);
            return;
        }
        let gates = GateInputs {
            now: self.clock,
            kill_switch: self.kill.mode_for(&entry.symbol).is_some(),
            health: self.gate_state.health,
            margin_used: self.portfolio.margin_used().get(),
            equity: self.portfolio.equity().get(),
        };
        match self.policy.gates.check(&gates) {
            Err(gate) => {
                record.decision.trace.push(TraceStep::GateBlocked { gate });
                record.decision.skip(gate.into());
                return self.decided(record);
            }
            Ok(mult) if mult != Decimal::ONE => {
                record.decision.size_mult *= mult;
                record.decision.trace.push(TraceStep::HealthScaled {
                    level: self.gate_state.health,
                    size_mult: mult,
                });
            }
            Ok(_) => {}
        }
        if !self.policy.rules.is_empty() && !self.apply_rules(&entry, &mut record, regime) {
            return self.decided(record);
        }
        if let Some(model) = &self.policy.model {
            let mut sent = BTreeMap::new();
            for spec in &model.features {
                if let Some(v) = self.features.value(&entry.symbol, spec) {
                    sent.insert(spec.to_string(), format!("{v}"));
                }
            }
            let kind = RequestKind::ModelScore {
                model: model.model.clone(),
                features: sent,
            };
            let timeout = model.timeout_ms;
            let id = self.make_request(kind, timeout);
            self.pending_entries.insert(
                id,
                PendingEntry {
                    entry,
                    record,
                    stage: Stage::Model,
                },
            );
            return;
        }
        self.size_and_reserve(entry, record);
    }

    /// Fires the rules; `false` when they skip the entry.
    fn apply_rules(
        &mut self,
        entry: &Entry,
        record: &mut DecisionRecord,
        regime: Option<crate::features::RegimeLabel>,
    ) -> bool {
        let view = &self.features;
        let lookup = |s: &Symbol, spec: &FeatureSpec| view.value(s, spec);
        let equity = self.portfolio.equity().get();
        let drawdown_pct = self
            .peak_equity
            .filter(|p| *p > Decimal::ZERO)
            .map_or(0.0, |p| {
                ((p - equity) / p * Decimal::ONE_HUNDRED)
                    .to_f64()
                    .unwrap_or(0.0)
            });
        let inputs = RuleInputs {
            now: self.clock,
            symbol: &entry.symbol,
            side: entry.side,
            signal: entry.signal.as_str(),
            signal_value: entry.value.and_then(|v| v.to_f64()),
            price: self
                .market_view
                .top(&entry.symbol)
                .mid()
                .and_then(|p| p.to_f64()),
            regime,
            health: self.gate_state.health,
            position: self.projected(&entry.symbol).get().to_f64().unwrap_or(0.0),
            equity: equity.to_f64().unwrap_or(0.0),
            drawdown_pct,
            open_positions: self
                .portfolio
                .positions
                .values()
                .filter(|p| !p.is_flat())
                .count(),
            adds: self.position_adds(&entry.symbol),
            feature: &lookup,
        };
        let outcome = self.policy.rules.decide(&inputs);
        let decision = &mut record.decision;
        decision
            .trace
            .extend(outcome.fired.into_iter().map(TraceStep::Rule));
        if outcome.skipped_by.is_some() {
            decision.skip(DecisionReason::Rule);
            return false;
        }
        decision.size_mult *= outcome.size_mult;
        decision.tp_mult = outcome.tp_mult;
        decision.sl_mult = outcome.sl_mult;
        decision.max_adds = outcome.max_adds;
        true
    }

    /// Sizes the entry, then reserves the shared budgets (when configured) or sends it.
    pub(super) fn size_and_reserve(&mut self, entry: Entry, mut record: DecisionRecord) {
        let Some(qty) = self.size(&entry, &mut record) else {
            return self.decided(record);
        };
        let claims = self.claims_for(&entry, qty);
        if claims.is_empty() {
            self.open(&entry, record, qty, None);
            return;
        }
        // A reversal: the position holding the symbol's reservation is being closed by an
        // order already sent, so the new position takes the reservation over instead of
        // competing with its own predecessor for the budget.
        let closing = self.projected(&entry.symbol).is_zero()
            && self.reservations.values().any(|r| r.symbol == entry.symbol);
        if closing {
            record.decision.trace.push(TraceStep::Budget {
                granted: true,
                detail: Some("kept from the position being closed".into()),
            });
            self.open(&entry, record, qty, None);
            return;
        }
        let intent_id = IntentId::for_portfolio(&self.portfolio.id, self.next_seq);
        self.next_seq += 1;
        let kind = RequestKind::RiskReservation {
            key: intent_id.as_str().to_owned(),
            claims: claims.clone(),
        };
        let id = self.make_request(kind, BUDGET_TIMEOUT_MS);
        self.pending_entries.insert(
            id,
            PendingEntry {
                entry,
                record,
                stage: Stage::Budget {
                    intent_id,
                    qty,
                    claims,
                },
            },
        );
    }

    fn claims_for(&self, entry: &Entry, qty: Quantity) -> Vec<crate::decision::BudgetClaim> {
        let gates = &self.policy.gates;
        if gates.max_concurrent_per_symbol.is_none() && gates.shared_margin_budget.is_none() {
            return Vec::new();
        }
        let Some(instrument) = self.portfolio.instruments.get(&entry.symbol) else {
            return Vec::new();
        };
        let price = self
            .market_view
            .top(&entry.symbol)
            .mid()
            .unwrap_or_default();
        let leverage = instrument.leverage.max(Decimal::ONE);
        let margin = price * qty.get() * instrument.contract_multiplier / leverage;
        budget_claims(gates, &entry.symbol, instrument.quote.as_str(), margin)
    }

    /// The entry's quantity, or `None` with the decision skipped.
    fn size(&self, entry: &Entry, record: &mut DecisionRecord) -> Option<Quantity> {
        let decision = &mut record.decision;
        let Some(rule) = self.policy.sizing else {
            // The strategy's quantity; the engine rounds it to the lot when it sends it.
            let qty = if decision.size_mult == Decimal::ONE {
                entry.qty
            } else {
                Quantity::new(entry.qty.get() * decision.size_mult).unwrap_or(Quantity::ZERO)
            };
            return Some(qty);
        };
        let instrument = self.portfolio.instruments.get(&entry.symbol)?;
        let price = self
            .market_view
            .top(&entry.symbol)
            .mid()
            .and_then(|p| crate::value::Price::new(p).ok());
        let sized = match price {
            None => Err(crate::sizing::SizingRefusal::NotPositive),
            Some(price) => {
                let available = match instrument.kind {
                    crate::instrument::MarketKind::Perp => self.portfolio.available_margin().get(),
                    crate::instrument::MarketKind::Spot => {
                        self.portfolio.balance(&instrument.quote).get()
                    }
                };
                let atr = self
                    .features
                    .value(&entry.symbol, &self.sizing_atr())
                    .and_then(crate::value::decimal_from_f64_8dp);
                rule.size(&crate::sizing::SizingInputs {
                    instrument,
                    price,
                    equity: self.portfolio.equity().get(),
                    available,
                    atr,
                    size_mult: decision.size_mult,
                })
            }
        };
        match sized {
            Ok(sized) => {
                decision.trace.push(TraceStep::Sized {
                    qty: sized.qty,
                    capped: sized.capped,
                });
                Some(sized.qty)
            }
            Err(refusal) => {
                decision.trace.push(TraceStep::SizingRefused { refusal });
                decision.skip(DecisionReason::Sizing);
                None
            }
        }
    }

    /// Sends the entry's order and records the decision; returns whether an order went out.
    pub(super) fn open(
        &mut self,
        entry: &Entry,
        mut record: DecisionRecord,
        qty: Quantity,
        intent: Option<IntentId>,
    ) -> bool {
        record.decision.qty = Some(qty);
        let request = OrderRequest::market(entry.symbol.clone(), entry.side, qty, "entry");
        self.preassigned_intent = intent;
        // The intent id of the order sent; none when pre-trade risk refused it (the refusal
        // is an output of its own).
        record.intent_id = self.submit(request);
        self.preassigned_intent = None;
        let sent = record.intent_id.is_some();
        if sent {
            self.plan_position(entry, &record.decision);
        }
        self.decided(record);
        sent
    }

    pub(super) fn decided(&mut self, record: DecisionRecord) {
        self.outputs.push_back(Output::Decision(Box::new(record)));
    }
}
