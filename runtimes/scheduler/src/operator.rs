//! The operators' commands that are the scheduler's: migrate a portfolio, drain a node, start
//! a portfolio. Each is answered on `system.events` ([`CommandAck`]) once its effects are
//! saved; a refusal carries a closed reason code.

use crate::placement::{ack_newest, ready, Placement};
use chimera_kernel::ids::PortfolioId;
use chimera_kernel::schedule::{Change, ScheduleInput, ScheduleRefusal};
use chimera_messages::KillSwitch;
use chimera_messages::{decode, CommandOutcome, ControlCommand, MessageType, RefusalCode};
use chimera_ports::{PortfolioRecord, PortfolioRepository, PortfolioStatus};
use chimera_runtime::kill_switch::{announce, KillSwitchError, KillSwitches};
use chimera_runtime::runtime::{fatal, wall_clock, Runtime};
use std::sync::Arc;

impl Placement {
    /// The operators' commands that are the scheduler's (migrate, drain, start), each answered
    /// on `system.events` once its effects are saved.
    pub(crate) async fn take_commands(&mut self) -> anyhow::Result<()> {
        let ready = ready(&mut self.commands, 1_000, "poll control commands").await?;
        for d in &ready {
            // Undecodable commands are the nodes' to dead-letter; others' commands are theirs.
            if let Ok(env) = decode::<ControlCommand>(&d.payload, MessageType::ControlCommand) {
                if env.payload.is_for_scheduler() {
                    let outcome = self.operator(&env.payload).await?;
                    self.rt
                        .acknowledge(env.id, env.payload.portfolio().cloned(), outcome)
                        .await
                        .map_err(|e| fatal("acknowledge a command", &e))?;
                }
            }
        }
        ack_newest(&mut self.commands, &ready, &self.rt.source).await;
        Ok(())
    }

    /// Carries out a scheduler command.
    async fn operator(&mut self, command: &ControlCommand) -> anyhow::Result<CommandOutcome> {
        let input = match command {
            ControlCommand::Migrate {
                portfolio_id,
                to_node,
            } => ScheduleInput::Migrate {
                portfolio: portfolio_id.clone(),
                to: to_node.clone(),
            },
            ControlCommand::DrainNode { node } => ScheduleInput::Drain { node: node.clone() },
            ControlCommand::Start { portfolio_id } => return self.start(portfolio_id).await,
            ControlCommand::EngageKillSwitch { switch } => {
                let (rt, switches) = (Arc::clone(&self.rt), self.kill_switches());
                return Ok(engage(&rt, &switches, switch.clone()).await);
            }
            ControlCommand::ReleaseKillSwitch { id } => {
                let (rt, switches) = (Arc::clone(&self.rt), self.kill_switches());
                return Ok(release(&rt, &switches, id).await);
            }
            _ => return Ok(CommandOutcome::Applied),
        };
        let changes = self.command(&input).await?;
        Ok(changes
            .iter()
            .find_map(|c| match c {
                Change::Refused { reason, .. } => Some(CommandOutcome::Refused {
                    reason: match reason {
                        ScheduleRefusal::UnknownPortfolio => RefusalCode::UnknownPortfolio,
                        ScheduleRefusal::NodeUnavailable => RefusalCode::NodeUnavailable,
                        ScheduleRefusal::NodeDraining => RefusalCode::NodeDraining,
                        ScheduleRefusal::NodeFull => RefusalCode::NodeFull,
                    },
                    detail: format!("{input:?} refused: {reason:?}"),
                }),
                _ => None,
            })
            .unwrap_or(CommandOutcome::Applied))
    }

    fn kill_switches(&self) -> KillSwitches {
        KillSwitches::new(Arc::clone(&self.state.store))
    }

    /// Makes a stopped (or never started) portfolio's record active; the next refresh places
    /// it.
    async fn start(&mut self, portfolio: &PortfolioId) -> anyhow::Result<CommandOutcome> {
        let store = &self.rt.store;
        let record = self
            .rt
            .retry("read portfolio", || store.get_portfolio(portfolio))
            .await
            .map_err(|e| fatal("read portfolio", &e))?;
        let Some(record) = record else {
            return Ok(CommandOutcome::Refused {
                reason: RefusalCode::UnknownPortfolio,
                detail: format!("no portfolio {portfolio} in the database"),
            });
        };
        if record.status == PortfolioStatus::Stopped {
            let active = PortfolioRecord {
                status: PortfolioStatus::Active,
                updated_at: wall_clock(),
                ..record
            };
            self.rt
                .retry("start portfolio", || store.upsert_portfolio(&active))
                .await
                .map_err(|e| fatal("start portfolio", &e))?;
            self.last_refresh = None;
        }
        Ok(CommandOutcome::Applied)
    }
}

fn unavailable(e: &KillSwitchError) -> CommandOutcome {
    let detail = match std::error::Error::source(e) {
        Some(source) => format!("{e}: {source}"),
        None => e.to_string(),
    };
    CommandOutcome::Refused {
        reason: RefusalCode::Unavailable,
        detail,
    }
}

/// Stores `switch` and announces it.
async fn engage(rt: &Runtime, switches: &KillSwitches, switch: KillSwitch) -> CommandOutcome {
    let what = format!(
        "kill switch {} engaged: {} over {} by {}: {}",
        switch.id, switch.mode, switch.scope, switch.engaged_by, switch.reason
    );
    match switches.engage(switch).await {
        Ok((board, changed)) => {
            if changed {
                announce(rt, board.version, what).await;
            }
            CommandOutcome::Applied
        }
        Err(e) => unavailable(&e),
    }
}

/// Releases switch `id` and announces it.
async fn release(rt: &Runtime, switches: &KillSwitches, id: &str) -> CommandOutcome {
    match switches.release(id).await {
        Ok((board, Some(released))) => {
            let what = format!(
                "kill switch {} released ({} over {})",
                released.id, released.mode, released.scope
            );
            announce(rt, board.version, what).await;
            CommandOutcome::Applied
        }
        Ok((_, None)) => CommandOutcome::Refused {
            reason: RefusalCode::UnknownKillSwitch,
            detail: format!("no kill switch {id:?} is engaged"),
        },
        Err(e) => unavailable(&e),
    }
}
