//! [`Outbox`]: a worker's order commands go to the bus from a task of their own, in order, so
//! the worker decides its next batch while the bus acknowledges the last one. Batches that queue
//! up while one is in flight go out together, in one round trip (a group publish).
//!
//! Crash safety is unchanged: a checkpoint first waits until every command sent so far is on the
//! bus ([`Outbox::flush`]), so nothing is acknowledged whose orders could still be lost; a
//! publish that fails stops the worker at its next send or flush, as an inline publish did.

use chimera_kernel::engine::Command;
use chimera_messages::{MessageType, Topic};
use chimera_runtime::runtime::Runtime;
use std::sync::Arc;
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
    /// Answered once everything sent before it is on the bus.
    Flush(oneshot::Sender<()>),
}

/// The publishing side of one worker.
pub(crate) struct Outbox {
    jobs: mpsc::Sender<Job>,
    /// Why the task stopped, when a publish failed.
    failed: oneshot::Receiver<anyhow::Error>,
}

impl Outbox {
    /// Starts the task publishing portfolio `key`'s commands on `rt`'s bus.
    pub(crate) fn start(rt: Arc<Runtime>, key: String, hops: Arc<crate::telemetry::Hops>) -> Self {
        let (jobs, queue) = mpsc::channel(IN_FLIGHT);
        let (report, failed) = oneshot::channel();
        tokio::spawn(async move {
            if let Err(e) = run(&rt, &key, &hops, queue).await {
                // The worker reads it at its next send or flush.
                drop(report.send(e));
            }
        });
        Self { jobs, failed }
    }

    /// Queues one batch's commands (waits while [`IN_FLIGHT`] batches are unpublished).
    ///
    /// # Errors
    /// A publish of an earlier batch failed (fatal for the worker).
    pub(crate) async fn send(
        &mut self,
        commands: Vec<(String, Command)>,
        epoch: Option<u64>,
        taken: Instant,
    ) -> anyhow::Result<()> {
        let job = Job::Publish {
            commands,
            epoch,
            taken,
        };
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
        if self.jobs.send(Job::Flush(done)).await.is_err() {
            return Err(self.failure());
        }
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

/// Publishes the jobs in order until the worker drops its side; the first failure ends it.
async fn run(
    rt: &Runtime,
    key: &str,
    hops: &crate::telemetry::Hops,
    mut queue: mpsc::Receiver<Job>,
) -> anyhow::Result<()> {
    let mut next = queue.recv().await;
    while let Some(job) = next.take() {
        let (mut commands, epoch, mut taken) = match job {
            Job::Flush(done) => {
                let _ = done.send(()); // a worker that stopped waiting needs no answer
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
        rt.publish_all_fenced(
            Topic::OrdersSubmission,
            MessageType::OrderCommand,
            key,
            &commands,
            epoch,
        )
        .await
        .map_err(|e| chimera_runtime::runtime::fatal("publish order command", &e))?;
        hops.publish.record(started.elapsed());
        for at in taken {
            hops.tick_to_order.record(at.elapsed());
        }
        if next.is_none() {
            next = queue.recv().await;
        }
    }
    Ok(())
}
