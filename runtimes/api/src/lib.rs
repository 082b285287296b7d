//! # chimera-api
//!
//! Chimera's HTTP API (axum): portfolios (list, create, reconfigure, start, stop, pause,
//! resume, migrate), nodes and assignments, positions, orders, fills, strategy events, alerts,
//! system events, the graded kill switch, tokens and the audit trail. The OpenAPI document is
//! served at `/v1/openapi.json`.
//!
//! Every route but `/health` needs a bearer token ([`access`]); each route needs a role
//! ([`table::ROUTES`]: viewer < trader < admin); each token is rate limited; every call that
//! changes something is audited in the database (`api_audit`), refused ones too. Control
//! commands go on `control.commands` and the call waits for their acknowledgement. The first
//! admin token comes from `chimera-api token create --role admin` run where the database is
//! reachable: there is no default password.

pub mod access;
mod admin;
pub mod body;
mod commands;
pub mod error;
mod guard;
mod kill;
pub mod openapi;
mod portfolios;
mod reads;
pub mod routes;
mod state;
pub mod table;

pub use state::{ApiState, Caller};

use axum::Router;
use chimera_kernel::strategy::StrategyRegistry;
use chimera_ports::{Role, TokenRepository};
use chimera_runtime::api_config::ApiConfig;
use chimera_runtime::config::LiveConfig;
use chimera_runtime::runtime::{shutdown_pair, trigger_on_signals, wall_clock, Runtime};
use chimera_runtime::{connect, connect_bus};
use std::sync::Arc;
use std::time::Duration;

/// The API's router with its guard, over `state`.
pub fn app(state: ApiState) -> Router {
    routes::router()
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::guard,
        ))
        .fallback(fallback)
        .with_state(state)
}

/// Unknown paths: 401 without a valid token (nothing is revealed), 404 with one.
async fn fallback(
    axum::extract::State(state): axum::extract::State<ApiState>,
    headers: axum::http::HeaderMap,
) -> error::ApiError {
    let bearer = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match bearer {
        Some(b) if state.0.auth.authenticate(b, wall_clock()).await.is_ok() => {
            error::ApiError::not_found("no such route; see /v1/openapi.json".into())
        }
        _ => error::ApiError::unauthorized("a valid token is required"),
    }
}

/// Serves the API on `config.listen` until shutdown.
///
/// # Errors
/// The address cannot be bound, or `system.events` cannot be read.
pub async fn run_api(
    rt: Arc<Runtime>,
    config: &ApiConfig,
    strategies: StrategyRegistry,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(&config.listen).await?;
    tracing::info!(component = %config.id, "API on http://{}", listener.local_addr()?);
    serve(rt, config, strategies, listener).await
}

/// Serves the API on `listener` until shutdown (tests bind port 0 and read it back).
///
/// # Errors
/// As [`run_api`].
pub async fn serve(
    rt: Arc<Runtime>,
    config: &ApiConfig,
    strategies: StrategyRegistry,
    listener: tokio::net::TcpListener,
) -> anyhow::Result<()> {
    let mut shutdown = rt.shutdown.clone();
    let board = chimera_runtime::telemetry::HealthBoard::new(&config.id);
    board
        .serve_if(config.metrics_listen.as_deref(), rt.shutdown.clone())
        .await?;
    let state = ApiState::new(rt, config.clone(), strategies).await?;
    // An answer or an event frame goes out when written, not after the client's delayed
    // acknowledgement of the one before (Nagle's algorithm): a kill switch should not wait.
    let listener = axum::serve::ListenerExt::tap_io(listener, |stream| {
        if let Err(e) = stream.set_nodelay(true) {
            tracing::warn!(error = %e, "API: TCP_NODELAY not set on a connection");
        }
    });
    axum::serve(listener, app(state))
        .with_graceful_shutdown(async move { shutdown.wait().await })
        .await?;
    Ok(())
}

/// Makes a token in the database of `rt` and returns its bearer string (shown once).
///
/// # Errors
/// The database fails, or no randomness.
pub async fn create_token(
    rt: &Runtime,
    name: &str,
    role: Role,
    ttl: Option<Duration>,
) -> anyhow::Result<(String, chimera_ports::ApiToken)> {
    let issued = access::issue(name, role, "bootstrap", ttl, wall_clock())?;
    rt.store.insert_token(&issued.record).await?;
    Ok((issued.bearer, issued.record))
}

/// The API process: `[api]` of `config`.
///
/// # Errors
/// No `[api]` section, unreachable services, or a bind failure.
pub async fn run_api_process(config: &LiveConfig) -> anyhow::Result<()> {
    chimera_runtime::logging::init()?;
    let Some(api) = config.api.clone() else {
        anyhow::bail!("the configuration has no [api] section");
    };
    let (trigger, shutdown) = shutdown_pair();
    trigger_on_signals(trigger);
    let bus = connect_bus(config, &api.id, false).await?;
    let rt = connect(config, bus, &api.id, shutdown).await?;
    chimera_runtime::runtime::alerts_settled_after(
        &rt,
        run_api(Arc::clone(&rt), &api, StrategyRegistry::builtin()),
    )
    .await
}
