//! `chimera backtest`: one data file, the simulated venue, the portfolios of the arguments or of
//! a configuration ([`plan`]), a report. With several `--exec` algorithms the run is repeated
//! once per algorithm and the algorithms are compared.

mod plan;

use crate::args::BacktestArgs;
use crate::report::{self, ExecRun, RunReport};
use anyhow::{bail, Context};
use chimera_kernel::execution::ExecSpec;
use chimera_kernel::strategy::StrategyRegistry;
use chimera_replay::open_market_data_with_progress;
use chimera_sim::{Backtest, BacktestResults};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::Path;
use std::time::Instant;

/// Line errors shown in full; the rest are counted.
pub(crate) const SHOWN_LINE_ERRORS: usize = 5;

/// Runs the backtest command.
///
/// # Errors
/// Invalid arguments (all listed), an unreadable or unrecognised data file, or a report that
/// cannot be written.
pub(crate) fn run(a: &BacktestArgs, strategies: &StrategyRegistry) -> anyhow::Result<()> {
    let specs = plan::plan(a, strategies)?.execs;
    if specs.len() <= 1 {
        let spec = specs.into_iter().next();
        run_once(a, strategies, spec.as_ref(), a.report.as_deref())?;
        return Ok(());
    }
    let mut runs = Vec::new();
    for spec in &specs {
        crate::say!("── execution: {} ──", spec.name());
        let dir = a.report.as_ref().map(|d| d.join(spec.name()));
        runs.push(run_once(a, strategies, Some(spec), dir.as_deref())?);
    }
    crate::say_raw!(report::comparison_table(&runs));
    if let Some(dir) = &a.report {
        let title = plan::plan(a, strategies)?.title;
        report::write_comparison(dir, &title, &runs)?;
        crate::say!("comparison: {}", dir.join("comparison.html").display());
    }
    Ok(())
}

/// One backtest over the data, the strategy's market orders executed by `spec`.
fn run_once(
    a: &BacktestArgs,
    strategies: &StrategyRegistry,
    spec: Option<&ExecSpec>,
    report_dir: Option<&Path>,
) -> anyhow::Result<ExecRun> {
    let started = Instant::now();
    let plan = plan::plan(a, strategies)?;
    let (reader, progress) = open_market_data_with_progress(&a.data, None, &plan.symbol)?;
    // Parsing runs beside the engine when there is a second core.
    let reader = if std::thread::available_parallelism().is_ok_and(|n| n.get() > 1) {
        chimera_replay::read_ahead(reader)
    } else {
        reader
    };
    let multipliers = plan
        .instruments
        .iter()
        .map(|i| (i.symbol.clone(), i.contract_multiplier))
        .collect();
    let mut track = report::MarketTrack::new(plan.symbol.clone(), a.sample_ms);
    let mut backtest = Backtest::new(plan.sim.clone(), a.sample_ms);
    for scorer in &plan.scorers {
        backtest.add_scorer(Box::new(scorer.clone()));
    }
    for instrument in plan.instruments {
        backtest.add_instrument(instrument);
    }
    for engine in plan.engines {
        backtest.add_portfolio(match spec {
            Some(spec) => engine.with_execution(spec.clone()),
            None => engine,
        });
    }

    let bar = ProgressBar::new(progress.total_bytes());
    bar.set_style(
        ProgressStyle::with_template("{spinner} backtest [{bar:30}] {percent:>3}% {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut line_errors = Vec::new();
    let mut skipped = 0_u64;
    for (n, item) in reader.enumerate() {
        match item {
            Ok(event) => {
                backtest.step(&event);
                if report_dir.is_some() {
                    track.observe(&event, backtest.features());
                }
            }
            Err(e) if e.is_line_error() => {
                skipped += 1;
                if line_errors.len() < SHOWN_LINE_ERRORS {
                    line_errors.push(e.to_string());
                }
            }
            Err(e) => return Err(e).context("reading market data"),
        }
        if n % 16_384 == 0 {
            bar.set_position(progress.bytes_read());
            bar.set_message(format!(
                "{} events, {}",
                backtest.progress().events,
                backtest.progress().ts
            ));
        }
    }
    bar.finish_and_clear();
    let events = backtest.progress().events;
    if events == 0 {
        bail!(
            "{}: no market events could be read ({skipped} bad lines)",
            a.data.display()
        );
    }
    let BacktestResults {
        summaries,
        curves,
        fills,
        executions,
        decisions,
        refusals,
        risk_actions: _,
    } = backtest.finish_results();
    let elapsed = started.elapsed();
    crate::say_raw!(crate::table::render(&summaries));
    crate::say!(
        "{events} events in {:.1} ms ({:.0} events/s)",
        elapsed.as_secs_f64() * 1e3,
        events as f64 / elapsed.as_secs_f64().max(1e-9)
    );
    if skipped > 0 {
        eprintln!("skipped {skipped} unreadable lines; first ones:");
        for e in &line_errors {
            eprintln!("  {e}");
        }
    }
    let summary = ExecRun::new(
        spec.map_or("direct", ExecSpec::name),
        &executions,
        &summaries,
    );
    if let Some(dir) = report_dir {
        let mut inputs = plan.inputs;
        inputs.push(("skipped lines".to_owned(), skipped.to_string()));
        if let Some(spec) = spec {
            inputs.push((
                "execution".to_owned(),
                serde_json::to_string(spec).unwrap_or_else(|_| spec.name().to_owned()),
            ));
        }
        let run = RunReport {
            title: plan.title,
            inputs,
            summaries,
            curves,
            fills,
            skipped_lines: line_errors,
            executions,
            decisions,
            refusals,
            track,
            multipliers,
        };
        report::write(dir, &run)?;
        crate::say!("report: {}", dir.join("report.html").display());
        // The process ends soon: let the OS reclaim the run's many small allocations instead
        // of freeing them one by one (measurable on large runs).
        std::mem::forget(run);
    } else {
        std::mem::forget((
            summaries, curves, fills, executions, decisions, refusals, track,
        ));
    }
    Ok(summary)
}
