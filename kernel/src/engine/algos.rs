//! The engine's side of execution algorithms: starting a parent order instead of sending a
//! strategy's market order, feeding parents the market, their children's reports and their
//! deadlines, turning what they ask into commands, and reporting their progress.
//!
//! A child is an ordinary order of the engine (accounting, the strategy's view and the
//! stores see it like any other); its intent id is its client order id, derived from the
//! parent's intent id ([`crate::order::ClientOrderId::for_leg`]), so each child is its own
//! idempotent message on the bus. Pausing or stopping the engine cancels its parents (their
//! working children are canceled; what filled stays).

use super::{Command, Output, PortfolioEngine, TimerKey};
use crate::event::ExecutionReport;
use crate::execution::{ChildOrder, ExecAction, ExecContext, ExecSpec, ParentOrder};
use crate::ids::{ClientOrderId, IntentId};
use crate::order::{Contingency, Leg, Order, OrderIntent, OrderKind, OrderListRequest};

impl PortfolioEngine {
    /// Sets how the strategy's market orders are executed (default: sent as they are). An
    /// order's own [`crate::strategy::OrderRequest::exec`] overrides it.
    #[must_use]
    pub fn with_execution(mut self, spec: ExecSpec) -> Self {
        self.exec = spec;
        self
    }

    /// The parent orders being worked.
    pub fn parents(&self) -> impl Iterator<Item = &ParentOrder> {
        self.parents.values()
    }

    /// Whether `intent` (from a request carrying `exec`, if any) goes to an algorithm.
    pub(super) fn algo_for(
        &self,
        intent: &OrderIntent,
        exec: Option<&ExecSpec>,
    ) -> Option<ExecSpec> {
        let spec = exec.unwrap_or(&self.exec);
        let eligible = match spec {
            ExecSpec::Direct => false,
            // Structures around an order: its entry may be a market or a limit order.
            ExecSpec::Oco(_)
            | ExecSpec::Bracket(_)
            | ExecSpec::GuardStop(_)
            | ExecSpec::TrailingStop(_) => {
                matches!(intent.kind, OrderKind::Market | OrderKind::Limit { .. })
            }
            _ => matches!(intent.kind, OrderKind::Market),
        };
        (eligible && !intent.close_position).then(|| spec.clone())
    }

    /// Starts a parent for `intent`.
    pub(super) fn start_parent(&mut self, intent: OrderIntent, spec: &ExecSpec) {
        let Some(instrument) = self.portfolio.instruments.get(&intent.symbol) else {
            return;
        };
        let ctx = ExecContext {
            now: self.clock,
            instrument,
            top: self.market_view.top(&intent.symbol),
        };
        self.next_parent += 1;
        let Some(mut parent) = ParentOrder::new(self.next_parent, intent, spec, &ctx) else {
            return;
        };
        let mut actions = Vec::new();
        parent.start(&ctx, &mut actions);
        self.after_step(parent, actions);
    }

    /// Feeds the parents of `symbol` a market event.
    pub(super) fn parents_on_market(&mut self, symbol: &crate::ids::Symbol) {
        let seqs: Vec<u64> = self
            .parents
            .values()
            .filter(|p| p.intent.symbol == *symbol)
            .map(|p| p.seq)
            .collect();
        for seq in seqs {
            self.step_parent(seq, ParentOrder::on_market);
        }
    }

    /// A parent's deadline passed.
    pub(super) fn parent_timer(&mut self, seq: u64) {
        self.step_parent(seq, ParentOrder::on_timer);
    }

    /// A report about a child, after the engine applied it to the child order.
    pub(super) fn parent_on_report(&mut self, report: &ExecutionReport) {
        let Some(&seq) = self.child_parent.get(&report.client_order_id) else {
            return;
        };
        if report.kind.ends_order() {
            self.child_parent.remove(&report.client_order_id);
        }
        self.step_parent(seq, |parent, ctx, out| {
            parent.on_child_report(ctx, report, out);
        });
    }

    /// Cancels every parent (pause, stop, cancel-all).
    pub(super) fn cancel_parents(&mut self) {
        self.cancel_parents_where(|_| true);
    }

