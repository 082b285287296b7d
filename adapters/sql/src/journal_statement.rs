//! A gateway turn whose orders are all new, written on PostgreSQL by one statement.
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

use crate::orders::{
    bind_encoded_order_row, bind_fill_row, FILL_COLUMNS, FILL_ROW, ORDER_COLUMNS, ORDER_ROW,
};
use crate::statements::Statement;
use crate::{db_error, numbered_rows_from, Db, SqlStore};
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

/// The statement for `orders` order rows and `fills` fill rows. It returns one row: how many
/// of the orders were already stored, how many it inserted, and how many fills were new.
///
/// The `WITH` parts share one snapshot, so `existing` sees the tables as they were before the
/// statement; the inserts read it, which is the only way one part can depend on another.
pub(crate) fn statement(orders: usize, fills: usize) -> String {
    let per_order = ORDER_ROW.matches('?').count();
    let mut parts = Vec::new();
    let (existing, inserted_orders, not_existing) = if orders == 0 {
        ("0", "0", String::new())
    } else {
        parts.push(format!(
            "incoming_orders ({ORDER_COLUMNS}) AS (VALUES {})",
            numbered_rows_from(ORDER_ROW, orders, 1)
        ));
        parts.push(
            "existing AS (SELECT o.client_order_id FROM orders o \
             JOIN incoming_orders i ON o.client_order_id = i.client_order_id)"
                .to_owned(),
        );
        parts.push(format!(
            "new_orders AS (INSERT INTO orders ({ORDER_COLUMNS}) \
             SELECT * FROM incoming_orders WHERE NOT EXISTS (SELECT 1 FROM existing) \
             ON CONFLICT (client_order_id) DO NOTHING RETURNING 1)"
        ));
        (
            "(SELECT count(*) FROM existing)",
            "(SELECT count(*) FROM new_orders)",
            " WHERE NOT EXISTS (SELECT 1 FROM existing)".to_owned(),
        )
    };
    let new_fills = if fills == 0 {
        "0"
    } else {
        parts.push(format!(
            "new_fills AS (INSERT INTO fills ({FILL_COLUMNS}) \
             SELECT * FROM (VALUES {}) AS incoming_fills ({FILL_COLUMNS}){not_existing} \
             ON CONFLICT (trade_id) DO NOTHING RETURNING 1)",
            numbered_rows_from(FILL_ROW, fills, 1 + per_order * orders)
        ));
        "(SELECT count(*) FROM new_fills)"
    };
    format!(
        "WITH {} SELECT {existing}, {inserted_orders}, {new_fills}",
        parts.join(", ")
    )
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

#[cfg(test)]
mod tests {
    use super::statement;

    #[test]
    fn fills_are_numbered_after_the_orders() {
        let sql = statement(2, 1);
        assert!(sql.contains("$19, 1, $20::jsonb)"), "{sql}");
        assert!(sql.contains("(VALUES ($21, "), "{sql}");
        assert!(sql.contains("$38::jsonb)"), "{sql}");
        assert!(!sql.contains("$39"), "{sql}");
    }

    #[test]
    fn a_batch_without_orders_or_without_fills_leaves_that_part_out() {
        let only_fills = statement(0, 2);
        assert!(!only_fills.contains("existing"), "{only_fills}");
        assert!(only_fills.starts_with("WITH new_fills"), "{only_fills}");
        let only_orders = statement(1, 0);
        assert!(!only_orders.contains("new_fills"), "{only_orders}");
        assert!(only_orders.ends_with("(SELECT count(*) FROM new_orders), 0"));
    }
}
