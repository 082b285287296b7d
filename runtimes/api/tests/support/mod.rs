//! An API over real adapters (a SQLite file, the in-memory bus and state store), driven
//! in-process through its router, with one token per role.
#![allow(dead_code, reason = "each test uses its part")]
#![allow(clippy::unwrap_used, reason = "tests")]

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use chimera_api::{app, create_token, ApiState};
use chimera_kernel::strategy::StrategyRegistry;
use chimera_memory::{MemoryEventBus, MemoryStateStore, SystemClock};
use chimera_messages::Topics;
use chimera_ports::Role;
use chimera_runtime::api_config::ApiConfig;
use chimera_runtime::runtime::{shutdown_pair, Runtime, SharedState, ShutdownTrigger};
use chimera_sql::{SqlConfig, SqlStore};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;

pub(crate) struct Api {
    pub(crate) router: Router,
    pub(crate) rt: Arc<Runtime>,
    pub(crate) tokens: BTreeMap<Role, String>,
    pub(crate) trigger: ShutdownTrigger,
}

/// An API named `name` allowing `per_minute` requests per token.
pub(crate) async fn api(name: &str, per_minute: u32) -> Api {
    let dir = std::env::temp_dir().join(format!("chimera-api-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.join("api.db").display());
    let store = SqlStore::connect(&SqlConfig::new(url)).await.unwrap();
    let (trigger, shutdown) = shutdown_pair();
    let rt = Arc::new(
        Runtime::new(
            Arc::new(MemoryEventBus::new()),
            Topics::new(format!("{name}.")),
            store,
            "api",
            shutdown,
        )
        .with_state(SharedState {
            store: Arc::new(MemoryStateStore::new(Arc::new(SystemClock))),
            lease: Duration::from_secs(5),
        }),
    );
    let config: ApiConfig = toml::from_str(&format!(
        "id = \"api\"\nrequests_per_minute = {per_minute}\ncommand_wait_ms = 100\n"
    ))
    .unwrap();
    let mut tokens = BTreeMap::new();
    for role in Role::ALL {
        let (bearer, _) = create_token(&rt, role.as_str(), role, None).await.unwrap();
        tokens.insert(role, bearer);
    }
    let state = ApiState::new(Arc::clone(&rt), config, StrategyRegistry::builtin())
        .await
        .unwrap();
    Api {
        router: app(state),
        rt,
        tokens,
        trigger,
    }
}

impl Api {
    /// Sends one request as `role` (no token: `None`); the status and the body as JSON
    /// (`Null` when not JSON).
    pub(crate) async fn call(
        &self,
        method: Method,
        uri: &str,
        role: Option<Role>,
        body: Option<&str>,
    ) -> (StatusCode, Value) {
        let bearer = role.map(|r| self.tokens[&r].clone());
        self.send(method, uri, bearer.as_deref(), body).await
    }

    /// As [`Self::call`] with a raw bearer string.
    pub(crate) async fn call_as(
        &self,
        method: Method,
        uri: &str,
        bearer: &str,
        body: Option<&str>,
    ) -> (StatusCode, Value) {
        self.send(method, uri, Some(bearer), body).await
    }

    async fn send(
        &self,
        method: Method,
        uri: &str,
        bearer: Option<&str>,
        body: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(bearer) = bearer {
            request = request.header("authorization", format!("Bearer {bearer}"));
        }
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        let request = request
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_owned())))
            .unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 22)
            .await
            .unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }
}

/// A valid portfolio configuration as JSON.
pub(crate) fn portfolio_config(id: &str) -> String {
    format!(
        r#"{{"id":"{id}","strategy":"ema-cross","params":{{"fast":"3","slow":"8","qty":"0.01"}},
           "instruments":[{{"symbol":"BTCUSDT","leverage":"5"}}],"balances":{{"USDT":"100000"}}}}"#
    )
}
