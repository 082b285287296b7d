//! Requests a portfolio's engine makes to the outside on its strategy's behalf (a risk-budget
//! reservation, a model score) and their answers. How the engine names, times out and answers
//! them: [`crate::engine`]'s `requests` module. Apart from the engine so strategies and
//! services can name them without depending on it.

use crate::ids::PortfolioId;
use crate::time::Timestamp;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What is asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RequestKind {
    /// Reserve every claim, or none, under the idempotency key `key` (the entry's intent id):
    /// asking again with the same key reserves nothing more and answers as the first time.
    RiskReservation {
        /// The idempotency key.
        key: String,
        /// What to reserve.
        claims: Vec<BudgetClaim>,
    },
    /// Give back what the reservation `key` holds (idempotent: a second release is a no-op).
    RiskRelease {
        /// The reservation's key.
        key: String,
        /// What it reserved.
        claims: Vec<BudgetClaim>,
    },
    /// Score `features` with the model `model`.
    ModelScore {
        /// The model's name.
        model: String,
        /// Feature name → value (decimal text).
        features: BTreeMap<String, String>,
    },
}

/// A request the engine made: what the runtime must carry out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// The portfolio asking.
    pub portfolio_id: PortfolioId,
    /// Unique per portfolio, increasing; the answer names it.
    pub request_id: u64,
    /// What is asked.
    pub kind: RequestKind,
    /// When it was made (engine time).
    pub created_at: Timestamp,
    /// When the engine stops waiting and answers [`Outcome::TimedOut`].
    pub deadline: Timestamp,
}

/// How a request ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Granted as asked (a reservation).
    Granted,
    /// Refused, and why.
    Refused {
        /// The service's reason.
        reason: String,
    },
    /// A model's score.
    Score {
        /// The score.
        value: Decimal,
    },
    /// No answer by the deadline.
    TimedOut,
}

/// An answer to a [`Request`], fed back as [`crate::engine::Input::Response`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    /// The portfolio that asked.
    pub portfolio_id: PortfolioId,
    /// The request answered.
    pub request_id: u64,
    /// The answer.
    pub outcome: Outcome,
}

/// One shared budget an entry reserves: `amount` units of `budget`, refused past `ceiling`.
/// Amounts are integers (counts, or margin in micro-units of the quote asset).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetClaim {
    /// The budget's key (`risk:{concurrency}:BTCUSDT`, `risk:{budget}:margin:USDT`).
    pub budget: String,
    /// Units reserved.
    pub amount: i64,
    /// The budget's ceiling.
    pub ceiling: i64,
}
