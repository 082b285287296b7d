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
    /// Pool size (≥ 1).
    #[serde(default = "default_max_connections")]
    pub max_connections: u32,
    /// How long to wait for a free connection, ms (≥ 1).
    #[serde(default = "default_acquire_timeout_ms")]
    pub acquire_timeout_ms: u64,
}

fn default_max_connections() -> u32 {
    8
}

fn default_acquire_timeout_ms() -> u64 {
    10_000
}

impl SqlConfig {
    /// A config for `url` with default pool settings.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: default_max_connections(),
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
        if self.max_connections == 0 {
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
