//! [`CommandAck`]: the answer to a control command, on `system.events`, so whoever sent it (the
//! API, `chimera ctl`, another module) can wait for its outcome.

use chimera_kernel::ids::PortfolioId;
use serde::{Deserialize, Serialize};

/// Why a command was not applied. A closed set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalCode {
    /// No such portfolio.
    UnknownPortfolio,
    /// The target node is unknown or dead.
    NodeUnavailable,
    /// The target node is being drained.
    NodeDraining,
    /// The target node has no room.
    NodeFull,
    /// The portfolio's new configuration is invalid (the detail lists every problem); the old
    /// one keeps running.
    InvalidConfig,
    /// The node that received it does not run the portfolio.
    NotRunning,
    /// No kill switch of that id is engaged.
    UnknownKillSwitch,
    /// A service the command needs failed (the shared store); sending it again may work.
    Unavailable,
    /// A wallet transfer was refused (limits) or failed (the exchange refused it, or it was
    /// not executed); the detail says which.
    TransferRefused,
}

/// How a command ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum CommandOutcome {
    /// Done, and durable (checkpointed or saved) before this answer.
    Applied,
    /// Not done.
    Refused {
        /// Why, as a code.
        reason: RefusalCode,
        /// Why, for people.
        detail: String,
    },
}

/// One answer to a control command: a command for every portfolio gets one per portfolio.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename = "command_ack")]
pub struct CommandAck {
    /// The command's envelope id.
    pub command_id: String,
    /// The portfolio it was applied to (`None`: a command about no portfolio, e.g. a drain).
    pub portfolio_id: Option<PortfolioId>,
    /// Who answers (node, scheduler).
    pub by: String,
    /// What happened.
    pub outcome: CommandOutcome,
}

impl CommandAck {
    /// The envelope id of this answer: one per command, portfolio and answerer.
    pub fn message_id(&self) -> String {
        format!(
            "ack:{}:{}:{}",
            self.command_id,
            self.portfolio_id.as_ref().map_or("*", PortfolioId::as_str),
            self.by
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn wire_form_is_tagged_and_round_trips() {
        let ack = CommandAck {
            command_id: "c1".into(),
            portfolio_id: Some(PortfolioId::new("p1")),
            by: "n1".into(),
            outcome: CommandOutcome::Refused {
                reason: RefusalCode::InvalidConfig,
                detail: "strategy: unknown".into(),
            },
        };
        let text = serde_json::to_string(&ack).unwrap();
        assert_eq!(
            text,
            r#"{"event":"command_ack","command_id":"c1","portfolio_id":"p1","by":"n1","outcome":{"outcome":"refused","reason":"invalid_config","detail":"strategy: unknown"}}"#
        );
        assert_eq!(serde_json::from_str::<CommandAck>(&text).unwrap(), ack);
        assert_eq!(ack.message_id(), "ack:c1:p1:n1");
    }
}
