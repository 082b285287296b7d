//! The market-data feed: replays files onto `market.data` (key: symbol), as fast as possible or
//! at N × real time, merging files in time order.
//!
//! Progress is checkpointed (`feed:<id>` in the checkpoint table) every batch, so a restarted
//! feed continues instead of starting over; a bar replayed in the window between a publish and
//! its checkpoint is ignored by the nodes (a bar never repeats).

use crate::config::FeedConfig;
use crate::runtime::{fatal, wall_clock, Runtime};
use chimera_kernel::event::MarketEvent;
use chimera_kernel::ids::{PortfolioId, Symbol};
use chimera_messages::{encode, Envelope, MessageType, Topic};
use chimera_ports::{Checkpoint, CheckpointRepository};
use chimera_replay::{open_market_data, EventReader};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Events published per bus batch and per progress checkpoint.
const BATCH: usize = 500;

/// Splits `SYMBOL=path` (or a bare path, symbol `UNKNOWN`).
pub fn split_file(entry: &str) -> (Symbol, PathBuf) {
    match entry.split_once('=') {
        Some((symbol, path)) if !symbol.contains('/') => (Symbol::new(symbol), PathBuf::from(path)),
        _ => (Symbol::new("UNKNOWN"), PathBuf::from(entry)),
    }
}

/// Replays the configured files; returns how many events were published by this run.
///
/// # Errors
/// An unreadable file or line, or a fatal bus or database failure.
pub async fn run_feed(rt: Arc<Runtime>, config: &FeedConfig) -> anyhow::Result<u64> {
    let mut readers: Vec<std::iter::Peekable<EventReader>> = Vec::new();
    for entry in &config.files {
        let (symbol, path) = split_file(entry);
        readers.push(open_market_data(&path, None, &symbol)?.peekable());
    }
    let progress_id = PortfolioId::new(format!("feed:{}", config.id));
    let (mut revision, already) = match rt.store.load_checkpoint(&progress_id).await? {
        Some(cp) => (cp.revision, cp.state.parse::<u64>().unwrap_or(0)),
        None => (0, 0),
    };
    let topic = rt.topics.name(Topic::MarketData);
    let started = Instant::now();
    let mut first_ts = None;
    let mut index = 0_u64;
    let mut published = 0_u64;
    let mut batch: Vec<(String, Vec<u8>)> = Vec::with_capacity(BATCH);
    loop {
        if rt.shutdown.is_triggered() {
            break;
        }
        let Some(event) = next_in_time(&mut readers)? else {
            break;
        };
        index += 1;
        if index <= already {
            continue;
        }
        if config.speed > 0.0 {
            let first = *first_ts.get_or_insert(event.ts().0);
            let due =
                Duration::from_secs_f64((event.ts().0 - first) as f64 / 1000.0 / config.speed);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                flush(&rt, &topic, &mut batch).await?;
                tokio::time::sleep(wait).await;
            }
        }
        let key = event.symbol().as_str().to_owned();
        let envelope = Envelope::new(
            MessageType::MarketEvent,
            format!("{}:{}:{index}", key, event.ts().0),
            wall_clock(),
            rt.source.clone(),
            key.clone(),
            &event,
        );
        batch.push((key, encode(&envelope)));
        published += 1;
        if batch.len() >= BATCH {
            flush(&rt, &topic, &mut batch).await?;
            revision += 1;
            save_progress(&rt, &progress_id, revision, index).await?;
        }
    }
    flush(&rt, &topic, &mut batch).await?;
    revision += 1;
    save_progress(&rt, &progress_id, revision, index).await?;
    Ok(published)
}

fn next_in_time(
    readers: &mut [std::iter::Peekable<EventReader>],
) -> anyhow::Result<Option<MarketEvent>> {
    let mut best: Option<(usize, i64)> = None;
    for (i, r) in readers.iter_mut().enumerate() {
        match r.peek() {
            Some(Ok(e)) if best.is_none_or(|(_, ts)| e.ts().0 < ts) => {
                best = Some((i, e.ts().0));
            }
            Some(Err(_)) => {
                if let Some(Err(e)) = r.next() {
                    return Err(e.into());
                }
            }
            Some(Ok(_)) | None => {}
        }
    }
    match best {
        Some((i, _)) => Ok(readers[i].next().transpose()?),
        None => Ok(None),
    }
}

async fn flush(
    rt: &Runtime,
    topic: &str,
    batch: &mut Vec<(String, Vec<u8>)>,
) -> anyhow::Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    rt.retry("publish market data", || rt.bus.publish_batch(topic, batch))
        .await
        .map_err(|e| fatal("publish market data", &e))?;
    batch.clear();
    Ok(())
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
