//! The trade gateway: consumes `orders.submission`, executes each command on the venue, records
//! orders and fills, and publishes the venue's reports on `orders.feedback`.
//!
//! It drives any venue through [`GatewayVenue`]: [`PlainVenue`] around an exchange adapter's
//! [`chimera_ports::ExecutionVenue`], or [`SimGatewayVenue`], the simulated venue kept in event
//! time from `market.data`. Its own decisions (idempotency by intent id, republishing what a
//! venue already received) are pure functions ([`decide`]).
//!
//! # Recovery
//! Each turn of the loop: the venue's own work (the simulation reads market data), a batch of
//! commands executed, its reports published, the batch's orders and fills recorded in one write
//! beside the loop ([`journal`], [`recorder`]); then, at most every `[gateway] checkpoint_ms`
//! (250 ms by default), a checkpoint (the last command offset applied per partition, and the
//! venue's state when it keeps none of its own) once every record is written, and only then
//! acknowledgements. After a crash commands at or below the applied offsets are skipped, and
//! later ones are executed again — on a restored simulated venue this reproduces the same
//! reports (ids derive from client order ids), so the database (upserts by client order id and
//! trade id) and the nodes (duplicates recognised) see each effect once.
//!
//! Idempotent by intent id: the client order id derives from the intent id; a command for an
//! order the venue already received is not sent again — its recorded state is published again
//! instead (a node re-emits commands after its own restart).

mod binance;
mod decide;
mod execution;
mod fence;
mod journal;
mod kill_guard;
mod recorder;
mod sim;
mod state;
mod treasury_desk;
mod venue;

pub use binance::BinanceGatewayVenue;
pub use sim::SimGatewayVenue;
pub use venue::{GatewayVenue, Knowledge, PlainVenue};

use chimera_kernel::engine::Command;
use chimera_kernel::ids::PortfolioId;
use chimera_messages::{decode, message_type, EpochClaim, MessageType, Progress, Topic};
use chimera_ports::{Checkpoint, CheckpointRepository, Delivery, Inserted, Subscription};
use chimera_runtime::config::LiveConfig;
use chimera_runtime::config::{GatewayConfig, VenueKind};
use chimera_runtime::offsets::set_latest;
use chimera_runtime::runtime::{fatal, Runtime};
use chimera_runtime::runtime::{shutdown_pair, trigger_on_signals};
use chimera_runtime::telemetry::{HealthBoard, HealthStatus};
use chimera_runtime::{connect, connect_bus};
use execution::Gateway;
use fence::Fence;
use state::restore;
use std::collections::BTreeMap;
use std::fmt::Write as _;
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
    /// Commands refused as a zombie node's (older assignment epoch).
    pub fenced: u64,
    /// Orders refused because a kill switch held (not reduce-only).
    pub killed: u64,
    /// Market events a simulated venue fed between orders, on the nodes' progress promises,
    /// rather than on an order's path (0 on an exchange).
    pub fed_ahead: u64,
    /// Orders a simulated venue priced with market data newer than their own stamp (0 on an
    /// exchange; see [`GatewayVenue::priced_late`]).
    pub priced_late: u64,
}

/// Commands read per turn before a checkpoint.
const COMMAND_BATCH: usize = 64;
/// How long a turn with nothing to do waits for a command.
const IDLE_WAIT: Duration = Duration::from_millis(20);
/// The same while the venue's own work came in during the last [`IDLE_WAIT`] (the simulation
/// reading a live market): a command is read at once either way, but while the loop waits the
/// venue does not read its market, so a command arriving late in a long wait would first have
/// the whole wait's market data to read and decode (up to 40 bars at 2,000/s) before its
/// order could be filled.
const BUSY_WAIT: Duration = Duration::from_millis(1);

