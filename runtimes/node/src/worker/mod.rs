//! One portfolio's task: takes batches from its queue, runs them through the engine, publishes
//! the resulting order commands, persists positions, strategy events and a checkpoint, and only
//! then marks the inputs handled (so the router acknowledges them on the bus).
//!
//! Recovery: the checkpoint records the last offset applied per `topic/partition`; inputs at or
//! below it are skipped, so redelivered messages are never applied twice. Commands re-emitted
//! after a crash carry the same intent ids (the sequence is in the checkpoint), which the
//! gateway de-duplicates.

mod commit;
mod outbox;
mod rehearsal;

use super::queue::{ControlInput, Input, PortfolioQueue};
use chimera_kernel::engine::{
    Command, Control, EngineSnapshot, Output, PortfolioEngine, PortfolioSet,
};
use chimera_kernel::event::MarketEvent;
use chimera_kernel::ids::{PortfolioId, Symbol};
use chimera_kernel::portfolio::Position;
use chimera_kernel::time::Timestamp;
use chimera_messages::{CommandOutcome, ControlCommand, StrategyEvent};
use chimera_ports::PortfolioStatus;
use chimera_runtime::offsets::set_latest;
use chimera_runtime::runtime::Runtime;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What a node checkpoints per portfolio.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct NodeCheckpoint {
    pub(crate) engine: EngineSnapshot,
    /// Last offset applied per `topic/partition`.
    pub(crate) applied: BTreeMap<String, i64>,
    /// Last bar time per symbol (a bar never repeats: a replayed feed is ignored).
    pub(crate) last_bar: BTreeMap<String, i64>,
    /// Latest event time seen; position snapshots are stamped with it.
    #[serde(default)]
    pub(crate) clock: i64,
    /// The features' state (indicators, regime, data quality), so a restarted node decides
    /// as the one that never stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) features: Option<serde_json::Value>,
}

/// Live counters of a portfolio, read by the heartbeat.
#[derive(Debug, Default)]
pub(crate) struct WorkerStats {
    pub(crate) events: std::sync::atomic::AtomicU64,
    pub(crate) orders: std::sync::atomic::AtomicU64,
    pub(crate) fills: std::sync::atomic::AtomicU64,
    pub(crate) skipped: std::sync::atomic::AtomicU64,
    pub(crate) checkpoints: std::sync::atomic::AtomicU64,
    /// Rehearsals run ([`rehearsal`]).
    pub(crate) rehearsals: std::sync::atomic::AtomicU64,
    pub(crate) equity: std::sync::Mutex<String>,
}

/// A node worker drives its portfolio through the same [`PortfolioSet`] loop as the backtest
/// and the demo (clock rule, due timers before each input), here a set of one.
pub(crate) struct Worker {
    pub(crate) id: PortfolioId,
    pub(crate) set: PortfolioSet,
    pub(crate) applied: BTreeMap<String, i64>,
    pub(crate) last_bar: BTreeMap<String, i64>,
    pub(crate) revision: i64,
    /// A status a control command set, to record before the next checkpoint.
    status_change: Option<PortfolioStatus>,
    pub(crate) queue: Arc<PortfolioQueue>,
    pub(crate) stats: Arc<WorkerStats>,
    /// Inputs taken per batch at most (`[node] batch_max`, set by the roster).
    pub(crate) batch_max: usize,
    /// Latest event time seen (market or feedback): snapshots are stamped with it, so the
    /// latest snapshot is always the newest state.
    clock: Timestamp,
    saved_positions: BTreeMap<Symbol, Position>,
    /// Answers the engine's requests (shared budgets, model scores).
    services: Arc<chimera_runtime::requests::RequestServices>,
    /// The fencing token of the assignment it runs under (0: none, no scheduler).
    pub(crate) epoch: Arc<AtomicU64>,
    /// Turns true when the portfolio leaves the node.
    pub(crate) stop: watch::Receiver<bool>,
    /// Control commands applied in the batch in hand, acknowledged once it is durable.
    acks: Vec<(String, CommandOutcome)>,
    /// Where its time goes ([`crate::telemetry::Hops`]).
    hops: Arc<crate::telemetry::Hops>,
    /// Publishes its order commands off its path ([`outbox`]).
    outbox: outbox::Outbox,
    /// How long applied inputs wait for their checkpoint (`[node] checkpoint_ms`, [`commit`]).
    pub(crate) checkpoint_every: std::time::Duration,
    uncommitted: commit::Uncommitted,
    /// The checkpoint being stored while the worker goes on ([`commit`]).
    in_flight: Option<commit::InFlight>,
    /// The newest engine clock promised on the bus ([`chimera_messages::Progress`]).
    promised: Option<Timestamp>,
    /// When the last promise went, and the least time until the next (`[node] progress_ms`).
    last_promise: Option<std::time::Instant>,
    pub(crate) progress_every: std::time::Duration,
    /// Its rehearsals, when on ([`rehearsal`]).
    rehearsing: Option<rehearsal::Rehearsing>,
}

