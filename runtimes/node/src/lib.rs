//! The execution node: runs the portfolios assigned to it in the database.
//!
//! Start-up rebuilds each portfolio from its last checkpoint (books, open orders, strategy
//! state, applied offsets) before consuming. Then routers read `market.data`,
//! `orders.feedback` and `control.commands` (each node in its own consumer groups, so every
//! node sees every message and takes what concerns its portfolios), route through the interest
//! map into per-portfolio bounded queues, and one task per portfolio runs its engine
//! (`worker`): control commands (pause, resume, cancel all) apply in order with the rest.
//! A fourth router reads `schedule.updates` and reports assignment changes for this node.
//! A heartbeat with per-portfolio metrics goes to `system.events` (and, with shared state, to
//! `node:{heartbeat}:<id>` with a TTL). With shared state the node runs a portfolio only while
//! it holds the portfolio's lease (`lease`).

mod catch_up;
mod kill_watch;
mod lease;
mod queue;
mod roster;
mod router;
mod routes;
mod telemetry;
mod worker;

use chimera_kernel::engine::PortfolioEngine;
use chimera_kernel::ids::PortfolioId;
use chimera_kernel::strategy::StrategyRegistry;
use chimera_messages::{AlertCode, AlertLevel, Heartbeat, MessageType, PortfolioLoad, Topic};
use chimera_ports::{CheckpointRepository, PortfolioRecord, PortfolioRepository, PortfolioStatus};
use chimera_runtime::config::LiveConfig;
use chimera_runtime::config::NodeConfig;
use chimera_runtime::portfolio_spec::PortfolioSpec;
use chimera_runtime::runtime::{shutdown_pair, trigger_on_signals};
use chimera_runtime::runtime::{wall_clock, Runtime};
use chimera_runtime::telemetry::HealthBoard;
use chimera_runtime::{connect, connect_bus};
use router::Feed;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use worker::NodeCheckpoint;

/// Per-portfolio figures at the end of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortfolioFigures {
    /// Portfolio.
    pub id: PortfolioId,
    /// Market events applied.
    pub events: u64,
    /// Order commands published.
    pub orders: u64,
    /// Fills applied.
    pub fills: u64,
    /// Redelivered inputs skipped.
    pub skipped: u64,
    /// Rehearsals of its order branch (`[node] rehearse_us`), which changed none of the above.
    pub rehearsals: u64,
}

/// What a portfolio's stored checkpoint says it has settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settlement {
    /// Orders the engine still counts as working (sent and not yet finished).
    pub open_orders: usize,
    /// Fills the engine has applied.
    pub fills: u64,
}

/// Reads [`Settlement`] out of a checkpoint `state` this node wrote, without decoding its
/// orders; `None` when `state` is not a node checkpoint. For tools that wait for a run to
/// settle (`chimera up --exit-when-idle`): a portfolio has applied every fill the gateway
/// recorded when its checkpoint's count equals the store's.
pub fn checkpoint_settlement(state: &str) -> Option<Settlement> {
    #[derive(serde::Deserialize)]
    struct Brief {
        engine: BriefEngine,
    }
    #[derive(serde::Deserialize)]
    struct BriefEngine {
        open_orders: Vec<serde::de::IgnoredAny>,
        stats: chimera_kernel::engine::EngineStats,
    }
    let brief: Brief = serde_json::from_str(state).ok()?;
    Some(Settlement {
        open_orders: brief.engine.open_orders.len(),
        fills: brief.engine.stats.fills,
    })
}

/// Registers `specs` (assigned to `node_id`) that the database does not know yet.
///
/// # Errors
/// When the database cannot be written.
pub async fn register_portfolios(
    rt: &Runtime,
    node_id: &str,
    specs: &[PortfolioSpec],
) -> anyhow::Result<()> {
    for spec in specs {
        let id = PortfolioId::new(spec.id.as_str());
        if rt.store.get_portfolio(&id).await?.is_none() {
            rt.store
                .upsert_portfolio(&PortfolioRecord {
                    id,
                    config: serde_json::to_string(spec)?,
                    status: PortfolioStatus::Active,
                    node_id: Some(node_id.to_owned()),
                    updated_at: wall_clock(),
                })
                .await?;
        }
    }
    Ok(())
}

