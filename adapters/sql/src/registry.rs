//! Portfolios with their node assignment, and engine checkpoints with monotonic revisions.

use crate::{db_error, Db, SqlStore};
use async_trait::async_trait;
use chimera_kernel::ids::PortfolioId;
use chimera_kernel::time::Timestamp;
use chimera_ports::{
    Checkpoint, CheckpointRepository, Inserted, PortError, PortResult, PortfolioRecord,
    PortfolioRepository, PortfolioStatus,
};

type PortfolioRow = (String, String, String, Option<String>, i64);

fn portfolio(row: PortfolioRow) -> PortResult<PortfolioRecord> {
    let (id, config, status, node_id, updated_at) = row;
    Ok(PortfolioRecord {
        status: PortfolioStatus::parse(&status).map_err(|message| PortError::Codec {
            message: format!("portfolio {id}: {message}"),
            bytes: status.into_bytes(),
        })?,
        id: PortfolioId::new(id),
        config,
        node_id,
        updated_at: Timestamp(updated_at),
    })
}

#[async_trait]
impl PortfolioRepository for SqlStore {
    async fn upsert_portfolio(&self, record: &PortfolioRecord) -> PortResult<()> {
        sqlx::query::<Db>(&self.sql(
            "INSERT INTO portfolios (id, config, status, node_id, updated_at) \
             VALUES ($1, $2::jsonb, $3, $4, $5) ON CONFLICT (id) DO UPDATE SET \
             config = excluded.config, status = excluded.status, node_id = excluded.node_id, \
             updated_at = excluded.updated_at",
        ))
        .bind(record.id.as_str().to_owned())
        .bind(record.config.clone())
        .bind(record.status.as_str())
        .bind(record.node_id.clone())
        .bind(record.updated_at.0)
        .execute(&self.pool)
        .await
        .map_err(|e| db_error("upsert portfolio", e))?;
        Ok(())
    }

    async fn get_portfolio(&self, id: &PortfolioId) -> PortResult<Option<PortfolioRecord>> {
        sqlx::query_as::<Db, PortfolioRow>(&self.sql(
            "SELECT id, config::text, status, node_id, updated_at FROM portfolios WHERE id = $1",
        ))
        .bind(id.as_str().to_owned())
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| db_error("read portfolio", e))?
        .map(portfolio)
        .transpose()
    }

    async fn portfolios_for_node(&self, node_id: &str) -> PortResult<Vec<PortfolioRecord>> {
        sqlx::query_as::<Db, PortfolioRow>(&self.sql(
            "SELECT id, config::text, status, node_id, updated_at FROM portfolios \
             WHERE node_id = $1 AND status <> 'stopped' ORDER BY id",
        ))
        .bind(node_id.to_owned())
        .fetch_all(&self.pool)
        .await
        .map_err(|e| db_error("list portfolios", e))?
        .into_iter()
        .map(portfolio)
        .collect()
    }

    async fn list_portfolios(&self) -> PortResult<Vec<PortfolioRecord>> {
        sqlx::query_as::<Db, PortfolioRow>(&self.sql(
            "SELECT id, config::text, status, node_id, updated_at FROM portfolios ORDER BY id",
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| db_error("list portfolios", e))?
        .into_iter()
        .map(portfolio)
        .collect()
    }

    async fn assign(&self, id: &PortfolioId, node_id: &str, at: Timestamp) -> PortResult<bool> {
        let result =
            sqlx::query::<Db>("UPDATE portfolios SET node_id = $1, updated_at = $2 WHERE id = $3")
                .bind(node_id.to_owned())
                .bind(at.0)
                .bind(id.as_str().to_owned())
                .execute(&self.pool)
                .await
                .map_err(|e| db_error("assign portfolio", e))?;
        Ok(result.rows_affected() == 1)
    }
}

impl SqlStore {
    /// [`CheckpointRepository::save_checkpoint`] on one connection.
    pub(crate) async fn save_checkpoint_on(
        &self,
        conn: &mut sqlx::AnyConnection,
        checkpoint: &Checkpoint,
    ) -> PortResult<Inserted> {
        let result = sqlx::query::<Db>(
            "INSERT INTO checkpoints (portfolio_id, revision, state, ts) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (portfolio_id) DO UPDATE SET revision = excluded.revision, \
             state = excluded.state, ts = excluded.ts \
             WHERE checkpoints.revision < excluded.revision",
        )
        .bind(checkpoint.portfolio_id.as_str().to_owned())
        .bind(checkpoint.revision)
        .bind(checkpoint.state.clone())
        .bind(checkpoint.ts.0)
        .execute(&mut *conn)
        .await
        .map_err(|e| db_error("save checkpoint", e))?;
        Ok(crate::inserted(result.rows_affected()))
    }
}

#[async_trait]
impl CheckpointRepository for SqlStore {
    async fn save_checkpoint(&self, checkpoint: &Checkpoint) -> PortResult<Inserted> {
        let mut conn = self.acquire("save checkpoint").await?;
        self.save_checkpoint_on(&mut conn, checkpoint).await
    }

    async fn load_checkpoint(&self, id: &PortfolioId) -> PortResult<Option<Checkpoint>> {
        let row = sqlx::query_as::<Db, (i64, String, i64)>(
            "SELECT revision, state, ts FROM checkpoints WHERE portfolio_id = $1",
        )
        .bind(id.as_str().to_owned())
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| db_error("load checkpoint", e))?;
        Ok(row.map(|(revision, state, ts)| Checkpoint {
            portfolio_id: id.clone(),
            revision,
            state,
            ts: Timestamp(ts),
        }))
    }

    async fn checkpoint_revision(&self, id: &PortfolioId) -> PortResult<Option<i64>> {
        let row = sqlx::query_as::<Db, (i64,)>(
            "SELECT revision FROM checkpoints WHERE portfolio_id = $1",
        )
        .bind(id.as_str().to_owned())
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| db_error("read checkpoint revision", e))?;
        Ok(row.map(|(revision,)| revision))
    }

    async fn discard_checkpoint(&self, id: &PortfolioId) -> PortResult<bool> {
        let done = sqlx::query::<Db>("DELETE FROM checkpoints WHERE portfolio_id = $1")
            .bind(id.as_str().to_owned())
            .execute(&self.pool)
            .await
            .map_err(|e| db_error("discard checkpoint", e))?;
        Ok(done.rows_affected() > 0)
    }
}