/// Runs the gateway on the venue `config.venue` names (`sim`, `binance`) until shutdown or a fatal error.
///
/// # Errors
/// A fatal bus or database failure, an undecodable checkpoint, or another gateway with the same
/// id writing newer checkpoints.
pub async fn run_gateway(
    rt: Arc<Runtime>,
    config: &GatewayConfig,
) -> anyhow::Result<GatewayFigures> {
    let (revision, state) = restore(&rt, &checkpoint_owner(config)).await?;
    let venue: Box<dyn GatewayVenue> = match &config.venue {
        VenueKind::Sim => Box::new(
            SimGatewayVenue::start(&rt, &config.id, config.sim_hold_ms, state.venue).await?,
        ),
        VenueKind::Binance(binance) => Box::new(BinanceGatewayVenue::connect(binance).await?),
    };
    run_gateway_with(rt, config, venue, revision, state.applied, state.fence).await
}

/// Runs the gateway on `venue` (e.g. a [`PlainVenue`] around an exchange adapter) until shutdown
/// or a fatal error, resuming from the gateway's checkpoint. The venue's own part of that
/// checkpoint is [`load_venue_state`]'s to hand to the venue when it is built.
///
/// # Errors
/// As [`run_gateway`].
pub async fn run_gateway_on(
    rt: Arc<Runtime>,
    config: &GatewayConfig,
    venue: Box<dyn GatewayVenue>,
) -> anyhow::Result<GatewayFigures> {
    let (revision, state) = restore(&rt, &checkpoint_owner(config)).await?;
    run_gateway_with(rt, config, venue, revision, state.applied, state.fence).await
}

/// The venue's part of the gateway `config.id`'s last checkpoint, if any.
///
/// # Errors
/// The database cannot be read, or the checkpoint is undecodable.
pub async fn load_venue_state(
    rt: &Runtime,
    config: &GatewayConfig,
) -> anyhow::Result<Option<serde_json::Value>> {
    Ok(restore(rt, &checkpoint_owner(config)).await?.1.venue)
}

/// Whose checkpoint is the gateway's: `gateway:<id>` in the checkpoint table.
pub fn checkpoint_owner(config: &GatewayConfig) -> PortfolioId {
    PortfolioId::new(format!("gateway:{}", config.id))
}

async fn run_gateway_with(
    rt: Arc<Runtime>,
    config: &GatewayConfig,
    venue: Box<dyn GatewayVenue>,
    revision: i64,
    applied: BTreeMap<String, i64>,
    fence: BTreeMap<PortfolioId, u64>,
) -> anyhow::Result<GatewayFigures> {
    let mut orders = rt
        .bus
        .subscribe(
            &rt.topics.name(Topic::OrdersSubmission),
            &rt.topics.group(&config.id),
        )
        .await?;

    let board = HealthBoard::new(&config.id);
    let mut gw = Gateway::new(Arc::clone(&rt), venue);
    board
        .serve_if(config.metrics_listen.as_deref(), rt.shutdown.clone())
        .await?;
    let mut keeper = Keeper {
        owner: checkpoint_owner(config),
        revision,
        applied,
        partition: String::new(),
        partition_of: None,
        order_acks: Vec::new(),
        last: Instant::now(),
        fence: Fence::new(fence),
        board,
        eager: rt.bus.in_process(),
    };
    let shutdown = rt.shutdown.clone();
    let checkpoint_every = Duration::from_millis(config.checkpoint_ms);
    // When the venue's turn last had work.
    let mut venue_busy: Option<Instant> = None;
    loop {
        gw.kill.refresh_if_due(&rt).await;
        let idle = gw.venue.turn(&rt).await? == 0;
        if !idle {
            venue_busy = Some(Instant::now());
        }
        gw.publish_reports().await?;
        gw.flush().await?;
        let wait = if !idle {
            Duration::ZERO
        } else if venue_busy.is_some_and(|at| at.elapsed() < IDLE_WAIT) {
            BUSY_WAIT
        } else {
            IDLE_WAIT
        };
        // Not raced against shutdown: a command is either executed and recorded or not read.
        keeper.commands(&mut gw, &mut orders, wait).await?;
        // What the commands' execution reported (a simulated order fills as it is placed) goes
        // out in this turn, not after its records are written and the next venue turn.
        gw.publish_reports().await?;
        // The batch's reports, then its records in one write; the checkpoint comes after.
        gw.flush().await?;
        // Not after every batch of commands: a checkpoint takes a database round trip or two,
        // and commands arriving meanwhile wait for it (it was most of order-to-fill on Redis).
        // Commands applied since the last one are executed again after a crash, which the
        // recovery above makes harmless; acknowledgement waits at most `checkpoint_every`, the
        // longest a consumed delivery (market data or command) waits for a checkpoint.
        let due = keeper.last.elapsed() >= checkpoint_every;
        if due || shutdown.is_triggered() {
            keeper.checkpoint(&mut gw, &mut orders).await?;
        }
        if shutdown.is_triggered() {
            break;
        }
    }
    // Nothing handed to the record writer is left unwritten at exit.
    gw.settle_records().await?;
    gw.figures.fed_ahead = gw.venue.fed_ahead();
    gw.figures.priced_late = gw.venue.priced_late();
    Ok(gw.figures)
}

