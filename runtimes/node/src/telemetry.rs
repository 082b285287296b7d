//! The node's metrics (Prometheus, through the `metrics` facade) and health, refreshed with
//! every heartbeat from the counters the workers keep anyway: nothing on the hot path but the
//! tick-to-order histogram ([`super::worker`]).
//!
//! Names (label `component` = the node; `portfolio` where per portfolio):
//! `chimera_node_portfolios`, `chimera_node_leases`, `chimera_heartbeats_total`,
//! `chimera_dead_letters_total`, `chimera_events_total`, `chimera_orders_total`,
//! `chimera_fills_total`, `chimera_skipped_total`, `chimera_checkpoints_total`,
//! `chimera_node_rehearsals_total`,
//! `chimera_queue_depth`, `chimera_queue_capacity`, `chimera_quotes_coalesced_total`,
//! `chimera_queue_pressure` (0 normal, 1 ≥ 70 %, 2 ≥ 95 %),
//! `chimera_tick_to_order_seconds` (from the worker taking a batch to its orders being durable
//! on the bus; the wait in the queue shows in `chimera_queue_depth`), and the hop-by-hop
//! histograms of [`Hops`].

use chimera_messages::Heartbeat;
use chimera_runtime::telemetry::{HealthBoard, HealthStatus};

/// Exports one heartbeat's figures and sets the node's health: `degraded` while a queue is at
/// 95 % or more, `ok` otherwise.
pub(crate) fn export(node: &str, heartbeat: &Heartbeat, leases: usize, board: &HealthBoard) {
    let component = node.to_owned();
    #[allow(clippy::cast_precision_loss, reason = "gauges are f64")]
    {
        metrics::gauge!("chimera_node_portfolios", "component" => component.clone())
            .set(heartbeat.portfolios.len() as f64);
        metrics::gauge!("chimera_node_leases", "component" => component.clone()).set(leases as f64);
    }
    metrics::counter!("chimera_heartbeats_total", "component" => component.clone())
        .absolute(heartbeat.beat + 1);
    metrics::counter!("chimera_dead_letters_total", "component" => component.clone())
        .absolute(heartbeat.dead_letters);
    let mut full = Vec::new();
    for load in &heartbeat.portfolios {
        let labels = [
            ("component", component.clone()),
            ("portfolio", load.portfolio.to_string()),
        ];
        metrics::counter!("chimera_events_total", &labels).absolute(load.events);
        metrics::counter!("chimera_orders_total", &labels).absolute(load.orders);
        metrics::counter!("chimera_fills_total", &labels).absolute(load.fills);
        metrics::counter!("chimera_skipped_total", &labels).absolute(load.skipped);
        metrics::counter!("chimera_checkpoints_total", &labels).absolute(load.checkpoints);
        metrics::counter!("chimera_node_rehearsals_total", &labels).absolute(load.rehearsals);
        metrics::counter!("chimera_quotes_coalesced_total", &labels)
            .absolute(load.coalesced as u64);
        #[allow(clippy::cast_precision_loss, reason = "gauges are f64")]
        {
            metrics::gauge!("chimera_queue_depth", &labels).set(load.queue as f64);
            metrics::gauge!("chimera_queue_capacity", &labels).set(load.queue_capacity as f64);
        }
        if load.queue * 100 >= load.queue_capacity * 95 {
            full.push(load.portfolio.to_string());
        }
    }
    let status = if full.is_empty() {
        HealthStatus::Ok
    } else {
        HealthStatus::Degraded
    };
    board.set(
        status,
        serde_json::json!({
            "portfolios": heartbeat.portfolios.iter().map(|l| l.portfolio.to_string()).collect::<Vec<_>>(),
            "leases": leases,
            "beat": heartbeat.beat,
            "dead_letters": heartbeat.dead_letters,
            "queues_full": full,
        }),
    );
}

/// The pressure level of a portfolio's queue as a gauge.
pub(crate) fn pressure(node: &str, portfolio: &str, level: u8) {
    metrics::gauge!(
        "chimera_queue_pressure",
        "component" => node.to_owned(),
        "portfolio" => portfolio.to_owned()
    )
    .set(f64::from(level));
}

/// Where a portfolio's time goes, hop by hop, so the node's share of tick-to-order can be split
/// (histograms in seconds, label `component`; the benchmark prints them):
/// `chimera_node_queue_wait_seconds` (read off the bus → taken by its worker, per input),
/// `chimera_node_decide_seconds` (the engine on one batch, requests answered),
/// `chimera_node_publish_seconds` (one batch's orders until the bus has them),
/// `chimera_node_checkpoint_seconds` (one checkpoint with what it records),
/// and `chimera_tick_to_order_seconds` (label `portfolio` too: batch taken → orders on the bus).
pub(crate) struct Hops {
    pub(crate) queue_wait: metrics::Histogram,
    pub(crate) decide: metrics::Histogram,
    pub(crate) publish: metrics::Histogram,
    pub(crate) checkpoint: metrics::Histogram,
    pub(crate) tick_to_order: metrics::Histogram,
}

impl Hops {
    /// The handles of `portfolio` on node `node` (made after the recorder exists, or they
    /// would record nothing).
    pub(crate) fn new(node: &str, portfolio: &str) -> Self {
        chimera_runtime::telemetry::recorder();
        let hop = |name: &'static str| metrics::histogram!(name, "component" => node.to_owned());
        Self {
            queue_wait: hop("chimera_node_queue_wait_seconds"),
            decide: hop("chimera_node_decide_seconds"),
            publish: hop("chimera_node_publish_seconds"),
            checkpoint: hop("chimera_node_checkpoint_seconds"),
            tick_to_order: metrics::histogram!(
                "chimera_tick_to_order_seconds",
                "component" => node.to_owned(),
                "portfolio" => portfolio.to_owned()
            ),
        }
    }
}
