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

use chimera_ports::AuditRecord;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Alerts raised and not yet delivered before further ones are dropped (and counted): a flood
/// must not grow without bound while the bus is down.
const QUEUED: usize = 1024;

/// One alert to deliver: its message id and key, the alert, and its audit record.
pub(crate) struct Delivery {
    pub(crate) id: String,
    pub(crate) key: String,
    pub(crate) alert: chimera_messages::Alert,
    pub(crate) record: AuditRecord,
}

/// Publishes one alert and records it (best effort): the runtime's, given when the task starts,
/// so that this module needs nothing of the runtime's but that.
pub(crate) type Deliver =
    Box<dyn Fn(Delivery) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

enum Job {
    Deliver(Delivery),
    Settle(oneshot::Sender<()>),
}

/// The sending side; the task starts with the first alert.
#[derive(Default)]
pub(crate) struct AlertSender {
    queue: OnceLock<mpsc::Sender<Job>>,
    dropped: AtomicU64,
}

impl AlertSender {
    /// Queues `delivery` for the delivering task, which the first alert starts on the current
    /// tokio runtime with what `deliver` makes. Never waits; when [`QUEUED`] alerts are waiting
    /// already, or when raised outside a tokio runtime before any task could start, the alert
    /// is dropped, counted and logged under `source` (it was logged when raised).
    pub(crate) fn send(&self, source: &str, deliver: impl FnOnce() -> Deliver, delivery: Delivery) {
        let queue = match self.queue.get() {
            Some(queue) => queue,
            None => match tokio::runtime::Handle::try_current() {
                Ok(tokio) => self.queue.get_or_init(|| start(deliver(), &tokio)),
                Err(_) => return self.dropped(source, "raised outside a tokio runtime"),
            },
        };
        if queue.try_send(Job::Deliver(delivery)).is_err() {
            self.dropped(
                source,
                &format!("{QUEUED} alerts are waiting for the bus already"),
            );
        }
    }

    fn dropped(&self, source: &str, why: &str) {
        let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::warn!(component = %source, dropped, "alert not published: {why}");
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

/// Starts the task delivering alerts in order with `deliver`.
fn start(deliver: Deliver, tokio: &tokio::runtime::Handle) -> mpsc::Sender<Job> {
    let (queue, mut jobs) = mpsc::channel(QUEUED);
    tokio.spawn(async move {
        while let Some(job) = jobs.recv().await {
            match job {
                Job::Deliver(delivery) => deliver(delivery).await,
                Job::Settle(done) => {
                    let _ = done.send(());
                }
            }
        }
    });
    queue
}
