//! [`Runtime`]: what every live runtime shares — the bus, topic names, the database, the
//! dead-letter publisher, alerts, retries and the shutdown signal.

use chimera_kernel::ids::PortfolioId;
use chimera_kernel::time::Timestamp;
use chimera_messages::{
    Alert, AlertCode, AlertLevel, DeadLetters, DecodeError, MessageType, Topic, Topics,
};
use chimera_ports::{
    AuditKind, AuditRecord, AuditRepository, Delivery, EventBus, PortError, PortResult,
};
use chimera_sql::SqlStore;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How long a runtime process on its way out waits for the alerts it raised to be delivered
/// ([`Runtime::settle_alerts`]).
pub const ALERTS_ON_EXIT: Duration = Duration::from_secs(5);

/// Runs `work` (a runtime of `rt` to its end), then waits for the alerts `rt` raised to be
/// delivered, at most [`ALERTS_ON_EXIT`], whatever `work` returned: a fatal error's alert is
/// the one an operator most needs.
pub async fn alerts_settled_after<T>(rt: &Runtime, work: impl Future<Output = T>) -> T {
    let outcome = work.await;
    rt.settle_alerts(ALERTS_ON_EXIT).await;
    outcome
}

/// Wall-clock now, epoch ms (runtimes may read the clock; the kernel never does).
pub fn wall_clock() -> Timestamp {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    Timestamp(i64::try_from(ms).unwrap_or(i64::MAX))
}

/// A shutdown signal: flips once, observed by every task.
#[derive(Debug, Clone)]
pub struct Shutdown {
    rx: watch::Receiver<bool>,
}

/// The sending side of [`Shutdown`]; clones trigger the same signal.
#[derive(Debug, Clone)]
pub struct ShutdownTrigger {
    tx: watch::Sender<bool>,
}

impl ShutdownTrigger {
    /// Asks every task to stop.
    pub fn trigger(&self) {
        let _ = self.tx.send(true);
    }
}

/// A fresh signal pair.
pub fn shutdown_pair() -> (ShutdownTrigger, Shutdown) {
    let (tx, rx) = watch::channel(false);
    (ShutdownTrigger { tx }, Shutdown { rx })
}

impl Shutdown {
    /// Whether shutdown was asked.
    pub fn is_triggered(&self) -> bool {
        *self.rx.borrow()
    }

    /// Resolves when shutdown is asked.
    pub async fn wait(&mut self) {
        let _ = self.rx.wait_for(|v| *v).await;
    }
}

/// Triggers `trigger` on SIGTERM or Ctrl-C.
pub fn trigger_on_signals(trigger: ShutdownTrigger) {
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            if let Ok(mut term) = signal(SignalKind::terminate()) {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
                trigger.trigger();
                return;
            }
        }
        let _ = tokio::signal::ctrl_c().await;
        trigger.trigger();
    });
}

/// The key-value store processes share, and the lease time of what they hold in it.
#[derive(Clone)]
pub struct SharedState {
    /// The store (Redis, or memory within one process).
    pub store: Arc<dyn chimera_ports::StateStore>,
    /// TTL of a portfolio lease.
    pub lease: Duration,
}

/// Shared handles of one runtime process.
pub struct Runtime {
    /// The message bus.
    pub bus: Arc<dyn EventBus>,
    /// Topic names.
    pub topics: Topics,
    /// The database.
    pub store: SqlStore,
    /// Who this runtime is (`node-1`, `gateway-1`, ...): envelope source and alert source.
    pub source: String,
    /// Dead-letter publisher.
    pub dead_letters: DeadLetters,
    /// Shutdown signal.
    pub shutdown: Shutdown,
    /// Shared key-value state (heartbeats, portfolio leases), when configured.
    pub state: Option<SharedState>,
    alerts: AtomicU64,
    sender: crate::alerting::AlertSender,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// Bundles the handles.
    pub fn new(
        bus: Arc<dyn EventBus>,
        topics: Topics,
        store: SqlStore,
        source: impl Into<String>,
        shutdown: Shutdown,
    ) -> Self {
        let source = source.into();
        Self {
            dead_letters: DeadLetters::new(&topics, source.clone()),
            bus,
            topics,
            store,
            source,
            shutdown,
            state: None,
            alerts: AtomicU64::new(0),
            sender: crate::alerting::AlertSender::default(),
        }
    }

    /// The same handles with shared key-value state.
    pub fn with_state(mut self, state: SharedState) -> Self {
        self.state = Some(state);
        self
    }

    /// Publishes the answer to control command `command_id` on `system.events`, from this
    /// process.
    ///
    /// # Errors
    /// A fatal bus error, or a transient one once shutdown was asked.
    pub async fn acknowledge(
        &self,
        command_id: String,
        portfolio_id: Option<PortfolioId>,
        outcome: chimera_messages::CommandOutcome,
    ) -> PortResult<()> {
        let ack = chimera_messages::CommandAck {
            command_id,
            portfolio_id,
            by: self.source.clone(),
            outcome,
        };
        self.publish(
            Topic::SystemEvents,
            MessageType::SystemEvent,
            ack.message_id(),
            ack.portfolio_id.as_ref().map_or("*", PortfolioId::as_str),
            &ack,
        )
        .await
        .map(|_| ())
    }

