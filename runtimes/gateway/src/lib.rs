//! The trade gateway: consumes `orders.submission`, executes each command on the venue, records
//! orders and fills, and publishes the venue's reports on `orders.feedback`.
//!
//! It drives any venue through [`GatewayVenue`]: [`PlainVenue`] around an exchange adapter's
//! [`chimera_ports::ExecutionVenue`], or [`SimGatewayVenue`], the simulated venue kept in event
//! time from `market.data`. Its own decisions (idempotency by intent id, republishing what a
//! venue already received) are pure functions (`decide`).
//!
//! # Recovery
//! Each turn of the loop: the venue's own work (the simulation reads market data), a batch of
//! commands executed, its reports published, the batch's orders and fills recorded in one write
//! beside the loop (`journal`, `recorder`); then, at most every `[gateway] checkpoint_ms`
//! (250 ms by default), a checkpoint (the last command offset applied per partition, and the
//! venue's state when it keeps none of its own), saved beside the loop once every record it
//! covers is written, and only then acknowledgements (`checkpointing`). After a crash commands
//! at or below the applied offsets are skipped, and later ones are executed again — on a
//! restored simulated venue this reproduces the same reports (ids derive from client order
//! ids), so the database (upserts by client order id and trade id) and the nodes (duplicates
//! recognised) see each effect once.
//!
//! Idempotent by intent id: the client order id derives from the intent id; a command for an
//! order the venue already received is not sent again — its recorded state is published again
//! instead (a node re-emits commands after its own restart).

mod binance;
mod books;
mod checkpointing;
mod decide;
mod execution;
mod fence;
mod figures;
mod journal;
mod keeper;
mod kill_guard;
mod lockstep;
mod recorder;
mod rehearsal;
mod sim;
mod state;
mod treasury_desk;
mod venue;
mod venue_call;

pub use binance::BinanceGatewayVenue;
pub use figures::GatewayFigures;
pub use sim::SimGatewayVenue;
pub use venue::{GatewayVenue, Knowledge, PlainVenue, Rehearsal};

use checkpointing::Checkpoints;
use chimera_kernel::ids::PortfolioId;
use chimera_messages::Topic;
use chimera_runtime::config::LiveConfig;
use chimera_runtime::config::{GatewayConfig, VenueKind};
use chimera_runtime::runtime::Runtime;
use chimera_runtime::runtime::{shutdown_pair, trigger_on_signals};
use chimera_runtime::telemetry::HealthBoard;
use chimera_runtime::{connect, connect_bus};
use execution::Gateway;
use fence::Fence;
use keeper::Keeper;
use state::restore;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

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
            SimGatewayVenue::start(
                &rt,
                &config.id,
                config.sim_hold_ms,
                config.sim_lockstep,
                config.sim_rehearse_us.map(Duration::from_micros),
                state.venue,
            )
            .await?,
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
    // Each command's reports go out before the next command is read (`Keeper::eager`), and
    // the commands read together go out before any of their records are made.
    gw.defer_records = rt.bus.in_process();
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
        lockstep: lockstep::Lockstep::default(),
    };
    let mut checkpoints = Checkpoints::default();
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
        } else if venue_busy.is_some_and(|at| at.elapsed() < IDLE_WAIT) || checkpoints.saving() {
            // (A checkpoint on its way is acknowledged once the loop finds it saved.)
            BUSY_WAIT
        } else {
            IDLE_WAIT
        };
        // While nothing waits, the gateway may rehearse its last order on a stage (changing
        // nothing: `rehearsal`) so the next finds its path warm; the wait for commands ends
        // when the next rehearsal is due.
        let rehearsal = gw.venue.rehearsal_due().filter(|_| idle);
        let wait = rehearsal.map_or(wait, |left| wait.min(left));
        // Not raced against shutdown: a command is either executed and recorded or not read.
        let read = keeper.commands(&mut gw, &mut orders, wait).await?;
        if read == 0 && rehearsal.is_some() {
            rehearse_last(&mut gw, &mut keeper, &mut orders).await?;
        }
        // Held orders whose turn came with time (a portfolio that went quiet).
        keeper.release(&mut gw).await?;
        // What the commands' execution reported (a simulated order fills as it is placed) goes
        // out in this turn, not after its records are written and the next venue turn.
        gw.publish_reports().await?;
        // The batch's reports, then its records in one write; the checkpoint comes after.
        gw.flush().await?;
        // Not after every batch of commands: a checkpoint takes a database round trip or two.
        // Commands applied since the last one are executed again after a crash, which the
        // recovery above makes harmless; acknowledgement waits about `checkpoint_every` plus
        // the checkpoint's save, the longest a consumed delivery (market data or command)
        // waits for a checkpoint. It is saved beside the loop (`checkpointing`): commands
        // arriving meanwhile no longer wait for it (it was most of order-to-fill on Redis).
        if shutdown.is_triggered() {
            checkpoints.now(&mut keeper, &mut gw, &mut orders).await?;
            break;
        }
        let due = keeper.last.elapsed() >= checkpoint_every;
        checkpoints
            .tend(&mut keeper, &mut gw, &mut orders, due)
            .await?;
    }
    // Nothing handed to the record writer is left unwritten at exit.
    if !gw.hand_over_records().await?.await {
        return Err(gw.records_failure());
    }
    gw.figures.fed_ahead = gw.venue.fed_ahead();
    gw.figures.priced_late = gw.venue.priced_late();
    gw.figures.rehearsals = gw.venue.rehearsals();
    Ok(gw.figures)
}

/// Runs the venue's rehearsal if one is due, after everything else ready to run on this thread
/// (a node deciding on the market data that woke it, on one thread in process) and only if no
/// command came meanwhile: a command never waits for a rehearsal that started after it was
/// sent. A command that came is read and executed instead, and the rehearsal waits for the
/// next idle turn.
///
/// # Errors
/// As [`Keeper::commands`].
async fn rehearse_last(
    gw: &mut Gateway,
    keeper: &mut Keeper,
    orders: &mut Box<dyn chimera_ports::Subscription>,
) -> anyhow::Result<()> {
    if gw.venue.rehearsal_due() != Some(Duration::ZERO) {
        return Ok(());
    }
    tokio::task::yield_now().await;
    if keeper.commands(gw, orders, Duration::ZERO).await? == 0 {
        gw.rehearse().await;
    }
    Ok(())
}

/// The trade gateway: executes order commands on the venue.
///
/// Meant for a current-thread runtime, which `chimera-gateway` and `chimera gateway` build:
/// its loop is one sequence (read, execute, publish) and what runs beside it (records,
/// checkpoints, health) waits on the network. On a multi-threaded runtime each bus or
/// database reply reached the loop through its connection's task on another thread, a thread
/// wake-up per round trip: on a 2-core machine with Redis Streams, order-to-fill p50 was
/// 0.88–1.04 ms that way and 0.64–0.80 ms on one thread (five runs each, in turn).
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
         kill-refused {} fed-ahead {} priced-late {} rehearsals {}",
        f.submitted,
        f.duplicates,
        f.replayed,
        f.fills,
        f.reports,
        f.checkpoints,
        f.fenced,
        f.killed,
        f.fed_ahead,
        f.priced_late,
        f.rehearsals
    );
    Ok(())
}
