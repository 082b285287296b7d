//! Operator instructions on `control.commands` (key: the portfolio, or `*` for all) and the
//! scheduler's assignment changes on `schedule.updates`.

use chimera_kernel::engine::Control;
use chimera_kernel::ids::PortfolioId;
use chimera_kernel::time::Timestamp;
use serde::{Deserialize, Serialize};

/// What a control entry point (API, CLI, risk service) asks the execution nodes to do.
///
/// Each is idempotent: applying it twice (a redelivery) leaves the same state. The node that
/// runs the portfolio applies it in order with the portfolio's other inputs, and a full queue
/// never refuses nor drops it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case", deny_unknown_fields)]
pub enum ControlCommand {
    /// Stop sending new orders: strategy requests are refused (recorded as strategy events)
    /// while the portfolio keeps following the market and its fills. Working orders stay; send
    /// [`ControlCommand::CancelAll`] to cancel them. Survives restarts (the portfolio's status
    /// becomes `paused`).
    Pause {
        /// The portfolio; `None` for every portfolio.
        portfolio_id: Option<PortfolioId>,
        /// Why, for the record.
        reason: String,
    },
    /// Send orders again after a pause.
    Resume {
        /// The portfolio; `None` for every portfolio.
        portfolio_id: Option<PortfolioId>,
    },
    /// Cancel every working order.
    CancelAll {
        /// The portfolio; `None` for every portfolio.
        portfolio_id: Option<PortfolioId>,
    },
    /// End the portfolio's run: its strategy's stop hook may cancel and close, then it sends
    /// no new order (recorded in its checkpoint, so a restart does not trade it again).
    Stop {
        /// The portfolio; `None` for every portfolio.
        portfolio_id: Option<PortfolioId>,
    },
    /// The kill switches in the shared store ([`crate::KILL_SWITCH_KEY`]) changed to
    /// `version`: a record on the bus for whoever watches (a UI, an audit consumer). Nodes and
    /// the gateway do not wait for it: they poll the store every 100 ms. Sent by whoever changed
    /// the switches after the change is stored; carries no state of its own, so a lost or
    /// repeated announcement is harmless.
    KillSwitchChanged {
        /// The board's version after the change.
        version: u64,
    },
    /// The system's health level changed (GREEN, YELLOW, ORANGE, RED): entries are scaled or
    /// blocked as each portfolio's health policy says. Kept in the portfolio's checkpoint.
    Health {
        /// The portfolio; `None` for every portfolio.
        portfolio_id: Option<PortfolioId>,
        /// The new level.
        level: chimera_kernel::decision::HealthLevel,
    },
    /// Swap the portfolio to the configuration now in its database record, keeping its state
    /// (positions, open orders, strategy and algorithm state) and its place in the input
    /// streams. An invalid configuration is refused with every problem listed and the old one
    /// keeps running. Done by the node that runs it.
    Reload {
        /// The portfolio.
        portfolio_id: PortfolioId,
    },
    /// Move the portfolio to another node (the scheduler's).
    Migrate {
        /// The portfolio.
        portfolio_id: PortfolioId,
        /// Where to.
        to_node: String,
    },
    /// Move every portfolio off a node and place nothing new on it (the scheduler's).
    DrainNode {
        /// The node.
        node: String,
    },
    /// Run a portfolio that is not running: its record becomes active and the scheduler places
    /// it (the scheduler's).
    Start {
        /// The portfolio.
        portfolio_id: PortfolioId,
    },
    /// Engage a kill switch (the scheduler's: it stores it in [`crate::KILL_SWITCH_KEY`] and
    /// announces it), for a sender with only the bus; the API and `chimera ctl` write the
    /// store themselves. Engaging the same switch twice changes nothing.
    EngageKillSwitch {
        /// The switch.
        switch: crate::KillSwitch,
    },
    /// Release the kill switch `id` (the scheduler's); refused `unknown_kill_switch` when none
    /// of that id is engaged.
    ReleaseKillSwitch {
        /// The switch's id.
        id: String,
    },
    /// Move money between the exchange's wallets (the gateway's, with its venue's keys and
    /// transfer limits). Idempotent by `transfer_id`: sending it again reports the same
    /// transfer. Applied means confirmed; refused says why (limits, a failure, still unknown).
    Transfer {
        /// Idempotency key.
        transfer_id: String,
        /// The exchange account by configured name; the first when absent.
        #[serde(default)]
        account: Option<String>,
        /// Which way.
        direction: chimera_ports::TransferDirection,
        /// What.
        asset: String,
        /// How much.
        #[serde(with = "chimera_kernel::value::decimal_str")]
        amount: chimera_kernel::Decimal,
    },
}

impl ControlCommand {
    /// The portfolio it is about; `None` when it is about all of them.
    pub fn portfolio(&self) -> Option<&PortfolioId> {
        match self {
            ControlCommand::Pause { portfolio_id, .. }
            | ControlCommand::Resume { portfolio_id }
            | ControlCommand::CancelAll { portfolio_id }
            | ControlCommand::Stop { portfolio_id }
            | ControlCommand::Health { portfolio_id, .. } => portfolio_id.as_ref(),
            ControlCommand::Reload { portfolio_id }
            | ControlCommand::Migrate { portfolio_id, .. }
            | ControlCommand::Start { portfolio_id } => Some(portfolio_id),
            ControlCommand::DrainNode { .. }
            | ControlCommand::KillSwitchChanged { .. }
            | ControlCommand::EngageKillSwitch { .. }
            | ControlCommand::ReleaseKillSwitch { .. }
            | ControlCommand::Transfer { .. } => None,
        }
    }

