//! The decisions and refusals of a run: `decisions.csv` (one row per entry a strategy asked
//! for), and the report's sections: counts per reason code, the latest decisions with the
//! rules that fired, refusals per reason with the latest ones.

use super::csv::{push_field, CsvFile};
use super::escape::esc;
use chimera_kernel::decision::{DecisionAction, DecisionRecord, TraceStep};
use chimera_kernel::engine::Refusal;
use chimera_kernel::value::{push_decimal, push_integer};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// Latest decisions and refusals listed in the page.
const LATEST: usize = 25;

fn rules_fired(d: &DecisionRecord) -> String {
    d.decision
        .trace
        .iter()
        .filter_map(|s| match s {
            TraceStep::Rule(r) => Some(r.rule.clone()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Writes `decisions.csv`.
///
/// # Errors
/// When the file cannot be written.
pub(crate) fn write_csv(dir: &Path, decisions: &[DecisionRecord]) -> anyhow::Result<()> {
    let mut out = CsvFile::create(
        dir,
        "decisions.csv",
        "signal_id,portfolio,time,ts_ms,symbol,side,signal,action,reason,size_mult,tp_mult,sl_mult,qty,model_p,rules,intent_id",
    )?;
    for d in decisions {
        let decision = &d.decision;
        let action = match decision.action {
            DecisionAction::Open => "open",
            DecisionAction::Skip => "skip",
        };
        let row = out.row();
        push_field(row, d.signal_id.as_str());
        row.push(b',');
        push_field(row, d.portfolio_id.as_str());
        row.push(b',');
        d.t0.push_rfc3339(row);
        row.push(b',');
        push_integer(row, d.t0.0);
        for text in [
            d.symbol.as_str(),
            d.side.as_str(),
            d.signal.as_str(),
            action,
            decision.reason.code(),
        ] {
            row.push(b',');
            push_field(row, text);
        }
        for value in [decision.size_mult, decision.tp_mult, decision.sl_mult] {
            row.push(b',');
            push_decimal(row, value);
        }
        for value in [
            decision.qty.map(chimera_kernel::value::Quantity::get),
            d.model_p,
        ] {
            row.push(b',');
            if let Some(v) = value {
                push_decimal(row, v);
            }
        }
        row.push(b',');
        push_field(row, &rules_fired(d));
        row.push(b',');
        if let Some(intent) = &d.intent_id {
            push_field(row, intent.as_str());
        }
        out.end_row()?;
    }
    out.finish()
}

/// The report's decision and refusal sections (empty when there are neither).
pub(crate) fn html_section(decisions: &[DecisionRecord], refusals: &[Refusal]) -> String {
    let mut h = String::new();
    if !decisions.is_empty() {
        let mut counts: BTreeMap<(&str, &str), usize> = BTreeMap::new();
        for d in decisions {
            *counts
                .entry((d.portfolio_id.as_str(), d.decision.reason.code()))
                .or_default() += 1;
        }
        let _ = write!(h, "<h2>Decisions ({} entries asked for; <a href=\"decisions.csv\">decisions.csv</a>)</h2><table><tr><th>portfolio</th><th>reason</th><th>count</th></tr>", decisions.len());
        for ((portfolio, reason), n) in &counts {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{reason}</td><td>{n}</td></tr>",
                esc(portfolio)
            );
        }
        h.push_str("</table>");
        let _ = write!(h, "<h3>Latest {}</h3><table><tr><th>time</th><th>portfolio</th><th>symbol</th><th>side</th><th>signal</th><th>decision</th><th>size ×</th><th>qty</th><th>model p</th><th>rules fired</th></tr>", LATEST.min(decisions.len()));
        for d in decisions.iter().rev().take(LATEST) {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td style=\"text-align:left\">{}</td></tr>",
                d.t0,
                esc(d.portfolio_id.as_str()),
                esc(d.symbol.as_str()),
                d.side.as_str(),
                esc(d.signal.as_str()),
                d.decision.reason.code(),
                d.decision.size_mult.normalize(),
                d.decision.qty.map(|q| q.get().normalize().to_string()).unwrap_or_default(),
                d.model_p.map(|p| p.normalize().to_string()).unwrap_or_default(),
                esc(&rules_fired(d)),
            );
        }
        h.push_str("</table>");
    }
    if !refusals.is_empty() {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for r in refusals {
            *counts.entry(r.reason.as_str()).or_default() += 1;
        }
        let _ = write!(
            h,
            "<h2>Refusals ({})</h2><table><tr><th>reason</th><th>count</th><th>meaning</th></tr>",
            refusals.len()
        );
        for (reason, n) in &counts {
            let meaning = refusals
                .iter()
                .find(|r| r.reason.as_str() == *reason)
                .map(|r| r.reason.to_string())
                .unwrap_or_default();
            let _ = write!(
                h,
                "<tr><td>{reason}</td><td>{n}</td><td style=\"text-align:left\">{}</td></tr>",
                esc(&meaning)
            );
        }
        h.push_str("</table>");
        let _ = write!(
            h,
            "<h3>Latest {}</h3><table><tr><th>time</th><th>reason</th><th>request</th></tr>",
            LATEST.min(refusals.len())
        );
        for r in refusals.iter().rev().take(LATEST) {
            let request = serde_json::to_string(&r.request).unwrap_or_default();
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td style=\"text-align:left\"><code>{}</code></td></tr>",
                r.at,
                r.reason.as_str(),
                esc(&request)
            );
        }
        h.push_str("</table>");
    }
    h
}
