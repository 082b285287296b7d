//! The report folder: `summary.json`, `fills.csv`, `equity.csv`, `equity.svg`, `report.html`,
//! and with execution algorithms `executions.csv` (several of them compared: `comparison.csv`
//! and `comparison.html` above one folder per algorithm).
//!
//! Writing stays off the critical path of large runs: the curve was already sampled during the
//! run, the chart is drawn from at most [`chart::MAX_POINTS`] points per portfolio, and files are
//! written through buffered writers.

mod chart;
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
use chimera_kernel::value::{write_decimal, write_integer};
use chimera_kernel::Decimal;
use chimera_sim::{BacktestSummary, EquityPoint, FillRow};
use serde_json::json;
use std::fmt::Write as _;
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

/// The data files: summary, fills, equity curve, execution records.
fn write_files(dir: &Path, run: &RunReport) -> anyhow::Result<()> {
    write_summary(dir, run)?;
    write_fills(dir, &run.fills)?;
    write_equity(dir, &run.curves)?;
    if !run.executions.is_empty() {
        executions::write_csv(dir, &run.executions)?;
    }
    Ok(())
}

/// The decision records, the charts and the HTML page (the decisions here: the equity curve
/// makes the other side the longer one).
fn write_pages(dir: &Path, run: &RunReport) -> anyhow::Result<()> {
    if !run.decisions.is_empty() {
        decisions::write_csv(dir, &run.decisions)?;
    }
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

fn write_fills(dir: &Path, fills: &[FillRow]) -> anyhow::Result<()> {
    let mut out = create(dir, "fills.csv")?;
    out.write_all(b"portfolio,time,ts_ms,symbol,side,qty,price,fee,fee_asset,liquidity,client_order_id,trade_id,")?;
    out.write_all(b"sent_ms,ack_latency_ms,fill_latency_ms,mid_at_send,slippage_bps,")?;
    out.write_all(
        b"bid1,bid1_qty,bid2,bid2_qty,bid3,bid3_qty,ask1,ask1_qty,ask2,ask2_qty,ask3,ask3_qty\n",
    )?;
    let mut line = String::with_capacity(256);
    for f in fills {
        let side = match f.side {
            chimera_kernel::order::Side::Buy => "BUY",
            chimera_kernel::order::Side::Sell => "SELL",
        };
        let liquidity = match f.liquidity {
            chimera_kernel::event::Liquidity::Maker => "maker",
            chimera_kernel::event::Liquidity::Taker => "taker",
        };
        line.clear();
        line.push_str(f.portfolio_id.as_str());
        line.push(',');
        f.ts.write_rfc3339(&mut line);
        let _ = write!(line, ",{},{},{side},", f.ts.0, f.symbol);
        write_decimal(&mut line, f.qty.get());
        line.push(',');
        write_decimal(&mut line, f.price.get());
        line.push(',');
        write_decimal(&mut line, f.fee);
        let _ = write!(
            line,
            ",{},{liquidity},{},{}",
            f.fee_asset, f.client_order_id, f.trade_id
        );
        write_costs(&mut line, f.costs.as_ref());
        line.push('\n');
        out.write_all(line.as_bytes())?;
    }
    out.flush()?;
    Ok(())
}

/// The transaction-cost columns of a fill (empty when unknown).
fn write_costs(line: &mut String, costs: Option<&chimera_sim::FillCosts>) {
    let Some(c) = costs else {
        line.push_str(&",".repeat(5 + 4 * chimera_sim::TCA_LEVELS));
        return;
    };
    let _ = write!(line, ",{},", c.sent_at.0);
    if let Some(ack) = c.ack_ms {
        write_integer(line, ack);
    }
    line.push(',');
    write_integer(line, c.fill_ms);
    for value in [c.mid_at_send, c.slippage_bps] {
        line.push(',');
        if let Some(v) = value {
            write_decimal(line, v);
        }
    }
    for side in [&c.bids_at_send, &c.asks_at_send] {
        for i in 0..chimera_sim::TCA_LEVELS {
            line.push(',');
            if let Some(level) = side.get(i) {
                write_decimal(line, level.price.get());
                line.push(',');
                write_decimal(line, level.qty.get());
            } else {
                line.push(',');
            }
        }
    }
}

fn write_equity(dir: &Path, curves: &[(PortfolioId, Vec<EquityPoint>)]) -> anyhow::Result<()> {
    let mut out = create(dir, "equity.csv")?;
    out.write_all(b"portfolio,time,ts_ms,equity\n")?;
    let mut line = String::with_capacity(128);
    for (id, curve) in curves {
        for p in curve {
            line.clear();
            line.push_str(id.as_str());
            line.push(',');
            p.ts.write_rfc3339(&mut line);
            line.push(',');
            write_integer(&mut line, p.ts.0);
            line.push(',');
            write_decimal(&mut line, p.equity);
            line.push('\n');
            out.write_all(line.as_bytes())?;
        }
    }
    out.flush()?;
    Ok(())
}
