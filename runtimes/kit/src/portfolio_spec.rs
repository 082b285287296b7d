//! [`PortfolioSpec`]: a portfolio as configured (strategy, parameters, instruments, capital), the
//! JSON document kept in the `portfolios` table, and how to build its engine.

use chimera_kernel::engine::PortfolioEngine;
use chimera_kernel::ids::{Asset, PortfolioId};
use chimera_kernel::instrument::{Instrument, MarketKind};
use chimera_kernel::portfolio::Portfolio;
use chimera_kernel::strategy::{Strategy, StrategyRegistry};
use chimera_kernel::value::{Amount, FeeRate, Notional, Price, Quantity};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::str::FromStr;

/// One instrument of a portfolio. Decimals are strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstrumentSpec {
    /// e.g. `BTCUSDT`.
    pub symbol: String,
    /// `perp` or `spot`.
    #[serde(default = "default_kind")]
    pub kind: String,
    /// Quote asset.
    #[serde(default = "default_quote")]
    pub quote: String,
    /// Price tick.
    #[serde(default = "default_tick")]
    pub tick_size: String,
    /// Quantity step.
    #[serde(default = "default_lot")]
    pub lot_size: String,
    /// Smallest order value.
    #[serde(default = "default_min_notional")]
    pub min_notional: String,
    /// Maker fee rate (0.0002 = 2 bp).
    #[serde(default = "default_maker")]
    pub maker_fee: String,
    /// Taker fee rate.
    #[serde(default = "default_taker")]
    pub taker_fee: String,
    /// Leverage (perps).
    #[serde(default = "default_leverage")]
    pub leverage: String,
}

impl InstrumentSpec {
    /// `symbol` with every default (a USDT-margined perpetual, tick 0.01, lot 0.001, minimum
    /// notional 5, fees 2 / 5 bp) at `leverage`, as a configuration file that names only the
    /// symbol and leverage gets.
    pub fn perp_with_defaults(symbol: &str, leverage: &str) -> Self {
        Self {
            symbol: symbol.to_owned(),
            kind: default_kind(),
            quote: default_quote(),
            tick_size: default_tick(),
            lot_size: default_lot(),
            min_notional: default_min_notional(),
            maker_fee: default_maker(),
            taker_fee: default_taker(),
            leverage: leverage.to_owned(),
        }
    }
}

fn default_kind() -> String {
    "perp".into()
}
fn default_quote() -> String {
    "USDT".into()
}
fn default_tick() -> String {
    "0.01".into()
}
fn default_lot() -> String {
    "0.001".into()
}
fn default_min_notional() -> String {
    "5".into()
}
fn default_maker() -> String {
    "0.0002".into()
}
fn default_taker() -> String {
    "0.0005".into()
}
fn default_leverage() -> String {
    "1".into()
}
fn default_reporting() -> String {
    "USDT".into()
}

/// A portfolio as configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortfolioSpec {
    /// Identifier.
    pub id: String,
    /// Strategy name (`ema-cross`, `scripted`).
    pub strategy: String,
    /// Strategy parameters.
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// Asset equity is reported in.
    #[serde(default = "default_reporting")]
    pub reporting_asset: String,
    /// Instruments traded.
    pub instruments: Vec<InstrumentSpec>,
    /// Starting balances per asset.
    #[serde(default)]
    pub balances: BTreeMap<String, String>,
    /// How the strategy's market orders are executed (`{ algo = "twap", horizon_ms = 60000,
    /// interval_ms = 10000 }`, `{ algo = "maker_taker" }`, ...; default: sent as they are).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<chimera_kernel::execution::ExecSpec>,
    /// Pre-trade risk limits (`{ max_position_ratio = "3", max_order_notional = "50000",
    /// max_open_orders = 20, price_band_bps = "100", max_orders_per_window = 10,
    /// rate_window_ms = 1000 }`; each off when absent).
    #[serde(default, skip_serializing_if = "is_default")]
    pub risk: chimera_kernel::risk::RiskLimits,
    /// How entries are decided: gates, rules, model, sizing (see
    /// [`crate::decision_spec::DecisionSpec`]; default: every entry at the strategy's size).
    #[serde(
        default,
        skip_serializing_if = "crate::decision_spec::DecisionSpec::is_default"
    )]
    pub decision: crate::decision_spec::DecisionSpec,
    /// How positions are managed: stops, trailing, take-profit ladder, add-ons (none by
    /// default).
    #[serde(default, skip_serializing_if = "is_unmanaged")]
    pub manage: chimera_kernel::position_manager::ManagerConfig,
}

fn is_unmanaged(config: &chimera_kernel::position_manager::ManagerConfig) -> bool {
    !config.is_active()
}

fn is_default(limits: &chimera_kernel::risk::RiskLimits) -> bool {
    *limits == chimera_kernel::risk::RiskLimits::default()
}

fn parse<T>(
    field: &str,
    text: &str,
    make: impl FnOnce(Decimal) -> Result<T, chimera_kernel::value::ValueError>,
    problems: &mut Vec<String>,
) -> Option<T> {
    let parsed = Decimal::from_str(text)
        .map_err(|e| e.to_string())
        .and_then(|d| make(d).map_err(|e| e.to_string()));
    parsed
        .map_err(|e| problems.push(format!("{field} = {text:?}: {e}")))
        .ok()
}