impl Worker {
    /// `paused`: the portfolio record's status says so (the record is written before the
    /// checkpoint, so it is the authority at start-up).
    pub(crate) fn new(
        rt: &Arc<Runtime>,
        engine: PortfolioEngine,
        checkpoint: Option<(i64, NodeCheckpoint)>,
        queue: Arc<PortfolioQueue>,
        paused: bool,
        services: Arc<chimera_runtime::requests::RequestServices>,
        stop: watch::Receiver<bool>,
    ) -> Self {
        let halted = engine.halted().is_some();
        let (revision, applied, last_bar, clock, features) = checkpoint
            .map(|(r, c)| (r, c.applied, c.last_bar, c.clock, c.features))
            .unwrap_or_default();
        let id = engine.portfolio().id.clone();
        let hops = Arc::new(crate::telemetry::Hops::new(&rt.source, id.as_str()));
        let outbox = outbox::Outbox::start(Arc::clone(rt), id.to_string(), Arc::clone(&hops));
        let saved_positions = engine.portfolio().positions.clone();
        let mut set = PortfolioSet::new();
        set.add(engine);
        if let Some(features) = &features {
            if let Err(e) = set.restore_features(features) {
                tracing::warn!(portfolio = %id, "features not restored, warming up again: {e}");
            }
        }
        if !paused {
            set.control(None, &Control::Resume);
        } else if !halted {
            set.control(
                None,
                &Control::Pause {
                    reason: "paused in the portfolio record".into(),
                },
            );
        }
        Self {
            id,
            saved_positions,
            set,
            applied,
            last_bar,
            revision,
            status_change: None,
            queue,
            stats: Arc::new(WorkerStats::default()),
            batch_max: 1,
            clock: Timestamp(clock),
            services,
            epoch: Arc::new(AtomicU64::new(0)),
            stop,
            acks: Vec::new(),
            hops,
            outbox,
            checkpoint_every: std::time::Duration::ZERO,
            uncommitted: commit::Uncommitted::default(),
            in_flight: None,
            promised: None,
            last_promise: None,
            progress_every: std::time::Duration::ZERO,
            rehearsing: None,
        }
    }

    /// Runs until shutdown or until the portfolio leaves the node (its last batch finished and
    /// checkpointed); returns an error only for a fatal port failure. With `catch_up`, first
    /// reads what its checkpoint has not applied ([`super::catch_up`]) under consumer groups
    /// named from it.
    pub(crate) async fn run(
        mut self,
        rt: Arc<Runtime>,
        catch_up: Option<crate::routes::CatchUp>,
    ) -> anyhow::Result<()> {
        self.claim(&rt).await?;
        let restored = self.restored_pending(&rt);
        if let Some(plan) = catch_up {
            if self.catch_up(&rt, &plan).await?.is_none() {
                return Ok(());
            }
        }
        self.resend_pending(&rt, &restored).await?;
        let mut batch = Vec::with_capacity(self.batch_max);
        let mut shutdown = rt.shutdown.clone();
        let mut stop = self.stop.clone();
        loop {
            // While a checkpoint is being stored the next one waits for it (the `stored` arm
            // wakes the loop), not the timer.
            let due = self
                .uncommitted
                .since
                .filter(|_| self.in_flight.is_none())
                .map(|since| since + self.checkpoint_every);
            let rehearsal = self.rehearsal_due();
            let change = tokio::select! {
                change = self.queue.pop_batch(self.batch_max, &mut batch) => change,
                () = sleep_until(due) => None,
                () = sleep_until(rehearsal) => {
                    // Last in line: what else is ready on this thread goes first.
                    tokio::task::yield_now().await;
                    self.rehearse();
                    continue;
                }
                stored = stored(&mut self.in_flight) => {
                    self.in_flight = None;
                    self.settled(stored)?;
                    continue;
                }
                () = shutdown.wait() => return self.commit_on_exit(&rt).await,
                changed = stop.changed() => {
                    if changed.is_err() || *stop.borrow() {
                        return self.commit_on_exit(&rt).await;
                    }
                    continue;
                }
            };
            if let Some(level) = change {
                crate::queue::pressure_alert(&rt, &self.id, &self.queue, level);
            }
            if !batch.is_empty() {
                for read_at in batch.iter().filter_map(Input::read_at) {
                    self.hops.queue_wait.record(read_at.elapsed());
                }
                self.decide(&batch).await?;
                let inputs = batch.drain(..).map(|input| Arc::clone(input.pending()));
                self.uncommitted.inputs.extend(inputs);
            }
            if self.commit_due() {
                // An operator waits for the answer: stored before the next input.
                if self.acks.is_empty() && self.status_change.is_none() {
                    // Routine: one in flight at a time. While it is stored (its orders on
                    // the bus first, a round trip or more under load) the worker goes on with
                    // its inputs rather than wait for it; the next begins once it is stored.
                    if self.in_flight.as_ref().is_none_or(JoinHandle::is_finished) {
                        // Built on this thread: what is ready goes first (the orders' gateway).
                        tokio::task::yield_now().await;
                        self.begin_commit(&rt).await?;
                    }
                } else {
                    self.commit(&rt).await?;
                }
            }
        }
    }

