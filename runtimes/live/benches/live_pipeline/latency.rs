//! Tick-to-order and order-to-fill at a steady rate, observed on the bus by this process, with
//! the node's memory sampled throughout.

use super::setup::{self, Figures, Setup};
use chimera_kernel::engine::Command;
use chimera_kernel::event::ExecutionReport;
use chimera_messages::{decode, MessageType};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub(crate) struct Latency {
    pub(crate) tick_to_order: Figures,
    pub(crate) order_to_fill: Figures,
    /// Least-squares slope of the node's RSS over the run, after its first tenth (warm-up).
    pub(crate) rss_slope_mib_per_min: f64,
}

/// Runs node and gateway on `setup`, publishes `events` bars at `rate`/s and measures.
#[allow(clippy::cast_precision_loss, reason = "figures")]
pub(crate) async fn measure(
    setup: &Setup,
    dir: &std::path::Path,
    node_binary: &str,
    gateway_binary: &str,
    events: u64,
    rate: u64,
) -> Latency {
    let bus = setup.bus().await;
    let data = setup::bars(events / setup::SYMBOLS.len() as u64);
    let name = setup.live.bus.kind();
    let mut gateway = setup::spawn(gateway_binary, &setup.path, dir, &format!("{name}-gateway"));
    let mut node = setup::spawn(node_binary, &setup.path, dir, &format!("{name}-node"));
    let mut intents = bus
        .subscribe(
            &setup.topic("orders.submission"),
            &setup.topic("bench.intents"),
        )
        .await
        .unwrap();
    let mut feedback = bus
        .subscribe(
            &setup.topic("orders.feedback"),
            &setup.topic("bench.feedback"),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await; // node and gateway start-up
    let published: Arc<Mutex<HashMap<(String, i64), Instant>>> = Arc::default();
    let mut publisher = Some({
        let bus = Arc::clone(&bus);
        let published = Arc::clone(&published);
        let topic = setup.topic("market.data");
        tokio::spawn(async move {
            let chunk = 10_usize;
            let period = Duration::from_secs_f64(chunk as f64 / rate as f64);
            let start = Instant::now();
            for (n, batch) in data.chunks(chunk).enumerate() {
                if let Some(wait) =
                    (period * u32::try_from(n).unwrap()).checked_sub(start.elapsed())
                {
                    tokio::time::sleep(wait).await;
                }
                let now = Instant::now();
                {
                    let mut map = published.lock().unwrap();
                    for (symbol, ts, _) in batch {
                        map.insert((symbol.clone(), *ts), now);
                    }
                }
                let messages: Vec<(String, Vec<u8>)> = batch
                    .iter()
                    .map(|(k, _, p)| (k.clone(), p.clone()))
                    .collect();
                bus.publish_batch(&topic, &messages).await.unwrap();
            }
            start.elapsed()
        })
    });
    let mut tick_to_order = Vec::new();
    let mut order_to_fill = Vec::new();
    let mut seen: HashMap<String, Instant> = HashMap::new();
    let mut rss = Vec::new();
    let started = Instant::now();
    let mut next_sample = started;
    let mut last_activity = Instant::now();
    let mut publish_time = None;
    loop {
        let mut idle = true;
        while let Ok(Some(d)) = intents.poll(Duration::from_millis(1)).await {
            idle = false;
            if let Ok(env) = decode::<Command>(&d.payload, MessageType::OrderCommand) {
                if let Command::Submit(intent) = env.payload {
                    let now = Instant::now();
                    let key = (intent.symbol.as_str().to_owned(), intent.created_at.0);
                    if let Some(at) = published.lock().unwrap().get(&key) {
                        tick_to_order.push(now.duration_since(*at).as_secs_f64() * 1e3);
                    }
                    seen.entry(intent.client_order_id.as_str().to_owned())
                        .or_insert(now);
                }
            }
        }
        while let Ok(Some(d)) = feedback.poll(Duration::from_millis(1)).await {
            idle = false;
            if let Ok(env) = decode::<ExecutionReport>(&d.payload, MessageType::ExecutionReport) {
                if env.payload.fill().is_some() {
                    if let Some(at) = seen.remove(env.payload.client_order_id.as_str()) {
                        order_to_fill.push(at.elapsed().as_secs_f64() * 1e3);
                    }
                }
            }
        }
        if Instant::now() >= next_sample {
            next_sample += Duration::from_secs(1);
            if let Some(kib) = setup::status_kib(node.id(), "VmRSS:") {
                rss.push((started.elapsed().as_secs_f64() / 60.0, kib as f64 / 1024.0));
            }
        }
        if !idle {
            last_activity = Instant::now();
        }
        if publisher
            .as_ref()
            .is_some_and(tokio::task::JoinHandle::is_finished)
        {
            if let Some(handle) = publisher.take() {
                publish_time = Some(handle.await.unwrap());
            }
            last_activity = Instant::now();
        }
        if publish_time.is_some() && last_activity.elapsed() > Duration::from_secs(3) {
            break;
        }
    }
    setup::stop(&mut node);
    setup::stop(&mut gateway);
    let result = Latency {
        tick_to_order: Figures::of(tick_to_order),
        order_to_fill: Figures::of(order_to_fill),
        rss_slope_mib_per_min: slope(&rss[rss.len() / 10..]),
    };
    println!(
        "published {events} events at {rate}/s in {:.1} s",
        publish_time.unwrap_or_default().as_secs_f64()
    );
    println!(
        "tick-to-order (event published → intent on orders.submission): {}",
        result.tick_to_order
    );
    println!(
        "order-to-fill (intent seen → fill on orders.feedback): {}",
        result.order_to_fill
    );
    println!(
        "node RSS over the run: {:.1} → {:.1} MiB, slope {:+.3} MiB/min",
        rss.first().map_or(0.0, |s| s.1),
        rss.last().map_or(0.0, |s| s.1),
        result.rss_slope_mib_per_min
    );
    result
}

/// Least-squares slope of `(x, y)` points (0 for fewer than two).
#[allow(clippy::cast_precision_loss, reason = "figures")]
fn slope(points: &[(f64, f64)]) -> f64 {
    if points.len() < 2 {
        return 0.0;
    }
    let n = points.len() as f64;
    let (sx, sy) = points
        .iter()
        .fold((0.0, 0.0), |(sx, sy), (x, y)| (sx + x, sy + y));
    let (mx, my) = (sx / n, sy / n);
    let (num, den) = points.iter().fold((0.0, 0.0), |(num, den), (x, y)| {
        (num + (x - mx) * (y - my), den + (x - mx) * (x - mx))
    });
    if den == 0.0 {
        0.0
    } else {
        num / den
    }
}
