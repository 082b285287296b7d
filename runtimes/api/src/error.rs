//! What the API answers when it does not do what was asked: a status and a JSON body with a
//! closed error code, a message, and for a bad request every bad field with its problem.
//! Internal failures are logged in full and answered without detail (no secret or query text
//! ever reaches a client).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// One bad field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldProblem {
    /// The field (`mode`, `config.params.fast`, `body`).
    pub field: String,
    /// What is wrong with it.
    pub problem: String,
}

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    fields: Vec<FieldProblem>,
    retry_after_secs: Option<u64>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "<[FieldProblem]>::is_empty")]
    fields: &'a [FieldProblem],
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            fields: Vec::new(),
            retry_after_secs: None,
        }
    }

    /// 400, naming every bad field.
    pub fn invalid(fields: Vec<FieldProblem>) -> Self {
        let mut e = Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("{} invalid field(s)", fields.len()),
        );
        e.fields = fields;
        e
    }

    /// 400 for one field.
    pub fn field(field: &str, problem: impl Into<String>) -> Self {
        Self::invalid(vec![FieldProblem {
            field: field.into(),
            problem: problem.into(),
        }])
    }

    /// 401.
    pub fn unauthorized(message: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 403.
    pub fn forbidden(message: String) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404.
    pub fn not_found(what: String) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", what)
    }

    /// 405.
    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this path does not take that method; see /v1/openapi.json",
        )
    }

    /// 409.
    pub fn conflict(message: String) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    /// 429.
    pub fn too_many(retry_after_secs: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many requests for this token",
        );
        e.retry_after_secs = Some(retry_after_secs.max(1));
        e
    }

    /// 503: a service the call needs is not configured or not reachable.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    /// 500, logged with its cause chain, answered without it.
    pub fn internal(what: &str, error: &(dyn std::error::Error + 'static)) -> Self {
        let mut chain = error.to_string();
        let mut source = error.source();
        while let Some(s) = source {
            chain.push_str(": ");
            chain.push_str(&s.to_string());
            source = s.source();
        }
        tracing::error!("{what}: {chain}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("{what} failed; see the API's log"),
        )
    }

    /// The status answered.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl From<chimera_ports::PortError> for ApiError {
    fn from(e: chimera_ports::PortError) -> Self {
        if e.is_transient() {
            tracing::warn!("a backing service failed: {e}");
            return Self::unavailable("a backing service is unavailable; try again");
        }
        Self::internal("the store", &e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            error: self.code,
            message: &self.message,
            fields: &self.fields,
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after_secs {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// Result alias for handlers.
pub type ApiResult<T> = Result<T, ApiError>;
