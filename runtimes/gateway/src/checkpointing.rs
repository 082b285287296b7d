//! The gateway's checkpoint, saved beside its loop.
//!
//! Why: a checkpoint waits until the records it covers are written, then until the store has
//! saved it (0.5–0.7 ms on SQLite in process, a round trip or more on PostgreSQL), and the loop
//! used to await both, about four times a second: a command arriving meanwhile waited as well.
//! Now the loop takes the checkpoint's state and what it will acknowledge in one step
//! ([`Checkpoints::begin`]), a task waits for the records and saves it, and the loop goes on
//! reading and executing commands; it acknowledges once it finds the task done
//! ([`Checkpoints::tend`]), as the node's workers do with their checkpoints.
//!
//! Crash safety is unchanged. A checkpoint is saved only after every record handed over before
//! it is written; nothing is acknowledged before it is saved; and it acknowledges only what it
//! covers: the command deliveries up to its applied offsets, and the market data its venue
//! state covers ([`crate::GatewayVenue::checkpoint`] sets those aside). What is read after it
//! waits for the next. One checkpoint is on its way at a time, so they reach the store in
//! revision order.

use crate::execution::Gateway;
use crate::figures::export;
use crate::keeper::Keeper;
use chimera_ports::{Checkpoint, CheckpointRepository, Delivery, Inserted, Subscription};
use chimera_runtime::runtime::fatal;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A checkpoint on its way to the store, and what to acknowledge once it is there.
pub(crate) struct InFlight {
    /// Waits for the records, saves the checkpoint, and says how long that took.
    task: tokio::task::JoinHandle<Result<(Inserted, Duration), Unsaved>>,
    revision: i64,
    /// The newest command delivery of each partition the checkpoint covers.
    acks: Vec<Delivery>,
}

/// Why a checkpoint was not saved.
enum Unsaved {
    /// The record writer stopped: its reason is the gateway's ([`Gateway::records_failure`]).
    Records,
    /// The store refused it, retries exhausted.
    Store(anyhow::Error),
}

/// The gateway's checkpoints: at most one on its way to the store.
#[derive(Default)]
pub(crate) struct Checkpoints {
    in_flight: Option<InFlight>,
    /// The size of the last checkpoint's state: the next one's buffer is allocated once, this
    /// large and a little more ([`Self::state`]).
    last_size: usize,
}

impl Checkpoints {
    /// Whether a checkpoint is on its way (the loop then looks again soon, to acknowledge it).
    pub(crate) fn saving(&self) -> bool {
        self.in_flight.is_some()
    }

    /// Acknowledges what the checkpoint on its way covers if it is saved, then begins the next
    /// if one is `due` and none is on its way.
    ///
    /// # Errors
    /// As [`Self::begin`] and [`Self::finish`].
    pub(crate) async fn tend(
        &mut self,
        keeper: &mut Keeper,
        gw: &mut Gateway,
        orders: &mut Box<dyn Subscription>,
        due: bool,
    ) -> anyhow::Result<()> {
        if self
            .in_flight
            .as_ref()
            .is_some_and(|f| f.task.is_finished())
        {
            self.finish(keeper, gw, orders).await?;
        }
        if due && self.in_flight.is_none() {
            self.begin(keeper, gw).await?;
        }
        Ok(())
    }

    /// Checkpoints everything applied so far and acknowledges it, waiting for the checkpoint
    /// on its way first (at shutdown).
    ///
    /// # Errors
    /// As [`Self::tend`].
    pub(crate) async fn now(
        &mut self,
        keeper: &mut Keeper,
        gw: &mut Gateway,
        orders: &mut Box<dyn Subscription>,
    ) -> anyhow::Result<()> {
        self.finish(keeper, gw, orders).await?;
        self.begin(keeper, gw).await?;
        self.finish(keeper, gw, orders).await
    }

