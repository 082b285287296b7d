//! The portfolios a node runs, and how they come and go while it runs.
//!
//! A portfolio starts (at start-up from the database's assignments, or when `schedule.updates`
//! assigns it here) in four steps: take its lease (waiting while another process holds it, in
//! a task of its own so other portfolios are not held up), restore it from its checkpoint,
//! register it with the routers, then run its worker, which first catches up on what the
//! checkpoint has not applied ([`super::catch_up`]). A portfolio moved away stops in four:
//! unregister it, let its worker finish the batch in hand (checkpointed), close its queue
//! (what is queued counts as handled here), release its lease. An update that names this node
//! for a portfolio it already runs only renews the fencing epoch its orders carry.

use super::lease::Leases;
use super::queue::PortfolioQueue;
use super::router::RosterEvent;
use super::routes::RouteTable;
use super::worker::{Worker, WorkerStats};
use chimera_kernel::engine::Control;
use chimera_kernel::ids::PortfolioId;
use chimera_kernel::strategy::StrategyRegistry;
use chimera_messages::{AlertCode, AlertLevel, CommandOutcome, RefusalCode, ScheduleUpdate};
use chimera_ports::{PortfolioRecord, PortfolioRepository, PortfolioStatus};
use chimera_runtime::config::NodeConfig;
use chimera_runtime::kill_switch::KillWatch;
use chimera_runtime::requests::RequestServices;
use chimera_runtime::runtime::{fatal, wall_clock, Runtime};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

/// What the heartbeat reads: each running portfolio's counters and queue.
pub(crate) type Loads = Arc<Mutex<BTreeMap<PortfolioId, (Arc<WorkerStats>, Arc<PortfolioQueue>)>>>;

/// A portfolio the node runs, or is about to.
enum Slot {
    /// Waiting for its lease; `cancel` gives up.
    Starting {
        epoch: u64,
        cancel: watch::Sender<bool>,
    },
    Running {
        stop: watch::Sender<bool>,
        queue: Arc<PortfolioQueue>,
        epoch: Arc<AtomicU64>,
        /// Being swapped to its new configuration: (command id, when asked).
        reload: Option<(String, Instant)>,
    },
}

/// How a worker task ended.
pub(crate) type WorkerExit = (PortfolioId, anyhow::Result<()>);

/// The node's portfolios.
pub(crate) struct Roster {
    rt: Arc<Runtime>,
    config: NodeConfig,
    services: Arc<RequestServices>,
    pub(crate) table: Arc<RouteTable>,
    pub(crate) leases: Arc<Leases>,
    pub(crate) loads: Loads,
    slots: BTreeMap<PortfolioId, Slot>,
    /// Leases taken, for [`Self::lease_taken`].
    leased_tx: mpsc::UnboundedSender<(PortfolioId, u64, bool)>,
    /// Every worker ever started, with its counters (the node's figures at the end).
    pub(crate) ran: BTreeMap<PortfolioId, Arc<WorkerStats>>,
    /// The kill switches as last read ([`super::kill_watch`]): a portfolio starts under them,
    /// before its catch-up sends anything.
    pub(crate) kill: Arc<std::sync::RwLock<KillWatch>>,
}

impl Roster {
    pub(crate) fn new(
        rt: Arc<Runtime>,
        config: NodeConfig,
        services: Arc<RequestServices>,
        leased_tx: mpsc::UnboundedSender<(PortfolioId, u64, bool)>,
    ) -> Self {
        let leases = Arc::new(Leases::new(rt.state.clone()));
        // With shared state, closed until the first read; without, there are no switches.
        let kill = if rt.state.is_some() {
            KillWatch::new()
        } else {
            KillWatch::default()
        };
        Self {
            kill: Arc::new(std::sync::RwLock::new(kill)),
            rt,
            config,
            services,
            table: Arc::default(),
            leases,
            loads: Arc::default(),
            slots: BTreeMap::new(),
            leased_tx,
            ran: BTreeMap::new(),
        }
    }

