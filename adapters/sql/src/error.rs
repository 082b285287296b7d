//! The adapter's errors, and their one mapping into [`PortError`].

use chimera_ports::PortError;

/// What went wrong setting up or talking to the database.
#[derive(Debug, thiserror::Error)]
pub enum SqlAdapterError {
    /// The configuration was rejected.
    #[error(transparent)]
    Config(#[from] crate::SqlConfigError),
    /// The database could not be reached or created.
    #[error("cannot connect to {url}: {source}")]
    Connect {
        /// The URL, password redacted.
        url: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// The embedded schema could not be applied.
    /// A query failed outside any repository operation (e.g. a health check).
    #[error("{operation} failed: {source}")]
    Query {
        /// What was attempted.
        operation: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    #[error("cannot apply the schema: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Classifies a driver error for the caller: connection trouble and pool time-outs are
/// transient; everything else (a constraint the code did not expect, a bad query) is fatal.
pub(crate) fn port_error(operation: &'static str, source: sqlx::Error) -> PortError {
    let transient = matches!(
        source,
        sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Tls(_)
    ) || matches!(&source, sqlx::Error::Database(db) if db.code().is_some_and(|c| {
        // PostgreSQL: serialization failure, deadlock, too many connections, shutting down;
        // SQLite: busy, locked.
        matches!(c.as_ref(), "40001" | "40P01" | "53300" | "57P01" | "57P03" | "5" | "6")
    }));
    PortError::from_client(transient, operation, source)
}
