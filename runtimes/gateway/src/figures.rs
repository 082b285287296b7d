//! [`GatewayFigures`]: what the gateway counts, and how it shows them (Prometheus counters and
//! its health).

use chimera_runtime::telemetry::{HealthBoard, HealthStatus};

/// Gateway counters at the end of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GatewayFigures {
    /// Intents sent to the venue.
    pub submitted: u64,
    /// Intents recognised as already handled.
    pub duplicates: u64,
    /// Commands skipped after a restart because the restored venue had applied them.
    pub replayed: u64,
    /// Fills recorded.
    pub fills: u64,
    /// Reports published.
    pub reports: u64,
    /// Checkpoints saved.
    pub checkpoints: u64,
    /// Commands refused as a zombie node's (older assignment epoch).
    pub fenced: u64,
    /// Orders refused because a kill switch held (not reduce-only).
    pub killed: u64,
    /// Market events a simulated venue fed between orders, on the nodes' progress promises,
    /// rather than on an order's path (0 on an exchange).
    pub fed_ahead: u64,
    /// Orders a simulated venue priced with market data newer than their own stamp (0 on an
    /// exchange; see [`crate::GatewayVenue::priced_late`]).
    pub priced_late: u64,
    /// Orders a simulated venue rehearsed on a copy while idle, changing nothing
    /// (`[gateway] sim_rehearse_us`; 0 when off, and on an exchange).
    pub rehearsals: u64,
}

/// The gateway's figures as Prometheus counters (`chimera_gateway_<figure>_total`, label
/// `component`), and its health (`ok` with the figures as details).
pub(crate) fn export(component: &str, f: &GatewayFigures, board: &HealthBoard) {
    for (name, value) in [
        ("chimera_gateway_submitted_total", f.submitted),
        ("chimera_gateway_duplicates_total", f.duplicates),
        ("chimera_gateway_replayed_total", f.replayed),
        ("chimera_gateway_fills_total", f.fills),
        ("chimera_gateway_reports_total", f.reports),
        ("chimera_gateway_checkpoints_total", f.checkpoints),
        ("chimera_gateway_fenced_total", f.fenced),
        ("chimera_gateway_kill_refused_total", f.killed),
        ("chimera_gateway_fed_ahead_total", f.fed_ahead),
        ("chimera_gateway_priced_late_total", f.priced_late),
        ("chimera_gateway_rehearsals_total", f.rehearsals),
    ] {
        metrics::counter!(name, "component" => component.to_owned()).absolute(value);
    }
    board.set(
        HealthStatus::Ok,
        serde_json::json!({
            "submitted": f.submitted, "duplicates": f.duplicates, "fills": f.fills,
            "reports": f.reports, "fenced": f.fenced, "checkpoints": f.checkpoints,
            "kill_refused": f.killed, "fed_ahead": f.fed_ahead, "priced_late": f.priced_late,
            "rehearsals": f.rehearsals,
        }),
    );
}
