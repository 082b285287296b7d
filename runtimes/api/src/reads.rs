//! The read-only routes: a portfolio's records, nodes and assignments, alerts, system events.

use crate::error::{ApiError, ApiResult, FieldProblem};
use crate::portfolios::{path_id, record};
use crate::state::ApiState;
use axum::extract::{Path, Query, State};
use axum::Json;
use chimera_kernel::time::Timestamp;
use chimera_messages::SCHEDULE_STATE_KEY;
use chimera_ports::{
    AuditKind, AuditQuery, AuditRecord, AuditRepository, FillRepository, OrderRepository,
    PortfolioRepository, PositionRepository,
};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};

/// Query parameters, checked: unknown names and bad values are each a named problem.
pub(crate) struct Params {
    map: HashMap<String, String>,
    problems: Vec<FieldProblem>,
}

impl Params {
    pub(crate) fn new(map: HashMap<String, String>, known: &[&str]) -> Self {
        let problems = crate::body::unknown(map.keys(), known, "query parameter");
        Self { map, problems }
    }

    pub(crate) fn integer(
        &mut self,
        name: &str,
        range: std::ops::RangeInclusive<i64>,
    ) -> Option<i64> {
        let raw = self.map.get(name)?;
        let value = raw.parse::<i64>().ok().filter(|v| range.contains(v));
        if value.is_none() {
            self.problems.push(FieldProblem {
                field: name.into(),
                problem: format!(
                    "{raw:?}: expected a whole number from {} to {}",
                    range.start(),
                    range.end()
                ),
            });
        }
        value
    }

    pub(crate) fn string(&mut self, name: &str, allowed: Option<&[&str]>) -> Option<String> {
        let raw = self.map.get(name)?.clone();
        if let Some(allowed) = allowed {
            if !allowed.contains(&raw.as_str()) {
                self.problems.push(FieldProblem {
                    field: name.into(),
                    problem: format!("{raw:?}: expected one of {}", allowed.join(", ")),
                });
                return None;
            }
        }
        Some(raw)
    }

    /// `limit` (default 100) and the time window.
    pub(crate) fn window(&mut self) -> AuditQuery {
        AuditQuery {
            since: self.integer("since", 0..=i64::MAX).map(Timestamp),
            until: self.integer("until", 0..=i64::MAX).map(Timestamp),
            category: None,
            source: None,
            limit: self.integer("limit", 1..=1000).map_or(100, |l| l as u32),
        }
    }

    pub(crate) fn finish(self) -> ApiResult<()> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid(self.problems))
        }
    }
}

/// An audit record as the API shows it.
pub(crate) fn audit_view(r: &AuditRecord) -> Value {
    json!({
        "key": r.key,
        "source": r.source,
        "category": r.category,
        "ts": r.ts.0,
        "body": serde_json::from_str::<Value>(&r.body).unwrap_or(Value::Null),
    })
}

fn encode<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

pub(crate) async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

pub(crate) async fn positions(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = path_id(&id)?;
    record(&state, &id).await?;
    let snapshots = state.0.rt.store.latest_snapshots(&id).await?;
    Ok(Json(Value::Array(
        snapshots
            .iter()
            .map(|s| json!({"ts": s.ts.0, "position": encode(&s.position)}))
            .collect(),
    )))
}

pub(crate) async fn orders(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = path_id(&id)?;
    record(&state, &id).await?;
    let orders = state.0.rt.store.open_orders(&id).await?;
    Ok(Json(Value::Array(orders.iter().map(encode).collect())))
}

pub(crate) async fn fills(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let id = path_id(&id)?;
    let mut params = Params::new(query, &["limit"]);
    let limit = params.integer("limit", 1..=1000).unwrap_or(100) as usize;
    params.finish()?;
    record(&state, &id).await?;
    let fills = state.0.rt.store.fills(&id).await?;
    let newest = fills.iter().rev().take(limit).map(|f| {
        json!({
            "client_order_id": f.client_order_id.as_str(),
            "symbol": f.symbol.as_str(),
            "side": encode(&f.side),
            "fill": encode(&f.fill),
            "ts": f.ts.0,
            "costs": f.costs.as_ref().map(encode),
        })
    });
    Ok(Json(Value::Array(newest.collect())))
}

pub(crate) async fn strategy_events(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let id = path_id(&id)?;
    let mut params = Params::new(query, &["since", "until", "limit"]);
    let mut window = params.window();
    params.finish()?;
    record(&state, &id).await?;
    window.source = Some(id.as_str().to_owned());
    let events = state
        .0
        .rt
        .store
        .query(AuditKind::StrategyEvent, &window)
        .await?;
    Ok(Json(Value::Array(events.iter().map(audit_view).collect())))
}

pub(crate) async fn nodes(State(state): State<ApiState>) -> ApiResult<Json<Value>> {
    let Some(shared) = &state.0.rt.state else {
        return Err(ApiError::unavailable(
            "no shared state configured ([state]): no scheduler",
        ));
    };
    let Some(bytes) = shared.store.get(SCHEDULE_STATE_KEY).await? else {
        return Ok(Json(
            json!({"nodes": {}, "placements": {}, "scheduler": "never ran"}),
        ));
    };
    let schedule: chimera_kernel::schedule::Schedule = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::internal("read the scheduler's state", &e))?;
    Ok(Json(json!({
        "nodes": encode(schedule.nodes()),
        "placements": encode(schedule.placements()),
    })))
}

pub(crate) async fn assignments(State(state): State<ApiState>) -> ApiResult<Json<Value>> {
    let records = state.0.rt.store.list_portfolios().await?;
    let map: BTreeMap<&str, Value> = records
        .iter()
        .map(|r| {
            (
                r.id.as_str(),
                json!({"node_id": r.node_id, "status": r.status.as_str()}),
            )
        })
        .collect();
    Ok(Json(encode(&map)))
}

pub(crate) async fn alerts(
    State(state): State<ApiState>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let mut params = Params::new(query, &["since", "until", "limit", "level", "portfolio"]);
    let mut window = params.window();
    window.category = params.string("level", Some(&["warning", "error", "critical"]));
    let portfolio = params.string("portfolio", None);
    params.finish()?;
    let wanted = window.limit as usize;
    if portfolio.is_some() {
        // The portfolio is inside the alert: read a wider window and filter.
        window.limit = 1000;
    }
    let alerts = state.0.rt.store.query(AuditKind::Alert, &window).await?;
    let picked = alerts
        .iter()
        .map(audit_view)
        .filter(|a| {
            portfolio
                .as_deref()
                .is_none_or(|p| a["body"]["portfolio"].as_str() == Some(p))
        })
        .take(wanted);
    Ok(Json(Value::Array(picked.collect())))
}

/// The latest system events the API has seen since it started (at most
/// [`crate::state::RECENT_EVENTS`]), newest first.
pub(crate) async fn system_events(
    State(state): State<ApiState>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let mut params = Params::new(query, &["limit"]);
    let limit = params.integer("limit", 1..=1000).unwrap_or(100);
    params.finish()?;
    Ok(Json(Value::Array(state.0.acks.recent(limit as usize))))
}
