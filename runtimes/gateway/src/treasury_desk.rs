//! The gateway's treasury work on Binance: wallet transfers asked by control command
//! ([`ControlCommand::Transfer`], e.g. from `chimera ctl transfer`), and realised funding
//! recorded every `funding_poll_ms` into `funding_records`.
//!
//! A transfer runs in its own task (resolving a lost answer can take the receive window), so
//! orders are never held up by it; its acknowledgement says how it ended: applied when
//! confirmed, refused with `transfer_refused` (limits, refusal, not executed) or
//! `unavailable` (another transfer of the direction runs, the database failed, or the fate is
//! still unknown: send the command again to resolve it). The command is acknowledged on the
//! bus at once: the transfer id makes a redelivery harmless.

use chimera_binance::BinanceTreasury;
use chimera_messages::{decode, CommandOutcome, ControlCommand, MessageType, RefusalCode, Topic};
use chimera_ports::{Subscription, TransferState};
use chimera_runtime::runtime::{fatal, Runtime};
use chimera_runtime::treasury::{record_funding, run_transfer, TransferError, TransferRequest};
use std::sync::Arc;
use std::time::Duration;

/// Control commands read per turn.
const COMMANDS_PER_TURN: usize = 16;

/// Transfers and funding for one gateway.
pub(crate) struct TreasuryDesk {
    treasury: Arc<BinanceTreasury>,
    funding_poll: Duration,
    control: Option<Box<dyn Subscription>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for TreasuryDesk {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl TreasuryDesk {
    pub(crate) fn new(treasury: BinanceTreasury, funding_poll: Duration) -> Self {
        Self {
            treasury: Arc::new(treasury),
            funding_poll,
            control: None,
            tasks: Vec::new(),
        }
    }

    /// The treasury client (shared with the desk's tasks).
    pub(crate) fn treasury(&self) -> Arc<BinanceTreasury> {
        Arc::clone(&self.treasury)
    }

    /// Starts the funding recorder and the command subscription on the first turn, then
    /// takes the transfer commands that came in.
    pub(crate) async fn turn(&mut self, rt: &Arc<Runtime>) -> anyhow::Result<usize> {
        if self.control.is_none() {
            let topic = rt.topics.name(Topic::ControlCommands);
            let group = rt.topics.group(&format!("{}-treasury", rt.source));
            self.control = Some(rt.bus.subscribe(&topic, &group).await?);
            self.tasks.push(spawn_funding(
                Arc::clone(rt),
                Arc::clone(&self.treasury),
                self.funding_poll,
            ));
        }
        let Some(control) = self.control.as_mut() else {
            return Ok(0);
        };
        let mut handled = 0;
        while handled < COMMANDS_PER_TURN {
            let delivery = match control.poll(Duration::ZERO).await {
                Ok(Some(d)) => d,
                Ok(None) => break,
                Err(e) if e.is_transient() => break,
                Err(e) => return Err(fatal("poll control commands", &e)),
            };
            handled += 1;
            if let Ok(env) =
                decode::<ControlCommand>(&delivery.payload, MessageType::ControlCommand)
            {
                if let ControlCommand::Transfer {
                    transfer_id,
                    account,
                    direction,
                    asset,
                    amount,
                } = env.payload
                {
                    let request = TransferRequest {
                        transfer_id,
                        account,
                        direction,
                        asset,
                        amount,
                    };
                    let (rt, treasury) = (Arc::clone(rt), Arc::clone(&self.treasury));
                    self.tasks.push(tokio::spawn(async move {
                        transfer(&rt, &treasury, env.id, &request).await;
                    }));
                }
            } // undecodable: the nodes, which own the control topic's dead letters, report it
            rt.ack(control, &delivery)
                .await
                .map_err(|e| fatal("ack control command", &e))?;
        }
        self.tasks.retain(|t| !t.is_finished());
        Ok(handled)
    }
}

async fn transfer(
    rt: &Runtime,
    treasury: &BinanceTreasury,
    command_id: String,
    request: &TransferRequest,
) {
    let refused = |reason, detail: String| CommandOutcome::Refused { reason, detail };
    let outcome = match run_transfer(&rt.store, treasury, request, &rt.source).await {
        Ok(record) => match record.state {
            TransferState::Confirmed => CommandOutcome::Applied,
            TransferState::Failed => refused(RefusalCode::TransferRefused, record.detail),
            TransferState::Pending | TransferState::Sent => refused(
                RefusalCode::Unavailable,
                format!(
                    "transfer {} is {}: its fate is not known yet; send it again",
                    record.transfer_id,
                    record.state.as_str()
                ),
            ),
        },
        Err(
            e @ (TransferError::Refused(_) | TransferError::Conflict(_) | TransferError::Venue(_)),
        ) => refused(RefusalCode::TransferRefused, chain(&e)),
        Err(e @ (TransferError::Busy(_) | TransferError::Store(_))) => {
            refused(RefusalCode::Unavailable, chain(&e))
        }
    };
    if let Err(e) = rt.acknowledge(command_id, None, outcome).await {
        tracing::error!(error = %e, "transfer: acknowledgement not published");
    }
}

/// An error and its causes, one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn spawn_funding(
    rt: Arc<Runtime>,
    treasury: Arc<BinanceTreasury>,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            for account in treasury.account_names() {
                match record_funding(&rt.store, &treasury, &account).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(%account, "funding: {n} new settlement(s) recorded"),
                    Err(e) => {
                        tracing::warn!(%account, error = %e, "funding: not recorded this time");
                    }
                }
            }
            tokio::time::sleep(every).await;
        }
    })
}
