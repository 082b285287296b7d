//! One leader's work: feed the kernel's [`Schedule`] with heartbeats, time and the database's
//! portfolio list, keep its state in the shared store, and carry out what changed (the
//! database's assignment, `schedule.updates`, alerts).
//!
//! Order of effects for each change set: the state is saved first, then the database and the
//! bus are told. A leader that dies in between leaves a saved state whose updates were not all
//! published; the next leader republishes every placement when it takes over, and nodes and
//! gateway treat a repeated update as a no-op.

use chimera_kernel::ids::PortfolioId;
use chimera_kernel::schedule::{Change, Schedule, ScheduleInput};
use chimera_messages::{
    decode, AlertCode, AlertLevel, Heartbeat, MessageType, ScheduleUpdate, Topic,
    SCHEDULE_STATE_KEY,
};
use chimera_ports::{
    Delivery, PortfolioRecord, PortfolioRepository, PortfolioStatus, Subscription,
};
use chimera_runtime::runtime::{fatal, wall_clock, Runtime, SharedState};
use chimera_runtime::scheduler_config::SchedulerConfig;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The leader's state between steps.
pub struct Placement {
    pub(crate) rt: Arc<Runtime>,
    pub(crate) state: SharedState,
    config: SchedulerConfig,
    schedule: Schedule,
    heartbeats: Box<dyn Subscription>,
    pub(crate) commands: Box<dyn Subscription>,
    /// Portfolios are placed only after this (a fresh schedule first hears the nodes out).
    warm_at: Instant,
    pub(crate) last_refresh: Option<Instant>,
    /// Changes carried out since the leader started.
    pub changes: u64,
}

impl Placement {
    /// Takes over: reads the saved schedule (or starts one), gives every live node a fresh
    /// heartbeat (the time the scheduler was away is not theirs), and republishes every
    /// placement.
    ///
    /// # Errors
    /// The shared store or the bus failing, or an unreadable saved state.
    pub async fn take_over(
        rt: Arc<Runtime>,
        state: SharedState,
        config: SchedulerConfig,
    ) -> anyhow::Result<Self> {
        let saved = rt
            .retry("read schedule", || state.store.get(SCHEDULE_STATE_KEY))
            .await
            .map_err(|e| fatal("read schedule", &e))?;
        let dead_after = Duration::from_millis(config.dead_after_ms);
        let (mut schedule, warm_at) = match saved {
            Some(bytes) => (
                serde_json::from_slice::<Schedule>(&bytes)
                    .map_err(|e| anyhow::anyhow!("the saved schedule is unreadable: {e}"))?,
                Instant::now(),
            ),
            None => (
                Schedule::new(i64::try_from(config.dead_after_ms).unwrap_or(i64::MAX)),
                Instant::now() + dead_after,
            ),
        };
        let now = wall_clock();
        let live: Vec<(String, u32)> = schedule
            .nodes()
            .iter()
            .filter(|(_, n)| !n.dead)
            .map(|(id, n)| (id.clone(), n.capacity))
            .collect();
        for (node, capacity) in live {
            schedule.handle(&ScheduleInput::Heartbeat { node, capacity }, now);
        }
        let heartbeats = rt
            .bus
            .subscribe(
                &rt.topics.name(Topic::SystemEvents),
                &rt.topics.group("scheduler.heartbeats"),
            )
            .await?;
        let commands = rt
            .bus
            .subscribe(
                &rt.topics.name(Topic::ControlCommands),
                &rt.topics.group("scheduler.control"),
            )
            .await?;
        let mut me = Self {
            rt,
            state,
            config,
            schedule,
            heartbeats,
            commands,
            warm_at,
            last_refresh: None,
            changes: 0,
        };
        me.save().await?;
        let placed: Vec<(PortfolioId, String, u64)> = me
            .schedule
            .placements()
            .iter()
            .filter_map(|(id, p)| p.as_ref().map(|p| (id.clone(), p.node.clone(), p.epoch)))
            .collect();
        for (portfolio, node, epoch) in placed {
            me.announce(&portfolio, Some(node), Some(epoch), "scheduler took over")
                .await?;
        }
        Ok(me)
    }

