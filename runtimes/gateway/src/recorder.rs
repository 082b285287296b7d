//! [`Recorder`]: a turn's orders and fills are written by a task of their own, in turn order,
//! so the gateway reads and executes the next command while the database writes the last
//! turn's records.
//!
//! Why: the write was awaited in the gateway's loop, and a command arriving meanwhile waited
//! for it. In process (SQLite, `chimera up`) a write takes 0.2–0.4 ms at p50 and up to 3 ms,
//! against a command's 20 µs: at 2,000 bars/s about one order in a hundred arrived during one,
//! and at 10,000 bars/s order-to-fill p99 was 2.3–2.7 ms (now 0.11–0.13 ms). Turns handed over
//! within [`GATHER`] of each other, or while one write is on its way, go to the database
//! together, in one write (a group commit).
//!
//! Crash safety is unchanged: a checkpoint first waits until every record handed over is
//! written ([`Recorder::settled`]), so no command is acknowledged whose records could still be
//! lost; a write that fails stops the gateway at its next hand-over or checkpoint, as an inline
//! write did. Reads see what is still on its way: [`Recorder::unwritten`] has the newest state
//! of each order handed over and not known written, which the gateway consults before the
//! store.

use super::journal::Journal;
use chimera_kernel::ids::ClientOrderId;
use chimera_kernel::order::Order;
use chimera_ports::{ExecutionJournal, FillRecord, OrderRepository};
use chimera_runtime::runtime::{fatal, Runtime};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError};
use tokio::sync::{mpsc, oneshot};

/// Turns handed over and not written before a hand-over waits (back-pressure on the loop).
const IN_FLIGHT: usize = 64;
/// How long the task gathers turns after the first before writing them together, unless a
/// checkpoint asks for them sooner: in `chimera up` the database also takes the node's
/// checkpoints and the feed's progress, and writing each turn as it came made the replay of the
/// reference bars 1.55–1.62 s against 1.32–1.35 s with a window of 10 to 50 ms.
const GATHER: std::time::Duration = std::time::Duration::from_millis(20);

/// Where the task leaves the reason it stopped.
type Failure = Arc<std::sync::Mutex<Option<anyhow::Error>>>;

enum Job {
    /// One turn's records, the `seq`th handed over.
    Write {
        seq: u64,
        orders: Vec<Order>,
        fills: Vec<FillRecord>,
    },
    /// Answered once everything handed over before it is written.
    Settle(oneshot::Sender<()>),
}

/// The gateway's side of the writing task.
pub(super) struct Recorder {
    jobs: mpsc::Sender<Job>,
    /// Why the task stopped, when a write failed: set before the task drops its queue and the
    /// settle requests in it, so whoever finds one unanswered or the queue closed finds it.
    failed: Failure,
    /// Turns handed over so far.
    handed: u64,
    /// The highest turn written, set by the task.
    written: Arc<AtomicU64>,
    /// The newest state of each order handed over, with its turn, until that turn is written.
    unwritten: HashMap<ClientOrderId, (u64, Order)>,
}

impl Recorder {
    /// Starts the task writing to `rt`'s store, timing each write in `record_time`.
    pub(super) fn start(rt: Arc<Runtime>, record_time: metrics::Histogram) -> Self {
        let (jobs, mut queue) = mpsc::channel(IN_FLIGHT);
        let failed = Failure::default();
        let written = Arc::new(AtomicU64::new(0));
        let task = Writer {
            rt,
            record_time,
            written: Arc::clone(&written),
        };
        let report = Arc::clone(&failed);
        tokio::spawn(async move {
            let mut next = None;
            if let Err(e) = task.run(&mut queue, &mut next).await {
                // The gateway reads it at its next hand-over or settle.
                *report.lock().unwrap_or_else(PoisonError::into_inner) = Some(e);
            }
        });
        Self {
            jobs,
            failed,
            handed: 0,
            written,
            unwritten: HashMap::new(),
        }
    }

    /// Hands one turn's records to the task (waits only while [`IN_FLIGHT`] turns are
    /// unwritten).
    ///
    /// # Errors
    /// An earlier write failed (fatal for the gateway).
    pub(super) async fn write(
        &mut self,
        orders: Vec<Order>,
        fills: Vec<FillRecord>,
    ) -> anyhow::Result<()> {
        if orders.is_empty() && fills.is_empty() {
            return Ok(());
        }
        self.handed += 1;
        let seq = self.handed;
        let written = self.written.load(Ordering::Acquire);
        self.unwritten.retain(|_, (turn, _)| *turn > written);
        for order in &orders {
            self.unwritten
                .insert(order.intent.client_order_id.clone(), (seq, order.clone()));
        }
        if self
            .jobs
            .send(Job::Write { seq, orders, fills })
            .await
            .is_err()
        {
            return Err(self.failure());
        }
        Ok(())
    }

    /// The newest state of order `id` handed over and perhaps not written yet.
    pub(super) fn unwritten(&self, id: &ClientOrderId) -> Option<&Order> {
        self.unwritten.get(id).map(|(_, order)| order)
    }

