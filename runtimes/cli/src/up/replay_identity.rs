//! What a replay was, so one started over on the same database is the same replay.
//!
//! Starting a replay over ([`super::memory_bus`]) relies on the run making the same orders
//! under the same ids: the records absorb a repeat by client order id and trade id. A replay
//! of other portfolios, parameters or files makes other orders under the same ids (a
//! portfolio numbers its intents from 1), and the records would keep the first run's fills
//! and drop the new ones as repeats. So each replay writes what decides its orders (the
//! portfolios as configured, and each file by its size and modification time) as
//! `replay:<feed id>` in the checkpoint table, and a replay that differs is refused with
//! what to do, before anything runs.

use chimera_kernel::ids::PortfolioId;
use chimera_live::config::FeedConfig;
use chimera_live::portfolio_spec::PortfolioSpec;
use chimera_live::runtime::wall_clock;
use chimera_ports::{Checkpoint, CheckpointRepository};
use serde::{Deserialize, Serialize};

/// One replayed file: its entry as configured, its size and when it was last modified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct ReplayedFile {
    entry: String,
    bytes: u64,
    modified_ms: i64,
}

/// What decides a replay's orders.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ReplayIdentity {
    portfolios: Vec<PortfolioSpec>,
    files: Vec<ReplayedFile>,
}

impl ReplayIdentity {
    /// `portfolios` replaying `feed`'s files as they are on disk now.
    ///
    /// # Errors
    /// A file that cannot be read (the feed would fail on it too).
    fn now(portfolios: &[PortfolioSpec], feed: &FeedConfig) -> anyhow::Result<Self> {
        let mut files = Vec::with_capacity(feed.files.len());
        for entry in &feed.files {
            let (_, path) = chimera_live::config::split_file(entry);
            let meta = std::fs::metadata(&path)
                .map_err(|e| anyhow::anyhow!("feed file {}: {e}", path.display()))?;
            let modified_ms = meta
                .modified()?
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
            files.push(ReplayedFile {
                entry: entry.clone(),
                bytes: meta.len(),
                modified_ms,
            });
        }
        Ok(Self {
            portfolios: portfolios.to_vec(),
            files,
        })
    }

    /// What differs from `last`, in words.
    fn differences(&self, last: &Self) -> Vec<&'static str> {
        let mut differ = Vec::new();
        if self.portfolios != last.portfolios {
            differ.push("the portfolios (or their parameters)");
        }
        if self.files != last.files {
            differ.push("the feed's files (or their size or modification time)");
        }
        differ
    }
}

/// Checks that the replay about to start over is the one this database last ran, and records
/// it as the last. A database whose last replay is not recorded (a first run, or one made
/// before this check) is taken as it is.
///
/// # Errors
/// Another replay ran last on this database (the message says what differs and what to do),
/// a feed file cannot be read, or the database failed.
pub(super) async fn check_and_record(
    store: &dyn CheckpointRepository,
    portfolios: &[PortfolioSpec],
    feed: &FeedConfig,
) -> anyhow::Result<()> {
    let key = PortfolioId::new(format!("replay:{}", feed.id));
    let now = ReplayIdentity::now(portfolios, feed)?;
    let last = store.load_checkpoint(&key).await?;
    if let Some(last) = &last {
        let recorded: ReplayIdentity = serde_json::from_str(&last.state)
            .map_err(|e| anyhow::anyhow!("the checkpoint {key} is not a replay's identity: {e}"))?;
        let differ = now.differences(&recorded);
        if !differ.is_empty() {
            anyhow::bail!(
                "this database holds another replay: {} changed since its last run. On the \
                 in-memory bus a replay starts over, and another one would write other orders \
                 under the same ids, which the records would take for repeats. Use a new \
                 database ([database] url), or the configuration and files of the last run",
                differ.join(" and ")
            );
        }
    }
    if last.is_none() {
        store
            .save_checkpoint(&Checkpoint {
                portfolio_id: key,
                revision: 1,
                state: serde_json::to_string(&now)?,
                ts: wall_clock(),
            })
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use chimera_memory::MemoryRegistry;

    fn spec(fast: &str) -> PortfolioSpec {
        toml::from_str(&format!(
            "id = \"p\"\nstrategy = \"ema-cross\"\ninstruments = []\n\
             [params]\nfast = \"{fast}\"\nslow = \"8\"\n"
        ))
        .unwrap()
    }

    #[tokio::test]
    async fn the_same_replay_starts_over_and_another_is_refused_saying_what_changed() {
        let dir = std::env::temp_dir().join(format!("chimera-replay-id-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bars = dir.join("bars.csv");
        std::fs::write(&bars, "timestamp,open,high,low,close,volume\n").unwrap();
        let feed: FeedConfig = toml::from_str(&format!(
            "id = \"f\"\nfiles = [\"BTCUSDT={}\"]",
            bars.display()
        ))
        .unwrap();
        let store = MemoryRegistry::new();
        check_and_record(&store, &[spec("3")], &feed).await.unwrap();
        check_and_record(&store, &[spec("3")], &feed).await.unwrap();

        let error = check_and_record(&store, &[spec("5")], &feed)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("the portfolios (or their parameters) changed"),
            "{error}"
        );
        assert!(error.contains("Use a new database"), "{error}");

        std::fs::write(&bars, "timestamp,open,high,low,close,volume\n1,2,3,4,5,6\n").unwrap();
        let error = check_and_record(&store, &[spec("3")], &feed)
            .await
            .unwrap_err()
            .to_string();
        assert!(error.contains("the feed's files"), "{error}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