async fn restore(
    rt: &Runtime,
    record: &PortfolioRecord,
    strategies: &StrategyRegistry,
) -> Result<(PortfolioEngine, Option<(i64, NodeCheckpoint)>), String> {
    let spec: PortfolioSpec = serde_json::from_str(&record.config)
        .map_err(|e| format!("config is not a portfolio spec: {e}"))?;
    if spec.id != record.id.as_str() {
        return Err(format!("config names portfolio {:?}", spec.id));
    }
    let checkpoint = rt
        .store
        .load_checkpoint(&record.id)
        .await
        .map_err(|e| format!("cannot load checkpoint: {e}"))?;
    // Decoding a checkpoint and building the engine is CPU work that can take a while: off
    // the async threads, so lease renewals and routers are never held up behind it.
    let strategies = strategies.clone();
    tokio::task::spawn_blocking(move || build(&spec, checkpoint, &strategies))
        .await
        .map_err(|e| format!("restoring failed: {e}"))?
}

/// The engine of `spec`, from `checkpoint` when there is one.
fn build(
    spec: &PortfolioSpec,
    checkpoint: Option<chimera_ports::Checkpoint>,
    strategies: &StrategyRegistry,
) -> Result<(PortfolioEngine, Option<(i64, NodeCheckpoint)>), String> {
    match checkpoint {
        Some(cp) => {
            let state: NodeCheckpoint = serde_json::from_str(&cp.state)
                .map_err(|e| format!("checkpoint {} undecodable: {e}", cp.revision))?;
            let strategy = spec.build_strategy(strategies).map_err(|p| p.join("; "))?;
            let engine = spec
                .configure(
                    PortfolioEngine::from_snapshot(state.engine.clone(), strategy)
                        .map_err(|e| e.to_string())?,
                )
                .map_err(|p| p.join("; "))?;
            Ok((engine, Some((cp.revision, state))))
        }
        None => Ok((
            spec.build_engine(strategies).map_err(|p| p.join("; "))?,
            None,
        )),
    }
}