    /// At shutdown or when the portfolio leaves: what was applied and published is checkpointed
    /// (best effort: what is not stays unacknowledged and is applied again by the next owner).
    async fn commit_on_exit(&mut self, rt: &Arc<Runtime>) -> anyhow::Result<()> {
        if let Err(e) = self.settle_commit().await {
            tracing::warn!(portfolio = %self.id, "last checkpoint not written: {e:#}");
            return Ok(());
        }
        if self.uncommitted.since.is_some() && !self.uncommitted.discarded {
            if let Err(e) = self.commit(rt).await {
                tracing::warn!(portfolio = %self.id, "last checkpoint not written: {e:#}");
            }
        }
        Ok(())
    }

    /// Whether the portfolio was told to leave the node.
    pub(crate) fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    /// Runs `batch` through the engine and publishes its commands, then checkpoints (catch-up
    /// reads its inputs itself, so each of its batches is made durable at once).
    pub(crate) async fn process(
        &mut self,
        rt: &Arc<Runtime>,
        batch: &[Input],
    ) -> anyhow::Result<()> {
        self.decide(batch).await?;
        self.commit(rt).await
    }

    /// Runs `batch` through the engine, answers its requests and publishes its commands; what
    /// it reported waits in [`commit::Uncommitted`] for the next checkpoint.
    async fn decide(&mut self, batch: &[Input]) -> anyhow::Result<()> {
        let taken = std::time::Instant::now();
        let mut commands = Vec::new();
        let mut events = std::mem::take(&mut self.uncommitted.events);
        let mut requests = Vec::new();
        let mut last_ts = Timestamp(0);
        for i in 0..batch.len() {
            last_ts = last_ts.max(self.apply(&batch[i..=i]));
            self.take_outputs(&mut commands, &mut events, &mut requests);
            // Answers go back in before the next input: an entry waiting for its
            // reservation or score is decided at its own time, not timed out by the
            // inputs queued behind it.
            while !requests.is_empty() {
                for request in std::mem::take(&mut requests) {
                    let response = self.services.answer(&request).await;
                    self.set.on_response(&response, request.created_at);
                }
                self.take_outputs(&mut commands, &mut events, &mut requests);
            }
        }
        self.uncommitted.events = events;
        self.clock = self.clock.max(last_ts);
        self.hops.decide.record(taken.elapsed());
        self.uncommitted
            .since
            .get_or_insert_with(std::time::Instant::now);
        if self.stopping() {
            // Moved away while this batch ran: the gateway already fences the old epoch, so
            // these orders would never execute, and a checkpoint holding them would hand the
            // next owner orders that never resolve. Dropped; the next owner catches up from the
            // last checkpoint and decides them again; nothing of this placement is checkpointed
            // any more, as its state now holds them.
            self.uncommitted.discarded = true;
            return Ok(());
        }
        self.publish(&mut commands, taken).await
    }

    /// Sorts the engine's outputs: commands to publish, requests to answer, events to record
    /// (requests too, for the audit; decisions go to the signals table); finished orders are
    /// the gateway's to store.
    fn take_outputs(
        &mut self,
        commands: &mut Vec<Command>,
        events: &mut Vec<StrategyEvent>,
        requests: &mut Vec<chimera_kernel::engine::Request>,
    ) {
        while let Some((_, output)) = self.set.poll_output() {
            match output {
                Output::Command(command) => commands.push(command),
                Output::Request(request) => {
                    requests.push(request.clone());
                    events.push(StrategyEvent::Request(request));
                }
                other => events.extend(StrategyEvent::from_output(other)),
            }
        }
    }

