//! Making a portfolio's progress durable: what its inputs produced, then its checkpoint, then
//! the acknowledgements the checkpoint covers. Amortised: a worker checkpoints at most every
//! `checkpoint_every` (`[node] checkpoint_ms`), once its oldest uncheckpointed input has
//! waited that long, woken by a timer if nothing else comes; an operator's command is answered
//! at once. Nothing is acknowledged before a checkpoint covers it, so a killed node resumes
//! from the checkpoint and re-applies the rest (commands it re-emits carry the same intent
//! ids, which the gateway de-duplicates).

use super::{NodeCheckpoint, Worker};
use chimera_messages::{AlertCode, AlertLevel, StrategyEvent};
use chimera_ports::{
    AuditKind, AuditRecord, Checkpoint, PortfolioRepository, PositionSnapshot, Progress,
    ProgressJournal,
};
use chimera_runtime::runtime::{fatal, wall_clock, Runtime};
use std::sync::atomic::Ordering;
use std::time::Instant;

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
    pub(crate) async fn commit(&mut self, rt: &Runtime) -> anyhow::Result<()> {
        if self.uncommitted.discarded {
            return Ok(());
        }
        // The orders of what this checkpoint covers are on the bus before it is written.
        self.outbox.flush().await?;
        self.persist(rt).await?;
        for (command_id, outcome) in std::mem::take(&mut self.acks) {
            rt.acknowledge(command_id, Some(self.id.clone()), outcome)
                .await
                .map_err(|e| fatal("acknowledge a command", &e))?;
        }
        for pending in self.uncommitted.inputs.drain(..) {
            pending.fetch_sub(1, Ordering::AcqRel);
        }
        self.uncommitted.since = None;
        Ok(())
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

    async fn persist(&mut self, rt: &Runtime) -> anyhow::Result<()> {
        self.record_status(rt).await?;
        let store = &rt.store;
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
                signals.push(chimera_ports::SignalRecord::from_decision(decision));
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
        // Everything in one unit: one commit per checkpoint, and all of it or none after a crash.
        let progress = Progress {
            signals: &signals,
            events: &records,
            snapshots: &snapshots,
            checkpoint: &checkpoint,
        };
        let stored = rt
            .retry("checkpoint", || store.record_progress(progress))
            .await
            .map_err(|e| fatal("checkpoint", &e))?;
        if stored == chimera_ports::Inserted::Duplicate {
            anyhow::bail!(
                "portfolio {}: a newer checkpoint exists (revision ≥ {}); another node runs it, stopping",
                self.id,
                self.revision
            );
        }
        for snapshot in snapshots {
            self.saved_positions
                .insert(snapshot.position.symbol.clone(), snapshot.position);
        }
        self.stats.checkpoints.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut e) = self.stats.equity.lock() {
            *e = self.set.engine(0).portfolio().equity().to_string();
        }
        Ok(())
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
            )
            .await;
        }
        Ok(())
    }
}