    /// The portfolios running or starting.
    pub(crate) fn ids(&self) -> impl Iterator<Item = &PortfolioId> {
        self.slots.keys()
    }

    /// Begins starting `id` under `epoch` (0: none): its lease is taken in the background and
    /// [`Self::lease_taken`] finishes the start.
    pub(crate) fn begin(&mut self, id: PortfolioId, epoch: u64) {
        if self.slots.contains_key(&id) {
            return;
        }
        let (cancel, mut cancelled) = watch::channel(false);
        self.slots
            .insert(id.clone(), Slot::Starting { epoch, cancel });
        let (rt, leases, done) = (
            Arc::clone(&self.rt),
            Arc::clone(&self.leases),
            self.leased_tx.clone(),
        );
        tokio::spawn(async move {
            let taken = match leases.take(&rt, &id, &mut cancelled).await {
                Ok(taken) => taken,
                Err(e) => {
                    tracing::error!(portfolio = %id, "lease: {e}");
                    false
                }
            };
            drop(done.send((id, epoch, taken)));
        });
    }

    /// The lease of `id` was taken (or not): restores the portfolio and spawns its worker in
    /// `workers`, which catches up before it takes routed input.
    ///
    /// # Errors
    /// A fatal database failure.
    pub(crate) async fn lease_taken(
        &mut self,
        id: PortfolioId,
        epoch: u64,
        taken: bool,
        strategies: &StrategyRegistry,
        workers: &mut JoinSet<WorkerExit>,
    ) -> anyhow::Result<()> {
        let wanted =
            matches!(self.slots.get(&id), Some(Slot::Starting { epoch: e, .. }) if *e == epoch);
        if !wanted || !taken {
            self.table.settled();
            if taken {
                self.leases.release(&self.rt, &id).await;
            }
            if wanted {
                self.slots.remove(&id);
            }
            return Ok(());
        }
        self.start_worker(id, epoch, strategies, workers).await
    }

    /// Restores `id` from its record and checkpoint (its lease held) and spawns its worker.
    async fn start_worker(
        &mut self,
        id: PortfolioId,
        epoch: u64,
        strategies: &StrategyRegistry,
        workers: &mut JoinSet<WorkerExit>,
    ) -> anyhow::Result<()> {
        let record = self
            .rt
            .retry("read portfolio", || self.rt.store.get_portfolio(&id))
            .await
            .map_err(|e| fatal("read portfolio", &e))?;
        let Some(record) = record else {
            self.refuse(&id, "not in the database".into()).await;
            return Ok(());
        };
        let (engine, checkpoint) = match super::restore(&self.rt, &record, strategies).await {
            Ok(restored) => restored,
            Err(problem) => {
                self.refuse(&id, problem).await;
                return Ok(());
            }
        };
        // Always: routers only hand a portfolio what they read after it joined them.
        let revision = checkpoint.as_ref().map_or(0, |(revision, _)| *revision);
        let group = format!(
            "{}.catchup.{}.{revision}.{}",
            self.config.id,
            id,
            wall_clock().0
        );
        let queue = Arc::new(PortfolioQueue::new(self.config.queue_capacity));
        let (stop, stopped) = watch::channel(false);
        let mut worker = Worker::new(
            &self.rt,
            engine,
            checkpoint,
            Arc::clone(&queue),
            record.status == PortfolioStatus::Paused,
            Arc::clone(&self.services),
            stopped,
        );
        worker.epoch.store(epoch, Ordering::Release);
        worker.checkpoint_every = Duration::from_millis(self.config.checkpoint_ms);
        worker.batch_max = self.config.batch_max;
        worker.progress_every = Duration::from_millis(self.config.progress_ms.unwrap_or(0));
        if let Some(us) = self.config.rehearse_us {
            worker.rehearse_every(Duration::from_micros(us));
        }
        let state = self
            .kill
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .state_for(&id, wall_clock().0);
        worker.set.control(None, &Control::KillSwitch { state });
        // Checkpoint revisions of a placement start above any earlier placement's: a zombie
        // of an older epoch can then never overwrite its successor's checkpoints, only be
        // refused (and stop) when it tries.
        if let Some(base) = i64::try_from(epoch).ok().and_then(|e| e.checked_shl(32)) {
            worker.revision = worker.revision.max(base);
        }
        let joined = self.table.add(worker.set.engine(0).portfolio(), &queue);
        let catch_up = Some(super::routes::CatchUp { group, joined });
        if let Ok(mut loads) = self.loads.lock() {
            loads.insert(id.clone(), (Arc::clone(&worker.stats), Arc::clone(&queue)));
        }
        self.ran.insert(id.clone(), Arc::clone(&worker.stats));
        self.slots.insert(
            id.clone(),
            Slot::Running {
                stop,
                queue,
                epoch: Arc::clone(&worker.epoch),
                reload: None,
            },
        );
        tracing::info!(
            component = %self.config.id,
            portfolio = %id,
            "portfolio {id} started (epoch {epoch})"
        );
        let rt = Arc::clone(&self.rt);
        workers.spawn(async move { (id, worker.run(rt, catch_up).await) });
        Ok(())
    }

