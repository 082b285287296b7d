//! `chimera features`: the kernel's features over a market-data file, as CSV. The same
//! [`FeatureEngine`] a node runs computes them, so what this prints is what a strategy sees.

use crate::args::FeaturesArgs;
use anyhow::{bail, Context};
use chimera_kernel::event::MarketEvent;
use chimera_kernel::features::{FeatureEngine, FeatureSpec, FeaturesConfig};
use chimera_kernel::ids::Symbol;
use chimera_replay::open_market_data_with_progress;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::Write;

/// Runs the features command.
///
/// # Errors
/// Every invalid feature name (all listed), a bad bar length, an unreadable data file, or
/// output that cannot be written.
pub(crate) fn run(a: &FeaturesArgs) -> anyhow::Result<()> {
    let mut problems = Vec::new();
    let specs: Vec<FeatureSpec> = a
        .features
        .iter()
        .filter_map(|text| text.parse().map_err(|e| problems.push(format!("{e}"))).ok())
        .collect();
    if a.bar_secs < 1 {
        problems.push(format!("--bar-secs {}: must be at least 1", a.bar_secs));
    }
    if a.periods_per_year
        .is_some_and(|p| !(p.is_finite() && p > 0.0))
    {
        problems.push("--periods-per-year: must be a positive number".to_owned());
    }
    if !problems.is_empty() {
        bail!("invalid arguments:\n  {}", problems.join("\n  "));
    }
    let config = FeaturesConfig {
        bar_ms: a.bar_secs.saturating_mul(1_000),
        periods_per_year: a.periods_per_year,
        ..FeaturesConfig::default()
    };
    let named = Symbol::new(a.symbol.as_deref().unwrap_or("BTCUSDT"));
    let (reader, progress) = open_market_data_with_progress(&a.data, None, &named)?;
    let mut out: Box<dyn Write> = match &a.out {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    write!(out, "timestamp")?;
    for spec in &specs {
        write!(out, ",{spec}")?;
    }
    writeln!(out)?;

    let bar = ProgressBar::new(progress.total_bytes());
    bar.set_style(
        ProgressStyle::with_template("{spinner} features [{bar:30}] {percent:>3}% {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut engine = FeatureEngine::new(config);
    let mut symbol: Option<Symbol> = a.symbol.as_deref().map(Symbol::new);
    if let Some(s) = &symbol {
        require_all(&mut engine, s, &specs);
    }
    let (mut rows, mut events, mut skipped) = (0_u64, 0_u64, 0_u64);
    let mut line_errors = Vec::new();
    for item in reader {
        let event: MarketEvent = match item {
            Ok(event) => event,
            Err(e) if e.is_line_error() => {
                skipped += 1;
                if line_errors.len() < crate::backtest::SHOWN_LINE_ERRORS {
                    line_errors.push(e.to_string());
                }
                continue;
            }
            Err(e) => return Err(e).context("reading market data"),
        };
        events += 1;
        let ours = symbol.get_or_insert_with(|| {
            let s = event.symbol().clone();
            require_all(&mut engine, &s, &specs);
            s
        });
        let is_ours = event.symbol() == ours;
        let Some(update) = engine.on_event(&event) else {
            continue;
        };
        if let (true, Some(done)) = (is_ours, update.bar) {
            let set = engine.set(ours).context("features of the symbol")?;
            write!(out, "{}", done.start)?;
            for spec in &specs {
                match set.value(spec) {
                    Some(v) if v.is_finite() => write!(out, ",{v}")?,
                    _ => write!(out, ",")?,
                }
            }
            writeln!(out)?;
            rows += 1;
        }
        if events % 16_384 == 0 {
            bar.set_position(progress.bytes_read());
            bar.set_message(format!("{events} events, {rows} rows"));
        }
    }
    bar.finish_and_clear();
    out.flush()?;
    if events == 0 {
        bail!(
            "{}: no market events could be read ({skipped} bad lines)",
            a.data.display()
        );
    }
    eprintln!(
        "{rows} rows of {} features from {events} events",
        specs.len()
    );
    if skipped > 0 {
        eprintln!("skipped {skipped} unreadable lines; first ones:");
        for e in &line_errors {
            eprintln!("  {e}");
        }
    }
    Ok(())
}

fn require_all(engine: &mut FeatureEngine, symbol: &Symbol, specs: &[FeatureSpec]) {
    for spec in specs {
        engine.require(symbol, spec);
    }
}