/// Runs the node until shutdown or a fatal error. Each portfolio's strategy is built from
/// `strategies`, the registry of the binary (Chimera's built-ins plus the user's own); a
/// portfolio whose strategy is not registered is not loaded and raises an alert. The node
/// starts with the portfolios the database assigns to it and follows `schedule.updates` from
/// then on (`roster`).
///
/// # Errors
/// A fatal bus or database failure, or losing a portfolio to another node.
pub async fn run_node(
    rt: Arc<Runtime>,
    config: &NodeConfig,
    strategies: &StrategyRegistry,
) -> anyhow::Result<Vec<PortfolioFigures>> {
    let records = rt.store.portfolios_for_node(&config.id).await?;
    let mut scorers = chimera_kernel::decision::ScorerRegistry::default();
    for scorer in &config.scorers {
        scorers.register(Box::new(scorer.clone()));
    }
    let services = Arc::new(chimera_runtime::requests::RequestServices::new(
        rt.state.as_ref().map(|s| Arc::clone(&s.store)),
        scorers,
    ));
    let (leased_tx, mut leased) = mpsc::unbounded_channel();
    let mut roster = roster::Roster::new(Arc::clone(&rt), config.clone(), services, leased_tx);
    let mut tasks = JoinSet::new();
    // Renewing runs before any lease is taken: a lease taken while the routers subscribe
    // (seconds on Kafka) is then renewed within a third of its TTL, not after it expired.
    {
        let (leases, rt) = (Arc::clone(&roster.leases), Arc::clone(&rt));
        tasks.spawn(async move { leases.keep(&rt).await });
    }
    kill_watch::first_read(&rt, &roster.kill).await;
    roster.table.await_portfolios(records.len());
    roster.begin_all(&records, &epochs(&rt, &config.id).await);
    let (schedule_tx, mut schedule) = mpsc::unbounded_channel();
    // Every node reads every message of these topics in groups of its own, and takes what
    // concerns its portfolios.
    for (topic, group, feed) in [
        (Topic::MarketData, "market", Feed::Market),
        (Topic::OrdersFeedback, "feedback", Feed::Feedback),
        (Topic::ControlCommands, "control", Feed::Control),
        (Topic::ScheduleUpdates, "schedule", Feed::Schedule),
    ] {
        let group = rt.topics.group(&format!("{}.{group}", config.id));
        let name = rt.topics.name(topic);
        let subscription = rt.bus.subscribe(&name, &group).await?;
        roster.table.started(&name, &subscription.starts());
        tasks.spawn(router::route(
            Arc::clone(&rt),
            Arc::clone(&roster.table),
            subscription,
            feed,
            schedule_tx.clone(),
        ));
    }
    drop(schedule_tx);
    tasks.spawn(kill_watch::watch(
        Arc::clone(&rt),
        Arc::clone(&roster.table),
        Arc::clone(&roster.kill),
    ));
    let board = HealthBoard::new(&config.id);
    board
        .serve_if(config.metrics_listen.as_deref(), rt.shutdown.clone())
        .await?;
    tasks.spawn(heartbeat(
        Arc::clone(&rt),
        config.clone(),
        Arc::clone(&roster.loads),
        Arc::clone(&roster.leases),
        board,
    ));
    let mut workers: JoinSet<roster::WorkerExit> = JoinSet::new();
    let mut shutdown = rt.shutdown.clone();
    let outcome: anyhow::Result<()> = loop {
        tokio::select! {
            joined = tasks.join_next(), if !tasks.is_empty() => match joined {
                Some(Ok(Ok(()))) | None => {}
                Some(Ok(Err(e))) => break Err(e),
                Some(Err(e)) => break Err(anyhow::anyhow!("node task failed: {e}")),
            },
            exited = workers.join_next(), if !workers.is_empty() => match exited {
                Some(Ok(exit)) => {
                    if let Err(e) = roster.worker_exited(exit, strategies, &mut workers).await {
                        break Err(e);
                    }
                }
                Some(Err(e)) => break Err(anyhow::anyhow!("portfolio task failed: {e}")),
                None => {}
            },
            Some((id, epoch, taken)) = leased.recv() => {
                if let Err(e) = roster.lease_taken(id, epoch, taken, strategies, &mut workers).await {
                    break Err(e);
                }
            }
            Some(event) = schedule.recv() => {
                if let Err(e) = roster.on_event(event, strategies).await {
                    break Err(e);
                }
            }
            () = shutdown.wait() => break Ok(()),
        }
    };
    if let Err(e) = outcome {
        rt.alert(
            AlertLevel::Critical,
            AlertCode::NodeFailed,
            e.to_string(),
            None,
        );
        tasks.abort_all();
        workers.abort_all();
        return Err(e);
    }
    // Shutdown: every worker finishes its batch and writes its final checkpoint, then the
    // portfolios may run elsewhere.
    while let Some(exited) = workers.join_next().await {
        if let Ok((id, Err(e))) = exited {
            tracing::error!(portfolio = %id, "at shutdown: {e}");
        }
    }
    while tasks.join_next().await.is_some() {}
    roster.leases.release_all(&rt).await;
    tracing::info!(
        component = %config.id,
        "stopped; ran {}",
        roster.ids().map(PortfolioId::as_str).collect::<Vec<_>>().join(", ")
    );
    Ok(roster
        .ran
        .iter()
        .map(|(id, s)| PortfolioFigures {
            id: id.clone(),
            events: s.events.load(Ordering::Relaxed),
            orders: s.orders.load(Ordering::Relaxed),
            fills: s.fills.load(Ordering::Relaxed),
            skipped: s.skipped.load(Ordering::Relaxed),
            rehearsals: s.rehearsals.load(Ordering::Relaxed),
        })
        .collect())
}

/// The fencing epochs the scheduler gave this node's portfolios, from its state in the shared
/// store (none without a scheduler).
async fn epochs(rt: &Runtime, node: &str) -> BTreeMap<PortfolioId, u64> {
    let Some(state) = &rt.state else {
        return BTreeMap::new();
    };
    let Ok(Some(bytes)) = state.store.get(chimera_messages::SCHEDULE_STATE_KEY).await else {
        return BTreeMap::new();
    };
    match serde_json::from_slice::<chimera_kernel::schedule::Schedule>(&bytes) {
        Ok(schedule) => schedule
            .placements()
            .iter()
            .filter_map(|(id, p)| {
                p.as_ref()
                    .filter(|p| p.node == node)
                    .map(|p| (id.clone(), p.epoch))
            })
            .collect(),
        Err(e) => {
            tracing::warn!(component = %node, "the scheduler's state is unreadable: {e}");
            BTreeMap::new()
        }
    }
}

