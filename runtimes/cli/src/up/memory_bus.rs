//! What `chimera up` on its in-memory bus does about the runs before it.
//!
//! The bus ends with the process; the components' checkpoints in the database do not, and they
//! say how far each read the bus, by offset, and what each held. Two things follow.
//!
//! - **Numbering.** A new bus numbering from 0 again would have every reader skip the new run's
//!   first messages as already applied (the node the live feed's first events, the gateway the
//!   node's first orders). So each run is counted in the database (`bus:<topic prefix>` in the
//!   checkpoint table), and run `n` numbers its messages from `(n - 1) × 2⁴⁰`, above anything
//!   an earlier run handed out (2⁴⁰ messages per topic and run; 2²³ runs fit an `i64`). What
//!   else died with the last bus, a restored node sends again (its open orders; the gateway,
//!   idempotent by intent id, executes what it never had and tells again what it did).
//! - **A file replay on the simulated venue starts over.** Between the gateway's checkpoint and the node's, orders the
//!   gateway executed and the node heard of are in the records but not in the restored
//!   venue, and the bus that would have handed them to it again is gone: the simulated venue
//!   would go on from a state the records have passed. A replay of files can do better: it
//!   starts from the first event, with the node's portfolios, the gateway's venue and the feed
//!   from nothing, so every order is executed in the same order as before, with the same ids.
//!   The records keep what earlier runs wrote (orders by client order id, fills by trade id,
//!   the rest by their own keys), so nothing is written twice, and the run ends where one that
//!   was never stopped ends. A live source cannot be replayed, and an exchange keeps its own
//!   state (orders it executed would be sent to it again): those resume from the checkpoints.

use chimera_kernel::ids::PortfolioId;
use chimera_live::config::{FeedConfig, GatewayConfig, LiveConfig};
use chimera_live::runtime::wall_clock;
use chimera_memory::{MemoryEventBus, DEFAULT_BUS_RETENTION};
use chimera_ports::{Checkpoint, CheckpointRepository, EventBus};
use std::sync::Arc;

/// Offsets one run may hand out per topic.
const RUN_SPAN: i64 = 1 << 40;

/// Counts this run in `store` and returns its bus, numbered above every earlier run's.
///
/// # Errors
/// The database failed, or its count of runs is not a number this build wrote.
pub(super) async fn numbered_bus(
    store: &dyn CheckpointRepository,
    config: &LiveConfig,
) -> anyhow::Result<Arc<dyn EventBus>> {
    let key = PortfolioId::new(format!("bus:{}", config.bus.topic_prefix));
    let last = store.load_checkpoint(&key).await?;
    let (revision, runs) = match &last {
        None => (0, 0),
        Some(cp) => (
            cp.revision,
            cp.state.parse::<i64>().map_err(|e| {
                anyhow::anyhow!(
                    "the checkpoint {key} should count chimera up's runs, but holds {:?}: {e}",
                    cp.state
                )
            })?,
        ),
    };
    let first_offset = runs
        .checked_mul(RUN_SPAN)
        .ok_or_else(|| anyhow::anyhow!("{key} counts {runs} runs: no offsets are left"))?;
    store
        .save_checkpoint(&Checkpoint {
            portfolio_id: key,
            revision: revision + 1,
            state: (runs + 1).to_string(),
            ts: wall_clock(),
        })
        .await?;
    Ok(Arc::new(MemoryEventBus::numbered_from(
        DEFAULT_BUS_RETENTION,
        first_offset,
    )))
}

/// Discards the checkpoints of `portfolios`, of the gateway and of the feed, so a file replay
/// starts over (see the module's doc); returns how many there were.
///
/// # Errors
/// The database failed.
pub(super) async fn start_over(
    store: &dyn CheckpointRepository,
    portfolios: &[PortfolioId],
    gateway: &GatewayConfig,
    feed: &FeedConfig,
) -> anyhow::Result<usize> {
    let components = [
        chimera_live::gateway::checkpoint_owner(gateway),
        chimera_live::feed::progress_owner(&feed.id),
    ];
    let mut discarded = 0;
    for id in portfolios.iter().chain(&components) {
        if store.discard_checkpoint(id).await? {
            discarded += 1;
        }
    }
    Ok(discarded)
}
