//! # chimera-sql
//!
//! Every repository port on SQL through sqlx: PostgreSQL for production, SQLite as the
//! embedded default (a single file, no server). One [`SqlStore`] implements the order, fill,
//! position, signal, portfolio, checkpoint and audit repositories over one connection pool.
//!
//! The schema ships inside the binary (`migrations/postgres`, `migrations/sqlite`) and is
//! applied by [`SqlStore::connect`]. Writes are idempotent, keyed by the design's idempotency
//! keys (client order id, venue trade id, `(portfolio, symbol, ts)`, signal id, checkpoint
//! revision, audit key), so replays after a crash never duplicate a record.
//!
//! Columns are typed for analysts: on PostgreSQL prices, quantities and money are `NUMERIC`
//! and structured bodies `JSONB` (`SELECT sum(qty) FROM fills WHERE side = 'SELL'`,
//! `body->>'reason'`); enumerations are stored by their canonical (serde) spelling, the same on
//! both backends (`orders.status = 'filled'`, `fills.side = 'BUY'`). SQLite keeps its own
//! affinities: decimals stay exact `TEXT` and JSON stays `TEXT` (`json_extract`). Checkpoint
//! states stay `TEXT` on both: opaque snapshots, restored byte for byte.
//!
//! Both backends run the same queries through sqlx's `Any` driver (`$n` placeholders,
//! `ON CONFLICT` upserts), written in PostgreSQL's dialect with `::numeric`, `::jsonb` and
//! `::text` casts that `SqlStore::sql` removes for SQLite; only the DDL differs.

mod audit;
mod config;
mod error;
mod journal;
mod journal_statement;
mod orders;
mod positions;
mod progress;
mod provision;
mod registry;
mod statements;
mod tokens;
mod treasury;

pub use config::{Backend, SqlConfig, SqlConfigError};
pub use error::SqlAdapterError;
pub use provision::recreate_postgres_database;

use error::port_error;
use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;

/// Every repository port over one SQL connection pool.
#[derive(Clone)]
pub struct SqlStore {
    pool: AnyPool,
    backend: Backend,
    /// The multi-row writes' texts, written once ([`statements`]).
    texts: std::sync::Arc<statements::StatementTexts>,
}

impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl SqlStore {
    /// Connects (creating the SQLite file when missing) and applies the embedded migrations.
    ///
    /// # Errors
    /// [`SqlAdapterError::Config`] for an invalid config (every bad field listed),
    /// [`SqlAdapterError::Connect`] when the database cannot be reached or created, and
    /// [`SqlAdapterError::Migrate`] when the schema cannot be applied.
    pub async fn connect(config: &SqlConfig) -> Result<Self, SqlAdapterError> {
        let backend = config.validate()?;
        sqlx::any::install_default_drivers();
        let url = config.connect_url();
        let sqlite = backend == Backend::Sqlite;
        let pool = AnyPoolOptions::new()
            .max_connections(config.pool_size(backend))
            .acquire_timeout(std::time::Duration::from_millis(config.acquire_timeout_ms))
            // sqlx pings every connection it hands out by default: one more round trip per
            // transaction, a fifth of the gateway's write per turn. A connection that broke
            // while idle fails its first statement instead, with an I/O error, which is
            // transient: the caller's retry takes another connection.
            .test_before_acquire(false)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if sqlite {
                        // Write-ahead log, synced at checkpoints: a committed write survives a
                        // killed process (what crash recovery relies on) without an fsync per
                        // transaction; readers do not block the writer.
                        for pragma in [
                            "PRAGMA journal_mode = WAL",
                            "PRAGMA synchronous = NORMAL",
                            "PRAGMA busy_timeout = 5000",
                        ] {
                            sqlx::query(pragma).execute(&mut *conn).await?;
                        }
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .map_err(|source| SqlAdapterError::Connect {
                url: config.redacted_url(),
                source,
            })?;
        let migrator = match backend {
            Backend::Postgres => sqlx::migrate!("./migrations/postgres"),
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite"),
        };
        // Two processes starting on a fresh SQLite file (a node and `chimera ctl`, say) may both
        // see a migration as pending; the loser fails on a table the winner just made. Running
        // the migrator again then finds it applied. (PostgreSQL serialises migrators itself.)
        let mut attempt = 0;
        loop {
            match migrator.run(&pool).await {
                Ok(()) => break,
                Err(_) if sqlite && attempt < 5 => {
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(50 * attempt)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(Self {
            pool,
            backend,
            texts: std::sync::Arc::default(),
        })
    }

    /// Which database this store talks to.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The underlying pool, for queries the ports do not cover (reports, tools, tests).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Decodes a JSON document stored in `table`, as a [`chimera_ports::PortError::Codec`] when it
/// is not what was written.
impl SqlStore {
    /// `SELECT 1`: proves the database answers (start-up and health checks).
    ///
    /// # Errors
    /// [`SqlAdapterError::Query`] when it does not.
    pub async fn ping(&self) -> Result<(), SqlAdapterError> {
        sqlx::query::<Db>("SELECT 1")
            .execute(&self.pool)
            .await
            .map(drop)
            .map_err(|source| SqlAdapterError::Query {
                operation: "ping",
                source,
            })
    }

    /// `statement` for this store's backend ([`for_backend`]).
    pub(crate) fn sql<'a>(&self, statement: &'a str) -> std::borrow::Cow<'a, str> {
        for_backend(self.backend, statement)
    }
}

/// `statement` for `backend`: as written (PostgreSQL, with its `::numeric`, `::jsonb` and
/// `::text` casts between the `Any` driver's text parameters and the typed columns), or with
/// those casts removed (SQLite, whose affinities keep the text as it is).
///
/// On SQLite, `$1, $2, …` written in order, each once, become anonymous `?`s: SQLite keeps
/// named parameters in a list it searches linearly, when preparing and again for each value
/// bound, so a multi-row insert of thousands of `$N`s costs time quadratic in them.
pub(crate) fn for_backend(backend: Backend, statement: &str) -> std::borrow::Cow<'_, str> {
    match backend {
        Backend::Postgres => std::borrow::Cow::Borrowed(statement),
        Backend::Sqlite => {
            let plain = statement
                .replace("::numeric", "")
                .replace("::jsonb", "")
                .replace("::text", "");
            std::borrow::Cow::Owned(anonymous_parameters(&plain).unwrap_or(plain))
        }
    }
}

/// `statement` with its `$N` parameters replaced by `?`, when they appear as `$1`, `$2`, … in
/// order, each once (binding in order then means the same); `None` otherwise.
fn anonymous_parameters(statement: &str) -> Option<String> {
    let bytes = statement.as_bytes();
    let mut out = String::with_capacity(statement.len());
    let (mut expected, mut copied, mut i) = (1_u64, 0, 0);
    while i < bytes.len() {
        if bytes[i] != b'$' {
            i += 1;
            continue;
        }
        let digits = bytes[i + 1..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if digits == 0 {
            i += 1;
            continue;
        }
        let number: u64 = statement[i + 1..i + 1 + digits].parse().ok()?;
        if number != expected {
            return None;
        }
        expected += 1;
        out.push_str(&statement[copied..i]);
        out.push('?');
        i += 1 + digits;
        copied = i;
    }
    out.push_str(&statement[copied..]);
    Some(out)
}

/// The canonical spelling of an enumeration: its serde name (`filled`, `BUY`), with no JSON
/// quotes, as stored in enumeration columns.
pub(crate) fn canonical<T: serde::Serialize + std::fmt::Debug>(
    value: &T,
) -> chimera_ports::PortResult<String> {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => Ok(name),
        _ => Err(chimera_ports::PortError::Codec {
            message: format!("{value:?} has no canonical name"),
            bytes: Vec::new(),
        }),
    }
}

/// Reads an enumeration column written by [`canonical`].
pub(crate) fn from_canonical<T: serde::de::DeserializeOwned>(
    table: &str,
    name: &str,
) -> chimera_ports::PortResult<T> {
    serde_json::from_value(serde_json::Value::String(name.to_owned())).map_err(|e| {
        chimera_ports::PortError::Codec {
            message: format!("undecodable {table} row: {e}"),
            bytes: name.as_bytes().to_vec(),
        }
    })
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(
    table: &str,
    text: &str,
) -> chimera_ports::PortResult<T> {
    serde_json::from_str(text).map_err(|e| chimera_ports::PortError::Codec {
        message: format!("undecodable {table} row: {e}"),
        bytes: text.as_bytes().to_vec(),
    })
}

/// Encodes a document for storage.
pub(crate) fn to_json<T: serde::Serialize>(
    table: &str,
    value: &T,
) -> chimera_ports::PortResult<String> {
    serde_json::to_string(value).map_err(|e| chimera_ports::PortError::Codec {
        message: format!("cannot encode {table} row: {e}"),
        bytes: Vec::new(),
    })
}

pub(crate) type Db = sqlx::Any;
/// A statement with its bound values.
pub(crate) type Query<'q> = sqlx::query::Query<'q, Db, sqlx::any::AnyArguments<'q>>;

/// `n` copies of `row` joined by commas, its `?`s numbered `$1`, `$2`, … across all of them.
pub(crate) fn numbered_rows(row: &str, n: usize) -> String {
    numbered_rows_from(row, n, 1)
}

/// `items` split into chunks of at most `max` rows for multi-row statements. On SQLite their
/// sizes are powers of two, largest first (`max` itself one): 90 rows go as 64, 16, 8 and 2.
/// On PostgreSQL a chunk is as large as allowed, as each statement is a round trip.
///
/// Why: a multi-row statement's text depends on its row count, and the connection caches a
/// prepared statement by its text. Chunks of any size made nearly every write a statement to
/// parse again: on SQLite, where a statement is a call rather than a round trip, parsing was
/// 314 of the 812 million instructions of its thread in the reference `chimera up` (a
/// gateway's gathered records are a statement of some hundred rows). With these sizes there
/// are at most `log2(max) + 1` texts per table, each parsed once per connection.
pub(crate) fn cached_chunks<T>(
    backend: Backend,
    items: &[T],
    max: usize,
) -> impl Iterator<Item = &[T]> {
    let mut rest = items;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let size = match backend {
            Backend::Sqlite => max.min(1 << rest.len().ilog2()),
            Backend::Postgres => max.min(rest.len()),
        };
        let (chunk, after) = rest.split_at(size);
        rest = after;
        Some(chunk)
    })
}

/// [`numbered_rows`] with the first `?` numbered `$first` (for a statement whose earlier
/// parts bind `first - 1` values).
pub(crate) fn numbered_rows_from(row: &str, n: usize, first: usize) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity((row.len() + 8) * n);
    let mut next = first;
    for r in 0..n {
        if r > 0 {
            out.push_str(", ");
        }
        for c in row.chars() {
            if c == '?' {
                let _ = write!(out, "${next}"); // writing to a String cannot fail
                next += 1;
            } else {
                out.push(c);
            }
        }
    }
    out
}

