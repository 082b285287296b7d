//! [`Keeper`]: reads the order commands, executes them (or holds them for their turn, see
//! [`crate::lockstep`]), and tracks what was applied and what to acknowledge, for the
//! checkpoints ([`crate::checkpointing`]).

use crate::execution::{self, Gateway};
use crate::fence::Fence;
use crate::lockstep;
use chimera_kernel::engine::Command;
use chimera_kernel::ids::PortfolioId;
use chimera_messages::{
    decode, message_type, DecodeError, Envelope, EpochClaim, MessageType, Progress,
};
use chimera_ports::{Delivery, Subscription};
use chimera_runtime::offsets::set_latest;
use chimera_runtime::runtime::fatal;
use chimera_runtime::telemetry::HealthBoard;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Commands read per turn before a checkpoint.
const COMMAND_BATCH: usize = 64;

/// Tracks what was applied and acknowledges it once a checkpoint covers it.
pub(crate) struct Keeper {
    pub(crate) owner: PortfolioId,
    pub(crate) revision: i64,
    pub(crate) applied: BTreeMap<String, i64>,
    /// The key in `applied` of the command being read (`topic/partition`), and the delivery's
    /// topic and partition it was written for: written again only when they change.
    pub(crate) partition: String,
    pub(crate) partition_of: Option<(Arc<str>, i32)>,
    pub(crate) order_acks: Vec<Delivery>,
    pub(crate) last: Instant,
    pub(crate) fence: Fence,
    pub(crate) board: HealthBoard,
    /// Publish each command's reports as soon as it is executed, not once per batch of
    /// commands: the bus is in process ([`chimera_ports::EventBus::in_process`]).
    pub(crate) eager: bool,
    /// Order commands waiting for their turn ([`lockstep`]).
    pub(crate) lockstep: lockstep::Lockstep,
}

