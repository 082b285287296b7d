//! How a portfolio decides and manages positions, as configured: the decision policy
//! (`decision = { gates = {...}, rules_file = "rules.txt", model = {...}, sizing = {...} }`)
//! and the position manager (`manage = {...}`), plus the models a runtime can score with
//! (`[[scorers]]`). The same sections make up the file `chimera backtest --risk FILE` reads.

use chimera_kernel::decision::{DecisionPolicy, GateConfig, LogisticScorer, ModelConfig, RuleSet};
use chimera_kernel::position_manager::ManagerConfig;
use chimera_kernel::risk::RiskLimits;
use chimera_kernel::sizing::SizingRule;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The decision policy as configured.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionSpec {
    /// L0 gates.
    #[serde(default)]
    pub gates: GateConfig,
    /// L1 rules, written inline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<String>,
    /// L1 rules, in a file (relative to the working directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules_file: Option<PathBuf>,
    /// L2 model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelConfig>,
    /// Sizing (`{ rule = "vol_target", risk = "100", atr_mult = "2" }`, ...; default: the
    /// strategy's quantity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sizing: Option<SizingRule>,
    /// The configuration's revision, stamped on every decision record.
    #[serde(default)]
    pub config_rev: u64,
}

impl DecisionSpec {
    /// Whether nothing is configured.
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }

    /// The policy, or every problem (each prefixed with `prefix`): gate and model settings,
    /// an unreadable rules file, rules that do not parse (with line and column).
    ///
    /// # Errors
    /// Every problem found.
    pub fn build(&self, prefix: &str) -> Result<DecisionPolicy, Vec<String>> {
        let mut problems = Vec::new();
        if self.rules.is_some() && self.rules_file.is_some() {
            problems.push(format!("{prefix}.rules/rules_file: give one, not both"));
        }
        let text = match (&self.rules, &self.rules_file) {
            (Some(text), _) => Some(text.clone()),
            (None, Some(path)) => match std::fs::read_to_string(path) {
                Ok(text) => Some(text),
                Err(e) => {
                    problems.push(format!(
                        "{prefix}.rules_file: cannot read {}: {e}",
                        path.display()
                    ));
                    None
                }
            },
            (None, None) => None,
        };
        let rules = match text.as_deref().map(RuleSet::parse) {
            Some(Ok(rules)) => rules,
            Some(Err(e)) => {
                let source = self
                    .rules_file
                    .as_ref()
                    .map_or_else(|| "rules".to_owned(), |p| p.display().to_string());
                problems.push(format!("{prefix}.rules: {source}: {e}"));
                RuleSet::default()
            }
            None => RuleSet::default(),
        };
        let policy = DecisionPolicy {
            gates: self.gates.clone(),
            rules,
            model: self.model.clone(),
            sizing: self.sizing,
            config_rev: self.config_rev,
        };
        problems.extend(policy.problems(prefix));
        if problems.is_empty() {
            Ok(policy)
        } else {
            Err(problems)
        }
    }
}

/// The sections `chimera backtest --risk FILE` reads, applied to every portfolio of the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TradingSettings {
    /// Pre-trade limits and in-trade exits.
    #[serde(default)]
    pub risk: RiskLimits,
    /// The decision policy.
    #[serde(default)]
    pub decision: DecisionSpec,
    /// The position manager.
    #[serde(default)]
    pub manage: ManagerConfig,
    /// Models the decision policy may name.
    #[serde(default)]
    pub scorers: Vec<LogisticScorer>,
}

impl TradingSettings {
    /// Every problem of the settings, each naming its field.
    pub fn problems(&self) -> Vec<String> {
        let mut problems: Vec<String> = self
            .risk
            .problems()
            .into_iter()
            .map(|m| format!("risk: {m}"))
            .collect();
        if let Err(p) = self.decision.build("decision") {
            problems.extend(p);
        }
        problems.extend(self.manage.problems("manage"));
        if let Some(model) = &self.decision.model {
            if !self.scorers.iter().any(|s| s.name == model.model) {
                problems.push(format!(
                    "decision.model.model: no [[scorers]] entry is named `{}` (decisions would always fall back)",
                    model.model
                ));
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fenced block after `marker` in the decisions guide.
    fn block(marker: &str) -> String {
        let doc = include_str!("../../../docs/decisions.md");
        let start = doc.find(marker).expect("block") + marker.len();
        let rest = &doc[start..];
        rest[..rest.find("```").expect("end of block")].to_owned()
    }

    #[test]
    fn the_guides_settings_and_rules_are_valid() {
        let rules = block("```text\n");
        let parsed = RuleSet::parse(&rules).expect("the guide's rules parse");
        assert_eq!(parsed.rules().len(), 4);
        let text = block("```toml\n").replace(
            "rules_file = \"rules.txt\"     # or rules = '''...''' inline (not both)",
            &format!("rules = '''{rules}'''"),
        );
        let settings: TradingSettings = toml::from_str(&text).expect("the guide's settings read");
        assert_eq!(settings.problems(), Vec::<String>::new());
        assert_eq!(settings.decision.config_rev, 3);
        assert_eq!(settings.manage.take_profit.len(), 2);
        assert_eq!(settings.scorers[0].name, "logit");
    }

    #[test]
    fn every_problem_is_listed_with_the_rules_position() {
        let settings: TradingSettings = toml::from_str(
            "[decision]\nrules = \"rule a when price > then skip_entry\"\n\
             [decision.gates]\nmax_concurrent_per_symbol = 0\n\
             [decision.model]\nmodel = \"nope\"\np_low = \"0.9\"\np_high = \"0.8\"\n\
             [manage]\nstop_pct = \"0\"\n",
        )
        .expect("reads");
        let problems = settings.problems();
        for needle in [
            "decision.rules: rules: line 1, column 21",
            "max_concurrent_per_symbol",
            "p_low/p_high",
            "no [[scorers]] entry is named `nope`",
            "manage.stop_pct",
        ] {
            assert!(
                problems.iter().any(|p| p.contains(needle)),
                "{needle}: {problems:#?}"
            );
        }
    }
}
