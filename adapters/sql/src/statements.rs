//! The texts of the store's multi-row writes, made once per shape and kept.
//!
//! Why: a multi-row insert's text depends on its row count, and writing it is not cheap: for
//! each row its placeholders are numbered, then on SQLite its casts are removed and its `$N`s
//! become `?`s ([`SqlStore::sql`]). In the reference `chimera up` that came to 200 million
//! instructions over 500 texts of up to 256 rows, on the runtimes' own thread (the gateway's
//! record writer and the node's checkpoints run there), in polls of up to 150 µs that orders
//! waited behind. [`crate::cached_chunks`] already keeps the shapes few, so each text is
//! written once per store and shared after.

use crate::audit::{table, AUDIT_COLUMNS, AUDIT_ROW};
use crate::orders::{FILL_COLUMNS, FILL_ROW, ORDER_COLUMNS, ORDER_ROW};
use crate::positions::{SIGNAL_COLUMNS, SIGNAL_ROW};
use crate::{for_backend, numbered_rows, Backend, SqlStore};
use chimera_ports::AuditKind;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

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
            Statement::NewTurn { orders, fills } => {
                crate::journal_statement::statement(orders, fills)
            }
        }
    }
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
}
