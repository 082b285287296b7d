//! The audit trail: alerts, dead letters and strategy events, each in its own table.

use crate::{db_error, Db, SqlStore};
use async_trait::async_trait;
use chimera_kernel::time::Timestamp;
use chimera_ports::{AuditKind, AuditRecord, AuditRepository, Inserted, PortResult};

fn table(kind: AuditKind) -> &'static str {
    match kind {
        AuditKind::Alert => "alerts",
        AuditKind::DeadLetter => "dead_letters",
        AuditKind::StrategyEvent => "strategy_events",
    }
}

#[async_trait]
impl AuditRepository for SqlStore {
    async fn record(&self, record: &AuditRecord) -> PortResult<Inserted> {
        let sql = format!(
            "INSERT INTO {} (key, source, category, body, ts) VALUES ($1, $2, $3, $4::jsonb, $5) \
             ON CONFLICT (key) DO NOTHING",
            table(record.kind)
        );
        let result = sqlx::query::<Db>(&self.sql(&sql))
            .bind(record.key.clone())
            .bind(record.source.clone())
            .bind(record.category.clone())
            .bind(record.body.clone())
            .bind(record.ts.0)
            .execute(&self.pool)
            .await
            .map_err(|e| db_error("record audit entry", e))?;
        Ok(if result.rows_affected() == 1 {
            Inserted::New
        } else {
            Inserted::Duplicate
        })
    }

    async fn recent(&self, kind: AuditKind, limit: u32) -> PortResult<Vec<AuditRecord>> {
        let sql = format!(
            "SELECT key, source, category, body::text, ts FROM {} ORDER BY seq DESC LIMIT $1",
            table(kind)
        );
        let rows = sqlx::query_as::<Db, (String, String, String, String, i64)>(&self.sql(&sql))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| db_error("list audit entries", e))?;
        Ok(rows
            .into_iter()
            .map(|(key, source, category, body, ts)| AuditRecord {
                kind,
                key,
                source,
                category,
                body,
                ts: Timestamp(ts),
            })
            .collect())
    }
}