pub(crate) use port_error as db_error;

/// What an `INSERT … ON CONFLICT DO NOTHING` (or a guarded upsert) of one row did: a row
/// written is new, none is a duplicate.
pub(crate) fn inserted(rows: u64) -> chimera_ports::Inserted {
    if rows == 0 {
        chimera_ports::Inserted::Duplicate
    } else {
        chimera_ports::Inserted::New
    }
}

#[cfg(test)]
mod tests {
    use super::{anonymous_parameters, cached_chunks, numbered_rows, Backend};

    #[test]
    fn sqlite_chunks_are_powers_of_two_largest_first_in_order() {
        let sizes = |backend, n: usize| -> Vec<usize> {
            let rows: Vec<usize> = (0..n).collect();
            let chunks: Vec<&[usize]> = cached_chunks(backend, &rows, 256).collect();
            assert_eq!(chunks.concat(), rows, "every row once, in order");
            chunks.iter().map(|c| c.len()).collect()
        };
        assert_eq!(sizes(Backend::Sqlite, 90), [64, 16, 8, 2]);
        assert_eq!(
            sizes(Backend::Sqlite, 600),
            [256, 256, 64, 16, 8],
            "at most the maximum"
        );
        assert_eq!(
            sizes(Backend::Postgres, 90),
            [90],
            "a round trip per statement"
        );
        assert_eq!(sizes(Backend::Postgres, 600), [256, 256, 88]);
        assert!(sizes(Backend::Sqlite, 0).is_empty());
    }

    #[test]
    fn parameters_in_order_become_anonymous_and_others_are_left_alone() {
        let rows = format!("INSERT INTO t (a, b) VALUES {}", numbered_rows("(?, ?)", 3));
        assert_eq!(
            anonymous_parameters(&rows).as_deref(),
            Some("INSERT INTO t (a, b) VALUES (?, ?), (?, ?), (?, ?)")
        );
        assert_eq!(
            anonymous_parameters("UPDATE t SET a = $2 WHERE b = $1"),
            None,
            "out of order"
        );
        assert_eq!(
            anonymous_parameters("SELECT $1 WHERE x = $1"),
            None,
            "used twice"
        );
        assert_eq!(
            anonymous_parameters("SELECT '$' || $1, $10").as_deref(),
            None,
            "$10 is not the second"
        );
        assert_eq!(
            anonymous_parameters("SELECT 1").as_deref(),
            Some("SELECT 1")
        );
    }
}
