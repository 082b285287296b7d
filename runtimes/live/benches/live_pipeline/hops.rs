//! The runtimes' own hop histograms, scraped from their `/metrics` at the end of the latency
//! phase and printed as a table, so tick-to-order and order-to-fill can be split into the
//! time the bus takes and the time each of our steps takes.

use std::net::SocketAddr;

/// The histograms of each runtime, in path order.
const NODE: [(&str, &str); 5] = [
    (
        "chimera_node_queue_wait_seconds",
        "node: read off the bus → taken by its worker",
    ),
    ("chimera_node_decide_seconds", "node: engine on one batch"),
    (
        "chimera_node_publish_seconds",
        "node: publish one batch's orders (acknowledged)",
    ),
    (
        "chimera_tick_to_order_seconds",
        "node: batch taken → orders on the bus",
    ),
    (
        "chimera_node_checkpoint_seconds",
        "node: one checkpoint (off the order path)",
    ),
];
const GATEWAY: [(&str, &str); 6] = [
    (
        "chimera_gateway_command_seconds",
        "gateway: one command executed",
    ),
    (
        "chimera_gateway_prepare_seconds",
        "gateway:   of which the venue made ready",
    ),
    (
        "chimera_gateway_publish_seconds",
        "gateway: a turn's reports out (one round trip)",
    ),
    (
        "chimera_gateway_record_seconds",
        "gateway: then its records written (beside the loop)",
    ),
    (
        "chimera_order_to_fill_seconds",
        "gateway: order sent → its first fill",
    ),
    (
        "chimera_gateway_checkpoint_seconds",
        "gateway: one checkpoint",
    ),
];

/// One histogram, its buckets summed over every label set.
#[derive(Default)]
struct Histogram {
    /// `(upper bound in s, cumulative count)`, ascending.
    buckets: Vec<(f64, f64)>,
    sum: f64,
    count: f64,
}

impl Histogram {
    /// Prometheus's estimate: linear within the bucket the quantile falls in (ms).
    fn quantile(&self, q: f64) -> f64 {
        let rank = q * self.count;
        let mut below = (0.0, 0.0);
        for &(le, cumulative) in &self.buckets {
            if cumulative >= rank {
                if le.is_infinite() {
                    return below.0 * 1e3;
                }
                let width = cumulative - below.1;
                let within = if width > 0.0 {
                    (rank - below.1) / width
                } else {
                    1.0
                };
                return (below.0 + (le - below.0) * within) * 1e3;
            }
            below = (le, cumulative);
        }
        f64::NAN
    }
}

/// `name`'s histogram in Prometheus text `text` for `component`, summed over label sets.
fn parse(text: &str, name: &str, component: &str) -> Option<Histogram> {
    let component = format!("component=\"{component}\"");
    let mut h = Histogram::default();
    let mut by_le: std::collections::BTreeMap<u64, (f64, f64)> = std::collections::BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        if !rest.contains(&component) {
            continue;
        }
        let Some((series, value)) = rest.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.parse::<f64>() else {
            continue;
        };
        if series.starts_with("_sum") {
            h.sum += value;
        } else if series.starts_with("_count") {
            h.count += value;
        } else if series.starts_with("_bucket") {
            let le = series
                .split("le=\"")
                .nth(1)
                .and_then(|s| s.split('"').next())
                .map(|s| {
                    if s == "+Inf" {
                        f64::INFINITY
                    } else {
                        s.parse().unwrap_or(f64::NAN)
                    }
                });
            if let Some(le) = le.filter(|le| !le.is_nan()) {
                by_le.entry(le.to_bits()).or_insert((le, 0.0)).1 += value;
            }
        }
    }
    h.buckets = by_le.into_values().collect();
    h.buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    (h.count > 0.0).then_some(h)
}

/// `GET /metrics` of the runtime listening on `addr` (empty when it does not answer).
async fn scrape(addr: SocketAddr) -> String {
    match reqwest::get(format!("http://{addr}/metrics")).await {
        Ok(response) => response.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Scrapes node and gateway (when given: address and component id) and prints their hops
/// (ms; quantiles estimated from the buckets).
pub(crate) async fn print(node: (SocketAddr, &str), gateway: Option<(SocketAddr, &str)>) {
    println!("hops inside the runtimes (ms; p50/p99 interpolated in Prometheus buckets):");
    let runtimes = [(Some(node), &NODE[..]), (gateway, &GATEWAY[..])];
    for ((addr, component), table) in runtimes.into_iter().filter_map(|(a, t)| Some((a?, t))) {
        let text = scrape(addr).await;
        for (name, what) in table {
            match parse(&text, name, component) {
                Some(h) => println!(
                    "  {what:<52} n {:>7.0}  mean {:>7.3}  p50 {:>7.3}  p99 {:>8.3}",
                    h.count,
                    h.sum / h.count * 1e3,
                    h.quantile(0.5),
                    h.quantile(0.99),
                ),
                None => println!("  {what:<52} (no samples)"),
            }
        }
    }
}

/// Watches the node on `addr` take its inputs (`component`'s queue-wait count, one per input
/// taken by a worker) until `total`, scraping every 10 ms: its steady rate, from the first
/// input taken to the last, and when the first was taken after `started`. `None` when the
/// count does not reach `total` within `limit`, or reaches it by the first scrape that sees any.
pub(crate) async fn watch_rate(
    addr: SocketAddr,
    component: String,
    total: f64,
    started: std::time::Instant,
    limit: std::time::Duration,
) -> Option<super::floor::Rate> {
    let name = NODE[0].0;
    let mut first = None;
    while started.elapsed() < limit {
        let taken = parse(&scrape(addr).await, name, &component).map_or(0.0, |h| h.count);
        let now = std::time::Instant::now();
        if taken > 0.0 && first.is_none() {
            first = Some((now, taken));
        }
        if taken >= total {
            // All taken between two scrapes (in process, the node's thread is the scraper's):
            // no span to tell a rate from.
            return first
                .filter(|(_, at_first)| *at_first < total)
                .map(|first| super::floor::Rate::of(started, first, (now, taken)));
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    None
}