    /// What completes once every record handed over so far is written (`true`), or the
    /// writer stopped (`false`: [`Self::failure`] says why). It borrows nothing, so a
    /// checkpoint can wait for it beside the loop while later turns are handed over.
    pub(super) fn settled(&self) -> impl std::future::Future<Output = bool> + Send + 'static {
        let jobs = (self.written.load(Ordering::Acquire) < self.handed).then(|| self.jobs.clone());
        async move {
            let Some(jobs) = jobs else {
                return true;
            };
            let (done, settled) = oneshot::channel();
            jobs.send(Job::Settle(done)).await.is_ok() && settled.await.is_ok()
        }
    }

    /// Why the writer stopped (after a hand-over or [`Self::settled`] found it stopped).
    pub(super) fn failure(&mut self) -> anyhow::Error {
        self.failed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .unwrap_or_else(|| anyhow::anyhow!("the record writer stopped"))
    }
}

/// The task's side.
struct Writer {
    rt: Arc<Runtime>,
    record_time: metrics::Histogram,
    written: Arc<AtomicU64>,
}

impl Writer {
    /// Writes the turns in order until the gateway drops its side; the first failure ends it.
    /// A settle request taken and not yet answered is in `next`, which the caller drops only
    /// after it has kept the failure.
    async fn run(
        &self,
        queue: &mut mpsc::Receiver<Job>,
        next: &mut Option<Job>,
    ) -> anyhow::Result<()> {
        *next = queue.recv().await;
        while let Some(job) = next.take() {
            let (mut last, first) = match job {
                Job::Settle(done) => {
                    let _ = done.send(()); // a gateway that stopped waiting needs no answer
                    *next = queue.recv().await;
                    continue;
                }
                Job::Write { seq, orders, fills } => (seq, (orders, fills)),
            };
            // What comes within the window goes in the same write, each order's newest state
            // once; a settle asked meanwhile (a checkpoint) ends the window at once.
            let mut turns = vec![first];
            let window = tokio::time::Instant::now() + GATHER;
            loop {
                match tokio::time::timeout_at(window, queue.recv()).await {
                    Ok(Some(Job::Write { seq, orders, fills })) => {
                        last = seq;
                        turns.push((orders, fills));
                    }
                    Ok(Some(settle @ Job::Settle(_))) => {
                        *next = Some(settle);
                        break;
                    }
                    // The gateway stopped (what it handed over is still written) or the
                    // window closed.
                    Ok(None) | Err(_) => break,
                }
            }
            let (orders, fills) = merged(turns);
            let started = std::time::Instant::now();
            let rt = &self.rt;
            rt.retry("record execution", || {
                rt.store.record_execution(&orders, &fills)
            })
            .await
            .map_err(|e| fatal("record execution", &e))?;
            self.record_time.record(started.elapsed());
            self.written.store(last, Ordering::Release);
            if next.is_none() {
                *next = queue.recv().await;
            }
        }
        Ok(())
    }
}

/// Turns in order as one write: each order's newest state once (where it first changed), and
/// every fill.
fn merged(mut turns: Vec<(Vec<Order>, Vec<FillRecord>)>) -> (Vec<Order>, Vec<FillRecord>) {
    if turns.len() == 1 {
        return turns.pop().unwrap_or_default();
    }
    let mut journal = Journal::default();
    for (orders, fills) in turns {
        for order in orders {
            journal.order(order);
        }
        for fill in fills {
            journal.fill(fill);
        }
    }
    let turn = journal.take();
    (turn.orders, turn.fills)
}

/// An order's record: this turn's state (`journal`) if it changed, else the state on its way to
/// the database (`recorder`), else the stored one. (A free function so that only these and the
/// runtime are borrowed across the read: the gateway is not `Sync`, its venue need not be.)
pub(super) async fn recorded(
    journal: &Journal,
    recorder: &Recorder,
    rt: &Runtime,
    id: &ClientOrderId,
) -> anyhow::Result<Option<Order>> {
    if let Some(order) = journal.recorded(id).or_else(|| recorder.unwritten(id)) {
        return Ok(Some(order.clone()));
    }
    rt.retry("read order", || rt.store.get_order(id))
        .await
        .map_err(|e| fatal("read order", &e))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use chimera_kernel::ids::PortfolioId;
    use chimera_kernel::order::OrderStatus;
    use chimera_kernel::time::Timestamp;

    fn order(n: u64) -> Order {
        chimera_kernel::testing::pending_order(&PortfolioId::new("p"), n)
    }

    #[test]
    fn merging_turns_keeps_each_orders_newest_state_where_it_first_changed() {
        let pending = order(1);
        let mut done = pending.clone();
        done.status = OrderStatus::Canceled;
        done.updated_at = Timestamp(2_000);
        let (orders, fills) = merged(vec![
            (vec![pending.clone(), order(2)], Vec::new()),
            (vec![done.clone()], Vec::new()),
            (vec![pending], Vec::new()), // stale by then: ignored
        ]);
        assert_eq!(orders, [done, order(2)]);
        assert!(fills.is_empty());
    }
}
