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
//! A batch may carry the portfolio's progress ([`chimera_messages::Progress`]), published after
//! its commands; batches merged into one round trip keep only the newest progress, last. A
//! promise with no commands goes out on a lane of its own ([`Outbox::promise`]) that commands
//! never wait behind: a promise must not overtake the commands decided before it, but a command
//! may overtake a promise (a promise that arrives late is still kept).
//!
//! Crash safety is unchanged: a checkpoint first waits until every command sent so far is on the
//! bus ([`Outbox::flush_ticket`]), so nothing is acknowledged whose orders could still be lost; a
//! publish that fails stops the worker at its next send or flush, as an inline publish did.

use chimera_kernel::engine::Command;
use chimera_kernel::time::Timestamp;
use chimera_messages::{encode, MessageType, Progress, Topic};
use chimera_ports::Deferred;
use chimera_runtime::runtime::Runtime;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError};
use std::task::Poll;
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};

/// Batches sent and not yet on the bus before a send waits (back-pressure on the worker).
const IN_FLIGHT: usize = 64;

/// What one or more batches publish in one round trip.
struct Batch {
    /// Commands keyed by intent id.
    commands: Vec<(String, Command)>,
    /// The portfolio's engine clock after them, when it is promised ([`Progress`]).
    progress: Option<Timestamp>,
    /// The fencing token it is sent under.
    epoch: Option<u64>,
    /// When each batch with commands was taken from the queue (the tick-to-order histogram).
    taken: Vec<Instant>,
    /// How many of the worker's sends it holds.
    jobs: usize,
}

impl Batch {
    /// Appends `later`, sent under the same token: its commands after these, and one progress,
    /// the newer, after all of them (a promise published later is still kept).
    fn absorb(&mut self, later: Batch) {
        self.commands.extend(later.commands);
        self.progress = self.progress.max(later.progress);
        self.taken.extend(later.taken);
        self.jobs += later.jobs;
    }
}

enum Job {
    /// One batch to publish.
    Publish(Batch),
    /// A publish the worker started and the bus has not finished: the task awaits it first.
    Resume {
        publishing: Publishing,
        started: Instant,
        taken: Vec<Instant>,
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
    publisher: Arc<Publisher>,
    /// A promise the bus had not taken at once, finishing on a task of its own.
    promising: Option<tokio::task::JoinHandle<()>>,
}

/// What the worker and the task both publish with.
struct Publisher {
    rt: Arc<Runtime>,
    key: String,
    hops: Arc<crate::telemetry::Hops>,
    /// Jobs sent to the task and not finished by it: at 0, a publish from the worker keeps the
    /// order.
    unfinished: AtomicUsize,
    /// Why the task stopped, when a publish failed: set before its queue and the flush tickets
    /// in it are dropped, so whoever finds a ticket unanswered or the queue closed finds it.
    failed: std::sync::Mutex<Option<anyhow::Error>>,
}

impl Outbox {
    /// Starts the task publishing portfolio `key`'s commands on `rt`'s bus.
    pub(crate) fn start(rt: Arc<Runtime>, key: String, hops: Arc<crate::telemetry::Hops>) -> Self {
        let (jobs, mut queue) = mpsc::channel(IN_FLIGHT);
        let publisher = Arc::new(Publisher {
            rt,
            key,
            hops,
            unfinished: AtomicUsize::new(0),
            failed: std::sync::Mutex::default(),
        });
        let task = Arc::clone(&publisher);
        tokio::spawn(async move {
            let mut next = None;
            if let Err(e) = task.run(&mut queue, &mut next).await {
                // The worker reads it at its next send or flush.
                *task.failed.lock().unwrap_or_else(PoisonError::into_inner) = Some(e);
            }
        });
        Self {
            jobs,
            publisher,
            promising: None,
        }
    }

    /// Publishes the portfolio's progress alone, unless commands are still unpublished (it
    /// must not overtake them; the next batch of commands can carry it) or the last promise
    /// is still on its way (the next one says more). Returns whether it went. Never waits for
    /// the bus, and a failure is logged rather than fatal: a promise only lets a simulated
    /// venue work ahead of orders, nothing depends on it arriving.
    pub(crate) async fn promise(&mut self, clock: Timestamp, epoch: Option<u64>) -> bool {
        if self.publisher.unfinished.load(Ordering::Acquire) > 0
            || self
                .promising
                .as_ref()
                .is_some_and(|task| !task.is_finished())
        {
            return false;
        }
        let batch = Batch {
            commands: Vec::new(),
            progress: Some(clock),
            epoch,
            taken: Vec::new(),
            jobs: 0,
        };
        let mut publishing = self.publisher.publishing(batch);
        let portfolio = self.publisher.key.clone();
        match std::future::poll_fn(|cx| Poll::Ready(publishing.as_mut().poll(cx))).await {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(e)) => tracing::warn!(%portfolio, "progress not published: {e:#}"),
            Poll::Pending => {
                self.promising = Some(tokio::spawn(async move {
                    if let Err(e) = publishing.await {
                        tracing::warn!(%portfolio, "progress not published: {e:#}");
                    }
                }));
            }
        }
        true
    }

