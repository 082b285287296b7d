//! Builds the configured services ([`crate::services`]) into adapters, each with a
//! [`HealthCheck`], and waits a bounded time for each at start-up: a runtime that cannot reach
//! a service says which one, at which address, within `connect_timeout_ms` (10 s by default),
//! instead of failing a minute later deep inside the first operation.

use crate::portfolio_spec::PortfolioSpec;
use crate::services::{BusAdapter, BusConfig, StateAdapter, StateConfig, StoreConfig};
use chimera_kafka::KafkaEventBus;
use chimera_ports::{EventBus, StateStore};
use chimera_redis::{RedisConfig, RedisStateStore, RedisStreamsEventBus};
use chimera_sql::SqlStore;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

type ProbeFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;
type Probe = Arc<dyn Fn() -> ProbeFuture + Send + Sync>;

/// Asks a built service whether it answers: at start-up, and later for health levels.
#[derive(Clone)]
pub struct HealthCheck {
    service: &'static str,
    address: String,
    probe: Probe,
}

impl std::fmt::Debug for HealthCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthCheck")
            .field("service", &self.service)
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl HealthCheck {
    fn new<F, Fut>(service: &'static str, address: String, probe: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        Self {
            service,
            address,
            probe: Arc::new(move || Box::pin(probe())),
        }
    }

    /// Always healthy: in-process services.
    fn in_process(service: &'static str) -> Self {
        Self::new(service, "this process".into(), || async { Ok(()) })
    }

    /// The service's name, e.g. `Kafka`.
    pub fn service(&self) -> &'static str {
        self.service
    }

    /// Where it is (passwords redacted).
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Asks the service once, waiting at most `within`.
    ///
    /// # Errors
    /// [`Unreachable`] naming the service and its address, with what went wrong.
    pub async fn check(&self, within: Duration) -> Result<(), Unreachable> {
        match tokio::time::timeout(within, (self.probe)()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(reason)) => Err(self.unreachable(within, reason)),
            Err(_) => Err(self.unreachable(within, "no answer".into())),
        }
    }

    fn unreachable(&self, within: Duration, reason: String) -> Unreachable {
        Unreachable {
            service: self.service,
            address: self.address.clone(),
            within_ms: u64::try_from(within.as_millis()).unwrap_or(u64::MAX),
            reason,
        }
    }
}

/// A service did not answer at start-up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot reach {service} at {address} within {within_ms} ms: {reason}")]
pub struct Unreachable {
    /// `Kafka`, `Redis`, `PostgreSQL`, `SQLite`.
    pub service: &'static str,
    /// Where (passwords redacted).
    pub address: String,
    /// How long start-up waited.
    pub within_ms: u64,
    /// What went wrong, or `no answer`.
    pub reason: String,
}

/// `url` without its password.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Runs `build` (which connects) and then the health check it returns, all within `within`.
async fn within<T, F>(
    service: &'static str,
    address: String,
    within: Duration,
    build: F,
) -> Result<(T, HealthCheck), Unreachable>
where
    F: Future<Output = Result<(T, HealthCheck), String>>,
{
    let started = tokio::time::Instant::now();
    let fail = |reason: String| Unreachable {
        service,
        address: address.clone(),
        within_ms: u64::try_from(within.as_millis()).unwrap_or(u64::MAX),
        reason,
    };
    let (adapter, health) = match tokio::time::timeout(within, build).await {
        Ok(Ok(built)) => built,
        Ok(Err(reason)) => return Err(fail(reason)),
        Err(_) => return Err(fail("no answer".into())),
    };
    health
        .check(within.saturating_sub(started.elapsed()))
        .await
        .map_err(|e| fail(e.reason))?;
    Ok((adapter, health))
}

