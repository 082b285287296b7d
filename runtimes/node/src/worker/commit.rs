//! Making a portfolio's progress durable: what its inputs produced, then its checkpoint, then
//! the acknowledgements the checkpoint covers. Amortised: a worker checkpoints at most every
//! `checkpoint_every` (`[node] checkpoint_ms`), once its oldest uncheckpointed input has
//! waited that long, woken by a timer if nothing else comes; an operator's command is answered
//! at once. Nothing is acknowledged before a checkpoint covers it, so a killed node resumes
//! from the checkpoint and re-applies the rest (commands it re-emits carry the same intent
//! ids, which the gateway de-duplicates).
//!
//! Pipelined: a routine checkpoint is built on the worker (a copy of the state, serialised)
//! and written by a task of its own while the worker goes on with its next inputs; what it
//! covers is acknowledged only once it is stored. At most one is in flight: the next waits for
//! it, so checkpoints are stored in revision order. Before, the worker waited for the database
//! (a round trip, more under load), and every input of the portfolio arriving meanwhile waited
//! with it: most of the in-process tick-to-order p99. An operator's command or a status change
//! is still checkpointed and answered before the worker goes on.

use super::{NodeCheckpoint, Worker};
use chimera_kernel::ids::PortfolioId;
use chimera_messages::{AlertCode, AlertLevel, CommandOutcome, StrategyEvent};
use chimera_ports::{
    AuditKind, AuditRecord, Checkpoint, PortfolioRepository, PositionSnapshot, Progress,
    ProgressJournal, SignalRecord,
};
use chimera_runtime::runtime::{fatal, wall_clock, Runtime};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;
use tokio::task::JoinHandle;

/// A checkpoint being stored ([`Worker::begin_commit`]).
pub(crate) type InFlight = JoinHandle<anyhow::Result<()>>;

/// The orders a checkpoint covers never reached the bus: the publisher stopped, and says why
/// ([`super::outbox::Outbox::failed`]).
#[derive(Debug, thiserror::Error)]
#[error("the order publisher stopped")]
struct PublisherStopped;

/// One checkpoint's writes, owned, for the task storing them.
struct Stored {
    signals: Vec<SignalRecord>,
    records: Vec<AuditRecord>,
    snapshots: Vec<PositionSnapshot>,
    checkpoint: Checkpoint,
}

/// What a stored checkpoint releases.
struct Covered {
    /// Operators' commands to answer.
    acks: Vec<(String, CommandOutcome)>,
    /// The inputs' acknowledgement counters.
    inputs: Vec<crate::queue::Pending>,
}

/// Applied but not yet checkpointed.
#[derive(Default)]
pub(crate) struct Uncommitted {
    /// The inputs' acknowledgement counters, released by the checkpoint.
    pub(crate) inputs: Vec<crate::queue::Pending>,
    /// What the engine reported, recorded with the checkpoint.
    pub(crate) events: Vec<StrategyEvent>,
    /// When the oldest uncommitted input was applied (`None`: nothing to commit).
    pub(crate) since: Option<Instant>,
    /// A batch was applied after the portfolio was told to leave: this placement's state must
    /// never be checkpointed again.
    pub(crate) discarded: bool,
}

impl Worker {
    /// Writes what the inputs applied since the last checkpoint produced (strategy events,
    /// signals, changed positions) with the checkpoint, in one unit
    /// ([`ProgressJournal::record_progress`]); then acknowledges what it covers:
    /// control commands on the bus, the inputs to their routers.
    ///
    /// # Errors
    /// A store failure that outlasted the retries, or a newer checkpoint of this portfolio
    /// (another node runs it).
    pub(crate) async fn commit(&mut self, rt: &Arc<Runtime>) -> anyhow::Result<()> {
        self.begin_commit(rt).await?;
        self.settle_commit().await
    }

    /// Starts a checkpoint of what was applied so far (after the one in flight is stored) and
    /// returns while a task of its own stores it: the orders it covers on the bus first, then
    /// the checkpoint with what it records, then the acknowledgements.
    ///
    /// # Errors
    /// The checkpoint before it failed ([`Self::settle_commit`]), the portfolio's status could
    /// not be recorded, or its state could not be serialised.
    pub(crate) async fn begin_commit(&mut self, rt: &Arc<Runtime>) -> anyhow::Result<()> {
        self.settle_commit().await?;
        if self.uncommitted.discarded {
            return Ok(());
        }
        // The orders of what this checkpoint covers go to the bus before it is stored.
        let published = self.outbox.flush_ticket().await?;
        self.record_status(rt).await?;
        let stored = self.progress()?;
        let covered = Covered {
            acks: std::mem::take(&mut self.acks),
            inputs: std::mem::take(&mut self.uncommitted.inputs),
        };
        self.uncommitted.since = None;
        let (rt, id, hops) = (Arc::clone(rt), self.id.clone(), Arc::clone(&self.hops));
        self.in_flight = Some(tokio::spawn(async move {
            let started = Instant::now();
            published.await.map_err(|_| PublisherStopped)?;
            store(&rt, &id, stored).await?;
            for (command_id, outcome) in covered.acks {
                rt.acknowledge(command_id, Some(id.clone()), outcome)
                    .await
                    .map_err(|e| fatal("acknowledge a command", &e))?;
            }
            for pending in covered.inputs {
                pending.fetch_sub(1, Ordering::AcqRel);
            }
            hops.checkpoint.record(started.elapsed());
            Ok(())
        }));
        Ok(())
    }

    /// Waits until the checkpoint in flight, if any, is stored.
    ///
    /// # Errors
    /// It could not be stored (fatal: the worker stops, nothing it covers was acknowledged).
    pub(crate) async fn settle_commit(&mut self) -> anyhow::Result<()> {
        match self.in_flight.take() {
            Some(task) => {
                let outcome = task.await;
                self.settled(outcome)
            }
            None => Ok(()),
        }
    }

