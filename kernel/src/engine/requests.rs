//! Requests the engine makes to the outside and the answers it is fed back: a risk-budget
//! reservation, a model score — anything a runtime must ask a service for on a strategy's
//! behalf. A strategy asks with [`crate::strategy::Actions::request`]; the engine names the
//! request, leaves it as [`super::Output::Request`], and sets a deadline in its timer table. The
//! answer comes back as [`super::Input::Response`]; when none arrived by the deadline, the
//! engine answers [`Outcome::TimedOut`] itself, at the deadline's time. Either way the strategy
//! is told once, through [`crate::strategy::Strategy::on_response`], so a backtest (where no
//! service answers) and a live run time out alike.

use super::{EngineIssue, IssueKind, Output, PortfolioEngine, TimerKey};
use crate::request::{Outcome, Request, RequestKind, Response};
use crate::strategy::StrategyContext;
use crate::time::Timestamp;

impl PortfolioEngine {
    /// Names and leaves a request, waiting `timeout_ms` for its answer.
    pub(super) fn make_request(&mut self, kind: RequestKind, timeout_ms: i64) -> u64 {
        let request = Request {
            portfolio_id: self.portfolio.id.clone(),
            request_id: self.next_request,
            kind,
            created_at: self.clock,
            deadline: Timestamp(self.clock.0.saturating_add(timeout_ms.max(0))),
        };
        self.next_request += 1;
        self.timers.set(
            TimerKey::Request(request.request_id),
            Some(request.deadline),
        );
        let id = request.request_id;
        self.requests.insert(id, request.clone());
        self.outputs.push_back(Output::Request(request));
        id
    }

    /// An answer arrived: tells the strategy, or records an issue for an unknown or already
    /// answered (timed-out) request.
    pub(super) fn on_response(&mut self, response: &Response) {
        if let Some(request) = self.requests.remove(&response.request_id) {
            self.timers.set(TimerKey::Request(request.request_id), None);
            self.answer(&request, &response.outcome);
        } else {
            self.stats.issues += 1;
            self.outputs.push_back(Output::Issue(EngineIssue {
                report: None,
                response: Some(response.clone()),
                kind: IssueKind::UnknownRequest,
                detail: format!(
                    "response to request {} of {}, which is not waiting (timed out or never made)",
                    response.request_id, response.portfolio_id
                ),
                at: self.clock,
            }));
        }
    }

    /// The deadline of `request_id` passed without an answer.
    pub(super) fn expire_request(&mut self, request_id: u64) {
        if let Some(request) = self.requests.remove(&request_id) {
            self.answer(&request, &Outcome::TimedOut);
        }
    }

    fn answer(&mut self, request: &Request, outcome: &Outcome) {
        if self.pipeline_answer(request.request_id, outcome) {
            return;
        }
        if self.stopped {
            return;
        }
        let ctx = context!(self);
        self.strategy
            .on_response(request, outcome, &ctx, &mut self.actions);
        self.take_actions();
    }

    /// Requests still waiting for an answer, oldest first.
    pub fn pending_requests(&self) -> impl Iterator<Item = &Request> {
        self.requests.values()
    }
}
