//! The execution part of a report: one row per parent order an execution algorithm worked
//! (`executions.csv` and a table in `report.html`), and, when several `--exec` runs are
//! compared, `comparison.csv` and `comparison.html` with one row per algorithm.

use super::escape::esc;
use anyhow::Context;
use chimera_kernel::execution::{ExecProgress, ExecState};
use chimera_kernel::Decimal;
use chimera_sim::BacktestSummary;
use std::fmt::Write as _;
use std::path::Path;

/// One algorithm's run, summarised for the comparison.
#[derive(Debug, Clone)]
pub(crate) struct ExecRun {
    /// The algorithm's name (`market`, `maker-taker`, `twap`).
    pub(crate) algo: String,
    /// Parent orders.
    pub(crate) parents: usize,
    /// Parents that completed.
    pub(crate) completed: usize,
    /// Σ filled quantity.
    pub(crate) filled: Decimal,
    /// Part of it filled as maker.
    pub(crate) maker: Decimal,
    /// Quantity-weighted slippage against the arrival mid, in basis points.
    pub(crate) slippage_bps: Option<Decimal>,
    /// Σ fees of the algorithms' fills.
    pub(crate) fees: Decimal,
    /// Child orders sent.
    pub(crate) children: u64,
    /// Final equity over the portfolios.
    pub(crate) final_equity: Decimal,
}

impl ExecRun {
    pub(crate) fn new(
        algo: &str,
        executions: &[ExecProgress],
        summaries: &[BacktestSummary],
    ) -> Self {
        let filled: Decimal = executions.iter().map(|e| e.filled.get()).sum();
        let weighted: Decimal = executions
            .iter()
            .filter_map(|e| e.slippage_bps.map(|s| s * e.filled.get()))
            .sum();
        Self {
            algo: algo.to_owned(),
            parents: executions.len(),
            completed: executions
                .iter()
                .filter(|e| e.state == ExecState::Completed)
                .count(),
            filled,
            maker: executions.iter().map(|e| e.maker_qty.get()).sum(),
            slippage_bps: (!filled.is_zero()).then(|| (weighted / filled).round_dp(3)),
            fees: executions.iter().map(|e| e.fees).sum(),
            children: executions.iter().map(|e| u64::from(e.children)).sum(),
            final_equity: summaries.iter().map(|s| s.final_equity).sum(),
        }
    }
}

fn opt(d: Option<Decimal>) -> String {
    d.map(|d| d.normalize().to_string()).unwrap_or_default()
}

fn state(e: &ExecProgress) -> String {
    match &e.state {
        ExecState::Working => "working".into(),
        ExecState::Completed => "completed".into(),
        ExecState::Canceled => "canceled".into(),
        ExecState::Failed { reason } => format!("failed: {reason}"),
    }
}

/// Writes `executions.csv`.
///
/// # Errors
/// When the file cannot be written.
pub(crate) fn write_csv(dir: &Path, executions: &[ExecProgress]) -> anyhow::Result<()> {
    let mut out = String::from(
        "intent_id,portfolio,symbol,side,algo,qty,filled,avg_price,arrival_mid,slippage_bps,fees,maker_qty,children,state,finished_at\n",
    );
    for e in executions {
        let _ = writeln!(
            out,
            "{},{},{},{:?},{},{},{},{},{},{},{},{},{},\"{}\",{}",
            e.intent_id,
            e.portfolio_id,
            e.symbol,
            e.side,
            e.algo,
            e.qty,
            e.filled,
            opt(e.avg_price),
            opt(e.arrival_mid),
            opt(e.slippage_bps),
            e.fees.normalize(),
            e.maker_qty,
            e.children,
            state(e).replace('"', "'"),
            e.at.0
        );
    }
    let path = dir.join("executions.csv");
    std::fs::write(&path, out).with_context(|| format!("cannot write {}", path.display()))
}