    /// The schedule now.
    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// One round: heartbeats in, deaths declared, the portfolio list read when due; what
    /// changed is saved and carried out.
    ///
    /// # Errors
    /// The shared store, the database or the bus failing.
    pub async fn step(&mut self) -> anyhow::Result<()> {
        let mut changes = Vec::new();
        let acks = self.take_heartbeats(&mut changes).await?;
        changes.extend(
            self.schedule
                .handle(&ScheduleInput::Tick, wall_clock())
                .into_iter()
                .map(|c| (c, "fail-over")),
        );
        let due = self
            .last_refresh
            .is_none_or(|at| at.elapsed() >= Duration::from_millis(self.config.refresh_ms));
        if Instant::now() >= self.warm_at && due {
            self.last_refresh = Some(Instant::now());
            self.refresh(&mut changes).await?;
        }
        if !changes.is_empty() {
            self.save().await?;
            self.carry_out(&changes).await?;
            self.changes += changes.len() as u64;
        }
        ack_newest(&mut self.heartbeats, &acks, &self.rt.source).await;
        self.take_commands().await
    }

    /// Heartbeats published since the last look; ones older than the dead-node timeout are
    /// history (a new group reads from the start) and revive nothing.
    async fn take_heartbeats(
        &mut self,
        changes: &mut Vec<(Change, &'static str)>,
    ) -> anyhow::Result<Vec<Delivery>> {
        let horizon = wall_clock().0 - i64::try_from(self.config.dead_after_ms).unwrap_or(0);
        let ready = ready(&mut self.heartbeats, 10_000, "poll heartbeats").await?;
        for d in &ready {
            // Other system events fail to decode as heartbeats: not for the scheduler.
            if let Ok(env) = decode::<Heartbeat>(&d.payload, MessageType::SystemEvent) {
                if env.ts.0 >= horizon && env.payload.capacity > 0 {
                    let input = ScheduleInput::Heartbeat {
                        node: env.payload.node,
                        capacity: env.payload.capacity,
                    };
                    changes.extend(
                        self.schedule
                            .handle(&input, env.ts)
                            .into_iter()
                            .map(|c| (c, "rebalancing")),
                    );
                }
            }
        }
        Ok(ready)
    }

    /// Portfolios the database lists (not stopped) join the schedule, where they run now when
    /// that node has room; stopped or deleted ones leave it.
    async fn refresh(&mut self, changes: &mut Vec<(Change, &'static str)>) -> anyhow::Result<()> {
        let store = &self.rt.store;
        let records = self
            .rt
            .retry("list portfolios", || store.list_portfolios())
            .await
            .map_err(|e| fatal("list portfolios", &e))?;
        let now = wall_clock();
        let wanted: BTreeSet<&PortfolioId> = records
            .iter()
            .filter(|r| r.status != PortfolioStatus::Stopped)
            .map(|r| &r.id)
            .collect();
        let gone: Vec<PortfolioId> = self
            .schedule
            .placements()
            .keys()
            .filter(|id| !wanted.contains(id))
            .cloned()
            .collect();
        for portfolio in gone {
            let input = ScheduleInput::RemovePortfolio { portfolio };
            changes.extend(
                self.schedule
                    .handle(&input, now)
                    .into_iter()
                    .map(|c| (c, "portfolio stopped")),
            );
        }
        for record in records.iter().filter(|r| wanted.contains(&r.id)) {
            if self.schedule.placements().contains_key(&record.id) {
                continue;
            }
            let input = ScheduleInput::AddPortfolio {
                portfolio: record.id.clone(),
                prefer: record.node_id.clone(),
            };
            changes.extend(
                self.schedule
                    .handle(&input, now)
                    .into_iter()
                    .map(|c| (c, "new portfolio")),
            );
        }
        Ok(())
    }

    /// Applies an operator's instruction (migrate, drain); returns what changed.
    ///
    /// # Errors
    /// As [`Self::step`].
    pub async fn command(&mut self, input: &ScheduleInput) -> anyhow::Result<Vec<Change>> {
        let changes = self.schedule.handle(input, wall_clock());
        if !changes.is_empty() {
            self.save().await?;
            let tagged: Vec<(Change, &str)> =
                changes.iter().map(|c| (c.clone(), "operator")).collect();
            self.carry_out(&tagged).await?;
            self.changes += changes.len() as u64;
        }
        Ok(changes)
    }

    async fn save(&mut self) -> anyhow::Result<()> {
        let bytes = serde_json::to_vec(&self.schedule)?;
        self.rt
            .retry("save schedule", || {
                self.state.store.set(SCHEDULE_STATE_KEY, &bytes, None)
            })
            .await
            .map_err(|e| fatal("save schedule", &e))?;
        Ok(())
    }

    /// Carries out saved changes: first what the nodes act on (the schedule updates, each a
    /// publish), then the bookkeeping (database records, alerts), so a failed-over portfolio
    /// starts on its new node without waiting for the records of the others.
    async fn carry_out(&mut self, changes: &[(Change, &str)]) -> anyhow::Result<()> {
        for (change, reason) in changes {
            match change {
                Change::Assigned {
                    portfolio,
                    placement,
                } => {
                    tracing::info!(
                        component = %self.rt.source,
                        "portfolio {portfolio} assigned to {} (epoch {}; {reason})",
                        placement.node,
                        placement.epoch
                    );
                    let (node, epoch) = (Some(placement.node.clone()), Some(placement.epoch));
                    self.announce(portfolio, node, epoch, reason).await?;
                }
                // Re-placed in the same change set: the assignment says so (and tells the
                // portfolio's previous node too).
                Change::Unassigned { portfolio, .. } if !self.placed(portfolio) => {
                    self.announce(portfolio, None, None, reason).await?;
                }
                _ => {}
            }
        }
        for (change, _) in changes {
            match change {
                Change::Assigned {
                    portfolio,
                    placement,
                } => {
                    self.record_assignment(portfolio, Some(&placement.node))
                        .await?;
                }
                Change::Unassigned { portfolio, .. } if !self.placed(portfolio) => {
                    self.record_assignment(portfolio, None).await?;
                }
                Change::Unassigned { .. } => {}
                Change::NodeDead { node } => {
                    self.rt.alert(
                        AlertLevel::Critical,
                        AlertCode::SchedulerChanged,
                        format!(
                            "node {node} missed its heartbeats for {} ms: declared dead, \
                                 its portfolios move",
                            self.config.dead_after_ms
                        ),
                        None,
                    );
                }
                Change::Refused { input, reason } => {
                    tracing::warn!(component = %self.rt.source, "refused {input:?}: {reason:?}");
                }
            }
        }
        Ok(())
    }

    /// Whether `portfolio` is placed on a node now.
    fn placed(&self, portfolio: &PortfolioId) -> bool {
        self.schedule
            .placements()
            .get(portfolio)
            .is_some_and(Option::is_some)
    }

    /// Writes where the portfolio runs into its database record (`None`: nowhere), so a node
    /// that restarts loads what it is assigned.
    async fn record_assignment(
        &mut self,
        portfolio: &PortfolioId,
        node: Option<&str>,
    ) -> anyhow::Result<()> {
        let store = &self.rt.store;
        let record = self
            .rt
            .retry("read portfolio", || store.get_portfolio(portfolio))
            .await
            .map_err(|e| fatal("read portfolio", &e))?;
        let Some(record) = record else {
            return Ok(());
        };
        if record.node_id.as_deref() == node {
            return Ok(());
        }
        let updated = PortfolioRecord {
            node_id: node.map(str::to_owned),
            updated_at: wall_clock(),
            ..record
        };
        self.rt
            .retry("record assignment", || store.upsert_portfolio(&updated))
            .await
            .map_err(|e| fatal("record assignment", &e))?;
        Ok(())
    }

    async fn announce(
        &mut self,
        portfolio: &PortfolioId,
        node: Option<String>,
        epoch: Option<u64>,
        reason: &str,
    ) -> anyhow::Result<()> {
        let update = ScheduleUpdate {
            portfolio_id: portfolio.clone(),
            node_id: node,
            reason: reason.to_owned(),
            epoch,
        };
        let id = format!(
            "sched:{portfolio}:{}:{}",
            epoch.unwrap_or(0),
            wall_clock().0
        );
        self.rt
            .publish(
                Topic::ScheduleUpdates,
                MessageType::ScheduleUpdate,
                id,
                portfolio.as_str(),
                &update,
            )
            .await
            .map_err(|e| fatal("publish schedule update", &e))?;
        Ok(())
    }
}

/// What `sub` has ready now, at most `max`, without waiting (a transient failure ends the
/// batch: the rest comes next round).
///
/// # Errors
/// A fatal bus failure.
pub(crate) async fn ready(
    sub: &mut Box<dyn Subscription>,
    max: usize,
    what: &'static str,
) -> anyhow::Result<Vec<Delivery>> {
    let mut ready = Vec::new();
    while ready.len() < max {
        match sub.poll(Duration::ZERO).await {
            Ok(Some(d)) => ready.push(d),
            Ok(None) => break,
            Err(e) if e.is_transient() => break,
            Err(e) => return Err(fatal(what, &e)),
        }
    }
    Ok(ready)
}

/// Acknowledges the newest of `deliveries` in each partition. A failure is only logged: the
/// messages come again, and the scheduler's handling of them is idempotent.
pub(crate) async fn ack_newest(
    sub: &mut Box<dyn Subscription>,
    deliveries: &[Delivery],
    source: &str,
) {
    let newest: BTreeMap<i32, &Delivery> = deliveries.iter().map(|d| (d.partition, d)).collect();
    for d in newest.values() {
        if let Err(e) = sub.ack(d).await {
            tracing::warn!(component = %source, "acknowledge {}: {e}", d.topic);
        }
    }
}
