//! The adapter's errors, and their one mapping into [`PortError`].

use chimera_ports::PortError;

/// What went wrong talking to Redis.
#[derive(Debug, thiserror::Error)]
pub enum RedisAdapterError {
    /// The configuration was rejected.
    #[error(transparent)]
    Config(#[from] crate::RedisConfigError),
    /// The client reported an error.
    #[error("redis {operation} failed: {source}")]
    Client {
        /// What was being done.
        operation: &'static str,
        /// The client's error.
        #[source]
        source: redis::RedisError,
    },
}

/// Classifies a client error for the caller: connection trouble is transient, the rest fatal.
pub(crate) fn port_error(operation: &'static str, source: redis::RedisError) -> PortError {
    let transient = source.is_io_error()
        || source.is_timeout()
        || source.is_connection_dropped()
        || source.is_connection_refusal();
    PortError::from_client(
        transient,
        operation,
        RedisAdapterError::Client { operation, source },
    )
}
