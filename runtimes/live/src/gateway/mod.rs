//! The trade gateway: consumes `orders.submission`, executes each command on the venue, records
//! orders and fills, and publishes the venue's reports on `orders.feedback`.
//!
//! With the simulated venue the gateway also consumes `market.data` and keeps the venue in
//! event time ([`crate::sim_clock::EventTimeSim`]), so fills do not depend on message timing.
//!
//! # Recovery
//! A real exchange outlives the gateway; the simulated one lives inside it, so the gateway
//! checkpoints it. Each turn of the loop: read market data and a batch of commands, execute,
//! record orders and fills, publish reports, then save a checkpoint (the venue, which market
//! deliveries it consumed, the last command offset applied per partition, the funded accounts)
//! and only then acknowledge. After a crash the venue is restored, commands at or below the
//! applied offsets are skipped, and later ones are executed again on the restored venue — which
//! reproduces the same reports (ids derive from client order ids), so the database (upserts by
//! client order id and trade id) and the nodes (duplicates recognised) see each effect once.
//!
//! Idempotent by intent id: the client order id derives from the intent id; a command for an
//! order the venue already received is not sent again — its recorded state is published again
//! instead (a node re-emits commands after its own restart).

mod execution;

use crate::config::GatewayConfig;
use crate::runtime::{fatal, Runtime};
use crate::sim_clock::{EventTimeSim, SimState};
use chimera_kernel::engine::Command;
use chimera_kernel::ids::PortfolioId;
use chimera_kernel::time::Timestamp;
use chimera_messages::{decode, MessageType, Topic};
use chimera_ports::{Checkpoint, CheckpointRepository, Delivery, Inserted, Subscription};
use execution::Gateway;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Gateway counters at the end of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GatewayFigures {
    /// Intents sent to the venue.
    pub submitted: u64,
    /// Intents recognised as already handled.
    pub duplicates: u64,
    /// Commands skipped after a restart because the restored venue had applied them.
    pub replayed: u64,
    /// Fills recorded.
    pub fills: u64,
    /// Reports published.
    pub reports: u64,
    /// Checkpoints saved.
    pub checkpoints: u64,
}

/// What the gateway checkpoints besides the venue.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Progress {
    /// Last `orders.submission` offset applied per `topic/partition`.
    applied: BTreeMap<String, i64>,
    /// Portfolios whose venue accounts were opened and funded.
    funded: BTreeSet<PortfolioId>,
}

#[derive(Debug, Deserialize)]
struct GatewayState {
    sim: SimState,
    progress: Progress,
}

/// Commands read per turn before a checkpoint.
const COMMAND_BATCH: usize = 64;
/// Longest a consumed delivery (market data or command) waits for a checkpoint, and so for its
/// acknowledgement.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// Runs the gateway until shutdown or a fatal error.
///
/// # Errors
/// A fatal bus or database failure, an undecodable checkpoint, or another gateway with the same
/// id writing newer checkpoints.
pub async fn run_gateway(
    rt: Arc<Runtime>,
    config: &GatewayConfig,
) -> anyhow::Result<GatewayFigures> {
    let owner = PortfolioId::new(format!("gateway:{}", config.id));
    let (revision, sim, progress) = match rt.store.load_checkpoint(&owner).await? {
        Some(cp) => {
            let state: GatewayState = serde_json::from_str(&cp.state).map_err(|e| {
                anyhow::anyhow!("gateway checkpoint {} is undecodable: {e}", cp.revision)
            })?;
            eprintln!(
                "[{}] restored from checkpoint revision {}",
                rt.source, cp.revision
            );
            (
                cp.revision,
                EventTimeSim::restore(state.sim, config.sim_hold_ms),
                state.progress,
            )
        }
        None => (
            0,
            EventTimeSim::new(config.sim_hold_ms),
            Progress::default(),
        ),
    };
    let mut orders = rt
        .bus
        .subscribe(
            &rt.topics.name(Topic::OrdersSubmission),
            &rt.topics.group(&config.id),
        )
        .await?;
    let market = rt
        .bus
        .subscribe(
            &rt.topics.name(Topic::MarketData),
            &rt.topics.group(&format!("{}.sim", config.id)),
        )
        .await?;
    let mut gw = Gateway::new(Arc::clone(&rt), market, sim, progress.funded);
    let mut keeper = Keeper {
        owner,
        revision,
        applied: progress.applied,
        market_acks: Vec::new(),
        order_acks: Vec::new(),
        last: Instant::now(),
    };
    let shutdown = rt.shutdown.clone();
    loop {
        // Market data first (without waiting), so the venue knows prices before the orders
        // stamped with them arrive.
        let idle = gw.take_market(512, Duration::ZERO).await? == 0;
        gw.sim.flush_old();
        gw.publish_reports().await?;
        keeper.market_acks.extend(gw.sim.take_acks());
        let wait = if idle {
            Duration::from_millis(20)
        } else {
            Duration::ZERO
        };
        // Not raced against shutdown: a command is either executed and recorded or not read.
        let handled = keeper.commands(&mut gw, &mut orders, wait).await?;
        keeper.market_acks.extend(gw.sim.take_acks());
        let due = handled > 0 || keeper.last.elapsed() >= CHECKPOINT_EVERY;
        if due || shutdown.is_triggered() {
            keeper.checkpoint(&mut gw, &mut orders).await?;
        }
        if shutdown.is_triggered() {
            break;
        }
    }
    Ok(gw.figures)
}

