//! Admin routes: tokens (made, listed without secrets, revoked) and the audit trail.

use crate::access::issue;
use crate::body::{check_id, Fields};
use crate::error::{ApiError, ApiResult};
use crate::reads::{audit_view, Params};
use crate::state::{ApiState, Caller};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use chimera_ports::{ApiToken, AuditKind, AuditRepository, Role};
use chimera_runtime::runtime::wall_clock;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Duration;

fn token_view(t: &ApiToken) -> Value {
    json!({
        "id": t.id,
        "name": t.name,
        "role": t.role.as_str(),
        "created_by": t.created_by,
        "created_at": t.created_at.0,
        "expires_at": t.expires_at.map(|x| x.0),
        "revoked_at": t.revoked_at.map(|x| x.0),
    })
}

pub(crate) async fn tokens(State(state): State<ApiState>) -> ApiResult<Json<Value>> {
    let tokens = state.0.tokens.list_tokens().await?;
    Ok(Json(Value::Array(tokens.iter().map(token_view).collect())))
}

pub(crate) async fn create_token(
    State(state): State<ApiState>,
    Extension(Caller(caller)): Extension<Caller>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let mut f = Fields::parse(&body, &["name", "role", "ttl_days"])?;
    let name = f.string("name", true);
    let role = f.string("role", true).and_then(|r| {
        let parsed = Role::parse(&r);
        if parsed.is_none() {
            f.problem("role", "expected viewer, trader or admin");
        }
        parsed
    });
    let ttl_days = f.integer("ttl_days", 1..=3650);
    f.finish()?;
    let (Some(name), Some(role)) = (name, role) else {
        return Err(ApiError::field("body", "incomplete"));
    };
    let issued = issue(
        &name,
        role,
        &caller.token_id,
        ttl_days.map(|d| Duration::from_secs(d * 86_400)),
        wall_clock(),
    )
    .map_err(|e| ApiError::internal("make a token", &e))?;
    state.0.tokens.insert_token(&issued.record).await?;
    let mut view = token_view(&issued.record);
    view["token"] = Value::String(issued.bearer);
    view["note"] = Value::String("the token is shown once: store it now".into());
    Ok((StatusCode::CREATED, Json(view)))
}

pub(crate) async fn revoke_token(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    check_id(&id, "id")?;
    if !state.0.tokens.revoke_token(&id, wall_clock()).await? {
        return Err(ApiError::not_found(format!("no usable token {id}")));
    }
    state.0.auth.forget(&id);
    Ok(Json(json!({"revoked": id})))
}

pub(crate) async fn audit(
    State(state): State<ApiState>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let mut params = Params::new(query, &["since", "until", "limit", "outcome"]);
    let mut window = params.window();
    window.category = params.string(
        "outcome",
        Some(&["ok", "client_error", "forbidden", "server_error"]),
    );
    params.finish()?;
    let records = state.0.rt.store.query(AuditKind::ApiCall, &window).await?;
    Ok(Json(Value::Array(records.iter().map(audit_view).collect())))
}