/// The HTML table of parent orders (empty when there are none).
pub(crate) fn html_section(executions: &[ExecProgress]) -> String {
    if executions.is_empty() {
        return String::new();
    }
    let mut h = String::from(
        "<h2>Execution</h2><table><tr><th>intent</th><th>algo</th><th>side</th><th>qty</th><th>filled</th><th>avg price</th><th>arrival mid</th><th>slippage (bp)</th><th>fees</th><th>maker qty</th><th>children</th><th>state</th></tr>",
    );
    for e in executions.iter().take(500) {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{:?}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(e.intent_id.as_str()),
            e.algo,
            e.side,
            e.qty,
            e.filled,
            opt(e.avg_price.map(|p| p.round_dp(4))),
            opt(e.arrival_mid),
            opt(e.slippage_bps),
            e.fees.round_dp(6).normalize(),
            e.maker_qty,
            e.children,
            esc(&state(e))
        );
    }
    h.push_str("</table><p>All parent orders are in <a href=\"executions.csv\">executions.csv</a>. Slippage is the average fill price against the mid when the order arrived, in basis points, positive when it cost.</p>");
    h
}

const HEADER: [&str; 9] = [
    "algo",
    "parents",
    "completed",
    "filled",
    "maker share",
    "slippage (bp)",
    "fees",
    "children",
    "final equity",
];

fn cells(r: &ExecRun) -> [String; 9] {
    let maker = if r.filled.is_zero() {
        String::new()
    } else {
        format!(
            "{:.1}%",
            (r.maker / r.filled * Decimal::ONE_HUNDRED).round_dp(1)
        )
    };
    [
        r.algo.clone(),
        r.parents.to_string(),
        r.completed.to_string(),
        r.filled.normalize().to_string(),
        maker,
        opt(r.slippage_bps),
        r.fees.round_dp(4).normalize().to_string(),
        r.children.to_string(),
        r.final_equity.round_dp(2).to_string(),
    ]
}

/// The comparison as an aligned text table.
pub(crate) fn comparison_table(runs: &[ExecRun]) -> String {
    let rows: Vec<[String; 9]> = runs.iter().map(cells).collect();
    let widths: Vec<usize> = (0..HEADER.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].len())
                .chain([HEADER[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for (i, h) in HEADER.iter().enumerate() {
        let _ = write!(out, "{h:>w$}  ", w = widths[i]);
    }
    out.push('\n');
    for row in &rows {
        for (i, c) in row.iter().enumerate() {
            let _ = write!(out, "{c:>w$}  ", w = widths[i]);
        }
        out.push('\n');
    }
    out
}

/// Writes `comparison.csv` and `comparison.html` (linking each run's own report).
///
/// # Errors
/// When a file cannot be written.
pub(crate) fn write_comparison(dir: &Path, title: &str, runs: &[ExecRun]) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create report folder {}", dir.display()))?;
    let mut csv = HEADER.join(",");
    csv.push('\n');
    for r in runs {
        csv.push_str(&cells(r).join(","));
        csv.push('\n');
    }
    std::fs::write(dir.join("comparison.csv"), csv)
        .with_context(|| format!("cannot write {}", dir.join("comparison.csv").display()))?;
    let mut h = format!(
        "<!doctype html><meta charset=\"utf-8\"><title>{0}</title><style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}</style><h1>{0}: execution algorithms compared</h1><table><tr>",
        esc(title)
    );
    for col in HEADER {
        let _ = write!(h, "<th>{col}</th>");
    }
    h.push_str("</tr>");
    for r in runs {
        h.push_str("<tr>");
        for (i, c) in cells(r).iter().enumerate() {
            if i == 0 {
                let _ = write!(h, "<td><a href=\"{0}/report.html\">{0}</a></td>", esc(c));
            } else {
                let _ = write!(h, "<td>{}</td>", esc(c));
            }
        }
        h.push_str("</tr>");
    }
    h.push_str("</table><p>Same strategy, same data, same simulated venue; only the execution of the strategy's market orders differs. Slippage is quantity-weighted, against the mid when each order arrived.</p>");
    std::fs::write(dir.join("comparison.html"), h)
        .with_context(|| format!("cannot write {}", dir.join("comparison.html").display()))
}
