//! Every route with the role it needs ([`ROUTES`]): the access guard and the OpenAPI document
//! are built from this one table, the router ([`crate::routes`]) must match it (a route missing
//! here is refused), and the tests walk it cell by cell.

use axum::http::Method;
use chimera_ports::Role;

/// A query parameter a route reads.
#[derive(Debug, Clone, Copy)]
pub struct QueryParam {
    /// Its name.
    pub name: &'static str,
    /// What it means.
    pub about: &'static str,
    /// `integer` or `string`.
    pub kind: &'static str,
}

/// One route.
#[derive(Debug, Clone)]
pub struct RouteSpec {
    /// Method.
    pub method: Method,
    /// Path, with `{name}` parameters (as axum and OpenAPI write them).
    pub path: &'static str,
    /// The least role that may call it (`None`: anyone, without a token).
    pub role: Option<Role>,
    /// What it does.
    pub summary: &'static str,
    /// The request body's schema in the OpenAPI document, if it takes one.
    pub body: Option<&'static str>,
    /// Query parameters.
    pub query: &'static [QueryParam],
}

impl RouteSpec {
    /// Whether it changes something (and is audited).
    pub fn mutating(&self) -> bool {
        self.method != Method::GET
    }
}

const LIMIT: QueryParam = QueryParam {
    name: "limit",
    about: "at most this many, newest first (1 to 1000, default 100)",
    kind: "integer",
};
const SINCE: QueryParam = QueryParam {
    name: "since",
    about: "at or after this time (epoch ms)",
    kind: "integer",
};
const UNTIL: QueryParam = QueryParam {
    name: "until",
    about: "before this time (epoch ms)",
    kind: "integer",
};

macro_rules! route {
    ($method:ident, $path:literal, $role:expr, $summary:literal) => {
        route!($method, $path, $role, $summary, None, &[])
    };
    ($method:ident, $path:literal, $role:expr, $summary:literal, $body:expr, $query:expr) => {
        RouteSpec {
            method: Method::$method,
            path: $path,
            role: $role,
            summary: $summary,
            body: $body,
            query: $query,
        }
    };
}

const V: Option<Role> = Some(Role::Viewer);
const T: Option<Role> = Some(Role::Trader);
const A: Option<Role> = Some(Role::Admin);

/// Every route.
pub const ROUTES: &[RouteSpec] = &[
    route!(GET, "/health", None, "Liveness: ok when the API answers"),
    route!(GET, "/v1/openapi.json", V, "This API's OpenAPI document"),
    route!(
        GET,
        "/v1/portfolios",
        V,
        "Every portfolio with its status and node"
    ),
    route!(
        POST,
        "/v1/portfolios",
        A,
        "Create a portfolio from its configuration",
        Some("PortfolioCreate"),
        &[]
    ),
    route!(GET, "/v1/portfolios/{id}", V, "One portfolio"),
    route!(
        PUT,
        "/v1/portfolios/{id}/config",
        A,
        "Replace a portfolio's configuration and reload it",
        Some("PortfolioConfig"),
        &[]
    ),
    route!(
        POST,
        "/v1/portfolios/{id}/start",
        T,
        "Run a stopped portfolio (the scheduler places it)"
    ),
    route!(POST, "/v1/portfolios/{id}/stop", T, "End a portfolio's run"),
    route!(
        POST,
        "/v1/portfolios/{id}/pause",
        T,
        "Refuse the portfolio's new orders",
        Some("Pause"),
        &[]
    ),
    route!(
        POST,
        "/v1/portfolios/{id}/resume",
        T,
        "Send orders again after a pause"
    ),
    route!(
        POST,
        "/v1/portfolios/{id}/migrate",
        A,
        "Move a portfolio to another node",
        Some("Migrate"),
        &[]
    ),
    route!(
        GET,
        "/v1/portfolios/{id}/positions",
        V,
        "The portfolio's latest positions"
    ),
    route!(
        GET,
        "/v1/portfolios/{id}/orders",
        V,
        "The portfolio's working orders"
    ),
    route!(
        GET,
        "/v1/portfolios/{id}/fills",
        V,
        "The portfolio's fills",
        None,
        &[LIMIT]
    ),
    route!(
        GET,
        "/v1/portfolios/{id}/strategy-events",
        V,
        "What the portfolio's engine refused, decided or reported",
        None,
        &[SINCE, UNTIL, LIMIT]
    ),
    route!(
        GET,
        "/v1/nodes",
        V,
        "Execution nodes and what runs where, per the scheduler"
    ),
    route!(
        GET,
        "/v1/assignments",
        V,
        "Each portfolio's node, per the database"
    ),
    route!(
        GET,
        "/v1/alerts",
        V,
        "Alerts by time, level and portfolio",
        None,
        &[
            SINCE,
            UNTIL,
            LIMIT,
            QueryParam {
                name: "level",
                about: "warning, error or critical",
                kind: "string"
            },
            QueryParam {
                name: "portfolio",
                about: "only this portfolio's",
                kind: "string"
            }
        ]
    ),
    route!(
        GET,
        "/v1/system-events",
        V,
        "The latest system events (heartbeats, acknowledgements) since the API started",
        None,
        &[LIMIT]
    ),
    route!(GET, "/v1/kill-switch", V, "The kill switches in force"),
    route!(
        POST,
        "/v1/kill-switch",
        T,
        "Engage a kill switch",
        Some("KillSwitchEngage"),
        &[]
    ),
    route!(DELETE, "/v1/kill-switch/{id}", A, "Release a kill switch"),
    route!(
        GET,
        "/v1/tokens",
        A,
        "Every API token (never their secrets)"
    ),
    route!(
        POST,
        "/v1/tokens",
        A,
        "Make a token; its secret is shown once",
        Some("TokenCreate"),
        &[]
    ),
    route!(DELETE, "/v1/tokens/{id}", A, "Revoke a token"),
    route!(
        GET,
        "/v1/audit",
        A,
        "Every change made through the API",
        None,
        &[
            SINCE,
            UNTIL,
            LIMIT,
            QueryParam {
                name: "outcome",
                about: "ok, client_error, forbidden or server_error",
                kind: "string"
            }
        ]
    ),
];

/// The route of `method` and matched `path`.
pub fn find(method: &Method, path: &str) -> Option<&'static RouteSpec> {
    ROUTES
        .iter()
        .find(|r| r.method == *method && r.path == path)
}
