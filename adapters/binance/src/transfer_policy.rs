//! [`TransferPolicy`]: which wallet transfers the connector may make, and how much at most.
//! Nothing is allowed unless the config says so.

use chimera_ports::TransferDirection;
use rust_decimal::Decimal;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Wallet-transfer limits (`[gateway.venue.transfers]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferPolicy {
    /// Directions allowed (`spot_to_usdm`, `usdm_to_spot`); none by default.
    #[serde(default)]
    pub directions: Vec<TransferDirection>,
    /// Largest amount of one transfer per asset (`{ USDT = "50000" }`); an asset not listed
    /// cannot be transferred.
    #[serde(default)]
    pub max_amount: BTreeMap<String, Decimal>,
    /// How long a direction's lock holds without being released, ms (a crashed transferrer
    /// blocks that direction this long at most).
    #[serde(default = "default_lock_ttl")]
    pub lock_ttl_ms: u64,
}

fn default_lock_ttl() -> u64 {
    60_000
}

impl Default for TransferPolicy {
    fn default() -> Self {
        Self {
            directions: Vec::new(),
            max_amount: BTreeMap::new(),
            lock_ttl_ms: default_lock_ttl(),
        }
    }
}

impl TransferPolicy {
    /// Problems with the policy itself, each naming its field.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (asset, max) in &self.max_amount {
            if *max <= Decimal::ZERO {
                problems.push(format!("transfers.max_amount.{asset}: must be > 0"));
            }
        }
        if self.lock_ttl_ms < 1_000 {
            problems.push(format!(
                "transfers.lock_ttl_ms: {} is below 1000",
                self.lock_ttl_ms
            ));
        }
        problems
    }

    /// Whether a transfer of `amount` `asset` in `direction` is allowed.
    ///
    /// # Errors
    /// Why not, for people.
    pub fn check(
        &self,
        direction: TransferDirection,
        asset: &str,
        amount: Decimal,
    ) -> Result<(), String> {
        if !self.directions.contains(&direction) {
            return Err(format!(
                "transfers {} are not allowed (transfers.directions)",
                direction.as_str()
            ));
        }
        if amount <= Decimal::ZERO {
            return Err(format!("amount {amount} must be > 0"));
        }
        match self.max_amount.get(asset) {
            None => Err(format!(
                "{asset} cannot be transferred (not in transfers.max_amount)"
            )),
            Some(max) if amount > *max => Err(format!(
                "{amount} {asset} is over the limit of {max} (transfers.max_amount)"
            )),
            Some(_) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_the_policy_names_is_allowed() {
        let policy: TransferPolicy =
            toml::from_str("directions = [\"spot_to_usdm\"]\nmax_amount = { USDT = \"1000\" }")
                .expect("policy");
        let d = |s: &str| s.parse::<Decimal>().expect("decimal");
        assert!(policy
            .check(TransferDirection::SpotToUsdm, "USDT", d("1000"))
            .is_ok());
        assert!(policy
            .check(TransferDirection::SpotToUsdm, "USDT", d("1000.01"))
            .is_err());
        assert!(policy
            .check(TransferDirection::UsdmToSpot, "USDT", d("1"))
            .is_err());
        assert!(policy
            .check(TransferDirection::SpotToUsdm, "BTC", d("1"))
            .is_err());
        assert!(policy
            .check(TransferDirection::SpotToUsdm, "USDT", d("0"))
            .is_err());
        assert!(TransferPolicy::default().problems().is_empty());
    }
}
