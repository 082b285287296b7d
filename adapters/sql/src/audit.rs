//! The audit trail: alerts, dead letters and strategy events, each in its own table.

use crate::statements::{table, Statement};
use crate::{db_error, Db, Query, SqlStore};
use async_trait::async_trait;
use chimera_kernel::time::Timestamp;
use chimera_ports::{AuditKind, AuditQuery, AuditRecord, AuditRepository, Inserted, PortResult};

type Row = (String, String, String, String, i64);

fn records(kind: AuditKind, rows: Vec<Row>) -> Vec<AuditRecord> {
    rows.into_iter()
        .map(|(key, source, category, body, ts)| AuditRecord {
            kind,
            key,
            source,
            category,
            body,
            ts: Timestamp(ts),
        })
        .collect()
}

/// Binds one audit row of [`AUDIT_COLUMNS`](crate::statements::AUDIT_COLUMNS).
pub(crate) fn bind_audit_row<'q>(query: Query<'q>, record: &AuditRecord) -> Query<'q> {
    query
        .bind(record.key.clone())
        .bind(record.source.clone())
        .bind(record.category.clone())
        .bind(record.body.clone())
        .bind(record.ts.0)
}

#[async_trait]
impl AuditRepository for SqlStore {
    async fn record(&self, record: &AuditRecord) -> PortResult<Inserted> {
        let statement = self.statement(Statement::InsertAudit(record.kind, 1));
        let result = bind_audit_row(sqlx::query::<Db>(&statement), record)
            .execute(&self.pool)
            .await
            .map_err(|e| db_error("record audit entry", e))?;
        Ok(crate::inserted(result.rows_affected()))
    }

    async fn recent(&self, kind: AuditKind, limit: u32) -> PortResult<Vec<AuditRecord>> {
        let sql = format!(
            "SELECT key, source, category, body::text, ts FROM {} ORDER BY seq DESC LIMIT $1",
            table(kind)
        );
        let rows = sqlx::query_as::<Db, Row>(&self.sql(&sql))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| db_error("list audit entries", e))?;
        Ok(records(kind, rows))
    }

    async fn query(&self, kind: AuditKind, query: &AuditQuery) -> PortResult<Vec<AuditRecord>> {
        // Optional filters as `($n IS NULL OR column op $n)`: one statement, bound values only.
        let sql = format!(
            "SELECT key, source, category, body::text, ts FROM {} \
             WHERE ($1 IS NULL OR ts >= $1) AND ($2 IS NULL OR ts < $2) \
             AND ($3 IS NULL OR category = $3) AND ($4 IS NULL OR source = $4) \
             ORDER BY ts DESC, seq DESC LIMIT $5",
            table(kind)
        );
        let rows = sqlx::query_as::<Db, Row>(&self.sql(&sql))
            .bind(query.since.map(|t| t.0))
            .bind(query.until.map(|t| t.0))
            .bind(query.category.clone())
            .bind(query.source.clone())
            .bind(i64::from(query.limit))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| db_error("query audit entries", e))?;
        Ok(records(kind, rows))
    }
}
