//! `/v1/kill-switch`: the switches in force, engaging one (trader), releasing one (admin).
//! Each change is stored, announced on the bus and raised as an alert; the call's audit record
//! says who made it.

use crate::body::{check_id, valid_id, Fields, ID_RULE};
use crate::error::{ApiError, ApiResult};
use crate::state::{ApiState, Caller};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use chimera_kernel::ids::{PortfolioId, Symbol};
use chimera_kernel::risk::KillMode;
use chimera_messages::{KillScope, KillSwitch, KillSwitchBoard};
use chimera_runtime::kill_switch::{announce, KillSwitchError, KillSwitches};
use chimera_runtime::runtime::wall_clock;
use serde_json::{json, Value};

fn switches(state: &ApiState) -> ApiResult<KillSwitches> {
    state
        .kill_switches()
        .ok_or_else(|| ApiError::unavailable("kill switches need the shared state ([state])"))
}

fn failed(e: KillSwitchError) -> ApiError {
    match e {
        KillSwitchError::Store(e) => e.into(),
        KillSwitchError::Busy => ApiError::unavailable(e.to_string()),
        KillSwitchError::Corrupt(_) => ApiError::internal("read the kill switches", &e),
    }
}

fn board_view(board: &KillSwitchBoard) -> Value {
    let now = wall_clock().0;
    json!({
        "version": board.version,
        "switches": board.active(now).collect::<Vec<_>>(),
    })
}

pub(crate) async fn list(State(state): State<ApiState>) -> ApiResult<Json<Value>> {
    let board = switches(&state)?.read().await.map_err(failed)?;
    Ok(Json(board_view(&board)))
}

pub(crate) async fn engage(
    State(state): State<ApiState>,
    Extension(Caller(caller)): Extension<Caller>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let mut f = Fields::parse(
        &body,
        &[
            "id",
            "mode",
            "scope",
            "portfolio_id",
            "symbol",
            "reason",
            "ttl_secs",
        ],
    )?;
    let mode = f.string("mode", true);
    let mode = mode.and_then(|m| {
        let parsed = KillMode::from_code(&m);
        if parsed.is_none() {
            f.problem(
                "mode",
                "expected halt_entries, reduce_only, cancel_all or flatten",
            );
        }
        parsed
    });
    let scope_name = f.string("scope", true);
    let portfolio = f.string("portfolio_id", false);
    let symbol = f.string("symbol", false);
    let scope = match (scope_name.as_deref(), portfolio, symbol) {
        (Some("global"), None, None) => Some(KillScope::Global),
        (Some("portfolio"), Some(p), None) if valid_id(&p) => Some(KillScope::Portfolio {
            portfolio_id: PortfolioId::new(p),
        }),
        (Some("symbol"), None, Some(s)) if valid_id(&s) => Some(KillScope::Symbol {
            symbol: Symbol::new(s),
        }),
        (None, _, _) => None,
        (Some("global" | "portfolio" | "symbol"), _, _) => {
            f.problem(
                "scope",
                "global takes no portfolio_id nor symbol; portfolio needs a valid portfolio_id \
                 only; symbol needs a valid symbol only",
            );
            None
        }
        (Some(_), _, _) => {
            f.problem("scope", "expected global, portfolio or symbol");
            None
        }
    };
    let reason = f.string("reason", true);
    let ttl = f.integer("ttl_secs", 1..=30 * 86_400);
    let id = f.string("id", false);
    if id.as_deref().is_some_and(|i| !valid_id(i)) {
        f.problem("id", ID_RULE);
    }
    f.finish()?;
    let (Some(mode), Some(scope), Some(reason)) = (mode, scope, reason) else {
        return Err(ApiError::field("body", "incomplete"));
    };
    let now = wall_clock().0;
    let switch = KillSwitch {
        id: id.unwrap_or_else(|| format!("ks-{now}-{}", caller.token_id)),
        mode,
        scope,
        reason,
        engaged_by: format!("{} ({})", caller.name, caller.token_id),
        engaged_at: now,
        expires_at: ttl.map(|t| now.saturating_add(i64::try_from(t).unwrap_or(0) * 1000)),
    };
    let what = format!(
        "kill switch {} engaged: {} over {} by {}: {}",
        switch.id, switch.mode, switch.scope, switch.engaged_by, switch.reason
    );
    let (board, changed) = switches(&state)?
        .engage(switch.clone())
        .await
        .map_err(failed)?;
    if changed {
        announce(&state.0.rt, board.version, what).await;
    }
    Ok((
        StatusCode::CREATED,
        Json(json!({"engaged": switch, "board": board_view(&board)})),
    ))
}

pub(crate) async fn release(
    State(state): State<ApiState>,
    Extension(Caller(caller)): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    check_id(&id, "id")?;
    let (board, released) = switches(&state)?.release(&id).await.map_err(failed)?;
    let Some(released) = released else {
        return Err(ApiError::not_found(format!("no kill switch {id}")));
    };
    announce(
        &state.0.rt,
        board.version,
        format!(
            "kill switch {} released ({} over {}) by {} ({})",
            released.id, released.mode, released.scope, caller.name, caller.token_id
        ),
    )
    .await;
    Ok(Json(
        json!({"released": released, "board": board_view(&board)}),
    ))
}
