//! [`ExecSpec`]: how a parent order is worked — sent as it is, or handed to an execution
//! algorithm — with parameters checked up front, every bad one listed.

use serde::{Deserialize, Serialize};

/// How an order is executed. A closed set: each algorithm is a state machine of the kernel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "algo", rename_all = "snake_case")]
pub enum ExecSpec {
    /// Sent to the venue as it is.
    #[default]
    Direct,
    /// One market order, tracked as a parent (so its slippage and fees are reported beside
    /// the algorithms' in a comparison).
    Market,
    /// Post at the best price on its own side (post-only), re-peg when the market moves away,
    /// then cross the spread for the rest.
    MakerTaker(MakerTakerParams),
    /// Equal slices over a horizon, one per interval, fired by timers.
    Twap(TwapParams),
    /// An exit: take-profit limit and stop, one cancels the other (emulated locally).
    Oco(super::OcoParams),
    /// An entry, then an OCO of take-profit and stop on what it filled.
    Bracket(super::OcoParams),
    /// An exit resting as limit-maker while the stop is watched locally (spot).
    GuardStop(super::GuardParams),
    /// A protective stop that trails the best price.
    TrailingStop(super::TrailParams),
}

/// Maker→taker parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MakerTakerParams {
    /// How many times the passive order may be moved to a new best price.
    pub max_repegs: u32,
    /// After this many milliseconds the rest crosses the spread, re-pegs left or not.
    pub deadline_ms: i64,
}

impl Default for MakerTakerParams {
    fn default() -> Self {
        Self {
            max_repegs: 5,
            deadline_ms: 30_000,
        }
    }
}

/// TWAP parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TwapParams {
    /// Total time over which the quantity is spread.
    pub horizon_ms: i64,
    /// Time between slices.
    pub interval_ms: i64,
    /// Size randomisation, in percent of a slice (0–50): each slice's share of the total is
    /// scaled by a seeded draw in `[1 - jitter, 1 + jitter]`; the slices still add up to the
    /// intent exactly.
    pub jitter_pct: u32,
    /// Seed of the randomisation.
    pub seed: u64,
}

impl Default for TwapParams {
    fn default() -> Self {
        Self {
            horizon_ms: 60_000,
            interval_ms: 10_000,
            jitter_pct: 0,
            seed: 1,
        }
    }
}

impl TwapParams {
    /// Number of slices: the horizon divided by the interval, rounded up, at least one.
    pub fn slices(&self) -> u32 {
        let n = (self.horizon_ms + self.interval_ms - 1) / self.interval_ms.max(1);
        u32::try_from(n.max(1)).unwrap_or(u32::MAX)
    }
}

/// An [`ExecSpec`] that cannot be built, listing every problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid execution settings: {}", problems.join("; "))]
pub struct ExecSpecError {
    /// One line per bad name or value.
    pub problems: Vec<String>,
}

impl ExecSpec {
    /// The names `from_params` understands.
    pub const NAMES: &'static str = "direct, market, maker-taker, twap";