    /// Whether the scheduler, not the portfolio's engine, carries it out.
    pub fn is_for_scheduler(&self) -> bool {
        matches!(
            self,
            ControlCommand::Migrate { .. }
                | ControlCommand::DrainNode { .. }
                | ControlCommand::Start { .. }
                | ControlCommand::EngageKillSwitch { .. }
                | ControlCommand::ReleaseKillSwitch { .. }
        )
    }

    /// What the portfolio's engine is told (`None`: the command is the node's or the
    /// scheduler's to carry out, not the engine's).
    pub fn to_control(&self) -> Option<Control> {
        Some(match self {
            ControlCommand::Pause { reason, .. } => Control::Pause {
                reason: reason.clone(),
            },
            ControlCommand::Resume { .. } => Control::Resume,
            ControlCommand::CancelAll { .. } => Control::CancelAll,
            ControlCommand::Stop { .. } => Control::Stop,
            ControlCommand::Health { level, .. } => Control::Health { level: *level },
            ControlCommand::Reload { .. }
            | ControlCommand::Migrate { .. }
            | ControlCommand::DrainNode { .. }
            | ControlCommand::Start { .. }
            | ControlCommand::KillSwitchChanged { .. }
            | ControlCommand::EngageKillSwitch { .. }
            | ControlCommand::ReleaseKillSwitch { .. }
            | ControlCommand::Transfer { .. } => return None,
        })
    }

    /// Whether the gateway, not a portfolio's engine or the scheduler, carries it out.
    pub fn is_for_gateway(&self) -> bool {
        matches!(self, ControlCommand::Transfer { .. })
    }

    /// The bus key for it: the portfolio, or `*`.
    pub fn key(&self) -> &str {
        self.portfolio().map_or("*", PortfolioId::as_str)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn wire_form_is_tagged_and_strict() {
        let pause = ControlCommand::Pause {
            portfolio_id: Some(PortfolioId::new("p1")),
            reason: "drawdown".into(),
        };
        let text = serde_json::to_string(&pause).unwrap();
        assert_eq!(
            text,
            r#"{"command":"pause","portfolio_id":"p1","reason":"drawdown"}"#
        );
        assert_eq!(
            serde_json::from_str::<ControlCommand>(&text).unwrap(),
            pause
        );
        let all: ControlCommand =
            serde_json::from_str(r#"{"command":"cancel_all","portfolio_id":null}"#).unwrap();
        assert_eq!(all.key(), "*");
        assert!(serde_json::from_str::<ControlCommand>(r#"{"command":"explode"}"#).is_err());
        assert!(serde_json::from_str::<ControlCommand>(
            r#"{"command":"resume","portfolio_id":"p1","extra":1}"#
        )
        .is_err());
    }
}

/// The scheduler's assignment change on `schedule.updates` (key: the portfolio): the portfolio
/// now runs on `node_id`, or on no node (`None`: stopped).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleUpdate {
    /// The portfolio moved.
    pub portfolio_id: PortfolioId,
    /// Where it runs now.
    pub node_id: Option<String>,
    /// Why (fail-over, rebalancing, operator).
    pub reason: String,
    /// The placement's fencing token: the node stamps it on the portfolio's orders, and the
    /// gateway refuses orders of older epochs. `None` from a sender without a scheduler.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<u64>,
}

/// Where the scheduler keeps its state (a JSON [`chimera_kernel::schedule::Schedule`]) in the
/// shared store; nodes read their fencing epochs from it when they start.
pub const SCHEDULE_STATE_KEY: &str = "sched:{state}";

/// The scheduler's leader lease in the shared store: only its holder acts.
pub const SCHEDULER_LEADER_KEY: &str = "lock:{scheduler}";

/// A node starts running a portfolio under assignment `epoch`: published on
/// `orders.submission` (key: the portfolio) before the node sends anything for it, so the
/// gateway, reading that topic in order, executes what earlier owners sent before this point
/// and refuses what they send after it (a zombie's orders).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EpochClaim {
    /// The portfolio.
    pub portfolio_id: PortfolioId,
    /// The node's assignment epoch.
    pub epoch: u64,
    /// The node.
    pub node: String,
}

/// A portfolio's engine has read its market data up to `clock`: every order command it sends
/// after this is stamped at or after `clock` (the engine's clock never goes back).
///
/// Published by a node on `orders.submission` (key: the portfolio, under its fencing token)
/// behind the commands decided before it, when the portfolio's queue is empty and its clock
/// moved since its last command or promise. A simulated venue in event time holds market data
/// until an order stamped at or after it arrives; with these promises from every portfolio
/// trading a symbol it can feed that symbol's data stamped before the smallest of their clocks
/// between orders, instead of on the next order's path. A venue that keeps its own time (an
/// exchange) ignores them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Progress {
    /// The portfolio.
    pub portfolio_id: PortfolioId,
    /// Its engine's clock.
    pub clock: Timestamp,
}

impl Progress {
    /// The message id: one per portfolio and clock, so a replayed promise is the same message.
    pub fn message_id(&self) -> String {
        format!("progress:{}:{}", self.portfolio_id, self.clock.0)
    }
}