    /// Logs an alert at once and queues it for the alerts topic and the audit trail, which a
    /// task of this runtime's delivers in order (`alerting`): the caller does not
    /// wait for the bus or the database. [`Self::settle_alerts`] waits for what is queued.
    pub fn alert(
        &self,
        level: AlertLevel,
        code: AlertCode,
        message: String,
        portfolio: Option<PortfolioId>,
    ) {
        let n = self.alerts.fetch_add(1, Ordering::Relaxed);
        let now = wall_clock();
        let id = format!("alert:{}:{}:{n}", self.source, now.0);
        let alert = Alert {
            level,
            code,
            message,
            portfolio,
        };
        let portfolio = alert.portfolio.as_ref().map(PortfolioId::as_str);
        match level {
            AlertLevel::Warning => tracing::warn!(
                component = %self.source, portfolio, code = code.as_str(), "{}", alert.message
            ),
            AlertLevel::Critical | AlertLevel::Error => tracing::error!(
                component = %self.source, portfolio, code = code.as_str(), level = level.as_str(),
                "{}", alert.message
            ),
        }
        let key = alert
            .portfolio
            .as_ref()
            .map_or(self.source.clone(), |p| p.as_str().to_owned());
        let record = AuditRecord {
            kind: AuditKind::Alert,
            key: id.clone(),
            source: self.source.clone(),
            category: level.as_str().to_owned(),
            body: serde_json::to_string(&alert).unwrap_or_default(),
            ts: now,
        };
        let delivery = crate::alerting::Delivery {
            id,
            key,
            alert,
            record,
        };
        self.sender
            .send(&self.source, || self.alert_delivery(), delivery);
    }

    /// How this runtime's alert task delivers an alert: with handles of its own (the same bus,
    /// topics, database, source and shutdown signal), on the alerts topic, then in the audit
    /// trail, transient failures retried until shutdown.
    fn alert_delivery(&self) -> crate::alerting::Deliver {
        let own = Arc::new(Runtime::new(
            Arc::clone(&self.bus),
            self.topics.clone(),
            self.store.clone(),
            self.source.clone(),
            self.shutdown.clone(),
        ));
        Box::new(move |delivery| {
            let own = Arc::clone(&own);
            Box::pin(async move {
                let crate::alerting::Delivery {
                    id,
                    key,
                    alert,
                    record,
                } = delivery;
                let _ = own
                    .publish(Topic::Alerts, MessageType::Alert, id, &key, &alert)
                    .await;
                let _ = own
                    .retry("record alert", || own.store.record(&record))
                    .await;
            })
        })
    }

    /// Waits until every alert raised so far is on the bus and in the audit trail (or given
    /// up after its retries), at most `limit`. The runtime processes call it on their way out.
    pub async fn settle_alerts(&self, limit: Duration) {
        self.sender.settle(limit).await;
    }

    /// Dead-letters an undecodable delivery (topic and table) and raises an alert. The caller
    /// acknowledges the delivery afterwards.
    ///
    /// # Errors
    /// When the dead letter could not be published (then do not acknowledge).
    pub async fn dead_letter(&self, delivery: &Delivery, error: &DecodeError) -> PortResult<()> {
        let now = wall_clock();
        self.retry("dead letter", || {
            self.dead_letters
                .publish(self.bus.as_ref(), delivery, error, now)
        })
        .await?;
        let record = AuditRecord {
            kind: AuditKind::DeadLetter,
            key: format!(
                "{}/{}/{}",
                delivery.topic, delivery.partition, delivery.offset
            ),
            source: self.source.clone(),
            category: "undecodable".into(),
            body: serde_json::json!({
                "topic": delivery.topic,
                "partition": delivery.partition,
                "offset": delivery.offset,
                "key": delivery.key,
                "reason": error.reason,
                "raw": String::from_utf8_lossy(&delivery.payload),
            })
            .to_string(),
            ts: now,
        };
        self.retry("record dead letter", || self.store.record(&record))
            .await?;
        self.alert(
            AlertLevel::Error,
            AlertCode::DeadLetter,
            format!(
                "undecodable message on {} at {}/{}: {}",
                delivery.topic, delivery.partition, delivery.offset, error.reason
            ),
            None,
        );
        Ok(())
    }

    /// Acknowledges a delivery, retrying transient failures.
    ///
    /// # Errors
    /// A non-transient error, or a transient one once shutdown was asked.
    pub async fn ack(
        &self,
        sub: &mut Box<dyn chimera_ports::Subscription>,
        delivery: &Delivery,
    ) -> PortResult<()> {
        let mut backoff = Duration::from_millis(50);
        loop {
            match sub.ack(delivery).await {
                Ok(()) => return Ok(()),
                Err(e) => {
                    if !self.wait_to_retry("ack", &e, &mut backoff).await {
                        return Err(e);
                    }
                }
            }
        }
    }

    /// After a failure: for a transient error while running, sleeps `backoff`, doubles it
    /// (capped at 2 s) and returns true; otherwise returns false (give up).
    async fn wait_to_retry(&self, what: &str, error: &PortError, backoff: &mut Duration) -> bool {
        if !error.is_transient() || self.shutdown.is_triggered() {
            return false;
        }
        tracing::warn!(component = %self.source, "{what}: {error}; retrying in {backoff:?}");
        tokio::time::sleep(*backoff).await;
        *backoff = (*backoff * 2).min(Duration::from_secs(2));
        true
    }

    /// Runs `op` until it succeeds, retrying transient errors with capped exponential backoff.
    ///
    /// # Errors
    /// A non-transient error at once; a transient one when shutdown is asked while retrying.
    pub async fn retry<T, F, Fut>(&self, what: &str, mut op: F) -> PortResult<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = PortResult<T>>,
    {
        let mut backoff = Duration::from_millis(50);
        loop {
            match op().await {
                Ok(v) => return Ok(v),
                Err(e) => {
                    if !self.wait_to_retry(what, &e, &mut backoff).await {
                        return Err(e);
                    }
                }
            }
        }
    }
}

/// The error a task returns when it stops because of a fatal port error.
pub fn fatal(what: &str, e: &PortError) -> anyhow::Error {
    anyhow::anyhow!("{what}: {e}")
}
