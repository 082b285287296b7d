//! [`ProgressJournal`] on SQL: a portfolio's signals, strategy events, position snapshots and
//! checkpoint in one transaction, signals and events as multi-row inserts; rolled back when the
//! checkpoint turns out stale (another node owns the portfolio).

use crate::audit::bind_audit_row;
use crate::positions::bind_signal_row;
use crate::statements::Statement;
use crate::{cached_chunks, db_error, Db, SqlStore};
use async_trait::async_trait;
use chimera_ports::{AuditKind, AuditRecord, Inserted, PortResult, Progress, ProgressJournal};
use sqlx::AnyConnection;

/// Rows per statement at most, a power of two ([`cached_chunks`]; 10 bound values per signal
/// row).
const CHUNK: usize = 256;

#[async_trait]
impl ProgressJournal for SqlStore {
    async fn record_progress(&self, progress: Progress<'_>) -> PortResult<Inserted> {
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(|e| db_error("begin progress", e))?;
        // The checkpoint first: a stale writer finds out before writing anything else.
        let stored = self
            .save_checkpoint_on(&mut tx, progress.checkpoint)
            .await?;
        if stored == Inserted::Duplicate {
            tx.rollback()
                .await
                .map_err(|e| db_error("roll back progress", e))?;
            return Ok(Inserted::Duplicate);
        }
        for chunk in cached_chunks(self.backend, progress.signals, CHUNK) {
            let sql = self.statement(Statement::InsertSignals(chunk.len()));
            let mut query = sqlx::query::<Db>(&sql);
            for signal in chunk {
                query = bind_signal_row(query, signal)?;
            }
            query
                .execute(&mut *tx)
                .await
                .map_err(|e| db_error("insert signals", e))?;
        }
        // One statement per table, each kind in the order it first appears.
        let mut kinds: Vec<AuditKind> = Vec::new();
        for event in progress.events {
            if !kinds.contains(&event.kind) {
                kinds.push(event.kind);
            }
        }
        for kind in kinds {
            let of_kind: Vec<&AuditRecord> =
                progress.events.iter().filter(|e| e.kind == kind).collect();
            for chunk in cached_chunks(self.backend, &of_kind, CHUNK) {
                self.insert_audit(&mut tx, kind, chunk).await?;
            }
        }
        for snapshot in progress.snapshots {
            self.save_snapshot_on(&mut tx, snapshot).await?;
        }
        tx.commit()
            .await
            .map_err(|e| db_error("commit progress", e))?;
        Ok(Inserted::New)
    }
}

impl SqlStore {
    async fn insert_audit(
        &self,
        conn: &mut AnyConnection,
        kind: AuditKind,
        records: &[&AuditRecord],
    ) -> PortResult<()> {
        let sql = self.statement(Statement::InsertAudit(kind, records.len()));
        let mut query = sqlx::query::<Db>(&sql);
        for record in records {
            query = bind_audit_row(query, record);
        }
        query
            .execute(&mut *conn)
            .await
            .map_err(|e| db_error("record audit entries", e))?;
        Ok(())
    }
}
