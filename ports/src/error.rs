//! [`PortError`]: one error type for every port, classified by what the caller should do.

use chimera_kernel::event::RejectReason;

type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A port call failed. The variant tells the caller what to do next.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// Temporary (timeout, connection lost, broker unavailable): retrying may succeed.
    #[error("transient failure in {operation}: {message}")]
    Transient {
        /// What was being done.
        operation: String,
        /// What went wrong.
        message: String,
        /// The client library's error.
        #[source]
        source: Option<Source>,
    },
    /// The other side understood and said no (e.g. a venue rejected an order).
    #[error("rejected ({reason:?}): {message}")]
    Rejected {
        /// Reason code.
        reason: RejectReason,
        /// Detail.
        message: String,
    },
    /// The write conflicts with existing state (e.g. a different payload under the same key).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The thing asked for does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// Bytes could not be encoded or decoded; the raw bytes are kept for dead-lettering.
    #[error("codec error: {message}")]
    Codec {
        /// What was wrong.
        message: String,
        /// The offending bytes.
        bytes: Vec<u8>,
    },
    /// Permanent failure (bad configuration, broken invariant): retrying will not help.
    #[error("fatal failure in {operation}: {message}")]
    Fatal {
        /// What was being done.
        operation: String,
        /// What went wrong.
        message: String,
        /// The underlying error.
        #[source]
        source: Option<Source>,
    },
}

impl PortError {
    /// Wraps an adapter's client error as [`PortError::Transient`] or [`PortError::Fatal`],
    /// keeping its message and the error itself as the source. Adapters decide `transient`;
    /// this is the one place the two variants are built from a client error.
    pub fn from_client(
        transient: bool,
        operation: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        let operation = operation.into();
        let message = source.to_string();
        let source: Option<Source> = Some(Box::new(source));
        if transient {
            PortError::Transient {
                operation,
                message,
                source,
            }
        } else {
            PortError::Fatal {
                operation,
                message,
                source,
            }
        }
    }

    /// Whether retrying the same call may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, PortError::Transient { .. })
    }

    /// A transient error without a source.
    pub fn transient(operation: impl Into<String>, message: impl Into<String>) -> Self {
        PortError::Transient {
            operation: operation.into(),
            message: message.into(),
            source: None,
        }
    }

    /// A fatal error without a source.
    pub fn fatal(operation: impl Into<String>, message: impl Into<String>) -> Self {
        PortError::Fatal {
            operation: operation.into(),
            message: message.into(),
            source: None,
        }
    }
}
