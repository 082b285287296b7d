//! [`BinanceError`]: what can go wrong talking to Binance, and the one place it becomes a
//! [`PortError`]. The split that matters is [`BinanceError::outcome_unknown`]: after a timeout,
//! a 5xx or Binance's "unknown" codes an order may or may not exist, and must be looked up,
//! never sent again blindly.

use chimera_ports::PortError;

/// A Binance error body, `{"code": -1121, "msg": "Invalid symbol."}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct ApiError {
    /// Binance's error code (negative).
    pub code: i64,
    /// Its message.
    pub msg: String,
}

/// A failed call.
#[derive(Debug, thiserror::Error)]
pub enum BinanceError {
    /// The request did not complete (connect, timeout, connection reset).
    #[error("{operation}: request failed")]
    Http {
        /// The endpoint.
        operation: String,
        /// Whether it may have reached Binance (sent, then no answer).
        maybe_sent: bool,
        /// The client's error.
        #[source]
        source: reqwest::Error,
    },
    /// Binance answered with an error body.
    #[error("{operation}: HTTP {status}, code {}: {}", .error.code, .error.msg)]
    Api {
        /// The endpoint.
        operation: String,
        /// HTTP status.
        status: u16,
        /// The body.
        error: ApiError,
    },
    /// An answer without a readable body (a proxy's 502 page, an empty 503).
    #[error("{operation}: HTTP {status} with an unreadable body")]
    Status {
        /// The endpoint.
        operation: String,
        /// HTTP status.
        status: u16,
        /// The body as received.
        body: Vec<u8>,
    },
    /// 429 or 418: every request to the host waits until `until_ms` (epoch ms).
    #[error("{operation}: rate limited (HTTP {status}) until {until_ms}")]
    RateLimited {
        /// The endpoint.
        operation: String,
        /// 429 (too many requests) or 418 (IP banned).
        status: u16,
        /// When requests may resume.
        until_ms: i64,
    },
    /// A 2xx body that is not what the endpoint documents.
    #[error("{operation}: undecodable response: {message}")]
    Decode {
        /// The endpoint.
        operation: String,
        /// What was wrong.
        message: String,
        /// The body.
        body: Vec<u8>,
    },
    /// A WebSocket failure.
    #[error("{operation}: WebSocket failure")]
    WebSocket {
        /// What was being done.
        operation: String,
        /// The client's error.
        #[source]
        source: Box<tokio_tungstenite::tungstenite::Error>,
    },
    /// The connector cannot do this (bad key, unsupported order for the product).
    #[error("{0}")]
    Unsupported(String),
}

/// Binance codes after which an order's fate is unknown: "-1007 Timeout waiting for response
/// from backend server. Send status unknown; execution status unknown." and "-1006 An
/// unexpected response was received from the message bus. Execution status unknown."
const UNKNOWN_CODES: [i64; 2] = [-1006, -1007];

impl BinanceError {
    /// Whether a request that changes state may have taken effect although no success came
    /// back: a timeout after sending, a 5xx, or the "execution status unknown" codes.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            BinanceError::Http { maybe_sent, .. } => *maybe_sent,
            BinanceError::Api { status, error, .. } => {
                *status >= 500 || UNKNOWN_CODES.contains(&error.code)
            }
            BinanceError::Status { status, .. } => *status >= 500,
            BinanceError::Decode { .. } => true,
            BinanceError::RateLimited { .. }
            | BinanceError::WebSocket { .. }
            | BinanceError::Unsupported(_) => false,
        }
    }

    /// Binance's code, when it answered with one.
    pub fn code(&self) -> Option<i64> {
        match self {
            BinanceError::Api { error, .. } => Some(error.code),
            _ => None,
        }
    }

    /// Whether trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            BinanceError::Http { .. }
            | BinanceError::RateLimited { .. }
            | BinanceError::WebSocket { .. }
            | BinanceError::Status { .. } => true,
            BinanceError::Api { status, error, .. } => {
                *status >= 500
                    || UNKNOWN_CODES.contains(&error.code)
                    || error.code == -1021
                    || error.code == -1003
            }
            BinanceError::Decode { .. } | BinanceError::Unsupported(_) => false,
        }
    }
}

impl From<BinanceError> for PortError {
    fn from(e: BinanceError) -> Self {
        match e {
            BinanceError::Decode { message, body, .. } => PortError::Codec {
                message,
                bytes: body,
            },
            other => {
                let transient = other.is_transient();
                let operation = match &other {
                    BinanceError::Http { operation, .. }
                    | BinanceError::Api { operation, .. }
                    | BinanceError::Status { operation, .. }
                    | BinanceError::RateLimited { operation, .. }
                    | BinanceError::WebSocket { operation, .. } => operation.clone(),
                    BinanceError::Decode { .. } | BinanceError::Unsupported(_) => {
                        "binance".to_owned()
                    }
                };
                PortError::from_client(transient, operation, other)
            }
        }
    }
}
