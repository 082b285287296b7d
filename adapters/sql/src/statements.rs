//! The store's writes as text: each table's columns and row of placeholders, and the texts of
//! the multi-row writes, made once per shape and kept.
//!
//! Why: a multi-row insert's text depends on its row count, and writing it is not cheap: for
//! each row its placeholders are numbered, then on SQLite its casts are removed and its `$N`s
//! become `?`s ([`SqlStore::sql`]). In the reference `chimera up` that came to 200 million
//! instructions over 500 texts of up to 256 rows, on the runtimes' own thread (the gateway's
//! record writer and the node's checkpoints run there), in polls of up to 150 µs that orders
//! waited behind. [`crate::cached_chunks`] already keeps the shapes few, so each text is
//! written once per store and shared after.

use crate::{for_backend, numbered_rows, numbered_rows_from, Backend, SqlStore};
use chimera_ports::AuditKind;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The columns an order row is inserted with ([`crate::orders::bind_order_row`] binds them in
/// this order).
pub(crate) const ORDER_COLUMNS: &str = "client_order_id, intent_id, portfolio_id, symbol, status, \
     terminal, filled_qty, created_at, updated_at, version, body";
/// The columns a fill row is inserted with ([`crate::orders::bind_fill_row`] binds them in
/// this order).
pub(crate) const FILL_COLUMNS: &str = "trade_id, portfolio_id, client_order_id, symbol, side, \
     price, qty, ts, body, liquidity, fee, fee_asset, sent_at, ack_ms, fill_ms, mid_at_send, \
     slippage_bps, costs";

/// One row of [`ORDER_COLUMNS`] placeholders, `?` standing for each bound value (the
/// version is 1).
pub(crate) const ORDER_ROW: &str = "(?, ?, ?, ?, ?, ?, ?::numeric, ?, ?, 1, ?::jsonb)";
/// One row of [`FILL_COLUMNS`] placeholders.
pub(crate) const FILL_ROW: &str =
    "(?, ?, ?, ?, ?, ?::numeric, ?::numeric, ?, ?::jsonb, ?, ?::numeric, ?, ?, \
     ?, ?, ?::numeric, ?::numeric, ?::jsonb)";

/// The columns a signal row is inserted with ([`crate::positions::bind_signal_row`] binds them
/// in this order).
pub(crate) const SIGNAL_COLUMNS: &str = "signal_id, portfolio_id, symbol, ts, features, decision, \
     reason, config_rev, model_p, body";
/// One row of [`SIGNAL_COLUMNS`] placeholders.
pub(crate) const SIGNAL_ROW: &str = "(?, ?, ?, ?, ?::jsonb, ?, ?, ?, ?::numeric, ?::jsonb)";

/// The columns an audit row is inserted with ([`crate::audit::bind_audit_row`] binds them in
/// this order).
pub(crate) const AUDIT_COLUMNS: &str = "key, source, category, body, ts";
/// One row of [`AUDIT_COLUMNS`] placeholders.
pub(crate) const AUDIT_ROW: &str = "(?, ?, ?, ?::jsonb, ?)";

/// The table of an audit kind.
pub(crate) fn table(kind: AuditKind) -> &'static str {
    match kind {
        AuditKind::Alert => "alerts",
        AuditKind::DeadLetter => "dead_letters",
        AuditKind::StrategyEvent => "strategy_events",
        AuditKind::ApiCall => "api_audit",
    }
}

/// Texts kept at most: more shapes than any chunking here makes (on PostgreSQL, a chunk of
/// every row count up to 256 for each table); one beyond is written each time it is used.
const KEPT: usize = 2_048;

/// A multi-row write, by its shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Statement {
    /// `n` order rows inserted unless stored, returning the ids inserted.
    NewOrders(usize),
    /// One order row inserted unless stored (the upsert's first attempt).
    InsertOrder,
    /// `n` fill rows inserted unless stored (by trade id).
    InsertFills(usize),
    /// `n` signal rows inserted unless stored (by signal id).
    InsertSignals(usize),
    /// `n` rows of an audit table inserted unless stored (by key).
    InsertAudit(AuditKind, usize),
    /// A PostgreSQL turn of new orders and their fills in one statement
    /// ([`crate::journal_statement`]).
    NewTurn { orders: usize, fills: usize },
}

