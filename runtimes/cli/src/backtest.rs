//! `chimera backtest`: one portfolio, one data file, the simulated venue, a report.

use crate::args::BacktestArgs;
use crate::report::{self, RunReport};
use anyhow::{bail, Context};
use chimera_kernel::engine::PortfolioEngine;
use chimera_kernel::ids::{PortfolioId, Symbol};
use chimera_kernel::instrument::{Instrument, MarketKind};
use chimera_kernel::portfolio::Portfolio;
use chimera_kernel::strategy::{build_strategy, StrategyParams};
use chimera_kernel::value::{FeeRate, Notional, Price, Quantity};
use chimera_kernel::Decimal;
use chimera_replay::open_market_data_with_progress;
use chimera_sim::{Backtest, BarFill, SimConfig};
use indicatif::{ProgressBar, ProgressStyle};
use std::time::Instant;

const QUOTES: [&str; 5] = ["USDT", "USDC", "FDUSD", "BUSD", "USD"];
/// Line errors shown in full; the rest are counted.
const SHOWN_LINE_ERRORS: usize = 5;

/// Everything the arguments describe, validated together.
pub(crate) struct Setup {
    pub(crate) instrument: Instrument,
    pub(crate) quote_balance: Decimal,
    pub(crate) base_balance: Decimal,
    pub(crate) params: StrategyParams,
    pub(crate) sim: SimConfig,
}

fn field<T>(
    problems: &mut Vec<String>,
    name: &str,
    value: &str,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Option<T> {
    parse(value)
        .map_err(|e| problems.push(format!("--{name} {value}: {e}")))
        .ok()
}

fn decimal<T: std::str::FromStr<Err = chimera_kernel::value::ValueError>>(
    text: &str,
) -> Result<T, String> {
    text.parse::<T>().map_err(|e| e.to_string())
}

/// Validates every argument and reports all problems at once.
///
/// # Errors
/// One error listing each bad argument and why.
pub(crate) fn setup(a: &BacktestArgs) -> anyhow::Result<Setup> {
    let mut p = Vec::new();
    let kind = field(&mut p, "market", &a.market, str::parse::<MarketKind>);
    let quote = a.quote.clone().or_else(|| {
        QUOTES
            .iter()
            .find(|q| a.symbol.len() > q.len() && a.symbol.ends_with(*q))
            .map(|q| (*q).to_owned())
    });
    if quote.is_none() {
        p.push(format!(
            "--symbol {}: cannot tell the quote asset; pass --quote",
            a.symbol
        ));
    }
    let maker = field(&mut p, "maker-fee", &a.maker_fee, decimal::<FeeRate>);
    let taker = field(&mut p, "taker-fee", &a.taker_fee, decimal::<FeeRate>);
    let tick = field(&mut p, "tick-size", &a.tick_size, decimal::<Price>);
    let lot = field(&mut p, "lot-size", &a.lot_size, |t| {
        match decimal::<Quantity>(t) {
            Ok(q) if q.is_zero() => Err("must be > 0".into()),
            other => other,
        }
    });
    let min_notional = field(&mut p, "min-notional", &a.min_notional, decimal::<Notional>);
    let leverage = field(&mut p, "leverage", &a.leverage, |t| {
        match decimal::<Price>(t) {
            Ok(l) if l.get() <= Decimal::from(125) => Ok(l.get()),
            Ok(_) => Err("must be at most 125".into()),
            Err(e) => Err(e),
        }
    });
    let quote_balance = field(
        &mut p,
        "quote-balance",
        &a.quote_balance,
        decimal::<Quantity>,
    );
    let base_balance = field(&mut p, "base-balance", &a.base_balance, decimal::<Quantity>);
    let bar_fill = field(&mut p, "bar-fill", &a.bar_fill, str::parse::<BarFill>);
    if a.sample_ms < 0 {
        p.push(format!("--sample-ms {}: must be >= 0", a.sample_ms));
    }
    let mut params = StrategyParams::new();
    for raw in &a.params {
        match raw.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                params.insert(k.trim().to_owned(), v.trim().to_owned());
            }
            _ => p.push(format!("--param {raw}: expected KEY=VALUE")),
        }
    }
    if let Err(e) = build_strategy(&a.strategy, &params) {
        p.extend(
            e.problems
                .into_iter()
                .map(|m| format!("--strategy {}: {m}", a.strategy)),
        );
    }
    let sim = SimConfig {
        bar_fill: bar_fill.unwrap_or_default(),
        latency_ms: a.latency_ms,
        ..SimConfig::default()
    };
    if let Err(e) = sim.validate() {
        p.extend(e.problems);
    }
    let instrument = match (kind, quote, maker, taker, tick, lot, min_notional, leverage) {
        (
            Some(kind),
            Some(quote),
            Some(maker_fee),
            Some(taker_fee),
            Some(tick_size),
            Some(lot_size),
            Some(min_notional),
            Some(leverage),
        ) => Instrument::linear(&a.symbol, &quote, kind)
            .map(|i| Instrument {
                maker_fee,
                taker_fee,
                tick_size,
                lot_size,
                min_notional,
                leverage: if kind == MarketKind::Spot {
                    Decimal::ONE
                } else {
                    leverage
                },
                ..i
            })
            .map_err(|e| p.push(format!("--symbol {}: {e}", a.symbol)))
            .ok(),
        _ => None,
    };
    match (instrument, quote_balance, base_balance) {
        (Some(instrument), Some(q), Some(b)) if p.is_empty() => Ok(Setup {
            instrument,
            quote_balance: q.get(),
            base_balance: b.get(),
            params,
            sim,
        }),
        _ => bail!("invalid arguments:\n  {}", p.join("\n  ")),
    }
}

