//! `report.html`: one self-contained page tying the run together.

use super::escape::esc;
use super::RunReport;
use chimera_kernel::Decimal;
use std::fmt::Write;

/// Fill rows shown in the page (all of them are in `fills.csv`).
const FILLS_SHOWN: usize = 500;

fn num(d: Decimal, dp: u32) -> String {
    d.round_dp(dp).normalize().to_string()
}

/// An SVG document without its XML declaration, to inline in the page.
fn inline(svg: &str) -> &str {
    svg.trim_start_matches(|c| c != '<')
        .split_once("?>")
        .map_or(svg, |(_, rest)| rest)
}

fn opt(v: Option<f64>, dp: usize) -> String {
    v.map_or_else(|| "–".to_owned(), |v| format!("{v:.dp$}"))
}

/// The tearsheet figures, one row per portfolio.
fn tearsheet_table(sheets: &[super::tearsheet::Tearsheet]) -> String {
    let mut h = String::from("<h2>Tearsheet</h2><table><tr><th>portfolio</th><th>Sharpe</th><th>Sortino</th><th>Calmar</th><th>annualised return</th><th>trades</th><th>win rate</th><th>profit factor</th><th>average trade</th><th>exposure</th><th>turnover</th></tr>");
    for t in sheets {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}%</td><td>{}</td><td>{}%</td><td>{}</td><td>{}</td><td>{}%</td><td>{}×</td></tr>",
            esc(t.portfolio.as_str()),
            opt(t.sharpe, 2),
            opt(t.sortino, 2),
            opt(t.calmar, 2),
            opt(t.annual_return_pct, 1),
            t.trades,
            opt(t.win_rate_pct, 1),
            opt(t.profit_factor, 2),
            t.avg_trade.map_or_else(|| "–".to_owned(), |a| num(a, 2)),
            opt(t.exposure_pct, 1),
            t.turnover.map_or_else(|| "–".to_owned(), |v| num(v, 2)),
        );
    }
    h.push_str("</table><p>Returns sampled along the equity curve, annualised over 365 days, risk-free rate 0. A trade runs from flat to flat, net of fees; exposure is the share of the run with a position open; turnover is traded notional over starting equity.</p>");
    h
}

/// Builds the page, with the chart inlined.
pub(crate) fn page(run: &RunReport, svg: &str, derived: &super::Derived) -> String {
    let mut h = String::with_capacity(64 * 1024 + svg.len());
    let _ = write!(
        h,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title><style>\
         body{{font-family:system-ui,sans-serif;margin:2rem;color:#222}}table{{border-collapse:collapse;margin:1rem 0}}\
         th,td{{border:1px solid #ddd;padding:.3rem .6rem;text-align:right}}th{{background:#f4f4f4}}\
         td:first-child,th:first-child{{text-align:left}}.neg{{color:#b00}}.pos{{color:#070}}</style></head><body>\
         <h1>{t}</h1>",
        t = esc(&run.title)
    );
    h.push_str("<h2>Results</h2><table><tr><th>portfolio</th><th>strategy</th><th>initial equity</th><th>final equity</th><th>return</th><th>realized PnL</th><th>unrealized PnL</th><th>fees</th><th>funding</th><th>max drawdown</th><th>orders</th><th>fills</th><th>refused</th><th>rejected</th></tr>");
    for s in &run.summaries {
        let class = if s.total_return < Decimal::ZERO {
            "neg"
        } else {
            "pos"
        };
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{class}\">{}%</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}%</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(s.portfolio_id.as_str()),
            esc(&s.strategy),
            num(s.initial_equity, 2),
            num(s.final_equity, 2),
            num(s.total_return * Decimal::ONE_HUNDRED, 2),
            num(s.realized_pnl, 2),
            num(s.unrealized_pnl, 2),
            num(s.fees, 2),
            num(s.funding, 2),
            num(s.max_drawdown * Decimal::ONE_HUNDRED, 2),
            s.orders,
            s.fills,
            s.refusals,
            s.rejections
        );
    }
    let events = run.summaries.first().map_or(0, |s| s.events);
    let _ = write!(h, "</table><p>{events} market events. Files: <a href=\"summary.json\">summary.json</a>, <a href=\"fills.csv\">fills.csv</a>, <a href=\"equity.csv\">equity.csv</a>, <a href=\"equity.svg\">equity.svg</a>.</p>");
    h.push_str(&tearsheet_table(&derived.tearsheets));
    h.push_str(&super::executions::html_section(&run.executions));
    h.push_str("<h2>Equity</h2>");
    h.push_str(inline(svg));
    h.push_str(inline(&derived.drawdown_svg));
    if let Some(price) = &derived.price_svg {
        h.push_str("<h2>Price, regime, entries and exits</h2><p>Blue bands: FROZEN regime; red: EXTREME. Filled triangles: entries (up buys, down sells); hollow: exits. Features the portfolios computed are drawn under the price.</p>");
        h.push_str(inline(price));
    }
    h.push_str(&super::decisions::html_section(
        &run.decisions,
        &run.refusals,
    ));
    h.push_str("<h2>Inputs</h2><table>");
    for (k, v) in &run.inputs {
        let _ = write!(
            h,
            "<tr><th>{}</th><td style=\"text-align:left\">{}</td></tr>",
            esc(k),
            esc(v)
        );
    }
    h.push_str("</table>");
    if !run.skipped_lines.is_empty() {
        h.push_str("<h2>Unreadable input lines (first ones)</h2><ul>");
        for line in &run.skipped_lines {
            let _ = write!(h, "<li><code>{}</code></li>", esc(line));
        }
        h.push_str("</ul>");
    }
    let _ = write!(h, "<h2>Fills ({} in total{})</h2><table><tr><th>portfolio</th><th>time</th><th>symbol</th><th>side</th><th>qty</th><th>price</th><th>fee</th><th>liquidity</th><th>order</th></tr>",
        run.fills.len(), if run.fills.len() > FILLS_SHOWN { format!(", first {FILLS_SHOWN} shown") } else { String::new() });
    for f in run.fills.iter().take(FILLS_SHOWN) {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:?}</td><td>{}</td><td>{}</td><td>{} {}</td><td>{:?}</td><td>{}</td></tr>",
            esc(f.portfolio_id.as_str()), f.ts, esc(f.symbol.as_str()), f.side, f.qty, f.price, num(f.fee, 8), esc(&f.fee_asset), f.liquidity, esc(f.client_order_id.as_str())
        );
    }
    h.push_str("</table></body></html>\n");
    h
}