/// Tracks what was applied and acknowledges it once a checkpoint covers it.
struct Keeper {
    owner: PortfolioId,
    revision: i64,
    applied: BTreeMap<String, i64>,
    /// The key in `applied` of the command being read (`topic/partition`), and the delivery's
    /// topic and partition it was written for: written again only when they change.
    partition: String,
    partition_of: Option<(Arc<str>, i32)>,
    order_acks: Vec<Delivery>,
    last: Instant,
    fence: Fence,
    board: HealthBoard,
    /// Publish each command's reports as soon as it is executed, not once per batch of
    /// commands: the bus is in process ([`chimera_ports::EventBus::in_process`]).
    eager: bool,
}

/// The gateway's figures as Prometheus counters (`chimera_gateway_<figure>_total`, label
/// `component`), and its health (`ok` with the figures as details).
fn export(component: &str, f: &GatewayFigures, board: &HealthBoard) {
    for (name, value) in [
        ("chimera_gateway_submitted_total", f.submitted),
        ("chimera_gateway_duplicates_total", f.duplicates),
        ("chimera_gateway_replayed_total", f.replayed),
        ("chimera_gateway_fills_total", f.fills),
        ("chimera_gateway_reports_total", f.reports),
        ("chimera_gateway_checkpoints_total", f.checkpoints),
        ("chimera_gateway_fenced_total", f.fenced),
        ("chimera_gateway_kill_refused_total", f.killed),
        ("chimera_gateway_fed_ahead_total", f.fed_ahead),
        ("chimera_gateway_priced_late_total", f.priced_late),
    ] {
        metrics::counter!(name, "component" => component.to_owned()).absolute(value);
    }
    board.set(
        HealthStatus::Ok,
        serde_json::json!({
            "submitted": f.submitted, "duplicates": f.duplicates, "fills": f.fills,
            "reports": f.reports, "fenced": f.fenced, "checkpoints": f.checkpoints,
            "kill_refused": f.killed, "fed_ahead": f.fed_ahead, "priced_late": f.priced_late,
        }),
    );
}

