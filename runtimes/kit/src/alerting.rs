//! [`AlertSender`]: a runtime's alerts go to the alerts topic and the audit trail from a task of
//! their own, in the order they were raised, so raising one never waits for the bus or the
//! database. A node's router raises a queue-pressure alert while it holds the next market
//! event: waiting there for a produce and an insert on a loaded broker (hundreds of
//! milliseconds on the development Kafka broker) stalled every portfolio of the node.
//!
//! An alert is logged when it is raised; publishing and recording it are best effort, as they
//! were when done inline (transient failures retried until shutdown). What is still queued when
//! the process ends is delivered by [`AlertSender::settle`], which the runtime processes call on
//! their way out.

use crate::runtime::Runtime;
use chimera_messages::{MessageType, Topic};
use chimera_ports::{AuditRecord, AuditRepository};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Alerts raised and not yet delivered before further ones are dropped (and counted): a flood
/// must not grow without bound while the bus is down.
const QUEUED: usize = 1024;

enum Job {
    Deliver {
        id: String,
        key: String,
        alert: chimera_messages::Alert,
        record: AuditRecord,
    },
    Settle(oneshot::Sender<()>),
}

/// The sending side; the task starts with the first alert.
#[derive(Default)]
pub(crate) struct AlertSender {
    queue: OnceLock<mpsc::Sender<Job>>,
    dropped: AtomicU64,
}

impl AlertSender {
    /// Queues `alert` (with its audit `record`) for the delivering task, started on `rt`'s
    /// handles the first time. Never waits; when [`QUEUED`] alerts are waiting already, or
    /// when raised outside a tokio runtime before any task could start, the alert is dropped,
    /// counted and logged (it was logged when raised).
    pub(crate) fn send(
        &self,
        rt: &Runtime,
        id: String,
        key: String,
        alert: chimera_messages::Alert,
        record: AuditRecord,
    ) {
        let queue = match self.queue.get() {
            Some(queue) => queue,
            None => match tokio::runtime::Handle::try_current() {
                Ok(tokio) => self.queue.get_or_init(|| start(rt, &tokio)),
                Err(_) => return self.dropped(rt, "raised outside a tokio runtime"),
            },
        };
        let job = Job::Deliver {
            id,
            key,
            alert,
            record,
        };
        if queue.try_send(job).is_err() {
            self.dropped(
                rt,
                &format!("{QUEUED} alerts are waiting for the bus already"),
            );
        }
    }

    fn dropped(&self, rt: &Runtime, why: &str) {
        let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::warn!(component = %rt.source, dropped, "alert not published: {why}");
    }

    /// Waits until every alert raised so far is delivered (or given up), at most `limit`.
    pub(crate) async fn settle(&self, limit: Duration) {
        let Some(queue) = self.queue.get() else {
            return;
        };
        let (done, delivered) = oneshot::channel();
        // The whole wait is bounded: with the queue full behind a bus that is down, even
        // getting in line takes as long as the alerts ahead (retried until shutdown).
        let _ = tokio::time::timeout(limit, async {
            if queue.send(Job::Settle(done)).await.is_ok() {
                // A task that stopped has nothing left to deliver.
                let _ = delivered.await;
            }
        })
        .await;
    }
}

/// Starts the task delivering alerts with handles of its own (the same bus, topics, database,
/// source and shutdown signal as `rt`).
fn start(rt: &Runtime, tokio: &tokio::runtime::Handle) -> mpsc::Sender<Job> {
    let (queue, mut jobs) = mpsc::channel(QUEUED);
    let own = Runtime::new(
        std::sync::Arc::clone(&rt.bus),
        rt.topics.clone(),
        rt.store.clone(),
        rt.source.clone(),
        rt.shutdown.clone(),
    );
    tokio.spawn(async move {
        while let Some(job) = jobs.recv().await {
            match job {
                Job::Deliver {
                    id,
                    key,
                    alert,
                    record,
                } => {
                    let _ = own
                        .publish(Topic::Alerts, MessageType::Alert, id, &key, &alert)
                        .await;
                    let _ = own
                        .retry("record alert", || own.store.record(&record))
                        .await;
                }
                Job::Settle(done) => {
                    let _ = done.send(());
                }
            }
        }
    });
    queue
}
