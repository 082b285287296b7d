//! The router: each path of [`ROUTES`] to its handler.

pub use crate::table::{find, QueryParam, RouteSpec, ROUTES};

use crate::state::ApiState;
use crate::{admin, kill, portfolios, reads};
use axum::routing::{delete, get, post, put};
use axum::Router;

/// The API's router (without the guard; see `guard`).
pub fn router() -> Router<ApiState> {
    Router::new()
        .route("/health", get(reads::health))
        .route("/v1/openapi.json", get(crate::openapi::document))
        .route(
            "/v1/portfolios",
            get(portfolios::list).post(portfolios::create),
        )
        .route("/v1/portfolios/{id}", get(portfolios::one))
        .route(
            "/v1/portfolios/{id}/config",
            put(portfolios::replace_config),
        )
        .route("/v1/portfolios/{id}/start", post(portfolios::start))
        .route("/v1/portfolios/{id}/stop", post(portfolios::stop))
        .route("/v1/portfolios/{id}/pause", post(portfolios::pause))
        .route("/v1/portfolios/{id}/resume", post(portfolios::resume))
        .route("/v1/portfolios/{id}/migrate", post(portfolios::migrate))
        .route("/v1/portfolios/{id}/positions", get(reads::positions))
        .route("/v1/portfolios/{id}/orders", get(reads::orders))
        .route("/v1/portfolios/{id}/fills", get(reads::fills))
        .route(
            "/v1/portfolios/{id}/strategy-events",
            get(reads::strategy_events),
        )
        .route("/v1/nodes", get(reads::nodes))
        .route("/v1/assignments", get(reads::assignments))
        .route("/v1/alerts", get(reads::alerts))
        .route("/v1/system-events", get(reads::system_events))
        .route("/v1/kill-switch", get(kill::list).post(kill::engage))
        .route("/v1/kill-switch/{id}", delete(kill::release))
        .route("/v1/tokens", get(admin::tokens).post(admin::create_token))
        .route("/v1/tokens/{id}", delete(admin::revoke_token))
        .route("/v1/audit", get(admin::audit))
}
