//! What every handler shares, and the listener that hands control-command acknowledgements to
//! the calls waiting for them.

use crate::access::{Authenticator, Principal, RateLimiter};
use chimera_kernel::strategy::StrategyRegistry;
use chimera_messages::{decode, CommandAck, MessageType, Topic};
use chimera_ports::TokenRepository;
use chimera_runtime::api_config::ApiConfig;
use chimera_runtime::kill_switch::KillSwitches;
use chimera_runtime::runtime::Runtime;
use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::mpsc;

/// The API's shared state (cheap to clone).
#[derive(Clone)]
pub struct ApiState(pub(crate) Arc<Inner>);

pub(crate) struct Inner {
    pub(crate) rt: Arc<Runtime>,
    pub(crate) tokens: Arc<dyn TokenRepository>,
    pub(crate) auth: Authenticator,
    pub(crate) limiter: RateLimiter,
    pub(crate) acks: AckHub,
    pub(crate) config: ApiConfig,
    pub(crate) strategies: StrategyRegistry,
    pub(crate) calls: AtomicU64,
}

impl ApiState {
    /// Over `rt` (its database holds the tokens and the audit), checking portfolio
    /// configurations against `strategies`. Starts the acknowledgement listener.
    ///
    /// # Errors
    /// When `system.events` cannot be subscribed to.
    pub async fn new(
        rt: Arc<Runtime>,
        config: ApiConfig,
        strategies: StrategyRegistry,
    ) -> anyhow::Result<Self> {
        let tokens: Arc<dyn TokenRepository> = Arc::new(rt.store.clone());
        let acks = AckHub::default();
        acks.listen(Arc::clone(&rt)).await?;
        Ok(Self(Arc::new(Inner {
            auth: Authenticator::new(Arc::clone(&tokens)),
            limiter: RateLimiter::new(config.requests_per_minute),
            rt,
            tokens,
            acks,
            config,
            strategies,
            calls: AtomicU64::new(0),
        })))
    }

    pub(crate) fn kill_switches(&self) -> Option<KillSwitches> {
        self.0
            .rt
            .state
            .as_ref()
            .map(|s| KillSwitches::new(Arc::clone(&s.store)))
    }
}

/// Who made the current request (set by the guard for every route but health).
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

/// How many system events the API keeps for `GET /v1/system-events`.
pub(crate) const RECENT_EVENTS: usize = 1_000;

/// Waiters for acknowledgements, by command id, and the latest system events (read once by
/// the one listener, not by a reader per request).
#[derive(Clone, Default)]
pub(crate) struct AckHub {
    waiters: Arc<Mutex<HashMap<String, mpsc::UnboundedSender<CommandAck>>>>,
    recent: Arc<Mutex<std::collections::VecDeque<serde_json::Value>>>,
}

impl AckHub {
    /// Reads `system.events` from now on and hands each acknowledgement to its waiter.
    async fn listen(&self, rt: Arc<Runtime>) -> anyhow::Result<()> {
        let topic = rt.topics.name(Topic::SystemEvents);
        let now = rt.bus.last_offsets(&topic).await?;
        let group = rt.topics.group(&format!("{}.acks", rt.source));
        let mut events = rt.bus.subscribe_from(&topic, &group, &now).await?;
        let waiters = Arc::clone(&self.waiters);
        let recent = Arc::clone(&self.recent);
        let mut shutdown = rt.shutdown.clone();
        tokio::spawn(async move {
            loop {
                let polled = tokio::select! {
                    polled = events.poll(Duration::from_millis(200)) => polled,
                    () = shutdown.wait() => return,
                };
                let delivery = match polled {
                    Ok(Some(d)) => d,
                    Ok(None) => continue,
                    Err(e) => {
                        tracing::warn!("reading acknowledgements: {e}");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue;
                    }
                };
                if let Ok(event) = serde_json::from_slice(&delivery.payload) {
                    let mut recent = recent.lock().unwrap_or_else(PoisonError::into_inner);
                    if recent.len() == RECENT_EVENTS {
                        recent.pop_front();
                    }
                    recent.push_back(event);
                }
                if let Ok(env) = decode::<CommandAck>(&delivery.payload, MessageType::SystemEvent) {
                    let waiters = waiters.lock().unwrap_or_else(PoisonError::into_inner);
                    if let Some(tx) = waiters.get(&env.payload.command_id) {
                        let _ = tx.send(env.payload);
                    }
                }
                let _ = events.ack(&delivery).await;
            }
        });
        Ok(())
    }

    /// The latest `limit` system events, newest first.
    pub(crate) fn recent(&self, limit: usize) -> Vec<serde_json::Value> {
        let recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        recent.iter().rev().take(limit).cloned().collect()
    }

    /// Starts collecting the acknowledgements of command `id`.
    pub(crate) fn wait_for(&self, id: &str) -> AckWaiter {
        let (tx, rx) = mpsc::unbounded_channel();
        self.waiters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id.to_owned(), tx);
        AckWaiter {
            id: id.to_owned(),
            rx,
            waiters: Arc::clone(&self.waiters),
        }
    }
}

/// The acknowledgements of one command; stops collecting when dropped.
pub(crate) struct AckWaiter {
    id: String,
    rx: mpsc::UnboundedReceiver<CommandAck>,
    waiters: Arc<Mutex<HashMap<String, mpsc::UnboundedSender<CommandAck>>>>,
}

impl AckWaiter {
    pub(crate) async fn next(&mut self, within: Duration) -> Option<CommandAck> {
        tokio::time::timeout(within, self.rx.recv())
            .await
            .ok()
            .flatten()
    }
}

impl Drop for AckWaiter {
    fn drop(&mut self) {
        self.waiters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
    }
}