    async fn refuse(&mut self, id: &PortfolioId, problem: String) {
        self.table.settled();
        self.slots.remove(id);
        self.leases.release(&self.rt, id).await;
        self.rt.alert(
            AlertLevel::Error,
            AlertCode::PortfolioNotLoaded,
            format!("portfolio {id}: {problem}"),
            Some(id.clone()),
        );
    }

    /// Acts on what a router handed over.
    ///
    /// # Errors
    /// A fatal database or bus failure.
    pub(crate) async fn on_event(
        &mut self,
        event: RosterEvent,
        strategies: &StrategyRegistry,
    ) -> anyhow::Result<()> {
        match event {
            RosterEvent::Schedule(update) => {
                self.on_schedule(&update);
                Ok(())
            }
            RosterEvent::Reload {
                portfolio,
                command_id,
            } => self.reload(portfolio, command_id, strategies).await,
        }
    }

    /// Acts on an assignment change.
    pub(crate) fn on_schedule(&mut self, update: &ScheduleUpdate) {
        let here = update.node_id.as_deref() == Some(self.config.id.as_str());
        let epoch = update.epoch.unwrap_or(0);
        match (here, self.slots.get(&update.portfolio_id)) {
            (true, Some(Slot::Running { epoch: current, .. })) => {
                current.fetch_max(epoch, Ordering::AcqRel);
            }
            (true, Some(Slot::Starting { .. })) => {
                if let Some(Slot::Starting { epoch: e, .. }) =
                    self.slots.get_mut(&update.portfolio_id)
                {
                    *e = (*e).max(epoch);
                }
            }
            (true, None) => {
                self.note(update, "assigned to this node");
                self.begin(update.portfolio_id.clone(), epoch);
            }
            (false, Some(_)) => {
                self.note(update, "moved away from this node");
                self.give_up(&update.portfolio_id);
            }
            (false, None) => {}
        }
    }

    fn note(&self, update: &ScheduleUpdate, what: &str) {
        self.rt.alert(
            AlertLevel::Warning,
            AlertCode::AssignmentChanged,
            format!(
                "portfolio {} {what} ({}, epoch {})",
                update.portfolio_id,
                update.reason,
                update.epoch.unwrap_or(0)
            ),
            Some(update.portfolio_id.clone()),
        );
    }

    /// Stops routing to `id` and tells its worker to stop (or its lease wait to give up);
    /// [`Self::worker_exited`] finishes.
    fn give_up(&mut self, id: &PortfolioId) {
        match self.slots.get(id) {
            Some(Slot::Starting { cancel, .. }) => {
                cancel.send_replace(true);
                self.slots.remove(id);
            }
            Some(Slot::Running { stop, .. }) => {
                self.table.remove(id);
                stop.send_replace(true);
            }
            None => {}
        }
    }

