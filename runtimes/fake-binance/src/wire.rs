//! What goes on the wire: Binance's error body and the JSON of orders, trades and events.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// A Binance error answer: HTTP status and `{"code": .., "msg": ..}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// Binance code.
    pub code: i64,
    /// Message.
    pub msg: String,
}

impl ApiError {
    /// An error.
    pub fn new(status: u16, code: i64, msg: impl Into<String>) -> Self {
        Self {
            status,
            code,
            msg: msg.into(),
        }
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        json!({"code": self.code, "msg": self.msg})
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        (status, axum::Json(self.body())).into_response()
    }
}

/// A decimal as Binance writes it in bodies (8 decimals on spot).
pub fn dec(d: rust_decimal::Decimal) -> String {
    let mut d = d;
    d.rescale(8);
    d.to_string()
}
