//! The market-data feed: publishes market data onto `market.data` (key: symbol), from files
//! (merged in time order; as fast as possible or at N × real time) or from any
//! [`MarketDataSource`], such as a venue's market-data adapter (`[feed] source = { kind =
//! "binance", ... }`: Binance's streams with a local book per symbol).
//!
//! A record the source cannot decode is dead-lettered (topic and table, with the reason and its
//! bytes) and the feed goes on; a transient source failure is retried with backoff.
//!
//! For a replayable source (files), progress is checkpointed (`feed:<id>` in the checkpoint
//! table) every batch, so a restarted feed continues instead of starting over; a bar replayed
//! in the window between a publish and its checkpoint is ignored by the nodes (a bar never
//! repeats).

use chimera_kernel::event::MarketEvent;
use chimera_kernel::ids::PortfolioId;
use chimera_messages::{encode, DecodeError, Envelope, MessageType, Topic};
use chimera_ports::{
    Checkpoint, CheckpointRepository, Deferred, Delivery, MarketDataSource, PortError,
};
use chimera_replay::{merge_in_time, open_market_data, FileMarketData};
use chimera_runtime::config::LiveConfig;
use chimera_runtime::config::{FeedConfig, FeedSource};
use chimera_runtime::runtime::{fatal, wall_clock, Runtime};
use chimera_runtime::runtime::{shutdown_pair, trigger_on_signals};
use chimera_runtime::{connect, connect_bus};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Events published per bus batch and per progress checkpoint.
const BATCH: usize = 500;

/// How [`publish_source`] runs.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedOptions {
    /// Feed identity (progress checkpoint `feed:<id>`, dead letters' origin `source:<id>`).
    pub id: String,
    /// 0 = as fast as possible; N = N × the event-time pace (for replays).
    pub speed: f64,
    /// The source yields the same records again when reopened (a file replay): checkpoint
    /// progress and skip what an earlier run already published. False for a live source.
    pub resumable: bool,
    /// Stop after this long (a live source never ends by itself).
    pub duration: Option<Duration>,
}

/// Replays the configured files; returns how many events were published by this run.
///
/// # Errors
/// An unreadable file, or a fatal bus or database failure.
pub async fn run_feed(rt: Arc<Runtime>, config: &FeedConfig) -> anyhow::Result<u64> {
    if let Some(FeedSource::Binance(binance)) = &config.source {
        let mut source = chimera_binance::BinanceMarketData::connect(binance)?;
        chimera_runtime::telemetry::HealthBoard::new(&config.id)
            .serve_if(config.metrics_listen.as_deref(), rt.shutdown.clone())
            .await?;
        let options = FeedOptions {
            id: config.id.clone(),
            speed: 0.0,
            resumable: false,
            duration: config.duration_ms.map(Duration::from_millis),
        };
        return publish_source(rt, &mut source, &options).await;
    }
    let mut readers = Vec::new();
    for entry in &config.files {
        let (symbol, path) = chimera_runtime::config::split_file(entry);
        readers.push(open_market_data(&path, None, &symbol)?);
    }
    let mut source = FileMarketData::new(merge_in_time(readers));
    chimera_runtime::telemetry::HealthBoard::new(&config.id)
        .serve_if(config.metrics_listen.as_deref(), rt.shutdown.clone())
        .await?;
    let options = FeedOptions {
        id: config.id.clone(),
        speed: config.speed,
        resumable: true,
        duration: None,
    };
    publish_source(rt, &mut source, &options).await
}

/// Whose checkpoint is feed `id`'s progress: `feed:<id>` in the checkpoint table.
pub fn progress_owner(id: &str) -> PortfolioId {
    PortfolioId::new(format!("feed:{id}"))
}

/// Publishes what `source` yields until it ends or shutdown is asked; returns how many events
/// were published by this run.
///
/// # Errors
/// A fatal source failure, or a fatal bus or database failure.
pub async fn publish_source(
    rt: Arc<Runtime>,
    source: &mut dyn MarketDataSource,
    options: &FeedOptions,
) -> anyhow::Result<u64> {
    let progress_id = progress_owner(&options.id);
    let resumed = if options.resumable {
        rt.store.load_checkpoint(&progress_id).await?
    } else {
        None
    };
    let (mut revision, already) = resumed.map_or((0, 0), |cp| {
        (cp.revision, cp.state.parse::<u64>().unwrap_or(0))
    });
    let topic = rt.topics.name(Topic::MarketData);
    let started = Instant::now();
    let mut first_ts = None;
    let mut index = 0_u64;
    let mut published = 0_u64;
    let mut batch = Batch::default();
    let deadline = options.duration.map(|d| tokio::time::Instant::now() + d);
    while !rt.shutdown.is_triggered() {
        let Some(record) = next_record(&rt, source, deadline).await? else {
            break;
        };
        index += 1;
        if index <= already {
            continue;
        }
        let event = match record {
            Ok(event) => event,
            Err(undecodable) => {
                dead_letter(&rt, options, index, undecodable).await?;
                continue;
            }
        };
        if options.speed > 0.0 {
            let first = *first_ts.get_or_insert(event.ts().0);
            let due =
                Duration::from_secs_f64((event.ts().0 - first) as f64 / 1000.0 / options.speed);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                batch.flush(&rt, &topic).await?;
                tokio::time::sleep(wait).await;
            }
        }
        let key = event.symbol().as_str().to_owned();
        let envelope = Envelope::new(
            MessageType::MarketEvent,
            event_id(&key, event.ts().0, index),
            wall_clock(),
            rt.source.clone(),
            key.clone(),
            event,
        );
        batch.push(key, envelope);
        published += 1;
        if batch.len() >= BATCH {
            batch.flush(&rt, &topic).await?;
            if options.resumable {
                revision += 1;
                save_progress(&rt, &progress_id, revision, index).await?;
            }
        }
    }
    batch.flush(&rt, &topic).await?;
    if options.resumable {
        revision += 1;
        save_progress(&rt, &progress_id, revision, index).await?;
    }
    Ok(published)
}

