//! Refusals and issues: the engine's outcomes that are not commands, kept as data.

use crate::event::ExecutionReport;
use crate::order::OrderError;
use crate::portfolio::AccountingError;
use crate::strategy::OrderRequest;
use crate::time::Timestamp;

/// A strategy request the engine did not turn into an order, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// What was asked.
    pub request: OrderRequest,
    /// When.
    pub at: Timestamp,
    /// Why not.
    pub reason: &'static str,
}

impl Refusal {
    pub(crate) fn new(request: OrderRequest, at: Timestamp, reason: &'static str) -> Self {
        Self {
            request,
            at,
            reason,
        }
    }
}

/// An execution report the engine could not apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineIssue {
    /// The report.
    pub report: ExecutionReport,
    /// When it was handled.
    pub at: Timestamp,
    /// What was wrong.
    pub problem: String,
}

impl EngineIssue {
    pub(crate) fn unknown_order(report: &ExecutionReport, at: Timestamp) -> Self {
        Self {
            report: report.clone(),
            at,
            problem: format!("report for unknown order {}", report.client_order_id),
        }
    }

    pub(crate) fn order(report: &ExecutionReport, at: Timestamp, error: &OrderError) -> Self {
        Self {
            report: report.clone(),
            at,
            problem: error.to_string(),
        }
    }

    pub(crate) fn accounting(
        report: &ExecutionReport,
        at: Timestamp,
        error: &AccountingError,
    ) -> Self {
        Self {
            report: report.clone(),
            at,
            problem: error.to_string(),
        }
    }
}