impl Keeper {
    /// Reads and executes up to [`COMMAND_BATCH`] commands, waiting up to `wait` for the first.
    async fn commands(
        &mut self,
        gw: &mut Gateway,
        orders: &mut Box<dyn Subscription>,
        wait: Duration,
    ) -> anyhow::Result<()> {
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
            let read_at = Instant::now();
            if self
                .partition_of
                .as_ref()
                .is_none_or(|(topic, partition)| *partition != d.partition || *topic != d.topic)
            {
                self.partition.clear(); // `topic/partition`, written without allocating
                let _ = write!(self.partition, "{}/{}", d.topic, d.partition);
                self.partition_of = Some((Arc::clone(&d.topic), d.partition));
            }
            if self
                .applied
                .get(&self.partition)
                .is_some_and(|a| d.offset <= *a)
            {
                gw.figures.replayed += 1;
            } else {
                let decoded = match message_type(&d.payload) {
                    Some(MessageType::EpochClaim) => {
                        decode::<EpochClaim>(&d.payload, MessageType::EpochClaim).map(|env| {
                            self.fence
                                .claim(&env.payload.portfolio_id, env.payload.epoch);
                            None
                        })
                    }
                    Some(MessageType::Progress) => {
                        match decode::<Progress>(&d.payload, MessageType::Progress) {
                            Ok(env) => {
                                let Progress {
                                    portfolio_id,
                                    clock,
                                } = &env.payload;
                                // A zombie's promise is refused like its orders.
                                if self.fence.admit(portfolio_id, env.epoch).is_ok() {
                                    gw.venue.progress(&gw.rt, portfolio_id, *clock).await?;
                                }
                                Ok(None)
                            }
                            Err(error) => Err(error),
                        }
                    }
                    _ => decode::<Command>(&d.payload, MessageType::OrderCommand).map(Some),
                };
                match decoded {
                    Ok(None) => {}
                    Ok(Some(env)) => {
                        match self.fence.admit(env.payload.portfolio_id(), env.epoch) {
                            Ok(()) => match gw.handle(env.payload).await {
                                Ok(()) => {
                                    gw.command_time.record(read_at.elapsed());
                                    if self.eager {
                                        gw.flush().await?; // before the next command runs
                                    }
                                }
                                Err(e) if e.is::<execution::Interrupted>() => {
                                    tracing::warn!(component = %gw.rt.source, "{e}; the command runs again after the restart");
                                    return Ok(());
                                }
                                Err(e) => return Err(e),
                            },
                            Err(fenced) => gw.fenced(&env, fenced),
                        }
                    }
                    Err(error) => gw
                        .rt
                        .dead_letter(&d, &error)
                        .await
                        .map_err(|e| fatal("dead letter", &e))?,
                }
                set_latest(&mut self.applied, &self.partition, d.offset);
            }
            self.order_acks.push(d);
        }
        Ok(())
    }

    /// Saves the venue and progress, then acknowledges everything they cover.
    async fn checkpoint(
        &mut self,
        gw: &mut Gateway,
        orders: &mut Box<dyn Subscription>,
    ) -> anyhow::Result<()> {
        self.last = Instant::now();
        if !gw.venue.has_unacknowledged() && self.order_acks.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        // What the checkpoint acknowledges must be on record first.
        gw.settle_records().await?;
        let venue = gw.venue.checkpoint()?;
        let state = format!(
            "{{\"applied\":{},\"fence\":{},\"venue\":{}}}",
            serde_json::to_string(&self.applied)?,
            serde_json::to_string(self.fence.epochs())?,
            venue.as_deref().unwrap_or("null")
        );
        self.revision += 1;
        let checkpoint = Checkpoint {
            portfolio_id: self.owner.clone(),
            revision: self.revision,
            state,
            ts: gw.venue.now(),
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
        gw.figures.fed_ahead = gw.venue.fed_ahead();
        gw.figures.priced_late = gw.venue.priced_late();
        gw.checkpoint_time.record(started.elapsed());
        export(&rt.source, &gw.figures, &self.board);
        gw.venue.acknowledge(&rt).await?;
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

/// The trade gateway: executes order commands on the venue.
///
/// # Errors
/// No `[gateway]` section, an unreachable bus or database, or a fatal failure of the gateway.
pub async fn run_gateway_process(config: &LiveConfig) -> anyhow::Result<()> {
    chimera_runtime::logging::init()?;
    let Some(gateway_config) = config.gateway.clone() else {
        anyhow::bail!("the configuration has no [gateway] section");
    };
    let (trigger, shutdown) = shutdown_pair();
    trigger_on_signals(trigger);
    let bus = connect_bus(config, &gateway_config.id, false).await?;
    let rt = connect(config, bus, &gateway_config.id, shutdown).await?;
    let outcome = chimera_runtime::runtime::alerts_settled_after(
        &rt,
        Box::pin(run_gateway(Arc::clone(&rt), &gateway_config)),
    )
    .await;
    let f = outcome?;
    println!(
        "submitted {} duplicates {} replayed {} fills {} reports {} checkpoints {} fenced {} \
         kill-refused {} fed-ahead {} priced-late {}",
        f.submitted,
        f.duplicates,
        f.replayed,
        f.fills,
        f.reports,
        f.checkpoints,
        f.fenced,
        f.killed,
        f.fed_ahead,
        f.priced_late
    );
    Ok(())
}
