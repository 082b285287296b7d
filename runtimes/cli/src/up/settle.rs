//! What both ways of running `chimera up` share: registering the configured portfolios,
//! saying where to look, waiting until every order has settled, printing the positions.

use chimera_kernel::ids::PortfolioId;
use chimera_live::config::{LiveConfig, NodeConfig};
use chimera_live::node;
use chimera_live::runtime::{Runtime, Shutdown};
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
