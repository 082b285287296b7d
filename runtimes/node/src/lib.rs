//! The execution node: runs the portfolios assigned to it in the database.
//!
//! Start-up rebuilds each portfolio from its last checkpoint (books, open orders, strategy
//! state, applied offsets) before consuming. Then routers read `market.data`,
//! `orders.feedback` and `control.commands` (each node in its own consumer groups, so every
//! node sees every message and takes what concerns its portfolios), route through the interest
//! map into per-portfolio bounded queues, and one task per portfolio runs its engine
//! ([`worker`]): control commands (pause, resume, cancel all) apply in order with the rest.
//! A fourth router reads `schedule.updates` and reports assignment changes for this node.
//! A heartbeat with per-portfolio metrics goes to `system.events` (and, with shared state, to
//! `node:{heartbeat}:<id>` with a TTL). With shared state the node runs a portfolio only while
//! it holds the portfolio's lease ([`lease`]).

mod lease;
mod queue;
mod router;
mod worker;

use chimera_kernel::engine::{InterestMap, PortfolioEngine};
use chimera_kernel::ids::PortfolioId;
use chimera_kernel::strategy::StrategyRegistry;
use chimera_messages::{AlertCode, AlertLevel, Heartbeat, MessageType, PortfolioLoad, Topic};
use chimera_ports::{CheckpointRepository, PortfolioRecord, PortfolioRepository, PortfolioStatus};
use chimera_runtime::config::LiveConfig;
use chimera_runtime::config::NodeConfig;
use chimera_runtime::portfolio_spec::PortfolioSpec;
use chimera_runtime::runtime::{shutdown_pair, trigger_on_signals};
use chimera_runtime::runtime::{wall_clock, Runtime};
use chimera_runtime::{connect, connect_bus};
use queue::PortfolioQueue;
use router::{Feed, Routes};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use worker::{NodeCheckpoint, Worker, WorkerStats};

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
/// portfolio whose strategy is not registered is not loaded and raises an alert.
///
/// # Errors
/// A fatal bus or database failure, or losing a portfolio to another node.
pub async fn run_node(
    rt: Arc<Runtime>,
    config: &NodeConfig,
    strategies: &StrategyRegistry,
) -> anyhow::Result<Vec<PortfolioFigures>> {
    let records = rt.store.portfolios_for_node(&config.id).await?;
    let leases = match &rt.state {
        Some(state) => {
            let ids: Vec<PortfolioId> = records.iter().map(|r| r.id.clone()).collect();
            match lease::Leases::acquire(&rt, state, &ids).await? {
                Some(leases) => Some(Arc::new(leases)),
                None => return Ok(Vec::new()),
            }
        }
        None => None,
    };
    let mut scorers = chimera_kernel::decision::ScorerRegistry::default();
    for scorer in &config.scorers {
        scorers.register(Box::new(scorer.clone()));
    }
    let services = Arc::new(chimera_runtime::requests::RequestServices::new(
        rt.state.as_ref().map(|s| Arc::clone(&s.store)),
        scorers,
    ));
    let mut interest = InterestMap::default();
    let mut by_portfolio = HashMap::new();
    let mut workers = Vec::new();
    for record in &records {
        match restore(&rt, record, strategies).await {
            Ok((engine, checkpoint)) => {
                let queue = Arc::new(PortfolioQueue::new(config.queue_capacity));
                interest.subscribe(engine.portfolio(), &(record.id.clone(), Arc::clone(&queue)));
                by_portfolio.insert(record.id.clone(), Arc::clone(&queue));
                let paused = record.status == PortfolioStatus::Paused;
                workers.push(Worker::new(
                    engine,
                    checkpoint,
                    queue,
                    config.batch_max,
                    paused,
                    Arc::clone(&services),
                ));
            }
            Err(problem) => {
                rt.alert(
                    AlertLevel::Error,
                    AlertCode::PortfolioNotLoaded,
                    format!("portfolio {}: {problem}", record.id),
                    Some(record.id.clone()),
                )
                .await;
            }
        }
    }
    tracing::info!(
        component = %config.id,
        "running {} portfolio(s): {}",
        workers.len(),
        workers
            .iter()
            .map(|w| w.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let routes = Arc::new(Routes {
        interest,
        by_portfolio,
        node_id: config.id.clone(),
    });
    // Every node reads every message of these topics in groups of its own, and takes what
    // concerns its portfolios.
    let mut feeds = Vec::new();
    for (topic, group, feed) in [
        (Topic::MarketData, "market", Feed::Market),
        (Topic::OrdersFeedback, "feedback", Feed::Feedback),
        (Topic::ControlCommands, "control", Feed::Control),
        (Topic::ScheduleUpdates, "schedule", Feed::Schedule),
    ] {
        let group = rt.topics.group(&format!("{}.{group}", config.id));
        feeds.push((
            rt.bus.subscribe(&rt.topics.name(topic), &group).await?,
            feed,
        ));
    }
    let stats: Vec<(PortfolioId, Arc<WorkerStats>, Arc<PortfolioQueue>)> = workers
        .iter()
        .map(|w| (w.id.clone(), Arc::clone(&w.stats), Arc::clone(&w.queue)))
        .collect();
    let mut tasks = JoinSet::new();
    for worker in workers {
        tasks.spawn(worker.run(Arc::clone(&rt)));
    }
    for (subscription, feed) in feeds {
        tasks.spawn(router::route(
            Arc::clone(&rt),
            Arc::clone(&routes),
            subscription,
            feed,
        ));
    }
    tasks.spawn(heartbeat(Arc::clone(&rt), config.clone(), stats.clone()));
    if let Some(leases) = &leases {
        let (leases, rt) = (Arc::clone(leases), Arc::clone(&rt));
        tasks.spawn(async move { leases.keep(&rt).await });
    }
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                rt.alert(
                    AlertLevel::Critical,
                    AlertCode::NodeFailed,
                    e.to_string(),
                    None,
                )
                .await;
                tasks.abort_all();
                return Err(e);
            }
            Err(e) => {
                tasks.abort_all();
                return Err(anyhow::anyhow!("node task failed: {e}"));
            }
        }
    }
    // Every worker has written its final checkpoint: the portfolios may run elsewhere now.
    if let Some(leases) = &leases {
        leases.release(&rt).await;
    }
    Ok(stats
        .iter()
        .map(|(id, s, _)| PortfolioFigures {
            id: id.clone(),
            events: s.events.load(Ordering::Relaxed),
            orders: s.orders.load(Ordering::Relaxed),
            fills: s.fills.load(Ordering::Relaxed),
            skipped: s.skipped.load(Ordering::Relaxed),
        })
        .collect())
}

async fn heartbeat(
    rt: Arc<Runtime>,
    config: NodeConfig,
    stats: Vec<(PortfolioId, Arc<WorkerStats>, Arc<PortfolioQueue>)>,
) -> anyhow::Result<()> {
    let mut shutdown = rt.shutdown.clone();
    let mut beat = 0_u64;
    loop {
        let heartbeat = Heartbeat {
            node: config.id.clone(),
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
    let Some(node_config) = config.node.clone() else {
        anyhow::bail!("the configuration has no [node] section");
    };
    let (trigger, shutdown) = shutdown_pair();
    trigger_on_signals(trigger);
    let bus = connect_bus(config, &node_config.id, false).await?;
    let rt = connect(config, bus, &node_config.id, shutdown).await?;
    if node_config.register_portfolios {
        register_portfolios(&rt, &node_config.id, &config.portfolios).await?;
    }
    let figures = run_node(rt, &node_config, strategies).await?;
    for f in figures {
        println!(
            "{}: events {} orders {} fills {} skipped {}",
            f.id, f.events, f.orders, f.fills, f.skipped
        );
    }
    Ok(())
}