    fn apply(&mut self, batch: &[Input]) -> Timestamp {
        let mut last_ts = Timestamp(0);
        for input in batch {
            let origin = match input {
                Input::Market(_, o, _) | Input::Feedback(_, o, _) | Input::Control(_, o, _) => o,
                Input::Kill(state, _) => {
                    let state = state.clone();
                    self.set.control(None, &Control::KillSwitch { state });
                    continue;
                }
            };
            if self
                .applied
                .get(origin.stream.as_ref())
                .is_some_and(|&done| done >= origin.offset)
            {
                self.stats.skipped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            match input {
                Input::Market(event, ..) => {
                    if let MarketEvent::Bar(bar) = event {
                        let last = self.last_bar.get(bar.symbol.as_str()).copied();
                        if last.is_some_and(|last| bar.ts.0 <= last) {
                            self.stats.skipped.fetch_add(1, Ordering::Relaxed);
                            set_latest(&mut self.applied, &origin.stream, origin.offset);
                            continue;
                        }
                        set_latest(&mut self.last_bar, bar.symbol.as_str(), bar.ts.0);
                    }
                    last_ts = event.ts();
                    self.set.on_market(event);
                    self.stats.events.fetch_add(1, Ordering::Relaxed);
                }
                Input::Control(input, ..) => self.control(input),
                Input::Kill(..) => {}
                Input::Feedback(report, ..) => {
                    last_ts = last_ts.max(report.ts);
                    self.set.on_report(report);
                    if report.fill().is_some() {
                        self.stats.fills.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            set_latest(&mut self.applied, &origin.stream, origin.offset);
        }
        last_ts
    }

    /// Applies an operator's instruction (idempotent: a redelivery changes nothing more) and
    /// queues its acknowledgement, published once the batch is durable.
    fn control(&mut self, input: &ControlInput) {
        let command = &input.command;
        let Some(control) = command.to_control() else {
            return;
        };
        self.set.control(None, &control);
        self.acks.push((input.id.clone(), CommandOutcome::Applied));
        match command {
            ControlCommand::Pause { .. } => self.status_change = Some(PortfolioStatus::Paused),
            ControlCommand::Resume { .. } => self.status_change = Some(PortfolioStatus::Active),
            ControlCommand::CancelAll { .. }
            | ControlCommand::Stop { .. }
            | ControlCommand::KillSwitchChanged { .. }
            | ControlCommand::EngageKillSwitch { .. }
            | ControlCommand::ReleaseKillSwitch { .. }
            | ControlCommand::Health { .. }
            | ControlCommand::Reload { .. }
            | ControlCommand::Migrate { .. }
            | ControlCommand::DrainNode { .. }
            | ControlCommand::Start { .. }
            | ControlCommand::Transfer { .. } => {}
        }
    }

    /// Sends one batch's commands (taken from the queue at `taken`) to the bus through the
    /// outbox, and after them the engine's clock when it is due ([`Self::progress_due`]): the
    /// worker need not wait for the bus's acknowledgement (its next checkpoint does).
    pub(crate) async fn publish(
        &mut self,
        commands: &mut Vec<Command>,
        taken: std::time::Instant,
    ) -> anyhow::Result<()> {
        let progress = self.progress_due();
        let epoch = Some(self.epoch.load(Ordering::Acquire)).filter(|&e| e > 0);
        if commands.is_empty() {
            if let Some(clock) = progress {
                if self.outbox.promise(clock, epoch).await {
                    self.promised = Some(clock);
                    self.last_promise = Some(std::time::Instant::now());
                }
            }
            return Ok(());
        }
        if progress.is_some() {
            self.promised = progress;
            self.last_promise = Some(std::time::Instant::now());
        }
        let keyed: Vec<(String, Command)> = commands
            .drain(..)
            .map(|command| (command.idempotency_key(), command))
            .collect();
        let count = keyed.len() as u64;
        self.outbox.send(keyed, progress, epoch, taken).await?;
        self.ordered();
        self.stats.orders.fetch_add(count, Ordering::Relaxed);
        Ok(())
    }

    /// The engine's clock to promise with this batch ([`chimera_messages::Progress`]): when
    /// its clock moved since the last promise, at least `progress_every` ago, whether or not
    /// the portfolio reads a backlog. The simulated venue needs them while a backlog is read
    /// too: it executes the orders of portfolios sharing a symbol in the order of their stamps
    /// (an order waits for the others' promises), and takes a portfolio silent for 30 s for
    /// one that stopped (`chimera_sim::TRADER_SILENCE`).
    fn progress_due(&self) -> Option<Timestamp> {
        let clock = self.set.clock()?;
        if self.promised.is_some_and(|p| p >= clock)
            || self
                .last_promise
                .is_some_and(|at| at.elapsed() < self.progress_every)
        {
            return None;
        }
        Some(clock)
    }
}

/// Waits until the checkpoint in flight is stored (forever without one).
async fn stored(
    in_flight: &mut Option<commit::InFlight>,
) -> Result<anyhow::Result<()>, tokio::task::JoinError> {
    match in_flight {
        Some(task) => task.await,
        None => std::future::pending().await,
    }
}

/// Sleeps until `at` (forever without one).
async fn sleep_until(at: Option<std::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