/// A market event's message id, `symbol:ts:index` (its place in the source makes it unique):
/// written piece by piece, as the formatting machinery took 1,600 instructions per bar.
fn event_id(symbol: &str, ts: i64, index: u64) -> String {
    use chimera_kernel::value::write_integer;
    let mut id = String::with_capacity(symbol.len() + 32);
    id.push_str(symbol);
    id.push(':');
    write_integer(&mut id, ts);
    id.push(':');
    if let Ok(index) = i64::try_from(index) {
        write_integer(&mut id, index);
    } else {
        use std::fmt::Write as _;
        let _ = write!(id, "{index}"); // writing to a String cannot fail
    }
    id
}

/// The source's next record (an event, or the message and bytes of an undecodable one);
/// `None` when it has ended, at shutdown or at the deadline (a quiet live source does not
/// hold the feed). Transient failures are retried until shutdown.
async fn next_record(
    rt: &Runtime,
    source: &mut dyn MarketDataSource,
    deadline: Option<tokio::time::Instant>,
) -> anyhow::Result<Option<Result<MarketEvent, DecodeError>>> {
    let mut backoff = Duration::from_millis(50);
    let mut shutdown = rt.shutdown.clone();
    loop {
        let next = tokio::select! {
            next = source.next() => next,
            () = shutdown.wait() => return Ok(None),
            () = until(deadline) => return Ok(None),
        };
        match next {
            Ok(event) => return Ok(event.map(Ok)),
            Err(PortError::Codec { message, bytes }) => {
                return Ok(Some(Err(DecodeError {
                    reason: message,
                    bytes,
                })))
            }
            Err(e) if e.is_transient() && !rt.shutdown.is_triggered() => {
                tracing::warn!(
                    component = %rt.source,
                    "market-data source: {e}; retrying in {backoff:?}"
                );
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
            Err(e) => return Err(fatal("read market data", &e)),
        }
    }
}

/// Resolves at `deadline`, never without one.
async fn until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Dead-letters record `index` of the source, which could not be decoded.
async fn dead_letter(
    rt: &Runtime,
    options: &FeedOptions,
    index: u64,
    undecodable: DecodeError,
) -> anyhow::Result<()> {
    let delivery = Delivery {
        topic: format!("source:{}", options.id).into(),
        key: "".into(),
        payload: undecodable.bytes.clone().into(),
        partition: 0,
        offset: i64::try_from(index).unwrap_or(i64::MAX),
        shared: None,
    };
    rt.dead_letter(&delivery, &undecodable)
        .await
        .map_err(|e| fatal("dead letter", &e))
}

/// The events of one bus batch, as values: in process node and gateway take them as they
/// are (encoded only if something reads their bytes); any other bus encodes them as it
/// publishes.
#[derive(Default)]
struct Batch(Vec<(String, Deferred)>);

impl Batch {
    fn push(&mut self, key: String, envelope: Envelope<MarketEvent>) {
        self.0.push((key, Deferred::new(envelope, encode)));
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    /// Publishes the batch (retrying transient failures) and empties it.
    async fn flush(&mut self, rt: &Runtime, topic: &str) -> anyhow::Result<()> {
        if self.0.is_empty() {
            return Ok(());
        }
        rt.retry("publish market data", || {
            rt.bus.publish_deferred(topic, &self.0)
        })
        .await
        .map_err(|e| fatal("publish market data", &e))?;
        metrics::counter!("chimera_feed_events_total", "component" => rt.source.clone())
            .increment(self.0.len() as u64);
        self.0.clear();
        Ok(())
    }
}

async fn save_progress(
    rt: &Runtime,
    id: &PortfolioId,
    revision: i64,
    index: u64,
) -> anyhow::Result<()> {
    let checkpoint = Checkpoint {
        portfolio_id: id.clone(),
        revision,
        state: index.to_string(),
        ts: wall_clock(),
    };
    rt.retry("feed progress", || rt.store.save_checkpoint(&checkpoint))
        .await
        .map_err(|e| fatal("feed progress", &e))?;
    Ok(())
}

/// The market-data feed: replays the configured files onto the bus.
///
/// # Errors
/// No `[feed]` section, an unreachable bus or database, or an unreadable file.
pub async fn run_feed_process(config: &LiveConfig) -> anyhow::Result<()> {
    chimera_runtime::logging::init()?;
    let Some(feed_config) = config.feed.clone() else {
        anyhow::bail!("the configuration has no [feed] section");
    };
    let (trigger, shutdown) = shutdown_pair();
    trigger_on_signals(trigger);
    let bus = connect_bus(config, &feed_config.id, false).await?;
    let rt = connect(config, bus, &feed_config.id, shutdown).await?;
    let outcome = chimera_runtime::runtime::alerts_settled_after(
        &rt,
        run_feed(Arc::clone(&rt), &feed_config),
    )
    .await;
    let published = outcome?;
    println!("published {published} events");
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_event_id_is_its_symbol_stamp_and_place() {
        assert_eq!(
            super::event_id("BTCUSDT", 1_640_995_200_000, 45_031),
            "BTCUSDT:1640995200000:45031"
        );
        assert_eq!(super::event_id("ETH-PERP", -5, 0), "ETH-PERP:-5:0");
        assert_eq!(
            super::event_id("X", 1, u64::MAX),
            format!("X:1:{}", u64::MAX),
            "a place beyond i64 is written whole"
        );
    }
}
