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

/// How much longer than the longest checkpoint period nothing may checkpoint: the time a
/// checkpoint itself may take.
const QUIET_MARGIN: Duration = Duration::from_millis(100);

/// After this many quiet periods with no order open, a run whose checkpoints still do not
/// count every recorded fill settles anyway (with a warning) rather than wait forever.
const GIVE_UP_AFTER_QUIETS: u32 = 10;

/// What tells that a run has settled: the node's portfolios and the gateway, through their
/// checkpoints and the orders and fills the gateway recorded.
pub(crate) struct Settling {
    portfolios: Vec<PortfolioId>,
    gateway: PortfolioId,
    /// How long nothing may checkpoint before the run can count as settled: the longest
    /// checkpoint period and [`QUIET_MARGIN`], since a component with work in hand
    /// checkpoints at least once a period.
    quiet: Duration,
}

impl Settling {
    pub(crate) fn new(
        portfolios: Vec<PortfolioId>,
        node: &NodeConfig,
        gateway: &chimera_live::config::GatewayConfig,
    ) -> Self {
        let period = Duration::from_millis(node.checkpoint_ms.max(gateway.checkpoint_ms));
        Self {
            portfolios,
            gateway: gateway::checkpoint_owner(gateway),
            quiet: period + QUIET_MARGIN,
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

    /// Whether every portfolio's checkpoint has no working order and counts every fill the
    /// gateway recorded for it.
    async fn checkpoints_cover_every_fill(&self, rt: &Runtime) -> anyhow::Result<bool> {
        for id in &self.portfolios {
            let Some(checkpoint) = rt.store.load_checkpoint(id).await? else {
                return Ok(false);
            };
            let Some(settled) = node::checkpoint_settlement(&checkpoint.state) else {
                return Ok(false);
            };
            let recorded = rt.store.fill_count(id).await?;
            if settled.open_orders > 0 || settled.fills != recorded {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// Once the feed is done: waits until no order is open, neither the node's portfolios nor the
/// gateway have checkpointed for [`Settling::quiet`] (a component with inputs in hand — market
/// data, commands, reports — checkpoints at least once a period, so a quiet one has nothing
/// left to apply), and each portfolio's checkpoint has applied every fill the gateway
/// recorded for it.
pub(crate) async fn wait_idle(
    rt: &Runtime,
    settling: &Settling,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let mut last = i64::MIN;
    let mut since = Instant::now();
    // The checkpoints last read in full did not cover the fills: read them again only once
    // something checkpoints.
    let mut uncovered_at = None;
    while !shutdown.is_triggered() {
        let revisions = settling.revisions(rt).await?;
        if revisions != last {
            last = revisions;
            since = Instant::now();
        } else if since.elapsed() >= settling.quiet && settling.open_orders(rt).await? == 0 {
            if uncovered_at != Some(revisions) {
                if settling.checkpoints_cover_every_fill(rt).await? {
                    return Ok(());
                }
                uncovered_at = Some(revisions);
            } else if since.elapsed() >= settling.quiet * GIVE_UP_AFTER_QUIETS {
                eprintln!(
                    "chimera up: settled by quiet alone: a portfolio's checkpoint does not count \
                     every fill the gateway recorded for it (fills of orders it did not know)"
                );
                return Ok(());
            }
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
        let fills = rt.store.fill_count(id).await?;
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
