//! `chimera ctl`: sends one control command on `control.commands` and waits for its
//! acknowledgements on `system.events` (one per portfolio for a portfolio command, the
//! scheduler's for migrate, drain and start), printing each. Exits with failure when one is a
//! refusal or none came within the timeout (nobody runs the portfolio, or no scheduler runs).

use crate::args::{CtlAction, CtlArgs};
use chimera_kernel::decision::HealthLevel;
use chimera_kernel::ids::PortfolioId;
use chimera_live::config::{self, LiveConfig};
use chimera_live::runtime::{shutdown_pair, wall_clock};
use chimera_live::{connect, connect_bus};
use chimera_messages::{decode, CommandAck, CommandOutcome, ControlCommand, MessageType, Topic};
use chimera_ports::{PortfolioRepository, PortfolioStatus};
use std::time::{Duration, Instant};

/// `chimera ctl`.
///
/// # Errors
/// An invalid configuration or argument, an unreachable service, a refusal, or no answer in
/// time.
pub(crate) fn run(a: &CtlArgs) -> anyhow::Result<()> {
    let config = config::load(&a.config, std::env::vars(), None)?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(send(a, &config))
}

fn target(portfolio: &str) -> Option<PortfolioId> {
    (portfolio != "*").then(|| PortfolioId::new(portfolio))
}

fn command(action: &CtlAction) -> anyhow::Result<ControlCommand> {
    Ok(match action {
        CtlAction::Pause { portfolio, reason } => ControlCommand::Pause {
            portfolio_id: target(portfolio),
            reason: reason.clone(),
        },
        CtlAction::Resume { portfolio } => ControlCommand::Resume {
            portfolio_id: target(portfolio),
        },
        CtlAction::CancelAll { portfolio } => ControlCommand::CancelAll {
            portfolio_id: target(portfolio),
        },
        CtlAction::Stop { portfolio } => ControlCommand::Stop {
            portfolio_id: target(portfolio),
        },
        CtlAction::Kill { .. } => anyhow::bail!("kill switches are not a bus command"),
        CtlAction::Health { portfolio, level } => ControlCommand::Health {
            portfolio_id: target(portfolio),
            level: serde_json::from_value::<HealthLevel>(serde_json::Value::String(
                level.to_uppercase(),
            ))
            .map_err(|_| {
                anyhow::anyhow!("health level {level:?}: expected GREEN, YELLOW, ORANGE or RED")
            })?,
        },
        CtlAction::Reload { portfolio } => ControlCommand::Reload {
            portfolio_id: PortfolioId::new(portfolio),
        },
        CtlAction::Migrate { portfolio, to } => ControlCommand::Migrate {
            portfolio_id: PortfolioId::new(portfolio),
            to_node: to.clone(),
        },
        CtlAction::Drain { node } => ControlCommand::DrainNode { node: node.clone() },
        CtlAction::Start { portfolio } => ControlCommand::Start {
            portfolio_id: PortfolioId::new(portfolio),
        },
        CtlAction::Transfer(t) => {
            let request = crate::transfer::request(t)?;
            ControlCommand::Transfer {
                transfer_id: request.transfer_id,
                account: request.account,
                direction: request.direction,
                asset: request.asset,
                amount: request.amount,
            }
        }
    })
}

async fn send(a: &CtlArgs, config: &LiveConfig) -> anyhow::Result<()> {
    let id = format!("ctl-{}-{}", std::process::id(), wall_clock().0);
    let (_trigger, shutdown) = shutdown_pair();
    let bus = connect_bus(config, &id, false).await?;
    let rt = connect(config, bus, &id, shutdown).await?;
    if let CtlAction::Kill { action } = &a.action {
        return crate::ctl_kill::run(&rt, action).await;
    }
    let command = command(&a.action)?;
    // How many answers to wait for: one, or one per running portfolio for a command to all.
    let expected = match command.portfolio() {
        Some(_) => 1,
        None if command.is_for_scheduler() || command.is_for_gateway() => 1,
        None => rt
            .store
            .list_portfolios()
            .await?
            .iter()
            .filter(|r| r.status != PortfolioStatus::Stopped)
            .count(),
    };
    // Listen from the end of the events as they are now, before sending: no answer is missed.
    let events = rt.topics.name(Topic::SystemEvents);
    let now = rt.bus.last_offsets(&events).await?;
    let mut answers = rt
        .bus
        .subscribe_from(&events, &rt.topics.group(&id), &now)
        .await?;
    rt.publish(
        Topic::ControlCommands,
        MessageType::ControlCommand,
        id.clone(),
        command.key(),
        &command,
    )
    .await?;
    let sent = Instant::now();
    let deadline = sent + Duration::from_secs(a.timeout_secs);
    let (mut applied, mut refused) = (0, 0);
    while applied + refused < expected && Instant::now() < deadline {
        let Some(d) = answers.poll(Duration::from_millis(200)).await? else {
            continue;
        };
        let Ok(env) = decode::<CommandAck>(&d.payload, MessageType::SystemEvent) else {
            continue;
        };
        let ack = env.payload;
        if ack.command_id != id {
            continue;
        }
        report(&ack, sent.elapsed())?;
        match ack.outcome {
            CommandOutcome::Applied => applied += 1,
            CommandOutcome::Refused { .. } => refused += 1,
        }
    }
    finish(applied, refused, expected, a.timeout_secs)
}

fn report(ack: &CommandAck, after: Duration) -> anyhow::Result<()> {
    let what = ack
        .portfolio_id
        .as_ref()
        .map_or_else(|| "-".to_owned(), ToString::to_string);
    match &ack.outcome {
        CommandOutcome::Applied => {
            crate::say!("{what}: applied by {} ({} ms)", ack.by, after.as_millis());
        }
        CommandOutcome::Refused { reason, detail } => {
            let code = serde_json::to_value(reason)?;
            crate::say!(
                "{what}: refused by {} ({}): {detail}",
                ack.by,
                code.as_str().unwrap_or_default()
            );
        }
    }
    Ok(())
}

fn finish(applied: usize, refused: usize, expected: usize, timeout: u64) -> anyhow::Result<()> {
    if refused > 0 {
        anyhow::bail!("{refused} refusal(s)");
    }
    if applied < expected {
        anyhow::bail!(
            "{applied} of {expected} acknowledgement(s) within {timeout} s (is the portfolio \
             running? for migrate, drain and start: is a scheduler running?)"
        );
    }
    Ok(())
}
