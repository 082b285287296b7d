//! [`ExecutionJournal`] on SQL: a gateway turn's orders and fills in one transaction, with
//! multi-row inserts.
//!
//! Why multi-row: on SQLite each statement is a round trip to the connection's worker thread,
//! and a turn's orders are nearly all new (an order is usually accepted and filled within the
//! turn that sent it), so one `INSERT … ON CONFLICT DO NOTHING RETURNING` per chunk stores them
//! and names the few that already existed; only those take the read-compare-update path of
//! [`chimera_ports::OrderRepository::upsert_order`]. Fills are one insert per chunk.
//!
//! On PostgreSQL a batch of new orders skips the transaction: [`crate::journal_statement`]
//! writes it in one statement, one round trip instead of four.

use crate::journal_statement::{fits_one_statement, OneStatement};
use crate::orders::{bind_encoded_order_row, bind_fill_row};
use crate::statements::Statement;
use crate::{cached_chunks, db_error, Backend, Db, SqlStore};
use async_trait::async_trait;
use chimera_kernel::order::Order;
use chimera_ports::{ExecutionJournal, FillRecord, PortResult};
use sqlx::{AnyConnection, Row};
use std::collections::HashSet;

/// Rows per statement at most, a power of two ([`cached_chunks`]): well under SQLite's 32,766
/// and PostgreSQL's 65,535 bound parameters (18 per fill row).
const CHUNK: usize = 256;

/// One transaction per batch: on SQLite one write lock and one WAL commit for a whole gateway
/// turn instead of one per record. On PostgreSQL a batch whose orders are all new is one
/// statement instead (`journal_statement.rs`); the transaction stays for the rest.
#[async_trait]
impl ExecutionJournal for SqlStore {
    async fn record_execution(&self, orders: &[Order], fills: &[FillRecord]) -> PortResult<usize> {
        if orders.is_empty() && fills.is_empty() {
            return Ok(0);
        }
        if self.backend == Backend::Postgres && fits_one_statement(orders, fills, CHUNK) {
            match self.record_new_in_one_statement(orders, fills).await? {
                OneStatement::Written {
                    new_fills,
                    raced: false,
                } => return Ok(new_fills),
                // Another writer stored one of the orders meanwhile: the fills and the other
                // orders are written; compare that one with what it stored.
                OneStatement::Written {
                    new_fills,
                    raced: true,
                } => return Ok(new_fills + self.record_in_transaction(orders, &[]).await?),
                OneStatement::NotAllNew => {}
            }
        }
        self.record_in_transaction(orders, fills).await
    }
}

impl SqlStore {
    /// The general path: every chunk of orders and fills in one transaction, orders already
    /// stored taking the compare-and-update path.
    async fn record_in_transaction(
        &self,
        orders: &[Order],
        fills: &[FillRecord],
    ) -> PortResult<usize> {
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(|e| db_error("begin execution batch", e))?;
        let mut first_seen = HashSet::new();
        for chunk in cached_chunks(self.backend, orders, CHUNK) {
            let inserted = self.insert_new_orders(&mut tx, chunk).await?;
            for order in chunk {
                let id = order.intent.client_order_id.as_str();
                // Inserted just now by this row, unless an earlier row of the batch was it.
                if first_seen.insert(id) && inserted.contains(id) {
                    continue;
                }
                self.upsert_order_on(&mut tx, order).await?;
            }
        }
        let mut new = 0;
        for chunk in cached_chunks(self.backend, fills, CHUNK) {
            new += self.insert_fills(&mut tx, chunk).await?;
        }
        tx.commit()
            .await
            .map_err(|e| db_error("commit execution batch", e))?;
        Ok(new)
    }

    /// Inserts the orders not stored yet; returns the client order ids it inserted.
    async fn insert_new_orders(
        &self,
        conn: &mut AnyConnection,
        orders: &[Order],
    ) -> PortResult<HashSet<String>> {
        let statement = self.statement(Statement::NewOrders(orders.len()));
        let mut query = sqlx::query::<Db>(&statement);
        for order in orders {
            query = bind_encoded_order_row(query, order)?;
        }
        let rows = query
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| db_error("insert orders", e))?;
        rows.iter()
            .map(|row| row.try_get::<String, _>(0))
            .collect::<Result<_, _>>()
            .map_err(|e| db_error("insert orders", e))
    }

    /// Inserts the fills not stored yet (by trade id); returns how many were new.
    async fn insert_fills(
        &self,
        conn: &mut AnyConnection,
        fills: &[FillRecord],
    ) -> PortResult<usize> {
        let statement = self.statement(Statement::InsertFills(fills.len()));
        let mut query = sqlx::query::<Db>(&statement);
        for fill in fills {
            query = bind_fill_row(query, fill)?;
        }
        let done = query
            .execute(&mut *conn)
            .await
            .map_err(|e| db_error("insert fills", e))?;
        Ok(usize::try_from(done.rows_affected()).unwrap_or(usize::MAX))
    }
}
