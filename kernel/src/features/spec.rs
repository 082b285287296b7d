//! Naming a feature: `atr:14`, `rv:20`, `ema:10`, `corr:ETHUSDT:50`, `depth:10`, ... The same
//! text is the feature's column name in `chimera features` and its key in configurations.

use crate::ids::Symbol;
use serde::{Deserialize, Serialize};

/// One feature of a symbol.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum FeatureSpec {
    /// Exponential moving average of closes over n bars.
    Ema(usize),
    /// Simple moving average of closes over n bars.
    Sma(usize),
    /// True range of the latest bar.
    TrueRange,
    /// Average true range over n bars.
    Atr(usize),
    /// Realised volatility over n returns, annualised.
    RealizedVol(usize),
    /// Correlation of bar returns with another symbol's over n bars.
    Correlation(Symbol, usize),
    /// Mid price.
    Mid,
    /// Spread in basis points of the mid.
    SpreadBps,
    /// Quote notional within ±n bp of the mid, from the local book.
    Depth(usize),
    /// Trade imbalance over the last n trades.
    Imbalance(usize),
    /// VWAP over the last n trades.
    Vwap(usize),
}

/// Why a feature's name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("feature `{text}`: {problem} (known: ema:N, sma:N, tr, atr:N, rv:N, corr:SYMBOL:N, mid, spread_bps, depth:BP, imbalance:N, vwap:N)")]
pub struct FeatureSpecError {
    /// The text given.
    pub text: String,
    /// What is wrong with it.
    pub problem: String,
}

impl std::str::FromStr for FeatureSpec {
    type Err = FeatureSpecError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let fail = |problem: &str| FeatureSpecError {
            text: text.to_owned(),
            problem: problem.to_owned(),
        };
        let parts: Vec<&str> = text.trim().split(':').collect();
        let number = |s: &str| -> Result<usize, FeatureSpecError> {
            match s.parse::<usize>() {
                Ok(n) if (1..=1_000_000).contains(&n) => Ok(n),
                _ => Err(fail(&format!(
                    "`{s}` is not a whole number from 1 to 1000000"
                ))),
            }
        };
        let one = |parts: &[&str]| -> Result<usize, FeatureSpecError> {
            match parts {
                [_, n] => number(n),
                _ => Err(fail("expects one number, as in `atr:14`")),
            }
        };
        let none = |parts: &[&str], spec: FeatureSpec| {
            if parts.len() == 1 {
                Ok(spec)
            } else {
                Err(fail("takes no parameter"))
            }
        };
        match parts[0].to_ascii_lowercase().as_str() {
            "ema" => Ok(Self::Ema(one(&parts)?)),
            "sma" => Ok(Self::Sma(one(&parts)?)),
            "tr" => none(&parts, Self::TrueRange),
            "atr" => Ok(Self::Atr(one(&parts)?)),
            "rv" => Ok(Self::RealizedVol(one(&parts)?)),
            "corr" => match parts.as_slice() {
                [_, symbol, n] if !symbol.is_empty() => {
                    Ok(Self::Correlation(Symbol::new(symbol), number(n)?))
                }
                _ => Err(fail(
                    "expects a symbol and a number, as in `corr:ETHUSDT:50`",
                )),
            },
            "mid" => none(&parts, Self::Mid),
            "spread_bps" => none(&parts, Self::SpreadBps),
            "depth" => Ok(Self::Depth(one(&parts)?)),
            "imbalance" => Ok(Self::Imbalance(one(&parts)?)),
            "vwap" => Ok(Self::Vwap(one(&parts)?)),
            other => Err(fail(&format!("unknown feature `{other}`"))),
        }
    }
}

impl std::fmt::Display for FeatureSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Ema(n) => write!(f, "ema:{n}"),
            Self::Sma(n) => write!(f, "sma:{n}"),
            Self::TrueRange => f.write_str("tr"),
            Self::Atr(n) => write!(f, "atr:{n}"),
            Self::RealizedVol(n) => write!(f, "rv:{n}"),
            Self::Correlation(s, n) => write!(f, "corr:{s}:{n}"),
            Self::Mid => f.write_str("mid"),
            Self::SpreadBps => f.write_str("spread_bps"),
            Self::Depth(n) => write!(f, "depth:{n}"),
            Self::Imbalance(n) => write!(f, "imbalance:{n}"),
            Self::Vwap(n) => write!(f, "vwap:{n}"),
        }
    }
}

impl TryFrom<String> for FeatureSpec {
    type Error = FeatureSpecError;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<FeatureSpec> for String {
    fn from(spec: FeatureSpec) -> String {
        spec.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_bad_ones_say_why() {
        for text in [
            "ema:10",
            "sma:5",
            "tr",
            "atr:14",
            "rv:20",
            "corr:ETHUSDT:50",
            "mid",
            "spread_bps",
            "depth:10",
            "imbalance:100",
            "vwap:50",
        ] {
            let spec: FeatureSpec = text.parse().expect(text);
            assert_eq!(spec.to_string(), text);
        }
        for (text, problem) in [
            ("atr", "expects one number"),
            ("atr:0", "not a whole number"),
            ("tr:3", "takes no parameter"),
            ("corr:5", "expects a symbol"),
            ("rsi:14", "unknown feature"),
        ] {
            let err = text.parse::<FeatureSpec>().expect_err(text);
            assert!(err.to_string().contains(problem), "{text}: {err}");
        }
    }
}
