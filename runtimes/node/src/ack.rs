//! Answers to control commands, on `system.events`.

use chimera_kernel::ids::PortfolioId;
use chimera_messages::{CommandAck, CommandOutcome, MessageType, Topic};
use chimera_runtime::runtime::{fatal, Runtime};

/// Publishes the answer to control command `command_id` on `system.events`.
///
/// # Errors
/// A fatal bus failure.
pub(crate) async fn acknowledge(
    rt: &Runtime,
    command_id: String,
    portfolio_id: Option<PortfolioId>,
    outcome: CommandOutcome,
) -> anyhow::Result<()> {
    let ack = CommandAck {
        command_id,
        portfolio_id,
        by: rt.source.clone(),
        outcome,
    };
    rt.publish(
        Topic::SystemEvents,
        MessageType::SystemEvent,
        ack.message_id(),
        ack.portfolio_id.as_ref().map_or("*", PortfolioId::as_str),
        &ack,
    )
    .await
    .map_err(|e| fatal("acknowledge a command", &e))?;
    Ok(())
}