    /// The parameters algorithm `name` takes (empty for an unknown name).
    pub fn parameter_names(name: &str) -> &'static [&'static str] {
        match name {
            "maker-taker" | "maker_taker" => &["max_repegs", "deadline_secs"],
            "twap" => &["horizon_secs", "interval_secs", "jitter_pct", "seed"],
            _ => &[],
        }
    }

    /// Builds a spec from an algorithm name and `key=value` parameters (the CLI's `--exec` and
    /// `--exec-param`): `maker-taker` takes `max_repegs` and `deadline_secs`; `twap` takes
    /// `horizon_secs`, `interval_secs`, `jitter_pct` and `seed`.
    ///
    /// # Errors
    /// [`ExecSpecError`] naming an unknown algorithm, every unknown key, every value that does
    /// not parse and every value out of range.
    pub fn from_params(name: &str, params: &[(String, String)]) -> Result<Self, ExecSpecError> {
        let mut problems: Vec<String> = Vec::new();
        let mut number = |key: &str, value: &str| -> Option<i64> {
            match value.parse::<i64>() {
                Ok(v) if v >= 0 => Some(v),
                _ => {
                    problems.push(format!("{key} = {value:?}: expected a whole number >= 0"));
                    None
                }
            }
        };
        let mut unknown = Vec::new();
        let spec = match name {
            "direct" => {
                unknown.extend(params.iter().map(|(k, _)| k.clone()));
                ExecSpec::Direct
            }
            "market" => {
                unknown.extend(params.iter().map(|(k, _)| k.clone()));
                ExecSpec::Market
            }
            "maker-taker" | "maker_taker" => {
                let mut p = MakerTakerParams::default();
                for (key, value) in params {
                    match key.as_str() {
                        "max_repegs" => {
                            if let Some(v) = number(key, value) {
                                p.max_repegs = u32::try_from(v).unwrap_or(u32::MAX);
                            }
                        }
                        "deadline_secs" => {
                            if let Some(v) = number(key, value) {
                                p.deadline_ms = v.saturating_mul(1000);
                            }
                        }
                        other => unknown.push(other.to_owned()),
                    }
                }
                ExecSpec::MakerTaker(p)
            }
            "twap" => {
                let mut p = TwapParams::default();
                for (key, value) in params {
                    match key.as_str() {
                        "horizon_secs" => {
                            if let Some(v) = number(key, value) {
                                p.horizon_ms = v.saturating_mul(1000);
                            }
                        }
                        "interval_secs" => {
                            if let Some(v) = number(key, value) {
                                p.interval_ms = v.saturating_mul(1000);
                            }
                        }
                        "jitter_pct" => {
                            if let Some(v) = number(key, value) {
                                p.jitter_pct = u32::try_from(v).unwrap_or(u32::MAX);
                            }
                        }
                        "seed" => {
                            if let Some(v) = number(key, value) {
                                p.seed = v.unsigned_abs();
                            }
                        }
                        other => unknown.push(other.to_owned()),
                    }
                }
                ExecSpec::Twap(p)
            }
            "oco" | "bracket" | "guard-stop" | "trailing-stop" => {
                return Err(ExecSpecError {
                    problems: vec![format!(
                        "{name} takes per-order prices: a strategy sets it on its order \
                         (OrderRequest::with_exec)"
                    )],
                })
            }
            other => {
                return Err(ExecSpecError {
                    problems: vec![format!(
                        "unknown execution algorithm {other:?} (expected {})",
                        Self::NAMES
                    )],
                })
            }
        };
        problems.extend(
            unknown
                .into_iter()
                .map(|k| format!("{k}: not a parameter of {name}")),
        );
        if let Err(e) = spec.validate() {
            problems.extend(e.problems);
        }
        if problems.is_empty() {
            Ok(spec)
        } else {
            Err(ExecSpecError { problems })
        }
    }

    /// Checks the parameters' ranges.
    ///
    /// # Errors
    /// [`ExecSpecError`] listing each value out of range.
    pub fn validate(&self) -> Result<(), ExecSpecError> {
        let mut problems = Vec::new();
        match self {
            ExecSpec::Direct | ExecSpec::Market => {}
            ExecSpec::GuardStop(p) => {
                if p.exit_price == p.stop {
                    problems.push(format!(
                        "exit price and stop are both {}: they must differ",
                        p.stop
                    ));
                }
            }
            ExecSpec::TrailingStop(p) => {
                if p.distance_bps == 0 || p.distance_bps >= 10_000 {
                    problems.push(format!(
                        "distance_bps = {}: must be 1 to 9999",
                        p.distance_bps
                    ));
                }
            }
            ExecSpec::Oco(p) | ExecSpec::Bracket(p) => {
                if p.take_profit == p.stop {
                    problems.push(format!(
                        "take-profit and stop are both {}: they must differ",
                        p.take_profit
                    ));
                }
            }
            ExecSpec::MakerTaker(p) => {
                if p.deadline_ms < 0 {
                    problems.push(format!("deadline = {} ms: must be >= 0", p.deadline_ms));
                }
            }
            ExecSpec::Twap(p) => {
                if p.interval_ms <= 0 {
                    problems.push(format!("interval = {} ms: must be > 0", p.interval_ms));
                }
                if p.horizon_ms < p.interval_ms {
                    problems.push(format!(
                        "horizon = {} ms: must be at least the interval ({} ms)",
                        p.horizon_ms, p.interval_ms
                    ));
                }
                if p.jitter_pct > 50 {
                    problems.push(format!("jitter_pct = {}: must be 0 to 50", p.jitter_pct));
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ExecSpecError { problems })
        }
    }

    /// Short name, for reports (`direct`, `market`, `maker-taker`, `twap`).
    pub fn name(&self) -> &'static str {
        match self {
            ExecSpec::Direct => "direct",
            ExecSpec::Market => "market",
            ExecSpec::MakerTaker(_) => "maker-taker",
            ExecSpec::Twap(_) => "twap",
            ExecSpec::Oco(_) => "oco",
            ExecSpec::Bracket(_) => "bracket",
            ExecSpec::GuardStop(_) => "guard-stop",
            ExecSpec::TrailingStop(_) => "trailing-stop",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn twap_from_cli_params() {
        let spec = ExecSpec::from_params(
            "twap",
            &kv(&[("horizon_secs", "60"), ("interval_secs", "10")]),
        )
        .unwrap();
        let ExecSpec::Twap(p) = spec else {
            panic!("twap expected")
        };
        assert_eq!(
            (p.horizon_ms, p.interval_ms, p.slices()),
            (60_000, 10_000, 6)
        );
    }

    #[test]
    fn every_bad_parameter_is_listed() {
        let err = ExecSpec::from_params(
            "twap",
            &kv(&[
                ("horizon_secs", "x"),
                ("interval_secs", "0"),
                ("speed", "1"),
                ("jitter_pct", "80"),
            ]),
        )
        .unwrap_err();
        assert_eq!(err.problems.len(), 4, "{err}");
        assert!(ExecSpec::from_params("vwap", &[]).is_err());
    }
}
