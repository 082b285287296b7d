//! Position snapshots (one per portfolio, symbol and time) and signals (once per id).

use crate::statements::Statement;
use crate::{db_error, from_json, to_json, Db, Query, SqlStore};
use async_trait::async_trait;
use chimera_kernel::ids::{PortfolioId, SignalId, Symbol};
use chimera_kernel::time::Timestamp;
use chimera_ports::{
    Inserted, PortResult, PositionRepository, PositionSnapshot, SignalRecord, SignalRepository,
};
use sqlx::AnyConnection;

/// Binds one signal row of [`SIGNAL_COLUMNS`](crate::statements::SIGNAL_COLUMNS).
pub(crate) fn bind_signal_row<'q>(
    query: Query<'q>,
    signal: &SignalRecord,
) -> PortResult<Query<'q>> {
    Ok(query
        .bind(signal.signal_id.as_str().to_owned())
        .bind(signal.portfolio_id.as_str().to_owned())
        .bind(signal.symbol.as_str().to_owned())
        .bind(signal.ts.0)
        .bind(to_json("signals", &signal.features)?)
        .bind(signal.decision.clone())
        .bind(signal.reason.clone())
        .bind(signal.config_rev.clone())
        .bind(signal.model_p.map(|p| p.to_string()))
        .bind(
            signal
                .detail
                .as_ref()
                .map(|d| to_json("signals", d))
                .transpose()?,
        ))
}

impl SqlStore {
    /// [`PositionRepository::save_snapshot`] on one connection.
    pub(crate) async fn save_snapshot_on(
        &self,
        conn: &mut AnyConnection,
        snapshot: &PositionSnapshot,
    ) -> PortResult<()> {
        sqlx::query::<Db>(&self.sql(
            "INSERT INTO positions_snapshots (portfolio_id, symbol, ts, qty, body) \
             VALUES ($1, $2, $3, $4::numeric, $5::jsonb) ON CONFLICT (portfolio_id, symbol, ts) \
             DO UPDATE SET qty = excluded.qty, body = excluded.body",
        ))
        .bind(snapshot.portfolio_id.as_str().to_owned())
        .bind(snapshot.position.symbol.as_str().to_owned())
        .bind(snapshot.ts.0)
        .bind(snapshot.position.qty.to_string())
        .bind(to_json("positions_snapshots", &snapshot.position)?)
        .execute(&mut *conn)
        .await
        .map_err(|e| db_error("save position snapshot", e))?;
        Ok(())
    }
}

#[async_trait]
impl PositionRepository for SqlStore {
    async fn save_snapshot(&self, snapshot: &PositionSnapshot) -> PortResult<()> {
        let mut conn = self.acquire("save position snapshot").await?;
        self.save_snapshot_on(&mut conn, snapshot).await
    }

    async fn latest_snapshots(&self, portfolio: &PortfolioId) -> PortResult<Vec<PositionSnapshot>> {
        let rows = sqlx::query_as::<Db, (i64, String)>(&self.sql(
            "SELECT s.ts, s.body::text FROM positions_snapshots s \
             WHERE s.portfolio_id = $1 AND s.ts = (SELECT MAX(l.ts) FROM positions_snapshots l \
             WHERE l.portfolio_id = s.portfolio_id AND l.symbol = s.symbol) ORDER BY s.symbol",
        ))
        .bind(portfolio.as_str().to_owned())
        .fetch_all(&self.pool)
        .await
        .map_err(|e| db_error("list position snapshots", e))?;
        rows.into_iter()
            .map(|(ts, body)| {
                Ok(PositionSnapshot {
                    portfolio_id: portfolio.clone(),
                    ts: Timestamp(ts),
                    position: from_json("positions_snapshots", &body)?,
                })
            })
            .collect()
    }
}

#[async_trait]
impl SignalRepository for SqlStore {
    async fn record_signal(&self, signal: &SignalRecord) -> PortResult<Inserted> {
        let statement = self.statement(Statement::InsertSignals(1));
        let result = bind_signal_row(sqlx::query::<Db>(&statement), signal)?
            .execute(&self.pool)
            .await
            .map_err(|e| db_error("insert signal", e))?;
        Ok(crate::inserted(result.rows_affected()))
    }

    async fn get_signal(&self, id: &SignalId) -> PortResult<Option<SignalRecord>> {
        type Row = (
            String,
            String,
            i64,
            String,
            String,
            String,
            String,
            Option<String>,
            Option<String>,
        );
        let row = sqlx::query_as::<Db, Row>(&self.sql(
            "SELECT portfolio_id, symbol, ts, features::text, decision, reason, config_rev, \
             model_p::text, body::text FROM signals WHERE signal_id = $1",
        ))
        .bind(id.as_str().to_owned())
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| db_error("read signal", e))?;
        row.map(
            |(portfolio_id, symbol, ts, features, decision, reason, config_rev, model_p, body)| {
                let model_p = model_p
                    .map(|p| {
                        p.parse::<chimera_kernel::Decimal>().map_err(|e| {
                            chimera_ports::PortError::Codec {
                                message: format!("undecodable signals.model_p {p:?}: {e}"),
                                bytes: p.clone().into_bytes(),
                            }
                        })
                    })
                    .transpose()?;
                let detail = body
                    .map(|b| from_json("signals", &b).map(Box::new))
                    .transpose()?;
                Ok(SignalRecord {
                    signal_id: id.clone(),
                    portfolio_id: PortfolioId::new(portfolio_id),
                    symbol: Symbol::new(symbol),
                    ts: Timestamp(ts),
                    features: from_json("signals", &features)?,
                    decision,
                    reason,
                    config_rev,
                    model_p,
                    detail,
                })
            },
        )
        .transpose()
    }
}
