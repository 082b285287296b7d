//! What goes into an engine ([`Input`]) and what comes out of it ([`Output`]).
//!
//! Inputs arrive through [`super::PortfolioEngine::handle`] only; outputs leave through
//! [`super::PortfolioEngine::poll_output`] only, in the order they were produced. A runtime
//! that stops draining outputs makes them pile up, so every runtime drains after each input.

use super::{EngineIssue, Refusal};
use crate::event::{ExecutionReport, MarketEvent};
use crate::order::{
    AmendRequest, CancelReplaceRequest, CancelRequest, Order, OrderIntent, OrderListRequest,
};
use crate::strategy::Signal;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// An operator's (or a supervisor's) instruction to one portfolio.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "control", rename_all = "snake_case")]
pub enum Control {
    /// Refuse every new order from now on (market data, fills and timers are still applied,
    /// working orders are left alone). Pausing again only replaces the reason.
    Pause {
        /// Why, shown with every refusal's record and in the engine's snapshot.
        reason: String,
    },
    /// Trade again after a pause.
    Resume,
    /// Cancel every working order (once: an order already asked to cancel is not asked again).
    CancelAll,
    /// The kill switches now in force (the whole state, not a change: sending it twice
    /// changes nothing). A symbol whose mode gets harder is acted on at once (cancels, a
    /// close); see [`crate::risk::KillMode`] for what each mode does. Survives a snapshot.
    KillSwitch {
        /// Modes for all symbols and per symbol; empty releases every switch.
        state: crate::risk::KillState,
    },
    /// The system's health changed (see [`crate::decision::HealthPolicy`]).
    Health {
        /// The new level.
        level: crate::decision::HealthLevel,
    },
    /// The run ends: the strategy's [`crate::strategy::Strategy::on_stop`] hook runs (it may
    /// cancel and close), then the engine refuses new orders for good.
    Stop,
}

/// One input to an engine. Borrowed, so the hot path (market data fanned out to many
/// portfolios) clones nothing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Input<'a> {
    /// Market data of any symbol (events for symbols the portfolio does not trade are ignored).
    Market(&'a MarketEvent),
    /// What a venue said about one of the portfolio's orders.
    Execution(&'a ExecutionReport),
    /// Time passed: fires every deadline due at `now` (see
    /// [`super::PortfolioEngine::next_deadline`]). Any other input fires them too, first.
    Timer,
    /// An operator's instruction.
    Control(&'a Control),
    /// The answer to a [`super::Request`] the engine made.
    Response(&'a super::Response),
}

/// What the runtime must do on the engine's behalf: a JSON object with the command in
/// `"command"` and its fields beside it. Decoded with the tag first (`crate::tagged`): a
/// gateway decodes one per order on its hot path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// Place an order.
    Submit(OrderIntent),
    /// Cancel a working order.
    Cancel(CancelRequest),
    /// Change a working order's price or quantity in place.
    Amend(AmendRequest),
    /// Cancel a working order and place another in its stead.
    CancelReplace(CancelReplaceRequest),
    /// Place linked orders (a native OCO).
    SubmitList(OrderListRequest),
}

/// The values of `"command"`.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum CommandKind {
    Submit,
    Cancel,
    Amend,
    CancelReplace,
    SubmitList,
}

impl crate::tagged::TagFirst for Command {
    const TAG: &'static str = "command";
    const EXPECTING: &'static str = "an order command: an object with its kind in \"command\"";
    type Kind = CommandKind;

    fn read<'de, D: serde::Deserializer<'de>>(
        kind: CommandKind,
        fields: D,
    ) -> Result<Self, D::Error> {
        Ok(match kind {
            CommandKind::Submit => Command::Submit(OrderIntent::deserialize(fields)?),
            CommandKind::Cancel => Command::Cancel(CancelRequest::deserialize(fields)?),
            CommandKind::Amend => Command::Amend(AmendRequest::deserialize(fields)?),
            CommandKind::CancelReplace => {
                Command::CancelReplace(CancelReplaceRequest::deserialize(fields)?)
            }
            CommandKind::SubmitList => Command::SubmitList(OrderListRequest::deserialize(fields)?),
        })
    }
}

impl<'de> Deserialize<'de> for Command {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        crate::tagged::deserialize(deserializer)
    }
}

impl Command {
    /// The portfolio the command belongs to.
    pub fn portfolio_id(&self) -> &crate::ids::PortfolioId {
        match self {
            Command::Submit(intent) => &intent.portfolio_id,
            Command::Cancel(request) => &request.portfolio_id,
            Command::Amend(request) => &request.portfolio_id,
            Command::CancelReplace(request) => &request.cancel.portfolio_id,
            Command::SubmitList(list) => &list.portfolio_id,
        }
    }

    /// The command's idempotency key, the same every time the engine (or a replay) produces
    /// it: the intent id of a submit, the order and amendment number of an amend.
    pub fn idempotency_key(&self) -> String {
        match self {
            Command::Submit(intent) => intent.intent_id.as_str().to_owned(),
            Command::Cancel(request) => format!("cancel:{}", request.client_order_id),
            Command::Amend(request) => {
                format!("amend:{}:{}", request.client_order_id, request.amendment)
            }
            Command::CancelReplace(request) => {
                format!("replace:{}", request.replacement.intent_id)
            }
            Command::SubmitList(list) => format!("list:{}", list.list_id),
        }
    }
}

/// A signal a strategy recorded, stamped with the engine's time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignalRecord {
    /// When.
    pub at: Timestamp,
    /// What.
    pub signal: Signal,
}

/// One output of an engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "output", rename_all = "snake_case")]
pub enum Output {
    /// Something the runtime must send to the venue.
    Command(Command),
    /// A strategy request the engine refused (a record for the store).
    Refused(Refusal),
    /// An execution report the engine could not apply (a record for the store).
    Issue(EngineIssue),
    /// A strategy's signal (a record for the store).
    Signal(SignalRecord),
    /// An order reached a terminal state (filled, canceled, rejected, expired); the engine
    /// forgets it apart from its id.
    Finished(Order),
    /// Something the runtime must ask a service on the engine's behalf; the answer comes back
    /// as [`Input::Response`] (or the engine times it out at its deadline).
    Request(super::Request),
    /// Progress of a parent order worked by an execution algorithm (a record for the store;
    /// the last one of a parent carries its terminal state).
    Execution(crate::execution::ExecProgress),
    /// What the decision pipeline decided about a strategy's entry (a signal record for the
    /// store).
    Decision(Box<crate::decision::DecisionRecord>),
    /// An exit the engine's in-trade risk took (a record for the store; the exit's order is a
    /// command of its own).
    Risk(crate::risk::RiskAction),
}
