//! What both ways of running `chimera up` share: registering the configured portfolios,
//! saying where to look, waiting until the run has settled, printing the positions.

use chimera_kernel::ids::PortfolioId;
use chimera_live::config::{LiveConfig, NodeConfig};
use chimera_live::runtime::{Runtime, Shutdown};
use chimera_live::{gateway, node};
use chimera_ports::{
    CheckpointRepository, FillRepository, OrderRepository, PortfolioRepository, PositionRepository,
};
use std::time::{Duration, Instant};

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
        "chimera up: feed → node {node_id} ({}) → gateway ({})",
        ids.join(", "),
        config
            .gateway
            .as_ref()
            .map_or("simulated venue", |g| g.venue.name())
    );
    println!("  bus       {} — topics {prefix}market.data, {prefix}orders.submission, {prefix}orders.feedback; alerts on {prefix}alerts, heartbeats on {prefix}system.events", config.bus.kind());
    println!("  database  {} — tables orders, fills, positions_snapshots, checkpoints, alerts, dead_letters, strategy_events", config.database.address());
    println!("  stop      Ctrl-C (or SIGTERM): every component checkpoints and stops cleanly");
}

/// The shortest quiet period that counts as settled.
const MIN_QUIET: Duration = Duration::from_millis(500);

/// What tells that a run has settled: the node's portfolios and the gateway, through their
/// checkpoints.
pub(crate) struct Settling {
    portfolios: Vec<PortfolioId>,
    gateway: PortfolioId,
    /// How long nothing may checkpoint before the run counts as settled: twice the longest
    /// checkpoint period, since a component with work in hand checkpoints at least that often,
    /// and no less than [`MIN_QUIET`] (a checkpoint itself takes time).
    quiet: Duration,
}

impl Settling {
    pub(crate) fn new(
        portfolios: Vec<PortfolioId>,
        node: &NodeConfig,
        gateway: &chimera_live::config::GatewayConfig,
    ) -> Self {
        let period = Duration::from_millis(node.checkpoint_ms).max(gateway::CHECKPOINT_EVERY);
        Self {
            portfolios,
            gateway: gateway::checkpoint_owner(gateway),
            quiet: (period * 2).max(MIN_QUIET),
        }
    }

    pub(crate) fn portfolios(&self) -> &[PortfolioId] {
        &self.portfolios
    }

    /// Sum of the checkpoint revisions: it moves whenever any of them applies anything.
    async fn revisions(&self, rt: &Runtime) -> anyhow::Result<i64> {
        let mut sum = 0;
        for id in self.portfolios.iter().chain(std::iter::once(&self.gateway)) {
            // The revision alone: the states can weigh megabytes, read several times a second.
            sum += rt.store.checkpoint_revision(id).await?.unwrap_or(0);
        }
        Ok(sum)
    }

    async fn open_orders(&self, rt: &Runtime) -> anyhow::Result<usize> {
        let mut open = 0;
        for id in &self.portfolios {
            open += rt.store.open_orders(id).await?.len();
        }
        Ok(open)
    }
}

/// Once the feed is done: waits until no order is open and neither the node's portfolios nor
/// the gateway have checkpointed for [`Settling::quiet`] — a component with inputs in hand
/// (market data, commands, reports) checkpoints at least once a period, so a quiet one has
/// nothing left to apply.
pub(crate) async fn wait_idle(
    rt: &Runtime,
    settling: &Settling,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let mut last = i64::MIN;
    let mut since = Instant::now();
    while !shutdown.is_triggered() {
        let revisions = settling.revisions(rt).await?;
        if revisions != last {
            last = revisions;
            since = Instant::now();
        } else if since.elapsed() >= settling.quiet && settling.open_orders(rt).await? == 0 {
            return Ok(());
        }
        tokio::time::sleep(settling.quiet / 10).await;
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