    /// The outcome of the checkpoint task: a failed publish of its orders reports the
    /// publisher's own reason.
    pub(crate) fn settled(
        &mut self,
        outcome: Result<anyhow::Result<()>, tokio::task::JoinError>,
    ) -> anyhow::Result<()> {
        match outcome {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) if e.is::<PublisherStopped>() => Err(self.outbox.failed().unwrap_or(e)),
            Ok(Err(e)) => Err(e),
            Err(e) => Err(anyhow::anyhow!("the checkpoint task failed: {e}")),
        }
    }

    /// Whether the work applied so far should be checkpointed now: its oldest input has waited
    /// `checkpoint_every`, or an operator waits for an answer. So a portfolio writes at most
    /// one checkpoint per period however fast its inputs come (under load, and while fills
    /// trickle in), and the checkpoint, which grows with the open orders, stays off the path
    /// from an input to its orders.
    pub(crate) fn commit_due(&self) -> bool {
        let Some(since) = self
            .uncommitted
            .since
            .filter(|_| !self.uncommitted.discarded)
        else {
            return false;
        };
        since.elapsed() >= self.checkpoint_every
            || !self.acks.is_empty()
            || self.status_change.is_some()
    }

    /// The checkpoint of the state now, with what the inputs since the last one produced
    /// (built on the worker: a copy, so the worker may go on while it is stored).
    fn progress(&mut self) -> anyhow::Result<Stored> {
        let events = &mut self.uncommitted.events;
        let ts = if self.clock.0 > 0 {
            self.clock
        } else {
            wall_clock()
        };
        let mut signals = Vec::new();
        let mut records = Vec::new();
        for (i, event) in events.drain(..).enumerate() {
            if let StrategyEvent::Decision(decision) = &event {
                signals.push(SignalRecord::from_decision(decision));
                continue;
            }
            records.push(AuditRecord {
                kind: AuditKind::StrategyEvent,
                key: format!("{}:{}:{i}", self.id, self.revision + 1),
                source: self.id.as_str().to_owned(),
                category: event.category().into(),
                body: serde_json::to_string(&event)?,
                ts,
            });
        }
        // Only positions that changed since the last checkpoint are written (and copied).
        let portfolio = self.set.engine(0).portfolio();
        let snapshots: Vec<PositionSnapshot> = portfolio
            .positions
            .iter()
            .filter(|(symbol, position)| self.saved_positions.get(*symbol) != Some(*position))
            .map(|(_, position)| PositionSnapshot {
                portfolio_id: self.id.clone(),
                ts,
                position: position.clone(),
            })
            .collect();
        let state = NodeCheckpoint {
            engine: self.set.engine(0).snapshot(),
            applied: self.applied.clone(),
            last_bar: self.last_bar.clone(),
            clock: self.clock.0,
            features: if self.set.features().is_empty() {
                None
            } else {
                self.set.save_features().ok()
            },
        };
        self.revision += 1;
        let checkpoint = Checkpoint {
            portfolio_id: self.id.clone(),
            revision: self.revision,
            state: serde_json::to_string(&state)?,
            ts,
        };
        // Counted as saved now: a checkpoint that fails to store stops the worker.
        for snapshot in &snapshots {
            self.saved_positions
                .insert(snapshot.position.symbol.clone(), snapshot.position.clone());
        }
        self.stats.checkpoints.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut e) = self.stats.equity.lock() {
            *e = self.set.engine(0).portfolio().equity().to_string();
        }
        Ok(Stored {
            signals,
            records,
            snapshots,
            checkpoint,
        })
    }

    /// Records a status a control command set, before the checkpoint that covers it.
    async fn record_status(&mut self, rt: &Runtime) -> anyhow::Result<()> {
        let Some(status) = self.status_change.take() else {
            return Ok(());
        };
        let store = &rt.store;
        let record = rt
            .retry("read portfolio", || store.get_portfolio(&self.id))
            .await
            .map_err(|e| fatal("read portfolio", &e))?;
        // A redelivered command finds the status already recorded: nothing to say again.
        if let Some(mut record) = record.filter(|r| r.status != status) {
            record.status = status;
            record.updated_at = wall_clock();
            rt.retry("record portfolio status", || {
                store.upsert_portfolio(&record)
            })
            .await
            .map_err(|e| fatal("record portfolio status", &e))?;
            rt.alert(
                AlertLevel::Warning,
                AlertCode::PortfolioStatus,
                format!("portfolio {} is now {}", self.id, status.as_str()),
                Some(self.id.clone()),
            );
        }
        Ok(())
    }
}

/// Stores one checkpoint with what it records, in one unit: one commit per checkpoint, and all
/// of it or none after a crash.
///
/// # Errors
/// A store failure that outlasted the retries, or a newer checkpoint of portfolio `id`
/// (another node runs it).
async fn store(rt: &Runtime, id: &PortfolioId, stored: Stored) -> anyhow::Result<()> {
    let progress = Progress {
        signals: &stored.signals,
        events: &stored.records,
        snapshots: &stored.snapshots,
        checkpoint: &stored.checkpoint,
    };
    let inserted = rt
        .retry("checkpoint", || rt.store.record_progress(progress))
        .await
        .map_err(|e| fatal("checkpoint", &e))?;
    if inserted == chimera_ports::Inserted::Duplicate {
        anyhow::bail!(
            "portfolio {id}: a newer checkpoint exists (revision ≥ {}); another node runs it, stopping",
            stored.checkpoint.revision
        );
    }
    Ok(())
}
