//! `chimera up`: the live architecture in one process — market-data feed, trade gateway
//! (simulated venue) and one execution node — wired through the configured bus and database
//! (or, with `--processes`, as child processes: see [`processes`]).
//!
//! With `bus.kind = "memory"` and a SQLite database it needs no servers; with Kafka or Redis
//! and PostgreSQL it is the same deployment the separate binaries make, run from one command.

mod memory_bus;
mod processes;
mod replay_identity;
mod settle;

use crate::args::UpArgs;
use chimera_kernel::strategy::StrategyRegistry;
use chimera_live::config::LiveConfig;
use chimera_live::runtime::{alerts_settled_after, shutdown_pair, trigger_on_signals};
use chimera_live::{connect_bus, connect_on, feed, gateway, node, RuntimeArgs};
use chimera_ports::EventBus;
use settle::{prepare_portfolios, print_positions, wait_idle, Settling};
use std::sync::Arc;

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
    // On the in-memory bus every hop from a market event to its order is a hand-over between
    // tasks of this process: on one thread it is a queue push, across threads a wake-up of a
    // parked thread (tens of microseconds on a busy machine, the most of tick-to-order). The
    // database's own threads (SQLite) and blocking work still run beside it.
    let one_thread = config.bus.is_memory() && !args.processes;
    if args.busy_poll && !one_thread {
        anyhow::bail!(
            "--busy-poll keeps one thread awake: it needs the in-memory bus ([bus] kind = \"memory\") in one process"
        );
    }
    let mut runtime = if one_thread {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    runtime.enable_all().build()?.block_on(async {
        if args.processes {
            processes::up(config, &args.config, args.exit_when_idle).await
        } else {
            up(config, args.exit_when_idle, args.busy_poll, strategies).await
        }
    })
}

async fn up(
    config: LiveConfig,
    exit_when_idle: bool,
    busy_poll: bool,
    strategies: &StrategyRegistry,
) -> anyhow::Result<()> {
    let (Some(mut node_cfg), Some(mut gateway_cfg), Some(feed_cfg)) = (
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
    if busy_poll {
        chimera_live::busy_poll::busy_poll(shutdown.clone());
        // The core is kept awake for latency: the simulated venue and the portfolios keep
        // their order paths warm.
        gateway_cfg.rehearse_while_busy_polling();
        node_cfg.rehearse_while_busy_polling();
    }
    // One connection pool for the three components, as for the bus.
    let (store, _health) = config.database.build().await?;
    let replay = config.bus.is_memory()
        && memory_bus::replays_files_onto_the_simulator(&gateway_cfg, &feed_cfg);
    if replay {
        // Before anything is written: a replay other than the last one here is refused.
        replay_identity::check_and_record(&store, &config.portfolios, &feed_cfg).await?;
    }
    // One in-memory bus must be shared; a real bus gets one connection per component.
    let shared = if config.bus.is_memory() {
        Some(memory_bus::numbered_bus(&store, &config.bus.topic_prefix).await?)
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
    let node_rt = connect_on(
        &config,
        bus_for(node_cfg.id.clone()).await?,
        store.clone(),
        &node_cfg.id,
        shutdown.clone(),
    )
    .await?;
    let gateway_rt = connect_on(
        &config,
        bus_for(gateway_cfg.id.clone()).await?,
        store.clone(),
        &gateway_cfg.id,
        shutdown.clone(),
    )
    .await?;
    let feed_rt = connect_on(
        &config,
        bus_for(feed_cfg.id.clone()).await?,
        store,
        &feed_cfg.id,
        shutdown.clone(),
    )
    .await?;
    let portfolios = prepare_portfolios(&node_rt, &config, &node_cfg).await?;
    if shared.is_some() {
        memory_bus::after_the_last_run(
            &node_rt.store,
            replay,
            &portfolios,
            &gateway_cfg,
            &feed_cfg,
        )
        .await?;
    }
    let settling = Settling::new(portfolios, &node_cfg, &gateway_cfg);

    let store_rt = Arc::clone(&node_rt);
    let node_task = tokio::spawn({
        let (cfg, strategies) = (node_cfg.clone(), strategies.clone());
        async move {
            let running = node::run_node(Arc::clone(&node_rt), &cfg, &strategies);
            alerts_settled_after(&node_rt, running).await
        }
    });
    let gateway_task = tokio::spawn({
        let cfg = gateway_cfg.clone();
        async move {
            let running = Box::pin(gateway::run_gateway(Arc::clone(&gateway_rt), &cfg));
            alerts_settled_after(&gateway_rt, running).await
        }
    });
    let published =
        alerts_settled_after(&feed_rt, feed::run_feed(Arc::clone(&feed_rt), &feed_cfg)).await?;
    println!("feed: published {published} market events");
    if exit_when_idle && !shutdown.is_triggered() {
        wait_idle(&store_rt, &settling, shutdown.clone()).await?;
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
    if gateway_figures.rehearsals > 0 {
        // Not a "gateway: " line: rehearsals change none of the figures above.
        println!(
            "the gateway rehearsed {} orders on a stage (a copy of the simulated venue), changing nothing",
            gateway_figures.rehearsals
        );
    }
    if gateway_figures.priced_late > 0 {
        println!(
            "gateway: {} orders were priced with market data newer than their own time (a \
             portfolio sharing a symbol read behind another while [gateway] sim_lockstep was off, \
             or after it had been silent for 30 s): their fills depend on timing",
            gateway_figures.priced_late
        );
    }
    for f in &figures {
        println!(
            "node: {} applied {} events and {} fills, sent {} orders",
            f.id, f.events, f.fills, f.orders
        );
    }
    let rehearsals: u64 = figures.iter().map(|f| f.rehearsals).sum();
    if rehearsals > 0 {
        // Not a "node: " line: rehearsals change none of the figures above.
        println!(
            "the portfolios rehearsed their orders {rehearsals} times on copies of their engines, changing nothing"
        );
    }
    print_positions(&store_rt, settling.portfolios()).await
}