impl Keeper {
    /// Reads and executes up to [`COMMAND_BATCH`] commands, waiting up to `wait` for the first,
    /// and returns how many deliveries it read (commands, promises, claims).
    ///
    /// # Errors
    /// A fatal bus, venue or database failure.
    pub(crate) async fn commands(
        &mut self,
        gw: &mut Gateway,
        orders: &mut Box<dyn Subscription>,
        wait: Duration,
    ) -> anyhow::Result<usize> {
        let mut handled = 0;
        while handled < COMMAND_BATCH {
            let polled = orders
                .poll(if handled == 0 { wait } else { Duration::ZERO })
                .await;
            let d = match polled {
                Ok(Some(d)) => d,
                Ok(None) => break,
                Err(e) if e.is_transient() => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    break;
                }
                Err(e) => return Err(fatal("poll orders", &e)),
            };
            handled += 1;
            let read_at = Instant::now();
            if self
                .partition_of
                .as_ref()
                .is_none_or(|(topic, partition)| *partition != d.partition || *topic != d.topic)
            {
                self.partition.clear(); // `topic/partition`, written without allocating
                let _ = write!(self.partition, "{}/{}", d.topic, d.partition);
                self.partition_of = Some((Arc::clone(&d.topic), d.partition));
            }
            if self
                .applied
                .get(&self.partition)
                .is_some_and(|a| d.offset <= *a)
            {
                gw.figures.replayed += 1;
            } else {
                // In process the node's own envelope, as it was encoded (`Delivery::shared`).
                let shared = d.shared.as_ref().and_then(|s| s.get::<Envelope<Command>>());
                let decoded = match shared {
                    Some(envelope) => Ok(Some(envelope.clone())),
                    None => self.read(gw, &d).await?,
                };
                match decoded {
                    Ok(None) => {}
                    Ok(Some(env)) => {
                        match self.fence.admit(env.payload.portfolio_id(), env.epoch) {
                            Ok(()) => {
                                gw.venue.meet(&gw.rt, env.payload.portfolio_id()).await?;
                                if self.must_wait(gw, &env.payload) {
                                    let portfolio = env.payload.portfolio_id().clone();
                                    let first = !self.lockstep.holds(&portfolio);
                                    let waiting = lockstep::Waiting::Command(env.payload);
                                    self.lockstep.hold(waiting, &self.partition, d.offset);
                                    if first {
                                        self.promise_first_held(gw, &portfolio).await?;
                                    }
                                } else if !self.execute(gw, env.payload, read_at).await? {
                                    return Ok(handled);
                                }
                            }
                            Err(fenced) => gw.fenced(&env, fenced),
                        }
                    }
                    Err(error) => gw
                        .rt
                        .dead_letter(&d, &error)
                        .await
                        .map_err(|e| fatal("dead letter", &e))?,
                }
                set_latest(&mut self.applied, &self.partition, d.offset);
            }
            // What waits for the checkpoint needs only the delivery's position.
            self.keep_for_ack(d.acknowledgeable());
            // A promise or an order may have brought held orders their turn.
            if !self.release(gw).await? {
                return Ok(handled);
            }
        }
        Ok(handled)
    }

    /// Keeps `d` (read and applied) for the next checkpoint to acknowledge. Acknowledgement is
    /// cumulative per partition, so while nothing is held every earlier delivery of its
    /// partition may go (`checkpointing::covered_acks` takes the newest): the one before it
    /// is replaced rather than a delivery per command and promise kept until the checkpoint.
    pub(crate) fn keep_for_ack(&mut self, d: Delivery) {
        if self.lockstep.is_empty() {
            if let Some(last) = self
                .order_acks
                .last_mut()
                .filter(|last| last.partition == d.partition)
            {
                *last = d;
                return;
            }
        }
        self.order_acks.push(d);
    }

    /// Decodes `d`: an order command, or a fence claim or a promise, applied at once
    /// (`Ok(None)`).
    ///
    /// # Errors
    /// The outer one: applying a promise failed (fatal). The inner one: the payload does not
    /// decode (the caller dead-letters it).
    async fn read(
        &mut self,
        gw: &mut Gateway,
        d: &Delivery,
    ) -> anyhow::Result<Result<Option<Envelope<Command>>, DecodeError>> {
        // In process a node's promise comes as it was made (`Delivery::shared`).
        if let Some(env) = d
            .shared
            .as_ref()
            .and_then(|s| s.get::<Envelope<Progress>>())
        {
            self.promised(gw, &env.payload, env.epoch, d.offset).await?;
            return Ok(Ok(None));
        }
        Ok(match message_type(&d.payload) {
            Some(MessageType::EpochClaim) => {
                decode::<EpochClaim>(&d.payload, MessageType::EpochClaim).map(|env| {
                    self.fence
                        .claim(&env.payload.portfolio_id, env.payload.epoch);
                    None
                })
            }
            Some(MessageType::Progress) => {
                match decode::<Progress>(&d.payload, MessageType::Progress) {
                    Ok(env) => {
                        self.promised(gw, &env.payload, env.epoch, d.offset).await?;
                        Ok(None)
                    }
                    Err(error) => Err(error),
                }
            }
            _ => decode::<Command>(&d.payload, MessageType::OrderCommand).map(Some),
        })
    }

    /// Applies a portfolio's promise (read at `offset`): a zombie's is refused like its
    /// orders; one behind its portfolio's held orders waits for them.
    async fn promised(
        &mut self,
        gw: &mut Gateway,
        progress: &Progress,
        epoch: Option<u64>,
        offset: i64,
    ) -> anyhow::Result<()> {
        let Progress {
            portfolio_id,
            clock,
        } = progress;
        if self.fence.admit(portfolio_id, epoch).is_ok() {
            if self.lockstep.holds(portfolio_id) {
                let waiting = lockstep::Waiting::Progress {
                    portfolio: portfolio_id.clone(),
                    clock: *clock,
                };
                self.lockstep.hold(waiting, &self.partition, offset);
            } else {
                gw.venue.progress(&gw.rt, portfolio_id, *clock).await?;
            }
        }
        Ok(())
    }

    /// Whether `command` must wait for its turn: another portfolio trading its symbol has not
    /// promised its stamp yet, or something is held (an older order that may go now runs
    /// first: [`Self::release`] right after takes them oldest stamp first).
    fn must_wait(&self, gw: &Gateway, command: &Command) -> bool {
        let portfolio = command.portfolio_id();
        !self.lockstep.is_empty()
            || lockstep::turn_of(command)
                .is_some_and(|(symbol, ts)| !gw.venue.in_turn(portfolio, symbol, ts))
    }

    /// Executes `command` (read at `read_at`); `false` when it was interrupted by shutdown (it
    /// runs again after the restart).
    async fn execute(
        &mut self,
        gw: &mut Gateway,
        command: Command,
        read_at: Instant,
    ) -> anyhow::Result<bool> {
        match gw.handle(command).await {
            Ok(()) => {
                gw.command_time.record(read_at.elapsed());
                if self.eager {
                    // Its reports before the next command runs; the records after the commands
                    // read with it (`Gateway::defer_records`).
                    gw.publish_now().await?;
                }
                Ok(true)
            }
            Err(e) if e.is::<execution::Interrupted>() => {
                tracing::warn!(component = %gw.rt.source, "{e}; the command runs again after the restart");
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Executes the held commands whose turn has come, oldest stamp first; `false` when one
    /// was interrupted (it stays held, out of the checkpoint).
    pub(crate) async fn release(&mut self, gw: &mut Gateway) -> anyhow::Result<bool> {
        while let Some(index) = self.lockstep.ready(|p, s, t| gw.venue.in_turn(p, s, t)) {
            match self.lockstep.waiting(index).clone() {
                lockstep::Waiting::Command(command) => {
                    if !self.execute(gw, command, Instant::now()).await? {
                        return Ok(false);
                    }
                }
                lockstep::Waiting::Progress { portfolio, clock } => {
                    gw.venue.progress(&gw.rt, &portfolio, clock).await?;
                }
            }
            let portfolio = self.lockstep.waiting(index).portfolio().clone();
            self.lockstep.remove(index);
            self.promise_first_held(gw, &portfolio).await?;
        }
        Ok(true)
    }

    /// The stamp of `portfolio`'s oldest held order promises as much as a progress message
    /// would (so the orders of others it holds back can go); its later held ones promise
    /// nothing until they are the oldest.
    async fn promise_first_held(
        &mut self,
        gw: &mut Gateway,
        portfolio: &PortfolioId,
    ) -> anyhow::Result<()> {
        if let Some(ts) = self.lockstep.first_stamp(portfolio) {
            gw.venue.progress(&gw.rt, portfolio, ts).await?;
        }
        Ok(())
    }
}
