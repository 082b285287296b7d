//! What a backtest runs, from the command line: either one portfolio described by the
//! instrument, balance and strategy arguments, or the `[[portfolios]]` of configuration files
//! (`--config`), exactly as `chimera up` and the node would run them. Every problem is listed
//! at once.

use crate::args::BacktestArgs;
use anyhow::bail;
use chimera_kernel::engine::PortfolioEngine;
use chimera_kernel::execution::ExecSpec;
use chimera_kernel::ids::{PortfolioId, Symbol};
use chimera_kernel::instrument::{Instrument, MarketKind};
use chimera_kernel::portfolio::Portfolio;
use chimera_kernel::strategy::{StrategyParams, StrategyRegistry};
use chimera_kernel::value::{Amount, FeeRate, Notional, Price, Quantity};
use chimera_kernel::Decimal;
use chimera_sim::{BarFill, QueueModel, SimConfig};
use std::collections::BTreeMap;

const QUOTES: [&str; 5] = ["USDT", "USDC", "FDUSD", "BUSD", "USD"];
/// The symbol CSV bars are read as when nothing else names one.
const DEFAULT_SYMBOL: &str = "BTCUSDT";

/// A validated backtest: portfolios with their strategies, the venue's instruments, the
/// simulation, and how to describe the run in its report.
pub(crate) struct Plan {
    pub(crate) engines: Vec<PortfolioEngine>,
    pub(crate) instruments: Vec<Instrument>,
    /// The symbol CSV bars are read as.
    pub(crate) symbol: Symbol,
    pub(crate) sim: SimConfig,
    /// Report title.
    pub(crate) title: String,
    /// Report inputs: (label, value).
    pub(crate) inputs: Vec<(String, String)>,
    /// The execution algorithms to run the strategy's orders with, one run each (empty:
    /// one run, orders sent as they are).
    pub(crate) execs: Vec<ExecSpec>,
    /// Models the portfolios' decision policies may name.
    pub(crate) scorers: Vec<chimera_kernel::decision::LogisticScorer>,
}

/// The `--risk` and `--rules` files, read and validated (`None`: neither given).
fn settings(
    a: &BacktestArgs,
    p: &mut Vec<String>,
) -> Option<(
    chimera_live::decision_spec::TradingSettings,
    chimera_kernel::decision::DecisionPolicy,
)> {
    if a.risk.is_none() && a.rules.is_none() {
        return None;
    }
    let mut settings = chimera_live::decision_spec::TradingSettings::default();
    if let Some(path) = &a.risk {
        match std::fs::read_to_string(path) {
            Ok(text) => match toml::from_str(&text) {
                Ok(read) => settings = read,
                Err(e) => p.push(format!("--risk {}: {e}", path.display())),
            },
            Err(e) => p.push(format!("--risk {}: cannot read: {e}", path.display())),
        }
    }
    if let Some(path) = &a.rules {
        if settings.decision.rules.is_some() || settings.decision.rules_file.is_some() {
            p.push(format!(
                "--rules {}: the --risk file has rules too; give them once",
                path.display()
            ));
        }
        settings.decision.rules_file = Some(path.clone());
    }
    let before = p.len();
    p.extend(settings.problems().into_iter().map(|m| {
        let source = a.risk.as_ref().map_or_else(
            || "--rules".to_owned(),
            |r| format!("--risk {}", r.display()),
        );
        format!("{source}: {m}")
    }));
    if p.len() > before {
        return None;
    }
    match settings.decision.build("decision") {
        Ok(policy) => Some((settings, policy)),
        Err(problems) => {
            p.extend(problems);
            None
        }
    }
}

/// The `--exec` algorithms with their `--exec-param`s; every problem listed.
fn execs(a: &BacktestArgs, p: &mut Vec<String>) -> Vec<ExecSpec> {
    let mut params = Vec::new();
    for item in &a.exec_params {
        match item.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                params.push((k.trim().to_owned(), v.trim().to_owned()));
            }
            _ => p.push(format!("--exec-param {item}: expected KEY=VALUE")),
        }
    }
    for (key, _) in &params {
        let used = a
            .execs
            .iter()
            .any(|name| ExecSpec::parameter_names(name).contains(&key.as_str()));
        if !used {
            p.push(format!(
                "--exec-param {key}: no --exec algorithm takes it ({})",
                a.execs.join(", ")
            ));
        }
    }
    let mut specs = Vec::new();
    for name in &a.execs {
        let own: Vec<(String, String)> = params
            .iter()
            .filter(|(k, _)| ExecSpec::parameter_names(name).contains(&k.as_str()))
            .cloned()
            .collect();
        match ExecSpec::from_params(name, &own) {
            Ok(spec) => specs.push(spec),
            Err(e) => p.extend(
                e.problems
                    .into_iter()
                    .map(|m| format!("--exec {name}: {m}")),
            ),
        }
    }
    specs
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