/// Runs the backtest command.
///
/// # Errors
/// Invalid arguments (all listed), an unreadable or unrecognised data file, or a report that
/// cannot be written.
pub(crate) fn run(a: &BacktestArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let s = setup(a)?;
    let symbol = Symbol::new(&a.symbol);
    let (reader, progress) = open_market_data_with_progress(&a.data, None, &symbol)?;
    let mut portfolio = Portfolio::new(PortfolioId::new("backtest"), s.instrument.quote.clone());
    portfolio.deposit(s.instrument.quote.clone(), s.quote_balance);
    if !s.base_balance.is_zero() {
        portfolio.deposit(s.instrument.base.clone(), s.base_balance);
    }
    portfolio.add_instrument(s.instrument.clone());
    let strategy = build_strategy(&a.strategy, &s.params).context("building the strategy")?;
    let mut backtest = Backtest::new(s.sim.clone(), a.sample_ms);
    backtest.add_instrument(s.instrument.clone());
    backtest.add_portfolio(PortfolioEngine::new(portfolio, strategy));

    let bar = ProgressBar::new(progress.total_bytes());
    bar.set_style(
        ProgressStyle::with_template("{spinner} backtest [{bar:30}] {percent:>3}% {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut line_errors = Vec::new();
    let mut skipped = 0_u64;
    for (n, item) in reader.enumerate() {
        match item {
            Ok(event) => backtest.step(&event),
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
    let (summaries, curves, fills) = backtest.finish();
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
    if let Some(dir) = &a.report {
        let inputs = vec![
            ("data".to_owned(), a.data.display().to_string()),
            ("symbol".to_owned(), a.symbol.clone()),
            ("market".to_owned(), a.market.clone()),
            ("strategy".to_owned(), a.strategy.clone()),
            ("params".to_owned(), a.params.join(" ")),
            (
                "maker / taker fee".to_owned(),
                format!("{} / {}", a.maker_fee, a.taker_fee),
            ),
            (
                "starting balances".to_owned(),
                format!(
                    "{} {} + {} {}",
                    a.quote_balance, s.instrument.quote, a.base_balance, s.instrument.base
                ),
            ),
            (
                "bar fill, latency".to_owned(),
                format!("{}, {} ms", a.bar_fill, a.latency_ms),
            ),
            ("skipped lines".to_owned(), skipped.to_string()),
        ];
        let run = RunReport {
            title: format!("Backtest: {} on {}", a.strategy, a.symbol),
            inputs,
            summaries,
            curves,
            fills,
            skipped_lines: line_errors,
        };
        report::write(dir, &run)?;
        crate::say!("report: {}", dir.join("report.html").display());
        // The process ends here: let the OS reclaim the run's many small allocations instead of
        // freeing them one by one (measurable on large runs).
        std::mem::forget(run);
    } else {
        std::mem::forget((summaries, curves, fills));
    }
    Ok(())
}
