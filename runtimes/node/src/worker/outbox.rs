//! [`Outbox`]: a worker's order commands go to the bus from a task of their own, in order, so
//! the worker decides its next batch while the bus acknowledges the last one. Batches that queue
//! up while one is in flight go out together, in one round trip (a group publish).
//!
//! When nothing is queued, a batch is published from the worker itself: the publish is polled
//! once there, and only if the bus has not taken it yet (a network round trip) is the publish
//! handed to the task to finish. On the in-memory bus (`chimera up`) the bus takes it at once,
//! so the intent is out before the worker does anything else (a checkpoint due after the same
//! input, say) and without a hop through the task.
//!
//! Crash safety is unchanged: a checkpoint first waits until every command sent so far is on the
//! bus ([`Outbox::flush_ticket`]), so nothing is acknowledged whose orders could still be lost; a
//! publish that fails stops the worker at its next send or flush, as an inline publish did.

use chimera_kernel::engine::Command;
use chimera_messages::{MessageType, Topic};
use chimera_runtime::runtime::Runtime;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};

/// Batches sent and not yet on the bus before a send waits (back-pressure on the worker).
const IN_FLIGHT: usize = 64;

enum Job {
    /// One batch's commands (keyed by intent id), under fencing token `epoch`, taken from the
    /// queue at `taken` (for the tick-to-order histogram).
    Publish {
        commands: Vec<(String, Command)>,
        epoch: Option<u64>,
        taken: Instant,
    },
    /// A publish the worker started and the bus has not finished: the task awaits it first.
    Resume {
        publishing: Publishing,
        started: Instant,
        taken: Instant,
    },
    /// Answered once everything sent before it is on the bus.
    Flush(oneshot::Sender<()>),
}

/// One group publish, owning what it publishes, so the worker can start it and the task finish
/// it.
type Publishing = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;

/// The publishing side of one worker.
pub(crate) struct Outbox {
    jobs: mpsc::Sender<Job>,
    /// Why the task stopped, when a publish failed.
    failed: oneshot::Receiver<anyhow::Error>,
    publisher: Arc<Publisher>,
}

/// What the worker and the task both publish with.
struct Publisher {
    rt: Arc<Runtime>,
    key: String,
    hops: Arc<crate::telemetry::Hops>,
    /// Jobs sent to the task and not finished by it: at 0, a publish from the worker keeps the
    /// order.
    unfinished: AtomicUsize,
}

impl Outbox {
    /// Starts the task publishing portfolio `key`'s commands on `rt`'s bus.
    pub(crate) fn start(rt: Arc<Runtime>, key: String, hops: Arc<crate::telemetry::Hops>) -> Self {
        let (jobs, queue) = mpsc::channel(IN_FLIGHT);
        let (report, failed) = oneshot::channel();
        let publisher = Arc::new(Publisher {
            rt,
            key,
            hops,
            unfinished: AtomicUsize::new(0),
        });
        let task = Arc::clone(&publisher);
        tokio::spawn(async move {
            if let Err(e) = task.run(queue).await {
                // The worker reads it at its next send or flush.
                drop(report.send(e));
            }
        });
        Self {
            jobs,
            failed,
            publisher,
        }
    }

    /// Publishes one batch's commands: at once when nothing is queued and the bus takes them
    /// without waiting, else through the task (waits while [`IN_FLIGHT`] batches are
    /// unpublished).
    ///
    /// # Errors
    /// This publish or an earlier one failed (fatal for the worker).
    pub(crate) async fn send(
        &mut self,
        commands: Vec<(String, Command)>,
        epoch: Option<u64>,
        taken: Instant,
    ) -> anyhow::Result<()> {
        if self.publisher.unfinished.load(Ordering::Acquire) > 0 {
            let job = Job::Publish {
                commands,
                epoch,
                taken,
            };
            return self.enqueue(job).await;
        }
        let started = Instant::now();
        let mut publishing = self.publisher.publishing(commands, epoch);
        match std::future::poll_fn(|cx| Poll::Ready(publishing.as_mut().poll(cx))).await {
            Poll::Ready(published) => {
                published?;
                self.publisher.record(started, [taken]);
                Ok(())
            }
            Poll::Pending => {
                let job = Job::Resume {
                    publishing,
                    started,
                    taken,
                };
                self.enqueue(job).await
            }
        }
    }