/// Validates every argument (and, with `--config`, every portfolio) and reports all problems
/// at once.
///
/// # Errors
/// One error listing each bad argument or portfolio field and why.
pub(crate) fn plan(a: &BacktestArgs, strategies: &StrategyRegistry) -> anyhow::Result<Plan> {
    let mut p = Vec::new();
    let bar_fill = field(&mut p, "bar-fill", &a.bar_fill, str::parse::<BarFill>);
    if a.sample_ms < 0 {
        p.push(format!("--sample-ms {}: must be >= 0", a.sample_ms));
    }
    let queue = field(&mut p, "queue", &a.queue, str::parse::<QueueModel>);
    let sim = SimConfig {
        bar_fill: bar_fill.unwrap_or_default(),
        latency_ms: a.latency_ms,
        queue: queue.unwrap_or_default(),
        market_data_latency_ms: a.market_data_latency_ms,
        ..SimConfig::default()
    };
    let execs = execs(a, &mut p);
    if let Err(e) = sim.validate() {
        p.extend(e.problems);
    }
    let settings = settings(a, &mut p);
    let planned = if a.config.is_empty() {
        from_arguments(a, strategies, &mut p)
    } else {
        from_config(a, strategies, &mut p)
    };
    match planned {
        Some(mut plan) if p.is_empty() => {
            plan.sim = sim;
            plan.execs = execs;
            if let Some((settings, policy)) = settings {
                plan.engines = std::mem::take(&mut plan.engines)
                    .into_iter()
                    .map(|e| {
                        e.with_risk(settings.risk)
                            .with_policy(policy.clone())
                            .with_manager(settings.manage.clone())
                    })
                    .collect();
                for (flag, path) in [("risk", &a.risk), ("rules", &a.rules)] {
                    if let Some(path) = path {
                        plan.inputs
                            .push((flag.to_owned(), path.display().to_string()));
                    }
                }
                plan.scorers = settings.scorers;
            }
            plan.inputs
                .insert(0, ("data".to_owned(), a.data.display().to_string()));
            plan.inputs.push((
                "bar fill, order latency, market-data latency, queue".to_owned(),
                format!(
                    "{}, {} ms, {} ms, {}",
                    a.bar_fill, a.latency_ms, a.market_data_latency_ms, a.queue
                ),
            ));
            Ok(plan)
        }
        _ => bail!("invalid arguments:\n  {}", p.join("\n  ")),
    }
}

