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
//! - **A file replay on the simulated venue starts over.** Between the gateway's checkpoint
//!   and the node's, orders the gateway executed and the node heard of are in the records but
//!   not in the restored venue, and the bus that would have handed them to it again is gone:
//!   the simulated venue would go on from a state the records have passed. A replay of files can do better: it
//!   starts from the first event, with the node's portfolios, the gateway's venue and the feed
//!   from nothing, so every order is executed in the same order as before, with the same ids.
//!   The records keep what earlier runs wrote (orders by client order id, fills by trade id,
//!   the rest by their own keys), so nothing is written twice, and the run ends where one that
//!   was never stopped ends. A live source cannot be replayed, and an exchange keeps its own
//!   state (orders it executed would be sent to it again): those resume from the checkpoints.

use chimera_kernel::ids::PortfolioId;
use chimera_live::config::{FeedConfig, FeedSource, GatewayConfig, VenueKind};
use chimera_live::runtime::wall_clock;
use chimera_memory::{MemoryEventBus, DEFAULT_BUS_RETENTION};
use chimera_ports::{Checkpoint, CheckpointRepository, EventBus};
use std::sync::Arc;

/// Offsets one run may hand out per topic.
const RUN_SPAN: i64 = 1 << 40;

/// Counts this run in `store` and returns its bus (topics under `topic_prefix`), numbered
/// above every earlier run's.
///
/// # Errors
/// The database failed, or its count of runs is not a number this build wrote.
pub(super) async fn numbered_bus(
    store: &dyn CheckpointRepository,
    topic_prefix: &str,
) -> anyhow::Result<Arc<dyn EventBus>> {
    let key = PortfolioId::new(format!("bus:{topic_prefix}"));
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

/// Whether `chimera up` replays files onto the simulated venue: the case that starts over
/// ([`after_the_last_run`]), once [`super::replay_identity`] found it the same replay.
pub(super) fn replays_files_onto_the_simulator(gateway: &GatewayConfig, feed: &FeedConfig) -> bool {
    matches!(gateway.venue, VenueKind::Sim) && !matches!(feed.source, Some(FeedSource::Binance(_)))
}

/// What the last run left, on a new in-memory bus: a `replay` of files onto the simulated
/// venue ([`replays_files_onto_the_simulator`]) starts over ([`start_over`], saying so when
/// there was something to set aside); otherwise the components resume from their
/// checkpoints, and the simulated venue on a live source warns what that cannot restore (see
/// the module's doc). `portfolios` are those the node runs.
///
/// # Errors
/// The database failed.
pub(super) async fn after_the_last_run(
    store: &dyn CheckpointRepository,
    replay: bool,
    portfolios: &[PortfolioId],
    gateway: &GatewayConfig,
    feed: &FeedConfig,
) -> anyhow::Result<()> {
    if replay {
        let discarded = start_over(store, portfolios, gateway, feed).await?;
        if discarded > 0 {
            println!(
                "chimera up: the in-memory bus kept nothing of the last run, so the replay starts \
                 over from the first event ({discarded} checkpoints set aside); the records keep \
                 what it wrote, and nothing is written twice"
            );
        }
    } else if matches!(gateway.venue, VenueKind::Sim)
        && store
            .checkpoint_revision(&chimera_live::gateway::checkpoint_owner(gateway))
            .await?
            .is_some()
    {
        tracing::warn!(
            "the simulated venue resumes from its checkpoint on a new in-memory bus: orders it \
             executed after that checkpoint are in the records but not in the venue, whose \
             accounts can drift from them (on Redis Streams or Kafka nothing is lost)"
        );
    }
    Ok(())
}

/// Discards the checkpoints of `portfolios`, of the gateway and of the feed, so a file replay
/// starts over (see the module's doc); returns how many there were.
///
/// # Errors
/// The database failed.
async fn start_over(
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use chimera_kernel::time::Timestamp;
    use chimera_memory::MemoryRegistry;

    const LIVE: &str = "id = \"f\"\nsource = { kind = \"binance\", product = \"usdm\", \
                        environment = \"testnet\", symbols = [\"BTCUSDT\"] }";
    const EXCHANGE: &str =
        "id = \"g\"\nvenue = { kind = \"binance\", product = \"usdm\", environment = \"testnet\" }";

    /// A registry holding checkpoints of portfolio `p`, gateway `g`, feed `f` and the bus's
    /// count of runs; and which of them are left after [`after_the_last_run`] with `gateway`
    /// and `feed` (TOML sections).
    async fn left_after(gateway: &str, feed: &str) -> Vec<String> {
        let store = MemoryRegistry::new();
        let ids = ["p", "gateway:g", "feed:f", "bus:chimera.up."];
        for id in ids {
            let checkpoint = Checkpoint {
                portfolio_id: PortfolioId::new(id),
                revision: 3,
                state: "7".into(),
                ts: Timestamp(0),
            };
            store.save_checkpoint(&checkpoint).await.unwrap();
        }
        let gateway: GatewayConfig = toml::from_str(gateway).unwrap();
        let feed: FeedConfig = toml::from_str(feed).unwrap();
        let replay = replays_files_onto_the_simulator(&gateway, &feed);
        after_the_last_run(&store, replay, &[PortfolioId::new("p")], &gateway, &feed)
            .await
            .unwrap();
        let mut left = Vec::new();
        for id in ids {
            if store
                .load_checkpoint(&PortfolioId::new(id))
                .await
                .unwrap()
                .is_some()
            {
                left.push(id.to_owned());
            }
        }
        left
    }

    #[tokio::test]
    async fn a_replay_onto_the_simulated_venue_starts_over_and_the_rest_resume() {
        let replay = "id = \"f\"\nfiles = [\"BTCUSDT=bars.csv\"]";
        assert_eq!(left_after("id = \"g\"", replay).await, ["bus:chimera.up."]);
        let everything = ["p", "gateway:g", "feed:f", "bus:chimera.up."];
        assert_eq!(left_after("id = \"g\"", LIVE).await, everything);
        assert_eq!(left_after(EXCHANGE, replay).await, everything);
        assert_eq!(left_after(EXCHANGE, LIVE).await, everything);
    }

    #[tokio::test]
    async fn each_run_numbers_its_bus_above_the_last() {
        let store = MemoryRegistry::new();
        let mut firsts = Vec::new();
        for _ in 0..3 {
            let bus = numbered_bus(&store, "chimera.up.").await.unwrap();
            bus.publish("t", "k", b"x").await.unwrap();
            firsts.push(bus.last_offsets("t").await.unwrap()[&0]);
        }
        assert_eq!(firsts, [0, RUN_SPAN, 2 * RUN_SPAN]);
    }
}
