//! [`ProgressJournal`]: what a portfolio's inputs produced since its last checkpoint, made
//! durable together with the checkpoint that covers them.
//!
//! Why: a node used to write each signal and strategy event on its own, then the position
//! snapshots, then the checkpoint — a commit per record, each waiting for the database's
//! write lock. One unit per checkpoint pays the commit once, and a crash leaves either the
//! whole progress or none of it.

use crate::{
    AuditRecord, AuditRepository, Checkpoint, CheckpointRepository, Inserted, PortResult,
    PositionRepository, PositionSnapshot, SignalRecord, SignalRepository,
};
use async_trait::async_trait;

/// A portfolio's progress since its last checkpoint, and the checkpoint.
#[derive(Debug, Clone, Copy)]
pub struct Progress<'a> {
    /// Decisions, each stored once by signal id.
    pub signals: &'a [SignalRecord],
    /// Strategy events and other audit entries, each stored once by key.
    pub events: &'a [AuditRecord],
    /// Positions that changed, one per `(portfolio, symbol, ts)`.
    pub snapshots: &'a [PositionSnapshot],
    /// The checkpoint that covers them.
    pub checkpoint: &'a Checkpoint,
}

/// Makes a portfolio's progress durable as one unit.
#[async_trait]
pub trait ProgressJournal:
    SignalRepository + AuditRepository + PositionRepository + CheckpointRepository
{
    /// Stores `progress`: its records as their own repositories do (idempotent by their keys)
    /// and its checkpoint as [`CheckpointRepository::save_checkpoint`]. Returns the
    /// checkpoint's outcome: [`Inserted::Duplicate`] when a checkpoint of that revision or a
    /// newer one exists (another writer owns the portfolio); a store with transactions then
    /// stores nothing of `progress`. The default writes one record after the other.
    ///
    /// # Errors
    /// [`crate::PortError::Transient`] when the store is unreachable (nothing stored, in a
    /// transactional store, so `progress` may be written again);
    /// [`crate::PortError::Codec`] when a record cannot be encoded.
    async fn record_progress(&self, progress: Progress<'_>) -> PortResult<Inserted> {
        for signal in progress.signals {
            self.record_signal(signal).await?;
        }
        for event in progress.events {
            self.record(event).await?;
        }
        for snapshot in progress.snapshots {
            self.save_snapshot(snapshot).await?;
        }
        self.save_checkpoint(progress.checkpoint).await
    }
}
