//! `chimera up`: the live architecture in one process — market-data feed, trade gateway
//! (simulated venue) and one execution node — wired through the configured bus and database
//! (or, with `--processes`, as child processes: see [`crate::up_processes`]).
//!
//! With `bus.kind = "memory"` and a SQLite database it needs no servers; with Kafka or Redis
//! and PostgreSQL it is the same deployment the separate binaries make, run from one command.

use crate::args::UpArgs;
use chimera_kernel::ids::PortfolioId;
use chimera_kernel::strategy::StrategyRegistry;
use chimera_live::config::{LiveConfig, NodeConfig};
use chimera_live::runtime::{shutdown_pair, trigger_on_signals, Runtime, Shutdown};
use chimera_live::{connect, connect_bus, feed, gateway, node, RuntimeArgs};
use chimera_ports::{
    CheckpointRepository, EventBus, FillRepository, OrderRepository, PortfolioRepository,
    PositionRepository,
};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Runs feed, gateway and node until Ctrl-C / SIGTERM (or, with `--exit-when-idle`, until the
/// feed is done and every order has settled), then prints each portfolio's positions.
///
/// # Errors
/// An invalid configuration (every bad field listed), a missing section, an unreachable bus or
/// database, or a component's fatal failure.
pub(crate) fn run(args: &UpArgs, strategies: &StrategyRegistry) -> anyhow::Result<()> {
    chimera_live::logging::init()?;
    let config = RuntimeArgs {
        config: args.config.clone(),
    }
    .load(Some(strategies))?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(async {
            if args.processes {
                crate::up_processes::up(config, &args.config, args.exit_when_idle).await
            } else {
                up(config, args.exit_when_idle, strategies).await
            }
        })
}

async fn up(
    config: LiveConfig,
    exit_when_idle: bool,
    strategies: &StrategyRegistry,
) -> anyhow::Result<()> {
    let (Some(node_cfg), Some(gateway_cfg), Some(feed_cfg)) = (
        config.node.clone(),
        config.gateway.clone(),
        config.feed.clone(),
    ) else {
        anyhow::bail!(
            "chimera up needs [node], [gateway] and [feed] sections in the configuration"
        );
    };
    let (trigger, shutdown) = shutdown_pair();
    trigger_on_signals(trigger.clone());
    // One in-memory bus must be shared; a real bus gets one connection per component.
    let shared = if config.bus.is_memory() {
        Some(connect_bus(&config, "up", true).await?)
    } else {
        None
    };
    let bus_for = |id: String| {
        let shared = shared.clone();
        let config = config.clone();
        async move {
            match shared {
                Some(bus) => Ok::<Arc<dyn EventBus>, anyhow::Error>(bus),
                None => connect_bus(&config, &id, false).await,
            }
        }
    };
    let node_rt = connect(
        &config,
        bus_for(node_cfg.id.clone()).await?,
        &node_cfg.id,
        shutdown.clone(),
    )
    .await?;
    let gateway_rt = connect(
        &config,
        bus_for(gateway_cfg.id.clone()).await?,
        &gateway_cfg.id,
        shutdown.clone(),
    )
    .await?;
    let feed_rt = connect(
        &config,
        bus_for(feed_cfg.id.clone()).await?,
        &feed_cfg.id,
        shutdown.clone(),
    )
    .await?;
    let portfolios = prepare_portfolios(&node_rt, &config, &node_cfg).await?;

    let store_rt = Arc::clone(&node_rt);
    let node_task = tokio::spawn({
        let (cfg, strategies) = (node_cfg.clone(), strategies.clone());
        async move { node::run_node(node_rt, &cfg, &strategies).await }
    });
    let gateway_task = tokio::spawn({
        let cfg = gateway_cfg.clone();
        async move { gateway::run_gateway(gateway_rt, &cfg).await }
    });
    let published = feed::run_feed(feed_rt, &feed_cfg).await?;
    println!("feed: published {published} market events");
    if exit_when_idle && !shutdown.is_triggered() {
        wait_idle(&store_rt, &portfolios, shutdown.clone()).await?;
        trigger.trigger();
    }
    let mut waiting = shutdown.clone();
    waiting.wait().await;
    let figures = node_task.await??;
    let gateway_figures = gateway_task.await??;
    println!(
        "gateway: {} orders sent, {} duplicates, {} fills",
        gateway_figures.submitted, gateway_figures.duplicates, gateway_figures.fills
    );
    for f in &figures {
        println!(
            "node: {} applied {} events and {} fills, sent {} orders",
            f.id, f.events, f.fills, f.orders
        );
    }
    print_positions(&store_rt, &portfolios).await
}

/// Registers the configured portfolios when asked to, prints where to look, and returns the
/// node's portfolios.
///
/// # Errors
/// When the database cannot be read or written.
pub(crate) async fn prepare_portfolios(
    rt: &Runtime,
    config: &LiveConfig,
    node_cfg: &NodeConfig,
) -> anyhow::Result<Vec<PortfolioId>> {
    if node_cfg.register_portfolios {
        node::register_portfolios(rt, &node_cfg.id, &config.portfolios).await?;
    }
    let portfolios: Vec<PortfolioId> = rt
        .store
        .portfolios_for_node(&node_cfg.id)
        .await?
        .into_iter()
        .map(|r| r.id)
        .collect();
    print_where_to_look(config, &node_cfg.id, &portfolios);
    Ok(portfolios)
}

fn print_where_to_look(config: &LiveConfig, node_id: &str, portfolios: &[PortfolioId]) {
    let prefix = &config.bus.topic_prefix;
    let ids: Vec<&str> = portfolios.iter().map(PortfolioId::as_str).collect();
    println!(
        "chimera up: feed → node {node_id} ({}) → gateway (simulated venue)",
        ids.join(", ")
    );
    println!("  bus       {} — topics {prefix}market.data, {prefix}orders.submission, {prefix}orders.feedback; alerts on {prefix}alerts, heartbeats on {prefix}system.events", config.bus.kind());
    println!("  database  {} — tables orders, fills, positions_snapshots, checkpoints, alerts, dead_letters, strategy_events", config.database.address());
    println!("  stop      Ctrl-C (or SIGTERM): every component checkpoints and stops cleanly");
}

/// Waits until no order is open and nothing has changed for two seconds.
pub(crate) async fn wait_idle(
    rt: &Runtime,
    portfolios: &[PortfolioId],
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let mut last = (u64::MAX, 0_usize, 0_i64);
    let mut since = Instant::now();
    while !shutdown.is_triggered() {
        let mut fills = 0_u64;
        let mut open = 0_usize;
        let mut revisions = 0_i64;
        for id in portfolios {
            fills += u64::try_from(rt.store.fills(id).await?.len()).unwrap_or(u64::MAX);
            open += rt.store.open_orders(id).await?.len();
            revisions += rt
                .store
                .load_checkpoint(id)
                .await?
                .map_or(0, |c| c.revision);
        }
        let now = (fills, open, revisions);
        if now != last {
            last = now;
            since = Instant::now();
        } else if open == 0 && since.elapsed() >= Duration::from_secs(2) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Ok(())
}

pub(crate) async fn print_positions(
    rt: &Runtime,
    portfolios: &[PortfolioId],
) -> anyhow::Result<()> {
    for id in portfolios {
        let fills = rt.store.fills(id).await?.len();
        for snapshot in rt.store.latest_snapshots(id).await? {
            let p = &snapshot.position;
            println!(
                "{id}: {} qty {} cost basis {} realised {} fees {} funding {} ({fills} fills)",
                p.symbol, p.qty, p.cost_basis, p.realized_pnl, p.fees, p.funding
            );
        }
    }
    Ok(())
}