impl BusConfig {
    /// Connects the bus for the process `instance` (Kafka client id, Redis consumer names),
    /// with the Redis stream layout of `portfolios`, and checks it answers.
    ///
    /// # Errors
    /// [`Unreachable`] within `connect_timeout_ms`.
    pub async fn build(
        &self,
        instance: &str,
        portfolios: &[PortfolioSpec],
    ) -> Result<(Arc<dyn EventBus>, HealthCheck), Unreachable> {
        let limit = Duration::from_millis(self.connect_timeout_ms);
        match &self.adapter {
            BusAdapter::Kafka(kafka) => {
                let mut kafka = kafka.clone();
                kafka.client_id = format!("{}-{instance}", kafka.client_id);
                // Every group of a live process has that process as its only reader (group
                // names carry the process id): read exclusively, so a restart resumes at once
                // from the acknowledged offsets, with no group coordination to wait for.
                kafka.exclusive = true;
                let address = kafka.brokers.clone();
                within("Kafka", address.clone(), limit, async move {
                    let bus = KafkaEventBus::connect(&kafka).map_err(|e| e.to_string())?;
                    let probe = bus.clone();
                    let health = HealthCheck::new("Kafka", address, move || {
                        let probe = probe.clone();
                        async move { probe.ping(limit).await.map_err(|e| e.to_string()) }
                    });
                    Ok((Arc::new(bus) as Arc<dyn EventBus>, health))
                })
                .await
            }
            BusAdapter::Redis(redis) => {
                let mut redis = redis.clone();
                let mut routes = redis.streams.clone();
                routes.extend(crate::bus_layout::redis_stream_routes(
                    &self.topic_prefix,
                    &self.redis_streams,
                    portfolios,
                ));
                redis.streams = routes;
                let address = redact(&redis.url);
                within("Redis", address.clone(), limit, async move {
                    let bus = RedisStreamsEventBus::connect(&redis)
                        .await
                        .map_err(|e| e.to_string())?;
                    let probe = bus.clone();
                    let health = HealthCheck::new("Redis", address, move || {
                        let probe = probe.clone();
                        async move { probe.ping().await.map_err(|e| e.to_string()) }
                    });
                    Ok((Arc::new(bus) as Arc<dyn EventBus>, health))
                })
                .await
            }
            BusAdapter::Memory(_) => Ok((
                Arc::new(chimera_memory::MemoryEventBus::new()),
                HealthCheck::in_process("the in-memory bus"),
            )),
        }
    }
}

impl StateConfig {
    /// Connects the shared state, keys under `default_prefix` unless the section sets its own
    /// `key_prefix`, and checks it answers.
    ///
    /// # Errors
    /// [`Unreachable`] within `connect_timeout_ms`.
    pub async fn build(
        &self,
        default_prefix: &str,
    ) -> Result<(Arc<dyn StateStore>, HealthCheck), Unreachable> {
        let limit = Duration::from_millis(self.connect_timeout_ms);
        match &self.adapter {
            StateAdapter::Redis(redis) => {
                let redis = RedisConfig {
                    key_prefix: if redis.key_prefix.is_empty() {
                        default_prefix.to_owned()
                    } else {
                        redis.key_prefix.clone()
                    },
                    ..redis.clone()
                };
                let address = redact(&redis.url);
                within("Redis", address.clone(), limit, async move {
                    let store = RedisStateStore::connect(&redis)
                        .await
                        .map_err(|e| e.to_string())?;
                    let probe = store.clone();
                    let health = HealthCheck::new("Redis", address, move || {
                        let probe = probe.clone();
                        async move { probe.ping().await.map_err(|e| e.to_string()) }
                    });
                    Ok((Arc::new(store) as Arc<dyn StateStore>, health))
                })
                .await
            }
            StateAdapter::Memory(_) => Ok((
                Arc::new(chimera_memory::MemoryStateStore::new(Arc::new(
                    chimera_memory::SystemClock,
                ))),
                HealthCheck::in_process("the in-memory state"),
            )),
        }
    }
}

impl StoreConfig {
    /// Connects the store (applying its schema) and checks it answers.
    ///
    /// # Errors
    /// [`Unreachable`] within the store's own acquire time-out, or 10 s.
    pub async fn build(&self) -> Result<(SqlStore, HealthCheck), Unreachable> {
        match self {
            Self::Sql(sql) => {
                let service = match sql.validate() {
                    Ok(chimera_sql::Backend::Sqlite) => "SQLite",
                    _ => "PostgreSQL",
                };
                let limit = Duration::from_millis(
                    sql.acquire_timeout_ms
                        .max(crate::services::DEFAULT_CONNECT_TIMEOUT_MS),
                );
                let address = sql.redacted_url();
                let sql = sql.clone();
                within(service, address.clone(), limit, async move {
                    let store = SqlStore::connect(&sql).await.map_err(|e| {
                        let mut text = e.to_string();
                        let mut source = std::error::Error::source(&e);
                        while let Some(cause) = source {
                            text.push_str(": ");
                            text.push_str(&cause.to_string());
                            source = cause.source();
                        }
                        text
                    })?;
                    let probe = store.clone();
                    let health = HealthCheck::new(service, address, move || {
                        let probe = probe.clone();
                        async move { probe.ping().await.map_err(|e| e.to_string()) }
                    });
                    Ok((store, health))
                })
                .await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_an_error() {
        assert_eq!(
            redact("redis://user:secret@host:6379/0"),
            "redis://user:***@host:6379/0"
        );
        assert_eq!(redact("redis://host:6379"), "redis://host:6379");
    }
}
