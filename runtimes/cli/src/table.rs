//! The summary table printed at the end of a run.

use chimera_kernel::Decimal;
use chimera_sim::BacktestSummary;
use std::fmt::Write;

fn money(d: Decimal) -> String {
    format!("{:.2}", d.round_dp(2))
}

fn percent(d: Decimal) -> String {
    format!("{:.2}%", (d * Decimal::ONE_HUNDRED).round_dp(2))
}

/// Renders the summaries as an aligned text table.
pub(crate) fn render(summaries: &[BacktestSummary]) -> String {
    let header = [
        "portfolio",
        "strategy",
        "final equity",
        "return",
        "realized",
        "fees",
        "funding",
        "max dd",
        "orders",
        "fills",
    ];
    let rows: Vec<Vec<String>> = summaries
        .iter()
        .map(|s| {
            vec![
                s.portfolio_id.to_string(),
                s.strategy.clone(),
                money(s.final_equity),
                percent(s.total_return),
                money(s.realized_pnl),
                money(s.fees),
                money(s.funding),
                percent(s.max_drawdown),
                s.orders.to_string(),
                s.fills.to_string(),
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].len())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    let line = |cells: &[String], out: &mut String| {
        for (i, cell) in cells.iter().enumerate() {
            let _ = if i < 2 {
                write!(out, "{cell:<w$}  ", w = widths[i])
            } else {
                write!(out, "{cell:>w$}  ", w = widths[i])
            };
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
    };
    line(&header.map(String::from), &mut out);
    line(
        &widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>(),
        &mut out,
    );
    for row in &rows {
        line(row, &mut out);
    }
    out
}