impl InstrumentSpec {
    /// The instrument, or every problem with the spec.
    ///
    /// # Errors
    /// One line per bad field.
    pub fn build(&self) -> Result<Instrument, Vec<String>> {
        let mut p = Vec::new();
        let kind = match self.kind.as_str() {
            "perp" => MarketKind::Perp,
            "spot" => MarketKind::Spot,
            other => {
                p.push(format!("kind = {other:?}: expected perp or spot"));
                MarketKind::Perp
            }
        };
        let base = Instrument::linear(&self.symbol, &self.quote, kind)
            .map_err(|e| p.push(format!("symbol = {:?}: {e}", self.symbol)))
            .ok();
        let tick = parse("tick_size", &self.tick_size, Price::new, &mut p);
        let lot = parse("lot_size", &self.lot_size, Quantity::new, &mut p);
        let min = parse("min_notional", &self.min_notional, Notional::new, &mut p);
        let maker = parse("maker_fee", &self.maker_fee, FeeRate::new, &mut p);
        let taker = parse("taker_fee", &self.taker_fee, FeeRate::new, &mut p);
        let leverage = parse("leverage", &self.leverage, Ok, &mut p);
        if leverage.is_some_and(|l| l < Decimal::ONE) {
            p.push(format!("leverage = {:?}: must be ≥ 1", self.leverage));
        }
        match (base, tick, lot, min, maker, taker, leverage) {
            (
                Some(i),
                Some(tick_size),
                Some(lot_size),
                Some(min_notional),
                Some(maker_fee),
                Some(taker_fee),
                Some(leverage),
            ) if p.is_empty() => Ok(Instrument {
                tick_size,
                lot_size,
                min_notional,
                maker_fee,
                taker_fee,
                leverage: if kind == MarketKind::Spot {
                    Decimal::ONE
                } else {
                    leverage
                },
                ..i
            }),
            _ => Err(p),
        }
    }
}

impl PortfolioSpec {
    /// The strategy, freshly built from `strategies` (the composition root's registry).
    ///
    /// # Errors
    /// An unknown strategy name, or every bad parameter.
    pub fn build_strategy(
        &self,
        strategies: &StrategyRegistry,
    ) -> Result<Box<dyn Strategy>, Vec<String>> {
        strategies.build(&self.strategy, &self.params).map_err(|e| {
            e.problems
                .into_iter()
                .map(|m| format!("strategy {}: {m}", self.strategy))
                .collect()
        })
    }

    /// The portfolio's books at start: instruments and balances.
    ///
    /// # Errors
    /// Every bad instrument field or balance.
    pub fn build_portfolio(&self) -> Result<Portfolio, Vec<String>> {
        let mut p = Vec::new();
        if self.id.is_empty() {
            p.push("id: must not be empty".to_owned());
        }
        if self.instruments.is_empty() {
            p.push("instruments: name at least one".to_owned());
        }
        let mut portfolio = Portfolio::new(
            PortfolioId::new(self.id.as_str()),
            Asset::new(self.reporting_asset.as_str()),
        );
        for (i, spec) in self.instruments.iter().enumerate() {
            match spec.build() {
                Ok(instrument) => portfolio.add_instrument(instrument),
                Err(e) => p.extend(e.into_iter().map(|m| format!("instruments[{i}].{m}"))),
            }
        }
        for (asset, amount) in &self.balances {
            match Decimal::from_str(amount) {
                Ok(a) if a >= Decimal::ZERO => {
                    portfolio.deposit(Asset::new(asset.as_str()), Amount::new(a));
                }
                _ => p.push(format!("balances.{asset} = {amount:?}: not a decimal ≥ 0")),
            }
        }
        if p.is_empty() {
            Ok(portfolio)
        } else {
            Err(p)
        }
    }

    /// A fresh engine for this portfolio.
    ///
    /// # Errors
    /// Every problem of the spec.
    pub fn build_engine(
        &self,
        strategies: &StrategyRegistry,
    ) -> Result<PortfolioEngine, Vec<String>> {
        match (self.build_portfolio(), self.build_strategy(strategies)) {
            (Ok(portfolio), Ok(strategy)) => {
                self.configure(PortfolioEngine::new(portfolio, strategy))
            }
            (a, b) => Err(a
                .err()
                .into_iter()
                .chain(b.err())
                .chain(self.check_settings().err())
                .flatten()
                .collect()),
        }
    }

    /// `engine` with this portfolio's execution, risk, decision and position-management
    /// settings (a restored engine gets them too: they are configuration, not state).
    ///
    /// # Errors
    /// Every problem of the settings (an unreadable rules file included): a portfolio is
    /// never run without the gates and rules it was configured with.
    pub fn configure(&self, engine: PortfolioEngine) -> Result<PortfolioEngine, Vec<String>> {
        let policy = self.check_settings()?;
        let engine = engine
            .with_risk(self.risk)
            .with_policy(policy)
            .with_manager(self.manage.clone());
        Ok(match &self.exec {
            Some(spec) => engine.with_execution(spec.clone()),
            None => engine,
        })
    }

