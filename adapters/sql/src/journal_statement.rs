//! A gateway turn whose orders are all new, written on PostgreSQL by one statement (its text is
//! [`Statement::NewTurn`]).
//!
//! Why: on the live path the gateway waits for its turn's records before it publishes the
//! turn's reports, so the write sits inside order-to-fill latency. The transaction of
//! [`crate::journal`] costs four round trips (`BEGIN`, the orders, the fills, `COMMIT`); a
//! single statement outside an explicit transaction is atomic by itself and costs one.
//!
//! The statement inserts the orders and fills only when none of the orders is stored yet (the
//! common case: an order is usually accepted and filled in the turn that sent it). A stored
//! order must be compared with the incoming state by [`chimera_kernel::order::Order::supersedes`],
//! which lives in Rust, not SQL; so when any order exists the statement writes nothing and
//! says so, and the caller takes the transaction path. That keeps the port's promise: after
//! a crash, all of a batch is stored or none of it.
//!
//! PostgreSQL only: SQLite has no data-modifying `WITH`, and its writes are in-process calls
//! rather than network round trips.

use crate::orders::{bind_encoded_order_row, bind_fill_row};
use crate::statements::Statement;
use crate::{db_error, Db, SqlStore};
use chimera_kernel::order::Order;
use chimera_ports::{FillRecord, PortResult};
use sqlx::Row;
use std::collections::HashSet;

/// What the one-statement write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OneStatement {
    /// An order of the batch was already stored: nothing was written.
    NotAllNew,
    /// The fills were written (`new_fills` of them new) and every order was inserted, unless
    /// `raced`: another writer inserted one of them between the statement's snapshot and its
    /// insert, so that order still needs the compare-and-update path.
    Written { new_fills: usize, raced: bool },
}

/// Whether a batch can take the one-statement path: at least one record, distinct order ids
/// (a later state of the same order must be compared with the earlier one), and few enough
/// rows to stay far below PostgreSQL's 65,535 bound parameters.
pub(crate) fn fits_one_statement(orders: &[Order], fills: &[FillRecord], max_rows: usize) -> bool {
    if orders.len() > max_rows || fills.len() > max_rows {
        return false;
    }
    if orders.is_empty() && fills.is_empty() {
        return false;
    }
    let mut seen = HashSet::with_capacity(orders.len());
    orders
        .iter()
        .all(|o| seen.insert(o.intent.client_order_id.as_str()))
}

impl SqlStore {
    /// Writes `orders` (all expected new, distinct) and `fills` in one statement, or nothing
    /// when an order is already stored. Check [`fits_one_statement`] first.
    ///
    /// # Errors
    /// A transient error when the database is unreachable (nothing is then written, the
    /// statement being atomic); a codec error when a record cannot be encoded.
    pub(crate) async fn record_new_in_one_statement(
        &self,
        orders: &[Order],
        fills: &[FillRecord],
    ) -> PortResult<OneStatement> {
        let written = self.statement(Statement::NewTurn {
            orders: orders.len(),
            fills: fills.len(),
        });
        let mut query = sqlx::query::<Db>(&written);
        for order in orders {
            query = bind_encoded_order_row(query, order)?;
        }
        for fill in fills {
            query = bind_fill_row(query, fill)?;
        }
        let row = query
            .fetch_one(&self.pool)
            .await
            .map_err(|e| db_error("record execution", e))?;
        let count = |at: usize| {
            row.try_get::<i64, _>(at)
                .map(|n| usize::try_from(n).unwrap_or(0))
                .map_err(|e| db_error("record execution", e))
        };
        let (existing, inserted, new_fills) = (count(0)?, count(1)?, count(2)?);
        if existing > 0 {
            return Ok(OneStatement::NotAllNew);
        }
        Ok(OneStatement::Written {
            new_fills,
            raced: inserted < orders.len(),
        })
    }
}