    /// Cancels the parents `which` picks (see [`Self::cancel_parents`]).
    pub(super) fn cancel_parents_where(
        &mut self,
        which: impl Fn(&crate::execution::ParentOrder) -> bool,
    ) {
        let seqs: Vec<u64> = self
            .parents
            .iter()
            .filter(|(_, p)| which(p))
            .map(|(seq, _)| *seq)
            .collect();
        for seq in seqs {
            self.step_parent(seq, |parent, _, out| parent.cancel(out));
        }
    }

    fn step_parent(
        &mut self,
        seq: u64,
        step: impl FnOnce(&mut ParentOrder, &ExecContext<'_>, &mut Vec<ExecAction>),
    ) {
        let Some(mut parent) = self.parents.remove(&seq) else {
            return;
        };
        let Some(instrument) = self.portfolio.instruments.get(&parent.intent.symbol) else {
            self.parents.insert(seq, parent);
            return;
        };
        let ctx = ExecContext {
            now: self.clock,
            instrument,
            top: self.market_view.top(&parent.intent.symbol),
        };
        // What progress reports and the parent's lifetime depend on: a child finishing (even
        // without a fill) can let a stopped parent go.
        let progress = |p: &ParentOrder| {
            (
                p.filled,
                p.exited,
                p.children,
                p.open_children.len(),
                p.state.clone(),
            )
        };
        let before = progress(&parent);
        let mut actions = Vec::new();
        step(&mut parent, &ctx, &mut actions);
        let changed = before != progress(&parent);
        if changed || !actions.is_empty() {
            self.after_step(parent, actions);
        } else {
            self.parents.insert(seq, parent);
        }
    }

    /// Carries out what a parent asked, reports its progress, and keeps it or lets it go.
    fn after_step(&mut self, parent: ParentOrder, actions: Vec<ExecAction>) {
        for action in actions {
            match action {
                ExecAction::Place(child) => {
                    let intent = self.child_intent(&parent, &child);
                    self.outputs
                        .push_back(Output::Command(Command::Submit(intent)));
                }
                ExecAction::PlaceList { list, legs } => {
                    let orders = legs
                        .iter()
                        .map(|child| self.child_intent(&parent, child))
                        .collect();
                    self.outputs.push_back(Output::Command(Command::SubmitList(
                        OrderListRequest {
                            list_id: ClientOrderId::for_leg(
                                &parent.intent.intent_id,
                                Leg::List(list),
                            ),
                            portfolio_id: parent.intent.portfolio_id.clone(),
                            symbol: parent.intent.symbol.clone(),
                            contingency: Contingency::Oco,
                            orders,
                        },
                    )));
                }
                ExecAction::Cancel(id) => self.cancel_child(&id),
            }
        }
        self.outputs
            .push_back(Output::Execution(parent.progress(self.clock)));
        let seq = parent.seq;
        let done = parent.state.is_terminal() && parent.open_children.is_empty();
        self.timers.set(
            TimerKey::Exec(seq),
            if done { None } else { parent.deadline },
        );
        if done {
            self.child_parent.retain(|_, s| *s != seq);
        } else {
            self.parents.insert(seq, parent);
        }
        self.recompute_working();
    }

    /// The intent of a parent's child, registered as working and as the parent's.
    fn child_intent(&mut self, parent: &ParentOrder, child: &ChildOrder) -> OrderIntent {
        let client_order_id = ClientOrderId::for_leg(&parent.intent.intent_id, child.leg);
        let intent = OrderIntent {
            intent_id: IntentId::new(client_order_id.as_str()),
            client_order_id,
            portfolio_id: parent.intent.portfolio_id.clone(),
            symbol: parent.intent.symbol.clone(),
            side: child.side,
            qty: child.qty,
            kind: child.kind,
            time_in_force: child.time_in_force,
            reduce_only: parent.intent.reduce_only || child.reduce_only,
            close_position: false,
            created_at: self.clock,
            tag: parent.intent.tag.clone(),
        };
        self.stats.orders += 1;
        self.child_parent
            .insert(intent.client_order_id.clone(), parent.seq);
        self.open_orders
            .insert(intent.client_order_id.clone(), Order::new(intent.clone()));
        intent
    }

    fn cancel_child(&mut self, id: &ClientOrderId) {
        let now = self.clock;
        if let Some(request) = self
            .open_orders
            .get_mut(id)
            .and_then(|o| o.request_cancel(now))
        {
            self.outputs
                .push_back(Output::Command(Command::Cancel(request)));
        }
    }
}
