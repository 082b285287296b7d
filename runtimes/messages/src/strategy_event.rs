//! [`StrategyEvent`]: what a portfolio's engine records besides its orders (refusals, issues,
//! signals, requests, execution progress), stored in the audit table as typed JSON with a closed category, never as debug text.

use chimera_kernel::engine::{EngineIssue, Output, Refusal, Request, SignalRecord};
use chimera_kernel::execution::ExecProgress;
use serde::{Deserialize, Serialize};

/// A strategy event, as stored (`strategy_events.body`) and queried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum StrategyEvent {
    /// A request the engine refused, with its reason code.
    Refusal(Refusal),
    /// A report the engine could not apply, with its reason code.
    Issue(EngineIssue),
    /// A signal the strategy recorded.
    Signal(SignalRecord),
    /// A request the engine made to a service (risk reservation, model score).
    Request(Request),
    /// Progress of a parent order worked by an execution algorithm.
    Execution(ExecProgress),
    /// An exit the engine's in-trade risk took (stop loss, take profit, drawdown breaker).
    Risk(chimera_kernel::risk::RiskAction),
    /// What the decision pipeline made of an entry (stored as a signal record).
    Decision(Box<chimera_kernel::decision::DecisionRecord>),
}

impl StrategyEvent {
    /// The event an engine output is, if it is one (commands and finished orders are not).
    pub fn from_output(output: Output) -> Option<Self> {
        match output {
            Output::Refused(r) => Some(Self::Refusal(r)),
            Output::Issue(i) => Some(Self::Issue(i)),
            Output::Signal(s) => Some(Self::Signal(s)),
            Output::Request(r) => Some(Self::Request(r)),
            Output::Execution(p) => Some(Self::Execution(p)),
            Output::Risk(a) => Some(Self::Risk(a)),
            Output::Decision(d) => Some(Self::Decision(d)),
            Output::Command(_) | Output::Finished(_) => None,
        }
    }

    /// The stored category (the canonical spelling of the variant).
    pub fn category(&self) -> &'static str {
        match self {
            Self::Refusal(_) => "refusal",
            Self::Issue(_) => "issue",
            Self::Signal(_) => "signal",
            Self::Request(_) => "request",
            Self::Execution(_) => "execution",
            Self::Risk(_) => "risk",
            Self::Decision(_) => "decision",
        }
    }
}