impl Statement {
    /// The text in PostgreSQL's dialect.
    fn write(self) -> String {
        match self {
            Statement::NewOrders(n) => format!(
                "INSERT INTO orders ({ORDER_COLUMNS}) VALUES {} \
                 ON CONFLICT (client_order_id) DO NOTHING RETURNING client_order_id",
                numbered_rows(ORDER_ROW, n)
            ),
            Statement::InsertOrder => format!(
                "INSERT INTO orders ({ORDER_COLUMNS}) VALUES {} \
                 ON CONFLICT (client_order_id) DO NOTHING",
                numbered_rows(ORDER_ROW, 1)
            ),
            Statement::InsertFills(n) => format!(
                "INSERT INTO fills ({FILL_COLUMNS}) VALUES {} ON CONFLICT (trade_id) DO NOTHING",
                numbered_rows(FILL_ROW, n)
            ),
            Statement::InsertSignals(n) => format!(
                "INSERT INTO signals ({SIGNAL_COLUMNS}) VALUES {} \
                 ON CONFLICT (signal_id) DO NOTHING",
                numbered_rows(SIGNAL_ROW, n)
            ),
            Statement::InsertAudit(kind, n) => format!(
                "INSERT INTO {} ({AUDIT_COLUMNS}) VALUES {} ON CONFLICT (key) DO NOTHING",
                table(kind),
                numbered_rows(AUDIT_ROW, n)
            ),
            Statement::NewTurn { orders, fills } => new_turn(orders, fills),
        }
    }
}

/// [`Statement::NewTurn`] (see [`crate::journal_statement`]): the statement for `orders` order
/// rows and `fills` fill rows. It returns one row: how many of the orders were already stored,
/// how many it inserted, and how many fills were new.
///
/// The `WITH` parts share one snapshot, so `existing` sees the tables as they were before the
/// statement; the inserts read it, which is the only way one part can depend on another.
fn new_turn(orders: usize, fills: usize) -> String {
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

/// The texts written so far, shared by a store's clones.
#[derive(Debug, Default)]
pub(crate) struct StatementTexts {
    kept: Mutex<HashMap<Statement, Arc<str>>>,
}

impl StatementTexts {
    /// The text of `statement` as `backend` runs it, written the first time.
    pub(crate) fn get(&self, backend: Backend, statement: Statement) -> Arc<str> {
        let lock = || {
            self.kept
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        };
        if let Some(text) = lock().get(&statement) {
            return Arc::clone(text);
        }
        let text: Arc<str> = Arc::from(for_backend(backend, &statement.write()).as_ref());
        let mut kept = lock();
        if kept.len() < KEPT {
            kept.insert(statement, Arc::clone(&text));
        }
        text
    }
}

impl SqlStore {
    /// The text of `statement` as this store's backend runs it, written the first time.
    pub(crate) fn statement(&self, statement: Statement) -> Arc<str> {
        self.texts.get(self.backend, statement)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use new_turn as statement;

    #[test]
    fn a_text_is_written_once_and_shared() {
        let texts = StatementTexts::default();
        let first = texts.get(Backend::Sqlite, Statement::InsertFills(4));
        let again = texts.get(Backend::Sqlite, Statement::InsertFills(4));
        assert!(
            Arc::ptr_eq(&first, &again),
            "the text written first is kept"
        );
        assert_ne!(first, texts.get(Backend::Sqlite, Statement::InsertFills(2)));
    }

    #[test]
    fn texts_are_the_backends_own() {
        let alerts = Statement::InsertAudit(AuditKind::Alert, 2);
        let sqlite = StatementTexts::default().get(Backend::Sqlite, alerts);
        assert_eq!(
            &*sqlite,
            "INSERT INTO alerts (key, source, category, body, ts) VALUES (?, ?, ?, ?, ?), \
             (?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING"
        );
        let postgres = StatementTexts::default().get(Backend::Postgres, alerts);
        assert_eq!(
            &*postgres,
            "INSERT INTO alerts (key, source, category, body, ts) VALUES ($1, $2, $3, $4::jsonb, \
             $5), ($6, $7, $8, $9::jsonb, $10) ON CONFLICT (key) DO NOTHING"
        );
    }

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

    #[test]
    fn rows_are_numbered_across_the_statement() {
        assert_eq!(
            crate::numbered_rows(ORDER_ROW, 2),
            "($1, $2, $3, $4, $5, $6, $7::numeric, $8, $9, 1, $10::jsonb), \
             ($11, $12, $13, $14, $15, $16, $17::numeric, $18, $19, 1, $20::jsonb)"
        );
        assert_eq!(crate::numbered_rows(FILL_ROW, 3).matches('$').count(), 54);
    }
}
