//! [`SqlConfig`]: where the database is and how many connections to keep.

use serde::Deserialize;

/// Which SQL engine a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `postgres://` or `postgresql://`.
    Postgres,
    /// `sqlite:` (a file path, created when missing).
    Sqlite,
}

/// Connection settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqlConfig {
    /// `postgres://user@host:port/db` or `sqlite://path/to/file.db`.
    pub url: String,
    /// Pool size (≥ 1); unset, [`SqlConfig::pool_size`] chooses by backend.
    #[serde(default)]
    pub max_connections: Option<u32>,
    /// How long to wait for a free connection, ms (≥ 1).
    #[serde(default = "default_acquire_timeout_ms")]
    pub acquire_timeout_ms: u64,
}

/// PostgreSQL's pool size unless configured: writers and readers in parallel, each a round
/// trip away.
const POSTGRES_CONNECTIONS: u32 = 8;

/// SQLite's pool size unless configured. The file takes one writer at a time, and in WAL mode
/// a second connection lets a read go on beside a write; more add no throughput, but each
/// connection prepares every statement it runs for itself (a multi-row insert of 256 rows is
/// some 600,000 instructions to parse): with eight, the reference `chimera up` spent 170
/// million instructions preparing statements, with two 58 million.
const SQLITE_CONNECTIONS: u32 = 2;

fn default_acquire_timeout_ms() -> u64 {
    10_000
}

impl SqlConfig {
    /// A config for `url` with default pool settings.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: None,
            acquire_timeout_ms: default_acquire_timeout_ms(),
        }
    }

    /// Checks every field and names the backend.
    ///
    /// # Errors
    /// [`SqlConfigError`] listing every bad field.
    pub fn validate(&self) -> Result<Backend, SqlConfigError> {
        let mut problems = Vec::new();
        let backend =
            if self.url.starts_with("postgres://") || self.url.starts_with("postgresql://") {
                Some(Backend::Postgres)
            } else if self.url.starts_with("sqlite:") {
                Some(Backend::Sqlite)
            } else {
                problems.push(format!(
                    "url: {:?} is neither postgres://... nor sqlite:...",
                    self.redacted_url()
                ));
                None
            };
        if self.max_connections == Some(0) {
            problems.push("max_connections: must be at least 1".to_owned());
        }
        if self.acquire_timeout_ms == 0 {
            problems.push("acquire_timeout_ms: must be at least 1".to_owned());
        }
        match backend {
            Some(b) if problems.is_empty() => Ok(b),
            _ => Err(SqlConfigError { problems }),
        }
    }

    /// The pool size: as configured, else by `backend` (8 on PostgreSQL, 2 on SQLite).
    pub fn pool_size(&self, backend: Backend) -> u32 {
        self.max_connections.unwrap_or(match backend {
            Backend::Postgres => POSTGRES_CONNECTIONS,
            Backend::Sqlite => SQLITE_CONNECTIONS,
        })
    }

    /// The URL to connect with: SQLite files are opened read-write and created when missing.
    pub(crate) fn connect_url(&self) -> String {
        if self.url.starts_with("sqlite:") && !self.url.contains("mode=") {
            let sep = if self.url.contains('?') { '&' } else { '?' };
            format!("{}{sep}mode=rwc", self.url)
        } else {
            self.url.clone()
        }
    }

    /// The URL without its password, for messages and logs.
    pub fn redacted_url(&self) -> String {
        let Some((scheme, rest)) = self.url.split_once("://") else {
            return self.url.clone();
        };
        match rest.split_once('@') {
            Some((userinfo, host)) => {
                let user = userinfo.split(':').next().unwrap_or_default();
                format!("{scheme}://{user}:***@{host}")
            }
            None => self.url.clone(),
        }
    }
}

/// An invalid [`SqlConfig`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid SQL config: {}", problems.join("; "))]
pub struct SqlConfigError {
    /// One line per bad field.
    pub problems: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::{Backend, SqlConfig};

    #[test]
    fn the_pool_size_is_as_configured_else_chosen_by_backend() {
        let sqlite = SqlConfig::new("sqlite://x.db");
        assert_eq!(sqlite.pool_size(Backend::Sqlite), 2);
        let postgres = SqlConfig::new("postgres://u@h/db");
        assert_eq!(postgres.pool_size(Backend::Postgres), 8);
        let configured = SqlConfig {
            max_connections: Some(5),
            ..sqlite
        };
        assert_eq!(configured.pool_size(Backend::Sqlite), 5);
        assert!(configured.validate().is_ok());
        let none = SqlConfig {
            max_connections: Some(0),
            ..configured
        };
        assert!(none.validate().is_err(), "zero connections are refused");
    }
}