    /// The decision policy, or every problem of the execution, risk, decision and
    /// position-management settings.
    fn check_settings(&self) -> Result<chimera_kernel::decision::DecisionPolicy, Vec<String>> {
        let mut problems: Vec<String> = match &self.exec {
            Some(spec) => spec.validate().err().map_or_else(Vec::new, |e| {
                e.problems
                    .into_iter()
                    .map(|m| format!("portfolio {}: exec: {m}", self.id))
                    .collect()
            }),
            None => Vec::new(),
        };
        problems.extend(
            self.risk
                .problems()
                .into_iter()
                .map(|m| format!("portfolio {}: risk: {m}", self.id)),
        );
        let policy = match self.decision.build("decision") {
            Ok(policy) => Some(policy),
            Err(found) => {
                problems.extend(
                    found
                        .into_iter()
                        .map(|m| format!("portfolio {}: {m}", self.id)),
                );
                None
            }
        };
        problems.extend(
            self.manage
                .problems("manage")
                .into_iter()
                .map(|m| format!("portfolio {}: {m}", self.id)),
        );
        match policy {
            Some(policy) if problems.is_empty() => Ok(policy),
            _ => Err(problems),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chimera_kernel::execution::ExecSpec;

    fn spec(exec: &str) -> PortfolioSpec {
        toml::from_str(&format!(
            "id = \"p\"\nstrategy = \"ema-cross\"\nexec = {exec}\n\
             [[instruments]]\nsymbol = \"BTCUSDT\"\n\
             [params]\nfast = \"3\"\nslow = \"8\"\nqty = \"0.01\"\n[balances]\nUSDT = \"1000\"\n"
        ))
        .expect("spec")
    }

    #[test]
    fn a_portfolio_may_name_its_execution_algorithm() {
        let s = spec("{ algo = \"twap\", horizon_ms = 60000, interval_ms = 10000 }");
        assert!(matches!(s.exec, Some(ExecSpec::Twap(p)) if p.slices() == 6));
        assert!(s.build_engine(&StrategyRegistry::builtin()).is_ok());
        let bad = spec("{ algo = \"twap\", horizon_ms = 1000, interval_ms = 0 }");
        let problems = bad
            .build_engine(&StrategyRegistry::builtin())
            .expect_err("refused");
        assert!(
            problems
                .iter()
                .any(|p| p.contains("portfolio p: exec: interval = 0 ms")),
            "{problems:?}"
        );
    }

    #[test]
    fn a_portfolio_may_set_risk_limits_and_every_bad_one_is_listed() {
        let with = |risk: &str| -> PortfolioSpec {
            toml::from_str(&format!(
                "id = \"p\"\nstrategy = \"ema-cross\"\nrisk = {risk}\n\
                 [[instruments]]\nsymbol = \"BTCUSDT\"\n\
                 [params]\nfast = \"3\"\nslow = \"8\"\nqty = \"0.01\"\n[balances]\nUSDT = \"1000\"\n"
            ))
            .expect("spec")
        };
        let good = with("{ max_order_notional = \"5000\", max_orders_per_window = 3 }");
        assert_eq!(
            good.risk.max_order_notional,
            Some(Decimal::from(5000)),
            "decimals as strings"
        );
        assert!(good.build_engine(&StrategyRegistry::builtin()).is_ok());
        let problems =
            with("{ max_position_ratio = \"0\", max_open_orders = 0, rate_window_ms = 0 }")
                .build_engine(&StrategyRegistry::builtin())
                .expect_err("refused");
        for field in ["max_position_ratio", "max_open_orders", "rate_window_ms"] {
            assert!(
                problems
                    .iter()
                    .any(|p| p.starts_with("portfolio p: risk: ") && p.contains(field)),
                "{field} missing from {problems:?}"
            );
        }
    }

    #[test]
    fn a_portfolio_whose_rules_cannot_be_read_is_not_run_without_them() {
        let spec: PortfolioSpec = toml::from_str(
            "id = \"p\"\nstrategy = \"ema-cross\"\n\
             decision = { rules_file = \"/nonexistent/rules.txt\" }\n\
             [[instruments]]\nsymbol = \"BTCUSDT\"\n\
             [params]\nfast = \"3\"\nslow = \"8\"\nqty = \"0.01\"\n[balances]\nUSDT = \"1000\"\n",
        )
        .expect("spec");
        let strategies = StrategyRegistry::builtin();
        let problems = spec.build_engine(&strategies).expect_err("refused");
        assert!(
            problems
                .iter()
                .any(|p| p.contains("rules_file: cannot read /nonexistent/rules.txt")),
            "{problems:?}"
        );
        // A restored engine is configured the same way: refused too, never run bare.
        let engine = PortfolioEngine::new(
            spec.build_portfolio().expect("portfolio"),
            spec.build_strategy(&strategies).expect("strategy"),
        );
        assert!(spec.configure(engine).is_err());
    }
}