async fn heartbeat(
    rt: Arc<Runtime>,
    config: NodeConfig,
    loads: roster::Loads,
    leases: Arc<lease::Leases>,
    board: HealthBoard,
) -> anyhow::Result<()> {
    let mut shutdown = rt.shutdown.clone();
    let mut beat = 0_u64;
    loop {
        let stats: Vec<_> = loads
            .lock()
            .map(|l| {
                l.iter()
                    .map(|(id, (s, q))| (id.clone(), Arc::clone(s), Arc::clone(q)))
                    .collect()
            })
            .unwrap_or_default();
        let heartbeat = Heartbeat {
            node: config.id.clone(),
            capacity: config.capacity,
            beat,
            dead_letters: rt.dead_letters.count(),
            portfolios: stats
                .iter()
                .map(|(id, s, q)| PortfolioLoad {
                    portfolio: id.clone(),
                    events: s.events.load(Ordering::Relaxed),
                    orders: s.orders.load(Ordering::Relaxed),
                    fills: s.fills.load(Ordering::Relaxed),
                    skipped: s.skipped.load(Ordering::Relaxed),
                    checkpoints: s.checkpoints.load(Ordering::Relaxed),
                    rehearsals: s.rehearsals.load(Ordering::Relaxed),
                    queue: q.len(),
                    queue_capacity: q.capacity(),
                    coalesced: q.coalesced(),
                    equity: s.equity.lock().map(|e| e.clone()).unwrap_or_default(),
                })
                .collect(),
        };
        rt.publish(
            Topic::SystemEvents,
            MessageType::SystemEvent,
            format!("hb:{}:{}", config.id, wall_clock().0),
            &config.id,
            &heartbeat,
        )
        .await
        .map_err(|e| chimera_runtime::runtime::fatal("heartbeat", &e))?;
        if let Some(state) = &rt.state {
            // Liveness for whoever reassigns a dead node's portfolios; expires with the node.
            let key = format!("node:{{heartbeat}}:{}", config.id);
            let ttl = Duration::from_millis(config.heartbeat_ms.saturating_mul(3));
            if let Err(e) = state
                .store
                .set(&key, &serde_json::to_vec(&heartbeat)?, Some(ttl))
                .await
            {
                tracing::warn!(component = %config.id, "heartbeat to the state store: {e}");
            }
        }
        telemetry::export(&config.id, &heartbeat, leases.count(), &board);
        beat += 1;
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(config.heartbeat_ms)) => {}
            () = shutdown.wait() => return Ok(()),
        }
    }
}

/// The execution node: runs the portfolios assigned to `[node].id`, building their strategies
/// from `strategies`.
///
/// # Errors
/// No `[node]` section, an unreachable bus or database, or a fatal failure of the node.
pub async fn run_node_process(
    config: &LiveConfig,
    strategies: &StrategyRegistry,
) -> anyhow::Result<()> {
    chimera_runtime::logging::init()?;
    let Some(mut node_config) = config.node.clone() else {
        anyhow::bail!("the configuration has no [node] section");
    };
    if !config.bus.is_memory() {
        node_config
            .progress_ms
            .get_or_insert(chimera_runtime::runtime_sections::NETWORK_PROGRESS_MS);
    }
    let (trigger, shutdown) = shutdown_pair();
    trigger_on_signals(trigger);
    let bus = connect_bus(config, &node_config.id, false).await?;
    let rt = connect(config, bus, &node_config.id, shutdown).await?;
    if node_config.register_portfolios {
        register_portfolios(&rt, &node_config.id, &config.portfolios).await?;
    }
    let outcome = chimera_runtime::runtime::alerts_settled_after(
        &rt,
        run_node(Arc::clone(&rt), &node_config, strategies),
    )
    .await;
    let figures = outcome?;
    for f in figures {
        println!(
            "{}: events {} orders {} fills {} skipped {}",
            f.id, f.events, f.orders, f.fills, f.skipped
        );
        if f.rehearsals > 0 {
            println!(
                "{}: rehearsed its orders {} times, changing nothing",
                f.id, f.rehearsals
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod settlement_tests {
    use super::{checkpoint_settlement, Settlement};

    #[test]
    fn a_checkpoint_tells_its_open_orders_and_fills_and_anything_else_tells_nothing() {
        let state = r#"{"engine": {"strategy": "x", "open_orders": [{"any": "shape"}, 1],
            "stats": {"events": 9, "orders": 4, "fills": 3, "refusals": 0, "issues": 0}},
            "applied": {}, "last_bar": {}}"#;
        assert_eq!(
            checkpoint_settlement(state),
            Some(Settlement {
                open_orders: 2,
                fills: 3
            })
        );
        assert_eq!(checkpoint_settlement("45031"), None, "a feed's checkpoint");
        assert_eq!(checkpoint_settlement("{}"), None);
    }
}
