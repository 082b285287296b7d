//! The report folder: `summary.json`, `fills.csv`, `equity.csv`, `equity.svg`, `report.html`,
//! and with execution algorithms `executions.csv` (several of them compared: `comparison.csv`
//! and `comparison.html` above one folder per algorithm).
//!
//! Writing stays off the critical path of large runs: the curve was already sampled during the
//! run, the chart is drawn from at most [`chart::MAX_POINTS`] points per portfolio, and files are
//! written through buffered writers.

mod chart;
mod csv;
mod decisions;
mod escape;
mod executions;
mod html;
mod market_chart;
mod tearsheet;
mod track;

pub(crate) use executions::{comparison_table, write_comparison, ExecRun};
pub(crate) use track::MarketTrack;

use anyhow::Context;
use chimera_kernel::ids::PortfolioId;
use chimera_kernel::Decimal;
use chimera_sim::{BacktestSummary, EquityPoint, FillRow};
use serde_json::json;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

/// What a run produced, ready to be written.
pub(crate) struct RunReport {
    pub(crate) title: String,
    pub(crate) inputs: Vec<(String, String)>,
    pub(crate) summaries: Vec<BacktestSummary>,
    pub(crate) curves: Vec<(PortfolioId, Vec<EquityPoint>)>,
    pub(crate) fills: Vec<FillRow>,
    pub(crate) skipped_lines: Vec<String>,
    /// Parent orders worked by execution algorithms (none without `--exec`).
    pub(crate) executions: Vec<chimera_kernel::execution::ExecProgress>,
    /// What the decision pipeline made of every entry.
    pub(crate) decisions: Vec<chimera_kernel::decision::DecisionRecord>,
    /// Strategy requests the engines refused.
    pub(crate) refusals: Vec<chimera_kernel::engine::Refusal>,
    /// The traded symbol's price, features and regime along the run.
    pub(crate) track: MarketTrack,
    /// Contract multiplier per symbol (1 when absent), for trade PnL and turnover.
    pub(crate) multipliers: std::collections::BTreeMap<chimera_kernel::ids::Symbol, Decimal>,
}

/// The figures and charts derived from a run for its page.
pub(crate) struct Derived {
    pub(crate) tearsheets: Vec<tearsheet::Tearsheet>,
    pub(crate) drawdown_svg: String,
    pub(crate) price_svg: Option<String>,
}

pub(crate) fn create(dir: &Path, name: &str) -> anyhow::Result<BufWriter<File>> {
    let path = dir.join(name);
    let file = File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
    Ok(BufWriter::with_capacity(256 * 1024, file))
}

/// Writes the report folder (created if needed).
///
/// # Errors
/// When the folder or a file cannot be written; the message names the path.
pub(crate) fn write(dir: &Path, run: &RunReport) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create report folder {}", dir.display()))?;
    // The data files and the pages share nothing but the run: with a second core, both at once.
    std::thread::scope(|scope| {
        let files = scope.spawn(|| write_files(dir, run));
        let pages = write_pages(dir, run);
        let files = files
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the report's file writer panicked")));
        files.and(pages)
    })
}

/// The data files: summary, fills, equity curve, decisions, execution records. (The two sides
/// take about as long on the reference bars: the page's charts against these files.)
fn write_files(dir: &Path, run: &RunReport) -> anyhow::Result<()> {
    write_summary(dir, run)?;
    csv::write_fills(dir, &run.fills)?;
    csv::write_equity(dir, &run.curves)?;
    if !run.decisions.is_empty() {
        decisions::write_csv(dir, &run.decisions)?;
    }
    if !run.executions.is_empty() {
        executions::write_csv(dir, &run.executions)?;
    }
    Ok(())
}

/// The charts and the HTML page.
fn write_pages(dir: &Path, run: &RunReport) -> anyhow::Result<()> {
    let svg = chart::equity_svg(&run.curves)?;
    std::fs::write(dir.join("equity.svg"), &svg)
        .with_context(|| format!("cannot write {}", dir.join("equity.svg").display()))?;
    let multiplier =
        |s: &chimera_kernel::ids::Symbol| run.multipliers.get(s).copied().unwrap_or(Decimal::ONE);
    let (trades, roles) = tearsheet::trades(&run.fills, &multiplier);
    let derived = Derived {
        tearsheets: tearsheet::tearsheets(&run.curves, &run.fills, &trades, &multiplier),
        drawdown_svg: chart::drawdown_svg(&run.curves)?,
        price_svg: market_chart::price_svg(&run.track, &run.fills, &roles)?,
    };
    let page = html::page(run, &svg, &derived);
    std::fs::write(dir.join("report.html"), page)
        .with_context(|| format!("cannot write {}", dir.join("report.html").display()))?;
    Ok(())
}

fn write_summary(dir: &Path, run: &RunReport) -> anyhow::Result<()> {
    let sum = |f: fn(&BacktestSummary) -> Decimal| {
        run.summaries
            .iter()
            .map(f)
            .sum::<Decimal>()
            .normalize()
            .to_string()
    };
    let max_drawdown = run
        .summaries
        .iter()
        .map(|s| s.max_drawdown)
        .max()
        .unwrap_or_default();
    let events = run.summaries.first().map_or(0, |s| s.events);
    let value = json!({
        "title": run.title,
        "final_equity": sum(|s| s.final_equity),
        "initial_equity": sum(|s| s.initial_equity),
        "realized_pnl": sum(|s| s.realized_pnl),
        "unrealized_pnl": sum(|s| s.unrealized_pnl),
        "fees": sum(|s| s.fees),
        "funding": sum(|s| s.funding),
        "max_drawdown": max_drawdown.normalize().to_string(),
        "orders": run.summaries.iter().map(|s| s.orders).sum::<u64>(),
        "fills": run.summaries.iter().map(|s| s.fills).sum::<u64>(),
        "events": events,
        "portfolios": run.summaries,
        "inputs": run.inputs.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<serde_json::Map<_, _>>(),
        "skipped_lines": run.skipped_lines,
    });
    let mut out = create(dir, "summary.json")?;
    serde_json::to_writer_pretty(&mut out, &value)?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
}