    /// Takes the venue's state and the progress applied, hands over the pending records, and
    /// starts the task that saves the checkpoint once they are written. Nothing to do when
    /// nothing was read since the last.
    ///
    /// # Errors
    /// A pending record could not be made or published, or the state cannot be serialized.
    async fn begin(&mut self, keeper: &mut Keeper, gw: &mut Gateway) -> anyhow::Result<()> {
        keeper.last = Instant::now();
        if !gw.venue.has_unacknowledged() && keeper.order_acks.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        // What the checkpoint acknowledges must be on record first.
        let records_written = gw.hand_over_records().await?;
        let state = self.state(keeper, gw)?;
        keeper.revision += 1;
        let checkpoint = Checkpoint {
            portfolio_id: keeper.owner.clone(),
            revision: keeper.revision,
            state,
            ts: gw.venue.now(),
        };
        let rt = Arc::clone(&gw.rt);
        let task = tokio::spawn(async move {
            if !records_written.await {
                return Err(Unsaved::Records);
            }
            let stored = rt
                .retry("gateway checkpoint", || {
                    rt.store.save_checkpoint(&checkpoint)
                })
                .await
                .map_err(|e| Unsaved::Store(fatal("gateway checkpoint", &e)))?;
            Ok((stored, started.elapsed()))
        });
        self.in_flight = Some(InFlight {
            task,
            revision: keeper.revision,
            acks: covered_acks(keeper),
        });
        Ok(())
    }

    /// The checkpoint's state, `{"applied":…,"fence":…,"venue":…}`, written into one buffer
    /// allocated once at about the last one's size.
    ///
    /// Why: it is taken in the loop, and on the simulated venue it is about 160 KB (mostly the
    /// window of order ids the venue knows). Made as text by each layer and copied into the
    /// next by `format!`, it took 178–221 µs warm (measured apart on a window of that shape);
    /// written into one buffer, 84–85 µs, nearly all of it serializing. A command arriving
    /// meanwhile waits, and every copy pushes the order path's data out of the cache.
    ///
    /// # Errors
    /// The state cannot be serialized.
    fn state(&mut self, keeper: &Keeper, gw: &mut Gateway) -> anyhow::Result<String> {
        let mut out = Vec::with_capacity(self.last_size + self.last_size / 8 + 256);
        out.extend_from_slice(b"{\"applied\":");
        serde_json::to_writer(&mut out, &keeper.lockstep.covered(&keeper.applied))?;
        out.extend_from_slice(b",\"fence\":");
        serde_json::to_writer(&mut out, keeper.fence.epochs())?;
        out.extend_from_slice(b",\"venue\":");
        if !gw.venue.checkpoint(&mut out)? {
            out.extend_from_slice(b"null");
        }
        out.push(b'}');
        self.last_size = out.len();
        // serde_json writes UTF-8 only; the check reads the text once.
        Ok(String::from_utf8(out)?)
    }

    /// Waits for the checkpoint on its way, if any, then acknowledges what it covers.
    ///
    /// # Errors
    /// The records or the checkpoint could not be written, a newer checkpoint exists (another
    /// gateway with this id runs), or an acknowledgement failed.
    async fn finish(
        &mut self,
        keeper: &Keeper,
        gw: &mut Gateway,
        orders: &mut Box<dyn Subscription>,
    ) -> anyhow::Result<()> {
        let Some(InFlight {
            task,
            revision,
            acks,
        }) = self.in_flight.take()
        else {
            return Ok(());
        };
        let (stored, took) = match task.await {
            Ok(Ok(saved)) => saved,
            Ok(Err(Unsaved::Records)) => return Err(gw.records_failure()),
            Ok(Err(Unsaved::Store(e))) => return Err(e),
            Err(ended) => {
                return Err(anyhow::Error::new(ended).context("the gateway checkpoint's task"))
            }
        };
        if stored == Inserted::Duplicate {
            anyhow::bail!(
                "{}: a newer checkpoint exists (revision ≥ {revision}); another gateway with this id runs, stopping",
                keeper.owner,
            );
        }
        gw.figures.checkpoints += 1;
        gw.figures.fed_ahead = gw.venue.fed_ahead();
        gw.figures.priced_late = gw.venue.priced_late();
        gw.figures.rehearsals = gw.venue.rehearsals();
        gw.checkpoint_time.record(took);
        let rt = Arc::clone(&gw.rt);
        export(&rt.source, &gw.figures, &keeper.board);
        gw.venue.acknowledge(&rt).await?;
        for d in &acks {
            rt.ack(orders, d).await.map_err(|e| fatal("ack", &e))?;
        }
        Ok(())
    }
}

