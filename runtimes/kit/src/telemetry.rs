//! Metrics and health over HTTP for every runtime process: `GET /metrics` (Prometheus text, from
//! the `metrics` facade the runtimes record into) and `GET /health` (JSON: the component, its
//! level and what it reports about itself). Served only where a runtime's section sets
//! `metrics_listen` (e.g. `"127.0.0.1:9101"`; port 0 picks a free one, logged).
//!
//! One recorder per process, installed on first use; several runtimes in one process (`chimera
//! up`, tests) share it, each naming itself in the `component` label.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde::Serialize;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

static RECORDER: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// How often the recorder folds recorded histogram samples into its buckets.
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// The process's Prometheus handle, installing the recorder the first time (`None` when
/// another recorder was installed first, by an embedding program).
///
/// The recorder keeps every histogram sample until it is folded into the buckets, which
/// happens on a scrape or an upkeep; a process nobody scrapes would grow without bound (the
/// memory soak showed it), so a thread does the upkeep every `UPKEEP_EVERY`.
pub fn recorder() -> Option<&'static PrometheusHandle> {
    RECORDER
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets(&[
                    0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5,
                    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                ])
                .ok()?
                .install_recorder()
                .ok()?;
            let upkeep = handle.clone();
            // Without the thread the process still works; only its histograms grow.
            if let Err(e) = std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || loop {
                    std::thread::sleep(UPKEEP_EVERY);
                    upkeep.run_upkeep();
                })
            {
                tracing::warn!("metrics upkeep thread not started: {e}");
            }
            Some(handle)
        })
        .as_ref()
}

/// How a component is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    /// Working.
    Ok,
    /// Working with a problem (e.g. waiting for a lease, a queue under pressure).
    Degraded,
    /// Not doing its job.
    Down,
}

/// A component's answer on `/health`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Health {
    /// The component (`node-1`, `gateway-1`, …).
    pub component: String,
    /// Its level; `/health` answers 503 when `down`.
    pub status: HealthStatus,
    /// What it reports about itself (portfolios run, leases, leadership, …).
    pub details: serde_json::Value,
}

/// What a runtime hands the server: a way to read its health now.
pub type HealthProbe = Arc<dyn Fn() -> Health + Send + Sync>;

async fn metrics() -> impl IntoResponse {
    match recorder() {
        Some(handle) => (StatusCode::OK, handle.render()),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "another metrics recorder is installed in this process".to_owned(),
        ),
    }
}

async fn health(State(probe): State<HealthProbe>) -> impl IntoResponse {
    let health = probe();
    let code = if health.status == HealthStatus::Down {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (code, Json(health))
}

/// Serves `/metrics` and `/health` on `listen` until `shutdown`; returns the bound address
/// (useful with port 0) once listening.
///
/// # Errors
/// An address that does not parse or cannot be bound.
pub async fn serve(
    listen: &str,
    probe: HealthProbe,
    mut shutdown: crate::runtime::Shutdown,
) -> anyhow::Result<SocketAddr> {
    recorder();
    let addr: SocketAddr = listen
        .parse()
        .map_err(|e| anyhow::anyhow!("metrics_listen {listen:?}: {e}"))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("metrics_listen {listen}: cannot bind: {e}"))?;
    let bound = listener.local_addr()?;
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/health", get(health))
        .with_state(probe);
    tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move { shutdown.wait().await })
            .await;
        if let Err(e) = served {
            tracing::warn!("metrics server: {e}");
        }
    });
    tracing::info!("metrics and health on http://{bound}/metrics and /health");
    Ok(bound)
}

/// The health a runtime last reported about itself, read by `/health`.
#[derive(Clone)]
pub struct HealthBoard {
    current: Arc<std::sync::Mutex<Health>>,
}

impl HealthBoard {
    /// A board for `component`, `ok` with no details until told otherwise. Installs the
    /// process's recorder first, so the metric handles a runtime makes after this record (a
    /// handle made before any recorder exists records nothing, ever).
    pub fn new(component: &str) -> Self {
        recorder();
        Self {
            current: Arc::new(std::sync::Mutex::new(Health {
                component: component.to_owned(),
                status: HealthStatus::Ok,
                details: serde_json::Value::Null,
            })),
        }
    }

    /// Records the component's level and details.
    pub fn set(&self, status: HealthStatus, details: serde_json::Value) {
        if let Ok(mut current) = self.current.lock() {
            current.status = status;
            current.details = details;
        }
    }

    /// What `/health` reads.
    pub fn probe(&self) -> HealthProbe {
        let current = Arc::clone(&self.current);
        Arc::new(move || {
            current
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone()
        })
    }

    /// Serves `/metrics` and `/health` on `listen` when it is set.
    ///
    /// # Errors
    /// As [`serve`].
    pub async fn serve_if(
        &self,
        listen: Option<&str>,
        shutdown: crate::runtime::Shutdown,
    ) -> anyhow::Result<Option<SocketAddr>> {
        match listen {
            Some(listen) => Ok(Some(serve(listen, self.probe(), shutdown).await?)),
            None => Ok(None),
        }
    }
}
