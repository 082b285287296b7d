//! `/v1/portfolios`: the records, creating and reconfiguring portfolios, and the control
//! commands that run them (sent on `control.commands`, answered when acknowledged).

use crate::body::{check_id, valid_id, Fields, ID_RULE};
use crate::commands;
use crate::error::{ApiError, ApiResult, FieldProblem};
use crate::state::ApiState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chimera_kernel::ids::PortfolioId;
use chimera_messages::ControlCommand;
use chimera_ports::{PortfolioRecord, PortfolioRepository, PortfolioStatus};
use chimera_runtime::portfolio_spec::PortfolioSpec;
use chimera_runtime::runtime::wall_clock;
use serde_json::{json, Value};

/// A record as the API shows it.
pub(crate) fn view(record: &PortfolioRecord) -> Value {
    json!({
        "id": record.id.as_str(),
        "status": record.status.as_str(),
        "node_id": record.node_id,
        "updated_at": record.updated_at.0,
        "config": serde_json::from_str::<Value>(&record.config).unwrap_or(Value::Null),
    })
}

/// The portfolio id of a path, checked.
pub(crate) fn path_id(id: &str) -> ApiResult<PortfolioId> {
    check_id(id, "id")?;
    Ok(PortfolioId::new(id))
}

/// The record of `id`, or 404.
pub(crate) async fn record(state: &ApiState, id: &PortfolioId) -> ApiResult<PortfolioRecord> {
    state
        .0
        .rt
        .store
        .get_portfolio(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no portfolio {id}")))
}

/// `config` checked as a portfolio's configuration: every problem, named under `config`.
fn spec(state: &ApiState, config: Option<Value>, fields: &mut Fields) -> Option<PortfolioSpec> {
    let Some(config) = config else {
        fields.problem("config", "required");
        return None;
    };
    let spec: PortfolioSpec = match serde_json::from_value(config) {
        Ok(spec) => spec,
        Err(e) => {
            fields.problem("config", e.to_string());
            return None;
        }
    };
    let mut ok = true;
    if !valid_id(&spec.id) {
        fields.problem("config.id", ID_RULE);
        ok = false;
    }
    if let Err(problems) = spec.build_engine(&state.0.strategies) {
        for p in problems {
            fields.problem("config", p);
        }
        ok = false;
    }
    ok.then_some(spec)
}

pub(crate) async fn list(State(state): State<ApiState>) -> ApiResult<Json<Value>> {
    let records = state.0.rt.store.list_portfolios().await?;
    Ok(Json(Value::Array(records.iter().map(view).collect())))
}

pub(crate) async fn one(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = path_id(&id)?;
    Ok(Json(view(&record(&state, &id).await?)))
}

pub(crate) async fn create(
    State(state): State<ApiState>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let mut fields = Fields::parse(&body, &["config", "start"])?;
    let start = fields.flag("start");
    let config = fields.take("config");
    let spec = spec(&state, config, &mut fields);
    fields.finish()?;
    let Some(spec) = spec else {
        return Err(ApiError::field("config", "invalid"));
    };
    let id = PortfolioId::new(spec.id.as_str());
    if state.0.rt.store.get_portfolio(&id).await?.is_some() {
        return Err(ApiError::conflict(format!("portfolio {id} exists")));
    }
    let record = PortfolioRecord {
        id,
        config: serde_json::to_string(&spec)
            .map_err(|e| ApiError::internal("encode config", &e))?,
        // Active without a node: the scheduler places it.
        status: if start {
            PortfolioStatus::Active
        } else {
            PortfolioStatus::Stopped
        },
        node_id: None,
        updated_at: wall_clock(),
    };
    state.0.rt.store.upsert_portfolio(&record).await?;
    Ok((StatusCode::CREATED, Json(view(&record))))
}

pub(crate) async fn replace_config(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let id = path_id(&id)?;
    let mut fields = Fields::parse(&body, &["config"])?;
    let config = fields.take("config");
    let spec = spec(&state, config, &mut fields);
    fields.finish()?;
    let Some(spec) = spec else {
        return Err(ApiError::field("config", "invalid"));
    };
    if spec.id != id.as_str() {
        return Err(ApiError::invalid(vec![FieldProblem {
            field: "config.id".into(),
            problem: format!("{:?} is not the portfolio of the path ({id})", spec.id),
        }]));
    }
    let mut current = record(&state, &id).await?;
    current.config =
        serde_json::to_string(&spec).map_err(|e| ApiError::internal("encode config", &e))?;
    current.updated_at = wall_clock();
    state.0.rt.store.upsert_portfolio(&current).await?;
    if current.status == PortfolioStatus::Stopped || current.node_id.is_none() {
        // Nothing runs it: the new configuration is what it starts with.
        return Ok((
            StatusCode::OK,
            Json(json!({"status": "saved", "portfolio": view(&current)})),
        ));
    }
    commands::send(&state, ControlCommand::Reload { portfolio_id: id }).await
}

async fn command_for(
    state: &ApiState,
    id: &str,
    make: impl FnOnce(PortfolioId) -> ControlCommand,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let id = path_id(id)?;
    record(state, &id).await?;
    commands::send(state, make(id)).await
}

pub(crate) async fn start(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    command_for(&state, &id, |portfolio_id| ControlCommand::Start {
        portfolio_id,
    })
    .await
}

pub(crate) async fn stop(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    command_for(&state, &id, |p| ControlCommand::Stop {
        portfolio_id: Some(p),
    })
    .await
}

pub(crate) async fn resume(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    command_for(&state, &id, |p| ControlCommand::Resume {
        portfolio_id: Some(p),
    })
    .await
}

pub(crate) async fn pause(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let mut fields = Fields::parse(&body, &["reason"])?;
    let reason = fields.string("reason", true);
    fields.finish()?;
    let reason = reason.unwrap_or_default();
    command_for(&state, &id, |p| ControlCommand::Pause {
        portfolio_id: Some(p),
        reason,
    })
    .await
}

pub(crate) async fn migrate(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let mut fields = Fields::parse(&body, &["to_node"])?;
    let to_node = fields.string("to_node", true);
    if to_node.as_deref().is_some_and(|n| !valid_id(n)) {
        fields.problem("to_node", ID_RULE);
    }
    fields.finish()?;
    let to_node = to_node.unwrap_or_default();
    command_for(&state, &id, |portfolio_id| ControlCommand::Migrate {
        portfolio_id,
        to_node,
    })
    .await
}
