//! `chimera demo`: several portfolios and strategies over seeded synthetic markets, carried hop
//! by hop through the in-memory event bus and the simulated venue, ending in a report folder.

#[cfg(test)]
mod equivalence;
mod lockstep;
mod synthetic;

use crate::args::DemoArgs;
use crate::report::{self, RunReport};
use anyhow::Context;
use chimera_kernel::engine::PortfolioEngine;
use chimera_kernel::ids::{Asset, PortfolioId};
use chimera_kernel::instrument::{Instrument, MarketKind};
use chimera_kernel::portfolio::Portfolio;
use chimera_kernel::strategy::{build_strategy, StrategyParams};
use chimera_kernel::time::Timestamp;
use chimera_kernel::Decimal;
use chimera_memory::MemoryEventBus;
use chimera_sim::{SimConfig, SimVenue};
use indicatif::{ProgressBar, ProgressStyle};
use lockstep::Lockstep;
use std::time::Instant;

struct PortfolioSpec {
    id: &'static str,
    symbol: &'static str,
    strategy: &'static str,
    params: Vec<(&'static str, String)>,
    deposits: Vec<(&'static str, i64)>,
    /// Trading settings as a user writes them (`chimera backtest --risk` format).
    settings: String,
}

/// The rules the trend portfolios share (the decision pipeline's L1).
const TREND_RULES: &str = r#"
# Fees eat small moves: no entries while volatility sits in the lowest decile of its history.
rule frozen priority 100 when regime == "FROZEN" then skip_entry
# Volatile markets: half the size, stops further away.
rule volatile priority 50 when regime == "EXTREME" then size_mult 0.5, sl_mult 1.5
"#;

/// A trend follower's settings: entries sized to risk `risk` USDT on a 2-ATR move, a stop two
/// ATRs away trailed three behind the best price, half taken off four ATRs in profit, one
/// position per symbol across every portfolio sharing the budget, and a drawdown breaker.
fn trend_settings(risk: &str) -> String {
    format!(
        r#"
[risk]
max_position_ratio = "2"
max_drawdown_pct = "0.15"

[decision]
rules = '''{TREND_RULES}'''

[decision.gates]
max_concurrent_per_symbol = 2

[decision.sizing]
rule = "vol_target"
risk = "{risk}"
atr_mult = "2"

[manage]
stop_atr = "2"
trail_atr = "3"
trail_min_step_pct = "0.1"
take_profit = [{{ atr = "4", fraction = "0.5" }}]
"#
    )
}

fn instruments() -> anyhow::Result<Vec<(Instrument, f64)>> {
    let perp = |symbol: &str, leverage: i64| -> anyhow::Result<Instrument> {
        Ok(Instrument {
            leverage: Decimal::from(leverage),
            ..Instrument::linear(symbol, "USDT", MarketKind::Perp)?
        })
    };
    let sol = Instrument::linear("SOLUSDT", "USDT", MarketKind::Spot)?;
    Ok(vec![
        (perp("BTCUSDT", 3)?, 42_000.0),
        (perp("ETHUSDT", 3)?, 2_300.0),
        (sol, 100.0),
    ])
}

fn at(hours: i64) -> String {
    Timestamp(synthetic::START_MS + hours * 3_600_000).to_rfc3339()
}

fn portfolios() -> Vec<PortfolioSpec> {
    vec![
        PortfolioSpec {
            id: "trend-btc",
            symbol: "BTCUSDT",
            strategy: "ema-cross",
            params: vec![
                ("fast", "60".into()),
                ("slow", "240".into()),
                ("qty", "0.5".into()),
                ("entries", "cross".into()),
            ],
            deposits: vec![("USDT", 100_000)],
            settings: trend_settings("100"),
        },
        PortfolioSpec {
            id: "trend-eth",
            symbol: "ETHUSDT",
            strategy: "ema-cross",
            params: vec![
                ("fast", "120".into()),
                ("slow", "480".into()),
                ("qty", "8".into()),
                ("entries", "cross".into()),
            ],
            deposits: vec![("USDT", 100_000)],
            settings: trend_settings("100"),
        },
        PortfolioSpec {
            id: "swing-sol",
            symbol: "SOLUSDT",
            strategy: "ema-cross",
            params: vec![
                ("fast", "60".into()),
                ("slow", "240".into()),
                ("qty", "100".into()),
                ("entries", "cross".into()),
            ],
            deposits: vec![("USDT", 100_000)],
            // Spot, long only (no SOL to sell short): a fixed 5 000 USDT per entry, a 3 % stop
            // trailed 4 % behind the best price, and a two-rung take-profit ladder.
            settings: r#"
[decision.sizing]
rule = "fixed_notional"
notional = "5000"

[manage]
stop_pct = "3"
trail_pct = "4"
trail_min_step_pct = "0.25"
take_profit = [{ pct = "4", fraction = "0.5" }, { pct = "8", fraction = "0.5" }]
"#
            .to_owned(),
        },
        PortfolioSpec {
            id: "replay-btc",
            symbol: "BTCUSDT",
            strategy: "scripted",
            params: vec![(
                "orders",
                format!(
                    "{}:BUY:1,{}:SELL:1,{}:SELL:0.5,{}:BUY:0.5",
                    at(6),
                    at(30),
                    at(40),
                    at(60)
                ),
            )],
            deposits: vec![("USDT", 100_000)],
            settings: String::new(),
        },
    ]
}

/// Runs the demo.
///
/// # Errors
/// When the report folder cannot be written (everything else is generated).
pub(crate) fn run(a: &DemoArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(run_async(a))
}

async fn run_async(a: &DemoArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let instruments = instruments()?;
    let venue = SimVenue::new(SimConfig {
        seed: a.seed,
        ..SimConfig::default()
    });
    let mut engines = Vec::new();
    for spec in portfolios() {
        let (instrument, _) = instruments
            .iter()
            .find(|(i, _)| i.symbol.as_str() == spec.symbol)
            .context("demo instrument")?;
        let mut portfolio = Portfolio::new(PortfolioId::new(spec.id), Asset::new("USDT"));
        portfolio.add_instrument(instrument.clone());
        for (asset, amount) in &spec.deposits {
            portfolio.deposit(
                Asset::new(asset),
                chimera_kernel::value::Amount::new(Decimal::from(*amount)),
            );
        }
        venue.with_exchange(|x| x.fund(&portfolio));
        let params: StrategyParams = spec
            .params
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        let strategy = build_strategy(spec.strategy, &params)?;
        let settings: chimera_live::decision_spec::TradingSettings = toml::from_str(&spec.settings)
            .with_context(|| format!("demo portfolio {}", spec.id))?;
        let problems = settings.problems();
        anyhow::ensure!(
            problems.is_empty(),
            "demo portfolio {}: {}",
            spec.id,
            problems.join("; ")
        );
        let policy = settings
            .decision
            .build("decision")
            .map_err(|p| anyhow::anyhow!("demo portfolio {}: {}", spec.id, p.join("; ")))?;
        engines.push(
            PortfolioEngine::new(portfolio, strategy)
                .with_risk(settings.risk)
                .with_policy(policy)
                .with_manager(settings.manage),
        );
    }
    venue.with_exchange(|x| {
        for (instrument, _) in &instruments {
            x.add_instrument(instrument.clone());
        }
    });
    let market = synthetic::merge(
        instruments
            .iter()
            .enumerate()
            .map(|(n, (i, start))| {
                synthetic::series(
                    i,
                    *start,
                    a.minutes,
                    a.seed.wrapping_mul(31).wrapping_add(n as u64),
                )
            })
            .collect(),
    );

    let bus = MemoryEventBus::new();
    let mut node = Lockstep::new(&bus, &venue, engines, 60_000).await?;
    crate::say!(
        "chimera demo: {} portfolios, {} symbols, {} synthetic events (seed {})",
        portfolios().len(),
        instruments.len(),
        market.len(),
        a.seed
    );
    let bar = ProgressBar::new(market.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} events {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    for (n, event) in market.iter().enumerate() {
        node.step(event).await?;
        if n % 512 == 0 {
            bar.set_position(n as u64);
            bar.set_message(event.ts().to_string());
        }
    }
    node.stop().await?;
    bar.finish_and_clear();
    let events = node.events();
    let undecodable = node.undecodable();
    let (decisions, refusals) = node.take_records();
    let (summaries, curves, fills) = node.finish();
    crate::say_raw!(crate::table::render(&summaries));
    crate::say!(
        "{events} events through the bus ({} messages on {}) in {:.2} s; {undecodable} undecodable",
        bus.len(lockstep::MARKET_DATA)
            + bus.len(lockstep::ORDERS_SUBMISSION)
            + bus.len(lockstep::ORDERS_FEEDBACK),
        [
            lockstep::MARKET_DATA,
            lockstep::ORDERS_SUBMISSION,
            lockstep::ORDERS_FEEDBACK
        ]
        .join(", "),
        started.elapsed().as_secs_f64()
    );
    let inputs = vec![
        (
            "data".to_owned(),
            format!(
                "synthetic one-minute bars, {} minutes per symbol, seed {}",
                a.minutes, a.seed
            ),
        ),
        (
            "symbols".to_owned(),
            instruments
                .iter()
                .map(|(i, _)| format!("{} ({:?})", i.symbol, i.kind))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        (
            "path".to_owned(),
            "feed → bus → node (interest map) → bus → gateway → simulated venue → bus → node"
                .to_owned(),
        ),
    ];
    let run = RunReport {
        title: "Chimera demo".into(),
        inputs,
        summaries,
        curves,
        fills,
        skipped_lines: Vec::new(),
        executions: Vec::new(),
        decisions,
        refusals,
        track: report::MarketTrack::default(),
        multipliers: instruments
            .iter()
            .map(|(i, _)| (i.symbol.clone(), i.contract_multiplier))
            .collect(),
    };
    report::write(&a.out, &run)?;
    crate::say!("report: {}", a.out.join("report.html").display());
    Ok(())
}
