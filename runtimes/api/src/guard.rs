//! In front of every route: the token (401), the rate limit (429), the role the route needs
//! (403), and after a mutating call, its audit record (who, what, when, outcome) in the
//! database, refused calls included. Health alone is open.

use crate::access::AuthError;
use crate::error::ApiError;
use crate::state::{ApiState, Caller};
use crate::table;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chimera_ports::{AuditKind, AuditRecord, AuditRepository};
use chimera_runtime::runtime::wall_clock;
use std::sync::atomic::Ordering;

/// The guard, as axum middleware; every answer is counted (`chimera_api_requests_total` by
/// route and status) and timed (`chimera_api_request_seconds` by route).
pub(crate) async fn guard(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let component = state.0.config.id.clone();
    let response = checked(state, request, next).await;
    metrics::counter!(
        "chimera_api_requests_total",
        "component" => component.clone(),
        "route" => route.clone(),
        "status" => response.status().as_u16().to_string()
    )
    .increment(1);
    metrics::histogram!("chimera_api_request_seconds", "component" => component, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

async fn checked(state: ApiState, mut request: Request, next: Next) -> Response {
    let matched = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned());
    let route = matched
        .as_deref()
        .and_then(|path| table::find(request.method(), path));
    if route.is_some_and(|r| r.role.is_none()) {
        return next.run(request).await;
    }
    let bearer = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let Some(bearer) = bearer else {
        return ApiError::unauthorized("a token is required (Authorization: Bearer chm_...)")
            .into_response();
    };
    let principal = match state.0.auth.authenticate(&bearer, wall_clock()).await {
        Ok(p) => p,
        Err(AuthError::Invalid) => {
            return ApiError::unauthorized("the token is unknown, expired, revoked or wrong")
                .into_response()
        }
        Err(AuthError::Store(e)) => return ApiError::from(e).into_response(),
    };
    if let Err(wait) = state.0.limiter.take(&principal.token_id) {
        return ApiError::too_many(wait.as_secs().saturating_add(1)).into_response();
    }
    let known_path = matched
        .as_deref()
        .is_some_and(|m| table::ROUTES.iter().any(|r| r.path == m));
    if route.is_none() && known_path {
        return ApiError::method_not_allowed().into_response();
    }
    let Some(route) = route else {
        // A route the router has but the access table does not: refused rather than open
        // (a test keeps the two the same).
        return ApiError::forbidden(format!(
            "{} {} is not in the access table",
            request.method(),
            matched.unwrap_or_default()
        ))
        .into_response();
    };
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = match route.role {
        Some(needed) if principal.role < needed => ApiError::forbidden(format!(
            "{} needs the {} role; this token is {}",
            route.path,
            needed.as_str(),
            principal.role.as_str()
        ))
        .into_response(),
        _ => {
            request.extensions_mut().insert(Caller(principal.clone()));
            next.run(request).await
        }
    };
    if route.mutating() {
        let status = response.status();
        let outcome = if status.is_success() {
            "ok"
        } else if status.as_u16() == 403 {
            "forbidden"
        } else if status.is_client_error() {
            "client_error"
        } else {
            "server_error"
        };
        let n = state.0.calls.fetch_add(1, Ordering::Relaxed);
        let now = wall_clock();
        let body = serde_json::json!({
            "token_id": principal.token_id,
            "token_name": principal.name,
            "role": principal.role.as_str(),
            "method": method.as_str(),
            "route": route.path,
            "path": path,
            "status": status.as_u16(),
            "outcome": outcome,
        });
        let record = AuditRecord {
            kind: AuditKind::ApiCall,
            key: format!("{}:{}:{n}", state.0.config.id, now.0),
            source: state.0.config.id.clone(),
            category: outcome.to_owned(),
            body: body.to_string(),
            ts: now,
        };
        let rt = &state.0.rt;
        if let Err(e) = rt.retry("audit a call", || rt.store.record(&record)).await {
            // The change is made; losing its record is an alert, not a lie to the caller.
            tracing::error!("audit record {} not stored: {e}", record.key);
        }
    }
    response
}