/// Tracks what was applied and acknowledges it once a checkpoint covers it.
struct Keeper {
    owner: PortfolioId,
    revision: i64,
    applied: BTreeMap<String, i64>,
    market_acks: Vec<Delivery>,
    order_acks: Vec<Delivery>,
    last: Instant,
}

impl Keeper {
    /// Reads and executes up to [`COMMAND_BATCH`] commands, waiting up to `wait` for the first.
    async fn commands(
        &mut self,
        gw: &mut Gateway,
        orders: &mut Box<dyn Subscription>,
        wait: Duration,
    ) -> anyhow::Result<usize> {
        let mut handled = 0;
        while handled < COMMAND_BATCH {
            let polled = orders
                .poll(if handled == 0 { wait } else { Duration::ZERO })
                .await;
            let d = match polled {
                Ok(Some(d)) => d,
                Ok(None) => break,
                Err(e) if e.is_transient() => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    break;
                }
                Err(e) => return Err(fatal("poll orders", &e)),
            };
            handled += 1;
            let partition = format!("{}/{}", d.topic, d.partition);
            if self.applied.get(&partition).is_some_and(|a| d.offset <= *a) {
                gw.figures.replayed += 1;
            } else {
                match decode::<Command>(&d.payload, MessageType::OrderCommand) {
                    Ok(env) => gw.handle(env.payload).await?,
                    Err(error) => gw
                        .rt
                        .dead_letter(&d, &error)
                        .await
                        .map_err(|e| fatal("dead letter", &e))?,
                }
                self.applied.insert(partition, d.offset);
            }
            self.order_acks.push(d);
        }
        Ok(handled)
    }

    /// Saves the venue and progress, then acknowledges everything they cover.
    async fn checkpoint(
        &mut self,
        gw: &mut Gateway,
        orders: &mut Box<dyn Subscription>,
    ) -> anyhow::Result<()> {
        self.last = Instant::now();
        if self.market_acks.is_empty() && self.order_acks.is_empty() {
            return Ok(());
        }
        let progress = Progress {
            applied: self.applied.clone(),
            funded: gw.funded.clone(),
        };
        let state = format!(
            "{{\"sim\":{},\"progress\":{}}}",
            gw.sim.checkpoint()?,
            serde_json::to_string(&progress)?
        );
        self.revision += 1;
        let checkpoint = Checkpoint {
            portfolio_id: self.owner.clone(),
            revision: self.revision,
            state,
            ts: gw.sim.venue().with_exchange(|x| x.now()).max(Timestamp(0)),
        };
        let rt = Arc::clone(&gw.rt);
        let stored = rt
            .retry("gateway checkpoint", || {
                rt.store.save_checkpoint(&checkpoint)
            })
            .await
            .map_err(|e| fatal("gateway checkpoint", &e))?;
        if stored == Inserted::Duplicate {
            anyhow::bail!(
                "{}: a newer checkpoint exists (revision ≥ {}); another gateway with this id runs, stopping",
                self.owner,
                self.revision
            );
        }
        gw.figures.checkpoints += 1;
        for d in self.market_acks.drain(..) {
            rt.ack(&mut gw.market, &d)
                .await
                .map_err(|e| fatal("ack", &e))?;
        }
        // Acknowledgement is cumulative per partition: the newest delivery of each suffices.
        let newest: BTreeMap<i32, Delivery> = self
            .order_acks
            .drain(..)
            .map(|d| (d.partition, d))
            .collect();
        for d in newest.values() {
            rt.ack(orders, d).await.map_err(|e| fatal("ack", &e))?;
        }
        Ok(())
    }
}