/// The portfolios of `--config`, optionally narrowed by `--portfolio`.
fn from_config(
    a: &BacktestArgs,
    strategies: &StrategyRegistry,
    p: &mut Vec<String>,
) -> Option<Plan> {
    let specs = match chimera_live::config::load_portfolios(&a.config, strategies) {
        Ok(specs) => specs,
        Err(e) => {
            p.extend(e.problems);
            return None;
        }
    };
    for wanted in &a.portfolios {
        if !specs.iter().any(|s| &s.id == wanted) {
            p.push(format!(
                "--portfolio {wanted}: not in the configuration (it has: {})",
                specs
                    .iter()
                    .map(|s| s.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    let chosen: Vec<_> = specs
        .into_iter()
        .filter(|s| a.portfolios.is_empty() || a.portfolios.contains(&s.id))
        .collect();
    let mut engines = Vec::new();
    let mut instruments = BTreeMap::new();
    for spec in &chosen {
        // Validated by `load_portfolios`: these cannot fail.
        match spec.build_engine(strategies) {
            Ok(engine) => {
                for instrument in engine.portfolio().instruments.values() {
                    // One venue: a symbol trades under one set of rules and fees.
                    match instruments.get(&instrument.symbol) {
                        Some(known) if known != instrument => p.push(format!(
                            "portfolio {}: instrument {} differs from another portfolio's \
                             (one simulated venue lists each symbol once)",
                            spec.id, instrument.symbol
                        )),
                        Some(_) => {}
                        None => {
                            instruments.insert(instrument.symbol.clone(), instrument.clone());
                        }
                    }
                }
                engines.push(engine);
            }
            Err(problems) => p.extend(problems),
        }
    }
    let symbol = match (&a.symbol, instruments.len()) {
        // The listed instrument's own id when there is one (see the single-portfolio plan).
        (Some(symbol), _) => instruments
            .keys()
            .find(|listed| listed.as_str() == symbol)
            .cloned()
            .unwrap_or_else(|| Symbol::new(symbol)),
        (None, 1) => instruments.keys().next().cloned()?,
        (None, _) => {
            p.push(format!(
                "--symbol: the portfolios trade {}; name the one the data file holds",
                instruments
                    .keys()
                    .map(Symbol::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            return None;
        }
    };
    let described = chosen
        .iter()
        .map(|s| format!("{} ({})", s.id, s.strategy))
        .collect::<Vec<_>>()
        .join(", ");
    Some(Plan {
        execs: Vec::new(),
        scorers: Vec::new(),
        title: format!("Backtest: {described}"),
        inputs: vec![
            (
                "config".to_owned(),
                a.config
                    .iter()
                    .map(|c| c.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            ("portfolios".to_owned(), described),
            ("symbol".to_owned(), symbol.as_str().to_owned()),
        ],
        engines,
        instruments: instruments.into_values().collect(),
        symbol,
        sim: SimConfig::default(),
    })
}

/// One portfolio from the instrument, balance and strategy arguments.
fn from_arguments(
    a: &BacktestArgs,
    strategies: &StrategyRegistry,
    p: &mut Vec<String>,
) -> Option<Plan> {
    let symbol = a
        .symbol
        .clone()
        .unwrap_or_else(|| DEFAULT_SYMBOL.to_owned());
    let strategy_name = a.strategy.clone().unwrap_or_default();
    let kind = field(p, "market", &a.market, str::parse::<MarketKind>);
    let quote = a.quote.clone().or_else(|| {
        QUOTES
            .iter()
            .find(|q| symbol.len() > q.len() && symbol.ends_with(*q))
            .map(|q| (*q).to_owned())
    });
    if quote.is_none() {
        p.push(format!(
            "--symbol {symbol}: cannot tell the quote asset; pass --quote"
        ));
    }
    let maker = field(p, "maker-fee", &a.maker_fee, decimal::<FeeRate>);
    let taker = field(p, "taker-fee", &a.taker_fee, decimal::<FeeRate>);
    let tick = field(p, "tick-size", &a.tick_size, decimal::<Price>);
    let lot = field(p, "lot-size", &a.lot_size, |t| {
        match decimal::<Quantity>(t) {
            Ok(q) if q.is_zero() => Err("must be > 0".into()),
            other => other,
        }
    });
    let min_notional = field(p, "min-notional", &a.min_notional, decimal::<Notional>);
    let leverage = field(p, "leverage", &a.leverage, |t| match decimal::<Price>(t) {
        Ok(l) if l.get() <= Decimal::from(125) => Ok(l.get()),
        Ok(_) => Err("must be at most 125".into()),
        Err(e) => Err(e),
    });
    let quote_balance = field(p, "quote-balance", &a.quote_balance, decimal::<Quantity>);
    let base_balance = field(p, "base-balance", &a.base_balance, decimal::<Quantity>);
    let mut params = StrategyParams::new();
    for raw in &a.params {
        match raw.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                params.insert(k.trim().to_owned(), v.trim().to_owned());
            }
            _ => p.push(format!("--param {raw}: expected KEY=VALUE")),
        }
    }
    let strategy = strategies
        .build(&strategy_name, &params)
        .map_err(|e| {
            p.extend(
                e.problems
                    .into_iter()
                    .map(|m| format!("--strategy {strategy_name}: {m}")),
            );
        })
        .ok();
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
        ) => Instrument::linear(&symbol, &quote, kind)
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
            .map_err(|e| p.push(format!("--symbol {symbol}: {e}")))
            .ok(),
        _ => None,
    };
    let (instrument, quote_balance, base_balance, strategy) =
        (instrument?, quote_balance?, base_balance?, strategy?);
    let mut portfolio = Portfolio::new(PortfolioId::new("backtest"), instrument.quote.clone());
    portfolio.deposit(instrument.quote.clone(), Amount::new(quote_balance.get()));
    if !base_balance.is_zero() {
        portfolio.deposit(instrument.base.clone(), Amount::new(base_balance.get()));
    }
    portfolio.add_instrument(instrument.clone());
    let symbol_id = instrument.symbol.clone();
    Some(Plan {
        execs: Vec::new(),
        scorers: Vec::new(),
        title: format!("Backtest: {strategy_name} on {symbol}"),
        inputs: vec![
            ("symbol".to_owned(), symbol.clone()),
            ("market".to_owned(), a.market.clone()),
            ("strategy".to_owned(), strategy_name),
            ("params".to_owned(), a.params.join(" ")),
            (
                "maker / taker fee".to_owned(),
                format!("{} / {}", a.maker_fee, a.taker_fee),
            ),
            (
                "starting balances".to_owned(),
                format!(
                    "{} {} + {} {}",
                    a.quote_balance, instrument.quote, a.base_balance, instrument.base
                ),
            ),
        ],
        engines: vec![PortfolioEngine::new(portfolio, strategy)],
        instruments: vec![instrument],
        // The instrument's own id, not an equal copy: ids compare by pointer first, and the
        // data file's events carry this one to the venue, the engine and the strategy.
        symbol: symbol_id,
        sim: SimConfig::default(),
    })
}
