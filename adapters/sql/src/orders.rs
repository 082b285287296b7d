//! Orders (every state, never regressed) and fills (unique by venue trade id).

use crate::statements::Statement;
use crate::{canonical, db_error, from_canonical, from_json, to_json, Db, Query, SqlStore};
use async_trait::async_trait;
use chimera_kernel::ids::{ClientOrderId, PortfolioId, Symbol};
use chimera_kernel::order::{Order, Side};
use chimera_kernel::time::Timestamp;
use chimera_ports::{FillRecord, FillRepository, Inserted, OrderRepository, PortError, PortResult};
use sqlx::AnyConnection;

/// Optimistic-concurrency retries before an order update gives up as transient.
const MAX_UPDATE_ATTEMPTS: usize = 8;

/// Binds one order row of [`ORDER_COLUMNS`](crate::statements::ORDER_COLUMNS) (its status,
/// terminal flag and body encoded).
pub(crate) fn bind_order_row<'q>(
    query: Query<'q>,
    order: &Order,
    status: &str,
    terminal: i64,
    body: &str,
) -> Query<'q> {
    query
        .bind(order.intent.client_order_id.as_str().to_owned())
        .bind(order.intent.intent_id.as_str().to_owned())
        .bind(order.intent.portfolio_id.as_str().to_owned())
        .bind(order.intent.symbol.as_str().to_owned())
        .bind(status.to_owned())
        .bind(terminal)
        .bind(order.filled_qty.get().to_string())
        .bind(order.intent.created_at.0)
        .bind(order.updated_at.0)
        .bind(body.to_owned())
}

/// Encodes `order` and binds it as one row of
/// [`ORDER_COLUMNS`](crate::statements::ORDER_COLUMNS) (for an insert that runs once; a retried
/// update encodes once and calls [`bind_order_row`]).
pub(crate) fn bind_encoded_order_row<'q>(query: Query<'q>, order: &Order) -> PortResult<Query<'q>> {
    let body = to_json("orders", order)?;
    let status = canonical(&order.status)?;
    let terminal = i64::from(order.status.is_terminal());
    Ok(bind_order_row(query, order, &status, terminal, &body))
}

/// Binds one fill row of [`FILL_COLUMNS`](crate::statements::FILL_COLUMNS).
pub(crate) fn bind_fill_row<'q>(query: Query<'q>, record: &FillRecord) -> PortResult<Query<'q>> {
    let costs = record.costs.as_ref();
    Ok(query
        .bind(record.fill.trade_id.as_str().to_owned())
        .bind(record.portfolio_id.as_str().to_owned())
        .bind(record.client_order_id.as_str().to_owned())
        .bind(record.symbol.as_str().to_owned())
        .bind(canonical(&record.side)?)
        .bind(record.fill.price.get().to_string())
        .bind(record.fill.qty.get().to_string())
        .bind(record.ts.0)
        .bind(to_json("fills", &record.fill)?)
        .bind(canonical(&record.fill.liquidity)?)
        .bind(record.fill.fee.amount.to_string())
        .bind(record.fill.fee.asset.as_str().to_owned())
        .bind(costs.map(|c| c.sent_at.0))
        .bind(costs.and_then(|c| c.ack_ms))
        .bind(costs.map(|c| c.fill_ms))
        .bind(costs.and_then(|c| c.mid_at_send).map(|d| d.to_string()))
        .bind(costs.and_then(|c| c.slippage_bps).map(|d| d.to_string()))
        .bind(costs.map(|c| to_json("fills", c)).transpose()?))
}