    /// A worker ended: after a move away, closes its queue and releases its lease; after a
    /// reload, starts the portfolio again from its final checkpoint under its new configuration
    /// (the lease kept) and acknowledges the command.
    ///
    /// # Errors
    /// The worker's own fatal error, or a fatal database or bus failure.
    pub(crate) async fn worker_exited(
        &mut self,
        (id, result): WorkerExit,
        strategies: &StrategyRegistry,
        workers: &mut JoinSet<WorkerExit>,
    ) -> anyhow::Result<()> {
        result?;
        let Some(Slot::Running {
            queue,
            stop,
            epoch,
            reload,
        }) = self.slots.get(&id)
        else {
            return Ok(());
        };
        if !*stop.borrow() {
            return Ok(());
        }
        queue.close();
        let (epoch, reload) = (epoch.load(Ordering::Acquire), reload.clone());
        self.slots.remove(&id);
        if let Ok(mut loads) = self.loads.lock() {
            loads.remove(&id);
        }
        let Some((command_id, asked)) = reload else {
            self.leases.release(&self.rt, &id).await;
            tracing::info!(component = %self.config.id, portfolio = %id, "portfolio given up");
            return Ok(());
        };
        self.slots.insert(
            id.clone(),
            Slot::Starting {
                epoch,
                cancel: watch::channel(false).0,
            },
        );
        self.start_worker(id.clone(), epoch, strategies, workers)
            .await?;
        let outcome = if self.slots.contains_key(&id) {
            tracing::info!(
                component = %self.config.id,
                portfolio = %id,
                "portfolio {id} reloaded in {} ms",
                asked.elapsed().as_millis()
            );
            CommandOutcome::Applied
        } else {
            CommandOutcome::Refused {
                reason: RefusalCode::InvalidConfig,
                detail: "the portfolio could not be restored under its new configuration \
                         (see the portfolio_not_loaded alert)"
                    .into(),
            }
        };
        self.rt
            .acknowledge(command_id, Some(id), outcome)
            .await
            .map_err(|e| fatal("acknowledge a command", &e))?;
        Ok(())
    }

    /// A reload: checks the new configuration against the portfolio's current checkpoint
    /// first (refused with every problem listed, the old one running on, when it does not
    /// build), then stops the worker after its batch in hand; [`Self::worker_exited`] starts it
    /// again.
    ///
    /// # Errors
    /// A fatal database or bus failure.
    pub(crate) async fn reload(
        &mut self,
        id: PortfolioId,
        command_id: String,
        strategies: &StrategyRegistry,
    ) -> anyhow::Result<()> {
        let asked = Instant::now();
        if !matches!(self.slots.get(&id), Some(Slot::Running { .. })) {
            return Ok(()); // Another node's, or starting here (it reads the new config anyway).
        }
        let record = self
            .rt
            .retry("read portfolio", || self.rt.store.get_portfolio(&id))
            .await
            .map_err(|e| fatal("read portfolio", &e))?;
        let problem = match &record {
            None => Some("the portfolio's record is gone".to_owned()),
            Some(record) => super::restore(&self.rt, record, strategies).await.err(),
        };
        if let Some(detail) = problem {
            let outcome = CommandOutcome::Refused {
                reason: RefusalCode::InvalidConfig,
                detail,
            };
            return self
                .rt
                .acknowledge(command_id, Some(id), outcome)
                .await
                .map_err(|e| fatal("acknowledge a command", &e));
        }
        if let Some(Slot::Running { stop, reload, .. }) = self.slots.get_mut(&id) {
            *reload = Some((command_id, asked));
            self.table.remove(&id);
            stop.send_replace(true);
        }
        Ok(())
    }

    /// Registers `records` at start-up (each from the database's assignment).
    pub(crate) fn begin_all(
        &mut self,
        records: &[PortfolioRecord],
        epochs: &BTreeMap<PortfolioId, u64>,
    ) {
        for record in records {
            self.begin(
                record.id.clone(),
                epochs.get(&record.id).copied().unwrap_or(0),
            );
        }
    }
}
