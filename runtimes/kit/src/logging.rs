//! Logs through `tracing`, to stderr: levels, a filter from the environment, human-readable or
//! JSON lines. Every event a runtime logs carries the `component` (the process's id, e.g.
//! `node-1`) and, when it concerns one, the `portfolio`.
//!
//! - `CHIMERA_LOG`: an `EnvFilter` directive (`info` by default; e.g.
//!   `warn,chimera_node=debug`); `RUST_LOG` is read when it is unset.
//! - `CHIMERA_LOG_FORMAT`: `human` (default) or `json` (one object per line, fields flattened,
//!   for log shippers).

use tracing_subscriber::EnvFilter;

/// The output format of [`init`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One readable line per event.
    Human,
    /// One JSON object per line.
    Json,
}

/// The logging settings could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    /// `CHIMERA_LOG` (or `RUST_LOG`) is not a valid filter.
    #[error("CHIMERA_LOG = {value:?} is not a valid log filter: {source}")]
    Filter {
        /// The directive given.
        value: String,
        /// Why it was refused.
        #[source]
        source: tracing_subscriber::filter::ParseError,
    },
    /// `CHIMERA_LOG_FORMAT` is neither `human` nor `json`.
    #[error("CHIMERA_LOG_FORMAT = {0:?}: expected human or json")]
    Format(String),
}

/// Reads `CHIMERA_LOG` / `RUST_LOG` and `CHIMERA_LOG_FORMAT`.
///
/// # Errors
/// [`LoggingError`] for a bad filter or format.
pub fn from_env() -> Result<(EnvFilter, LogFormat), LoggingError> {
    let value = std::env::var("CHIMERA_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".to_owned());
    let filter = EnvFilter::try_new(&value).map_err(|source| LoggingError::Filter {
        value: value.clone(),
        source,
    })?;
    let format = match std::env::var("CHIMERA_LOG_FORMAT").as_deref() {
        Err(_) | Ok("" | "human") => LogFormat::Human,
        Ok("json") => LogFormat::Json,
        Ok(other) => return Err(LoggingError::Format(other.to_owned())),
    };
    Ok((filter, format))
}

/// Installs the process's logger from the environment. A second call (a process that runs
/// several components, like `chimera up`) keeps the first logger.
///
/// # Errors
/// [`LoggingError`] for a bad filter or format.
pub fn init() -> Result<(), LoggingError> {
    let (filter, format) = from_env()?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    // Err only when a logger is already installed: keep that one.
    let _ = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    Ok(())
}