/// The command deliveries the checkpoint being taken covers, newest per partition
/// (acknowledgement is cumulative per partition); those of held commands and after stay.
///
/// Those kept stay in the keeper's list, which keeps its capacity: a fresh list grown again
/// after every checkpoint (a delivery per command and promise) was one of the loop's largest
/// sources of page faults in process.
fn covered_acks(keeper: &mut Keeper) -> Vec<Delivery> {
    let lockstep = &keeper.lockstep;
    chimera_ports::newest_per_partition(keeper.order_acks.extract_if(.., |d| {
        lockstep.is_empty()
            || lockstep.acknowledgeable(&format!("{}/{}", d.topic, d.partition), d.offset)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fence::Fence;
    use crate::lockstep::{Lockstep, Waiting};
    use chimera_kernel::ids::PortfolioId;
    use chimera_kernel::time::Timestamp;
    use chimera_ports::Bytes;
    use std::collections::BTreeMap;

    fn keeper() -> Keeper {
        Keeper {
            owner: PortfolioId::new("gateway:test"),
            revision: 0,
            applied: BTreeMap::new(),
            partition: String::new(),
            partition_of: None,
            order_acks: Vec::new(),
            last: Instant::now(),
            fence: Fence::new(BTreeMap::new()),
            board: chimera_runtime::telemetry::HealthBoard::new("gateway-test"),
            eager: true,
            lockstep: Lockstep::default(),
        }
    }

    fn delivery(partition: i32, offset: i64) -> Delivery {
        Delivery {
            topic: Arc::from("orders"),
            key: Arc::from("p"),
            payload: Bytes::new().into(),
            partition,
            offset,
            shared: None,
        }
    }

    fn offsets(acks: &[Delivery]) -> Vec<(i32, i64)> {
        acks.iter().map(|d| (d.partition, d.offset)).collect()
    }

    /// While nothing is held a delivery replaces the one before it of its partition, and the
    /// checkpoint acknowledges the newest of each partition.
    #[test]
    fn with_nothing_held_only_the_newest_of_each_partition_waits() {
        let mut keeper = keeper();
        for (partition, offset) in [(0, 1), (0, 2), (1, 7), (1, 8), (1, 9)] {
            keeper.keep_for_ack(delivery(partition, offset));
        }
        assert_eq!(offsets(&keeper.order_acks), [(0, 2), (1, 9)]);
        assert_eq!(offsets(&covered_acks(&mut keeper)), [(0, 2), (1, 9)]);
        assert!(keeper.order_acks.is_empty());
    }

    /// A held message keeps itself and everything after it of its partition out of the
    /// checkpoint, and nothing of its partition is replaced while it is held.
    #[test]
    fn a_held_message_and_those_after_it_wait_for_a_later_checkpoint() {
        let mut keeper = keeper();
        keeper.keep_for_ack(delivery(0, 1));
        keeper.keep_for_ack(delivery(0, 2));
        keeper.lockstep.hold(
            Waiting::Progress {
                portfolio: PortfolioId::new("p"),
                clock: Timestamp(60_000),
            },
            "orders/0",
            3,
        );
        for (partition, offset) in [(0, 3), (0, 4), (1, 5), (1, 6)] {
            keeper.keep_for_ack(delivery(partition, offset));
        }
        assert_eq!(
            offsets(&covered_acks(&mut keeper)),
            [(0, 2), (1, 6)],
            "only what comes before the held message of its partition"
        );
        assert_eq!(offsets(&keeper.order_acks), [(0, 3), (0, 4)]);
    }
}