    async fn enqueue(&mut self, job: Job) -> anyhow::Result<()> {
        self.publisher.unfinished.fetch_add(1, Ordering::AcqRel);
        if self.jobs.send(job).await.is_err() {
            return Err(self.failure());
        }
        Ok(())
    }

    /// A receiver answered once every command sent so far is on the bus (dropped unanswered
    /// if one of them could not be published: [`Self::failed`] says why).
    ///
    /// # Errors
    /// An earlier publish failed (fatal for the worker).
    pub(crate) async fn flush_ticket(&mut self) -> anyhow::Result<oneshot::Receiver<()>> {
        let (done, published) = oneshot::channel();
        self.enqueue(Job::Flush(done)).await?;
        Ok(published)
    }

    /// Why the publisher stopped, once it has.
    pub(crate) fn failed(&mut self) -> Option<anyhow::Error> {
        self.failed.try_recv().ok()
    }

    fn failure(&mut self) -> anyhow::Error {
        self.failed()
            .unwrap_or_else(|| anyhow::anyhow!("the order publisher stopped"))
    }
}

impl Publisher {
    /// The commands of one or more batches, published in one round trip.
    fn publishing(&self, commands: Vec<(String, Command)>, epoch: Option<u64>) -> Publishing {
        let (rt, key) = (Arc::clone(&self.rt), self.key.clone());
        Box::pin(async move {
            rt.publish_all_fenced(
                Topic::OrdersSubmission,
                MessageType::OrderCommand,
                &key,
                &commands,
                epoch,
            )
            .await
            .map_err(|e| chimera_runtime::runtime::fatal("publish order command", &e))
        })
    }

    /// Records a publish begun at `started` of the batches taken at `taken`.
    fn record(&self, started: Instant, taken: impl IntoIterator<Item = Instant>) {
        self.hops.publish.record(started.elapsed());
        for at in taken {
            self.hops.tick_to_order.record(at.elapsed());
        }
    }

    /// The task: publishes the jobs in order until the worker drops its side; the first
    /// failure ends it.
    async fn run(&self, mut queue: mpsc::Receiver<Job>) -> anyhow::Result<()> {
        let mut next = queue.recv().await;
        while let Some(job) = next.take() {
            let (mut commands, epoch, mut taken) = match job {
                Job::Flush(done) => {
                    let _ = done.send(()); // a worker that stopped waiting needs no answer
                    self.finished(1);
                    next = queue.recv().await;
                    continue;
                }
                Job::Resume {
                    publishing,
                    started,
                    taken,
                } => {
                    publishing.await?;
                    self.record(started, [taken]);
                    self.finished(1);
                    next = queue.recv().await;
                    continue;
                }
                Job::Publish {
                    commands,
                    epoch,
                    taken,
                } => (commands, epoch, vec![taken]),
            };
            // What queued meanwhile under the same token goes in the same round trip.
            while let Ok(job) = queue.try_recv() {
                match job {
                    Job::Publish {
                        commands: more,
                        epoch: same,
                        taken: at,
                    } if same == epoch => {
                        commands.extend(more);
                        taken.push(at);
                    }
                    other => {
                        next = Some(other);
                        break;
                    }
                }
            }
            let started = Instant::now();
            let jobs = taken.len();
            self.publishing(commands, epoch).await?;
            self.record(started, taken);
            self.finished(jobs);
            if next.is_none() {
                next = queue.recv().await;
            }
        }
        Ok(())
    }

    fn finished(&self, jobs: usize) {
        self.unfinished.fetch_sub(jobs, Ordering::AcqRel);
    }
}