    /// Publishes one batch's commands, then `progress` when given: at once when nothing is
    /// queued and the bus takes them without waiting, else through the task (waits while
    /// [`IN_FLIGHT`] batches are unpublished). A promise without commands goes through
    /// [`Self::promise`].
    ///
    /// # Errors
    /// This publish or an earlier one failed (fatal for the worker).
    pub(crate) async fn send(
        &mut self,
        commands: Vec<(String, Command)>,
        progress: Option<Timestamp>,
        epoch: Option<u64>,
        taken: Instant,
    ) -> anyhow::Result<()> {
        let mut batch = Batch {
            commands,
            progress,
            epoch,
            taken: vec![taken],
            jobs: 1,
        };
        if self.publisher.unfinished.load(Ordering::Acquire) > 0 {
            return self.enqueue(Job::Publish(batch)).await;
        }
        let started = Instant::now();
        let taken = std::mem::take(&mut batch.taken);
        let mut publishing = self.publisher.publishing(batch);
        match std::future::poll_fn(|cx| Poll::Ready(publishing.as_mut().poll(cx))).await {
            Poll::Ready(published) => {
                published?;
                self.publisher.record(started, taken);
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

    /// Why the publisher stopped, once it has (told once).
    pub(crate) fn failed(&mut self) -> Option<anyhow::Error> {
        self.publisher
            .failed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// Makes `commands` ready to publish exactly as [`Self::send`] would, and drops them: a
    /// rehearsal's part of the publish ([`super::rehearsal`]), nothing sent.
    pub(crate) fn rehearse(&self, commands: Vec<(String, Command)>, epoch: Option<u64>) {
        let publisher = &self.publisher;
        drop(messages(
            &publisher.rt,
            &publisher.key,
            commands,
            None,
            epoch,
        ));
    }

    fn failure(&mut self) -> anyhow::Error {
        self.failed()
            .unwrap_or_else(|| anyhow::anyhow!("the order publisher stopped"))
    }
}

impl Publisher {
    /// One or more batches (commands first, then the progress), published in one round trip.
    fn publishing(&self, batch: Batch) -> Publishing {
        let (rt, key) = (Arc::clone(&self.rt), self.key.clone());
        Box::pin(async move {
            let messages = messages(&rt, &key, batch.commands, batch.progress, batch.epoch);
            let published = rt
                .publish_deferred(Topic::OrdersSubmission, &messages)
                .await;
            published.map_err(|e| chimera_runtime::runtime::fatal("publish order command", &e))
        })
    }

    /// Records a publish begun at `started` of the batches with commands taken at `taken`
    /// (a publish of progress alone is not an order's).
    fn record(&self, started: Instant, taken: Vec<Instant>) {
        if taken.is_empty() {
            return;
        }
        self.hops.publish.record(started.elapsed());
        for at in taken {
            self.hops.tick_to_order.record(at.elapsed());
        }
    }

    /// The task: publishes the jobs in order until the worker drops its side; the first
    /// failure ends it. The job taken and not yet done is in `next`, which the caller drops
    /// only after it has kept the failure.
    async fn run(
        &self,
        queue: &mut mpsc::Receiver<Job>,
        next: &mut Option<Job>,
    ) -> anyhow::Result<()> {
        *next = queue.recv().await;
        while let Some(job) = next.take() {
            let mut batch = match job {
                Job::Flush(done) => {
                    let _ = done.send(()); // a worker that stopped waiting needs no answer
                    self.finished(1);
                    *next = queue.recv().await;
                    continue;
                }
                Job::Resume {
                    publishing,
                    started,
                    taken,
                } => {
                    publishing.await?;
                    self.record(started, taken);
                    self.finished(1);
                    *next = queue.recv().await;
                    continue;
                }
                Job::Publish(batch) => batch,
            };
            // What queued meanwhile under the same token goes in the same round trip.
            while let Ok(job) = queue.try_recv() {
                match job {
                    Job::Publish(more) if more.epoch == batch.epoch => batch.absorb(more),
                    other => {
                        *next = Some(other);
                        break;
                    }
                }
            }
            let started = Instant::now();
            let jobs = batch.jobs;
            let taken = std::mem::take(&mut batch.taken);
            self.publishing(batch).await?;
            self.record(started, taken);
            self.finished(jobs);
            if next.is_none() {
                *next = queue.recv().await;
            }
        }
        Ok(())
    }

    fn finished(&self, jobs: usize) {
        self.unfinished.fetch_sub(jobs, Ordering::AcqRel);
    }
}

/// The messages of one publish: each command, then the progress when given, in envelopes
/// stamped now. In process the gateway takes each as it was made: they are encoded only if
/// something reads their bytes (any other bus encodes them now).
fn messages(
    rt: &Runtime,
    key: &str,
    commands: Vec<(String, Command)>,
    progress: Option<Timestamp>,
    epoch: Option<u64>,
) -> Vec<(String, Deferred)> {
    let at = chimera_runtime::runtime::wall_clock();
    let mut messages = Vec::with_capacity(commands.len() + 1);
    for (id, command) in commands {
        let envelope = rt.envelope(MessageType::OrderCommand, id, at, key, command, epoch);
        messages.push((key.to_owned(), Deferred::new(envelope, encode::<Command>)));
    }
    if let Some(clock) = progress {
        let progress = Progress {
            portfolio_id: chimera_kernel::ids::PortfolioId::new(key),
            clock,
        };
        let id = progress.message_id();
        let envelope = rt.envelope(MessageType::Progress, id, at, key, progress, epoch);
        messages.push((key.to_owned(), Deferred::new(envelope, encode::<Progress>)));
    }
    messages
}