impl SqlStore {
    /// [`OrderRepository::upsert_order`] on one connection (a pooled one, or a transaction's).
    pub(crate) async fn upsert_order_on(
        &self,
        conn: &mut AnyConnection,
        order: &Order,
    ) -> PortResult<()> {
        let body = to_json("orders", order)?;
        let status = canonical(&order.status)?;
        let terminal = i64::from(order.status.is_terminal());
        for _ in 0..MAX_UPDATE_ATTEMPTS {
            let inserted = bind_order_row(
                sqlx::query::<Db>(&self.statement(Statement::InsertOrder)),
                order,
                &status,
                terminal,
                &body,
            )
            .execute(&mut *conn)
            .await
            .map_err(|e| db_error("insert order", e))?;
            if inserted.rows_affected() == 1 {
                return Ok(());
            }
            let (stored_body, version): (String, i64) = sqlx::query_as::<Db, (String, i64)>(
                &self.sql("SELECT body::text, version FROM orders WHERE client_order_id = $1"),
            )
            .bind(order.intent.client_order_id.as_str().to_owned())
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| db_error("read order", e))?;
            let stored: Order = from_json("orders", &stored_body)?;
            if stored == *order || !order.supersedes(&stored) {
                return Ok(());
            }
            let updated = sqlx::query::<Db>(&self.sql(
                "UPDATE orders SET status = $1, terminal = $2, filled_qty = $3::numeric, \
                 updated_at = $4, body = $5::jsonb, version = version + 1 \
                 WHERE client_order_id = $6 AND version = $7",
            ))
            .bind(status.clone())
            .bind(terminal)
            .bind(order.filled_qty.get().to_string())
            .bind(order.updated_at.0)
            .bind(body.clone())
            .bind(order.intent.client_order_id.as_str().to_owned())
            .bind(version)
            .execute(&mut *conn)
            .await
            .map_err(|e| db_error("update order", e))?;
            if updated.rows_affected() == 1 {
                return Ok(());
            }
            // Someone else updated it between our read and write: decide again.
        }
        Err(PortError::transient(
            "update order",
            format!(
                "order {} kept changing under {MAX_UPDATE_ATTEMPTS} attempts",
                order.intent.client_order_id
            ),
        ))
    }

    /// [`FillRepository::record_fill`] on one connection.
    pub(crate) async fn record_fill_on(
        &self,
        conn: &mut AnyConnection,
        record: &FillRecord,
    ) -> PortResult<Inserted> {
        let result = bind_fill_row(
            sqlx::query::<Db>(&self.statement(Statement::InsertFills(1))),
            record,
        )?
        .execute(&mut *conn)
        .await
        .map_err(|e| db_error("insert fill", e))?;
        Ok(crate::inserted(result.rows_affected()))
    }

    pub(crate) async fn acquire(
        &self,
        operation: &'static str,
    ) -> PortResult<sqlx::pool::PoolConnection<Db>> {
        self.pool
            .acquire()
            .await
            .map_err(|e| db_error(operation, e))
    }
}

#[async_trait]
impl OrderRepository for SqlStore {
    async fn upsert_order(&self, order: &Order) -> PortResult<()> {
        let mut conn = self.acquire("insert order").await?;
        self.upsert_order_on(&mut conn, order).await
    }

    async fn get_order(&self, id: &ClientOrderId) -> PortResult<Option<Order>> {
        let row = sqlx::query_as::<Db, (String,)>(
            &self.sql("SELECT body::text FROM orders WHERE client_order_id = $1"),
        )
        .bind(id.as_str().to_owned())
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| db_error("read order", e))?;
        row.map(|(body,)| from_json("orders", &body)).transpose()
    }

    async fn open_orders(&self, portfolio: &PortfolioId) -> PortResult<Vec<Order>> {
        let rows = sqlx::query_as::<Db, (String,)>(&self.sql(
            "SELECT body::text FROM orders WHERE portfolio_id = $1 AND terminal = 0 \
             ORDER BY created_at, seq",
        ))
        .bind(portfolio.as_str().to_owned())
        .fetch_all(&self.pool)
        .await
        .map_err(|e| db_error("list open orders", e))?;
        rows.iter()
            .map(|(body,)| from_json("orders", body))
            .collect()
    }
}

#[async_trait]
impl FillRepository for SqlStore {
    async fn record_fill(&self, record: &FillRecord) -> PortResult<Inserted> {
        let mut conn = self.acquire("insert fill").await?;
        self.record_fill_on(&mut conn, record).await
    }

    async fn fills(&self, portfolio: &PortfolioId) -> PortResult<Vec<FillRecord>> {
        type Row = (String, String, String, i64, String, Option<String>);
        let rows = sqlx::query_as::<Db, Row>(&self.sql(
            "SELECT client_order_id, symbol, side, ts, body::text, costs::text FROM fills \
             WHERE portfolio_id = $1 ORDER BY seq",
        ))
        .bind(portfolio.as_str().to_owned())
        .fetch_all(&self.pool)
        .await
        .map_err(|e| db_error("list fills", e))?;
        rows.into_iter()
            .map(|(client_order_id, symbol, side, ts, body, costs)| {
                Ok(FillRecord {
                    portfolio_id: portfolio.clone(),
                    client_order_id: ClientOrderId::new(client_order_id),
                    symbol: Symbol::new(symbol),
                    side: from_canonical::<Side>("fills", &side)?,
                    fill: from_json("fills", &body)?,
                    ts: Timestamp(ts),
                    costs: costs.map(|c| from_json("fills", &c)).transpose()?,
                })
            })
            .collect()
    }

    async fn fill_count(&self, portfolio: &PortfolioId) -> PortResult<u64> {
        let count: i64 = sqlx::query_scalar::<Db, i64>(
            &self.sql("SELECT COUNT(*) FROM fills WHERE portfolio_id = $1"),
        )
        .bind(portfolio.as_str().to_owned())
        .fetch_one(&self.pool)
        .await
        .map_err(|e| db_error("count fills", e))?;
        Ok(u64::try_from(count).unwrap_or(0))
    }
}
