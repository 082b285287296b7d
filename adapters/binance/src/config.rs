//! [`BinanceConfig`]: which Binance product and environment, which accounts (keys) trade for
//! which portfolios, and the request settings. Deserialised with unknown fields refused;
//! [`BinanceConfig::validate`] lists every problem at once, and [`BinanceConfig::load_keys`]
//! reads the keys from the environment or from files (never from the config text itself, so a
//! config file can be committed and shared).

use crate::secret::Secret;
use serde::Deserialize;

/// Spot or USDⓈ-M perpetual futures: different hosts, paths, order rules and error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Product {
    /// Spot (`api.binance.com`, `/api/v3`).
    Spot,
    /// USDⓈ-M perpetual futures (`fapi.binance.com`, `/fapi/v1`).
    Usdm,
}

/// Which Binance: the real one, a test network, or one at addresses given in the config (the
/// project's fake, a proxy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// Real money: needs `allow_live = true`.
    Live,
    /// Binance's test networks (testnet.binance.vision, testnet.binancefuture.com).
    Testnet,
    /// Binance's demo trading (demo-api.binance.com, demo-fapi.binance.com).
    Demo,
    /// The addresses in `rest_url`, `stream_url` and `ws_api_url`.
    Custom,
}

/// How a key is signed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyType {
    /// HMAC-SHA256 with the secret key; signature in hex.
    #[default]
    Hmac,
    /// Ed25519 with a PKCS#8 PEM private key; signature in base64 (Binance's recommended kind).
    Ed25519,
}

/// One Binance account (one API key) and the portfolios that trade through it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    /// The account's name in records (funding, transfers); `account-<index>` by default.
    #[serde(default)]
    pub name: Option<String>,
    /// Portfolios whose orders go to this account (at least one; a portfolio in one account only).
    pub portfolios: Vec<String>,
    /// Environment variable holding the API key.
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// File holding the API key (outside the repository).
    #[serde(default)]
    pub api_key_file: Option<String>,
    /// Environment variable holding the secret key (HMAC) or the PEM private key (Ed25519).
    #[serde(default)]
    pub secret_env: Option<String>,
    /// File holding the secret key (HMAC) or the PEM private key (Ed25519).
    #[serde(default)]
    pub secret_file: Option<String>,
    /// How requests are signed.
    #[serde(default)]
    pub key_type: KeyType,
}

/// The connector's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BinanceConfig {
    /// Spot or USDⓈ-M.
    pub product: Product,
    /// Which Binance.
    pub environment: Environment,
    /// Trading on [`Environment::Live`] needs this set: a config copied from a test setup
    /// never trades real money by accident.
    #[serde(default)]
    pub allow_live: bool,
    /// REST base address (only with `environment = "custom"`), e.g. `http://127.0.0.1:9300`.
    #[serde(default)]
    pub rest_url: Option<String>,
    /// WebSocket stream base address (only with `custom`), e.g. `ws://127.0.0.1:9300`.
    #[serde(default)]
    pub stream_url: Option<String>,
    /// WebSocket API address (spot user data; only with `custom`), e.g.
    /// `ws://127.0.0.1:9300/ws-api/v3`.
    #[serde(default)]
    pub ws_api_url: Option<String>,
    /// Accounts and their portfolios.
    #[serde(default)]
    pub accounts: Vec<AccountConfig>,
    /// Symbols to stream market data for (`BTCUSDT`, ...).
    #[serde(default)]
    pub symbols: Vec<String>,
    /// Wallet transfers allowed (none by default).
    #[serde(default)]
    pub transfers: crate::transfer_policy::TransferPolicy,
    /// How often realised funding is fetched into `funding_records`, ms (≥ 1000; USDⓈ-M).
    #[serde(default = "default_funding_poll")]
    pub funding_poll_ms: u64,
    /// USDⓈ-M: leverage and margin type per symbol, applied at connect
    /// (`symbol_settings = { BTCUSDT = { leverage = 5, margin_type = "isolated" } }`).
    #[serde(default)]
    pub symbol_settings: std::collections::BTreeMap<String, crate::symbol_settings::SymbolSetting>,
    /// How often working orders are compared with Binance's open orders, ms (≥ 1000): what
    /// the user-data stream lost without disconnecting is found then.
    #[serde(default = "default_sweep")]
    pub sweep_ms: u64,
    /// How long after its timestamp a signed request may still be executed, ms (1..=60000).
    #[serde(default = "default_recv_window")]
    pub recv_window_ms: u64,
    /// How long a REST call may take before its outcome is treated as unknown, ms (≥ 100).
    #[serde(default = "default_timeout")]
    pub request_timeout_ms: u64,
    /// Depth stream speed: 100 (spot and futures) or 0 (futures only: real time) or 250/500
    /// (futures), ms.
    #[serde(default = "default_depth_speed")]
    pub depth_speed_ms: u64,
}

fn default_sweep() -> u64 {
    30_000
}
fn default_funding_poll() -> u64 {
    60_000
}
fn default_recv_window() -> u64 {
    5_000
}
fn default_timeout() -> u64 {
    10_000
}
fn default_depth_speed() -> u64 {
    100
}

/// The addresses a product and environment use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// REST base (no trailing slash).
    pub rest: String,
    /// WebSocket streams base (no trailing slash).
    pub stream: String,
    /// WebSocket API (spot).
    pub ws_api: String,
    /// The spot REST host, where wallet transfers live (`/sapi`) whatever the product.
    pub sapi: String,
}

/// Config problems, every one of them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid Binance configuration: {}", .problems.join("; "))]
pub struct ConfigError {
    /// One line per problem, naming the field.
    pub problems: Vec<String>,
}

/// An account's keys, read.
#[derive(Debug, Clone)]
pub struct AccountKeys {
    /// Portfolios trading through it.
    pub portfolios: Vec<String>,
    /// API key (the `X-MBX-APIKEY` header).
    pub api_key: Secret,
    /// HMAC secret or Ed25519 PEM.
    pub secret: Secret,
    /// How to sign.
    pub key_type: KeyType,
}

impl BinanceConfig {
    /// A config for the addresses of a server at `base` (`http://host:port`): the project's fake
    /// or a recording proxy. Streams and the WebSocket API are on the same host.
    pub fn custom(product: Product, base: &str) -> Self {
        let ws = base.replacen("http", "ws", 1);
        Self {
            product,
            environment: Environment::Custom,
            allow_live: false,
            rest_url: Some(base.to_owned()),
            stream_url: Some(ws.clone()),
            ws_api_url: Some(format!("{ws}/ws-api/v3")),
            accounts: Vec::new(),
            symbols: Vec::new(),
            transfers: crate::transfer_policy::TransferPolicy::default(),
            funding_poll_ms: default_funding_poll(),
            sweep_ms: default_sweep(),
            symbol_settings: std::collections::BTreeMap::new(),
            recv_window_ms: default_recv_window(),
            request_timeout_ms: default_timeout(),
            depth_speed_ms: default_depth_speed(),
        }
    }

    /// Every problem with this config.
    ///
    /// # Errors
    /// [`ConfigError`] listing each bad field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        let custom = self.environment == Environment::Custom;
        for (name, value) in [
            ("rest_url", &self.rest_url),
            ("stream_url", &self.stream_url),
            ("ws_api_url", &self.ws_api_url),
        ] {
            match (custom, value) {
                (true, None) if name != "ws_api_url" || self.product == Product::Spot => {
                    problems.push(format!("{name}: required with environment = \"custom\""));
                }
                (false, Some(_)) => problems.push(format!(
                    "{name}: only with environment = \"custom\" (the other environments have fixed addresses)"
                )),
                _ => {}
            }
        }
        if self.environment == Environment::Live && !self.allow_live {
            problems.push(
                "allow_live: environment = \"live\" trades real money; set allow_live = true to mean it"
                    .to_owned(),
            );
        }
        if !(1..=60_000).contains(&self.recv_window_ms) {
            problems.push(format!(
                "recv_window_ms: {} is outside 1..=60000",
                self.recv_window_ms
            ));
        }
        if self.request_timeout_ms < 100 {
            problems.push(format!(
                "request_timeout_ms: {} is below 100",
                self.request_timeout_ms
            ));
        }
        let speeds: &[u64] = match self.product {
            Product::Spot => &[100, 1000],
            Product::Usdm => &[0, 100, 250, 500],
        };
        if !speeds.contains(&self.depth_speed_ms) {
            problems.push(format!(
                "depth_speed_ms: {} is not one of {speeds:?} for this product",
                self.depth_speed_ms
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, account) in self.accounts.iter().enumerate() {
            if account.portfolios.is_empty() {
                problems.push(format!("accounts[{i}].portfolios: name at least one"));
            }
            for p in &account.portfolios {
                if !seen.insert(p.clone()) {
                    problems.push(format!(
                        "accounts[{i}].portfolios: `{p}` is already in another account"
                    ));
                }
            }
            for (what, env, file) in [
                ("api_key", &account.api_key_env, &account.api_key_file),
                ("secret", &account.secret_env, &account.secret_file),
            ] {
                if env.is_some() == file.is_some() {
                    problems.push(format!(
                        "accounts[{i}]: give exactly one of {what}_env and {what}_file"
                    ));
                }
            }
        }
        for s in &self.symbols {
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
                problems.push(format!("symbols: `{s}` is not a Binance symbol"));
            }
        }
        problems.extend(self.transfers.problems());
        if self.product == Product::Spot && !self.symbol_settings.is_empty() {
            problems.push("symbol_settings: leverage and margin type are USDⓈ-M settings".into());
        }
        for (symbol, setting) in &self.symbol_settings {
            if setting.leverage.is_some_and(|l| !(1..=125).contains(&l)) {
                problems.push(format!(
                    "symbol_settings.{symbol}.leverage: must be 1..=125"
                ));
            }
        }
        if self.sweep_ms < 1_000 {
            problems.push(format!("sweep_ms: {} is below 1000", self.sweep_ms));
        }
        if self.funding_poll_ms < 1_000 {
            problems.push(format!(
                "funding_poll_ms: {} is below 1000",
                self.funding_poll_ms
            ));
        }
        let mut names = std::collections::BTreeSet::new();
        for i in 0..self.accounts.len() {
            let name = self.account_name(i);
            if !names.insert(name.clone()) {
                problems.push(format!("accounts[{i}].name: `{name}` is used twice"));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError { problems })
        }
    }

    /// The addresses to use.
    pub fn endpoints(&self) -> Endpoints {
        let fixed = |rest: &str, stream: &str, ws_api: &str| Endpoints {
            rest: rest.to_owned(),
            stream: stream.to_owned(),
            ws_api: ws_api.to_owned(),
            sapi: match (self.environment, self.product) {
                (Environment::Live, _) => "https://api.binance.com",
                (Environment::Testnet, _) => "https://testnet.binance.vision",
                _ => "https://demo-api.binance.com",
            }
            .to_owned(),
        };
        let trim = |s: &Option<String>| s.as_deref().unwrap_or("").trim_end_matches('/').to_owned();
        match (self.environment, self.product) {
            (Environment::Custom, _) => Endpoints {
                rest: trim(&self.rest_url),
                stream: trim(&self.stream_url),
                ws_api: trim(&self.ws_api_url),
                sapi: trim(&self.rest_url),
            },
            (Environment::Live, Product::Spot) => fixed(
                "https://api.binance.com",
                "wss://stream.binance.com:9443",
                "wss://ws-api.binance.com:443/ws-api/v3",
            ),
            (Environment::Testnet, Product::Spot) => fixed(
                "https://testnet.binance.vision",
                "wss://stream.testnet.binance.vision",
                "wss://ws-api.testnet.binance.vision/ws-api/v3",
            ),
            (Environment::Demo, Product::Spot) => fixed(
                "https://demo-api.binance.com",
                "wss://demo-stream.binance.com",
                "wss://demo-ws-api.binance.com/ws-api/v3",
            ),
            (Environment::Live, Product::Usdm) => fixed(
                "https://fapi.binance.com",
                "wss://fstream.binance.com",
                "wss://ws-fapi.binance.com/ws-fapi/v1",
            ),
            (Environment::Testnet | Environment::Demo, Product::Usdm) => fixed(
                "https://demo-fapi.binance.com",
                "wss://fstream.binancefuture.com",
                "wss://testnet.binancefuture.com/ws-fapi/v1",
            ),
        }
    }

    /// The name of account `index` in records: its `name`, else `account-<index>`.
    pub fn account_name(&self, index: usize) -> String {
        self.accounts
            .get(index)
            .and_then(|a| a.name.clone())
            .unwrap_or_else(|| format!("account-{index}"))
    }

    /// Reads every account's keys.
    ///
    /// # Errors
    /// [`ConfigError`] naming each variable that is unset or file that cannot be read.
    pub fn load_keys(&self) -> Result<Vec<AccountKeys>, ConfigError> {
        let mut problems = Vec::new();
        let mut out = Vec::new();
        for (i, account) in self.accounts.iter().enumerate() {
            let mut read = |what: &str, env: &Option<String>, file: &Option<String>| {
                let text = match (env, file) {
                    (Some(var), _) => std::env::var(var)
                        .map_err(|_| format!("accounts[{i}].{what}_env: `{var}` is not set")),
                    (None, Some(path)) => std::fs::read_to_string(path).map_err(|e| {
                        format!("accounts[{i}].{what}_file: cannot read `{path}`: {e}")
                    }),
                    (None, None) => Err(format!("accounts[{i}]: no {what} given")),
                };
                match text.map(|t| Secret::new(t.trim())) {
                    Ok(s) if !s.is_empty() => Some(s),
                    Ok(_) => {
                        problems.push(format!("accounts[{i}]: the {what} is empty"));
                        None
                    }
                    Err(p) => {
                        problems.push(p);
                        None
                    }
                }
            };
            let api_key = read("api_key", &account.api_key_env, &account.api_key_file);
            let secret = read("secret", &account.secret_env, &account.secret_file);
            if let (Some(api_key), Some(secret)) = (api_key, secret) {
                out.push(AccountKeys {
                    portfolios: account.portfolios.clone(),
                    api_key,
                    secret,
                    key_type: account.key_type,
                });
            }
        }
        if problems.is_empty() {
            Ok(out)
        } else {
            Err(ConfigError { problems })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_listed() {
        let text = r#"
            product = "usdm"
            environment = "live"
            rest_url = "http://x"
            recv_window_ms = 0
            depth_speed_ms = 1000
            symbols = ["BTC-USDT"]
            [[accounts]]
            portfolios = []
            api_key_env = "A"
            api_key_file = "f"
        "#;
        let config: BinanceConfig = toml::from_str(text).expect("parses");
        let err = config.validate().expect_err("bad");
        let joined = err.problems.join("\n");
        for field in [
            "rest_url",
            "allow_live",
            "recv_window_ms",
            "depth_speed_ms",
            "symbols",
            "portfolios",
            "api_key_env and api_key_file",
            "secret_env and secret_file",
        ] {
            assert!(joined.contains(field), "{field} missing from:\n{joined}");
        }
    }

    #[test]
    fn custom_addresses_come_from_the_config() {
        let c = BinanceConfig::custom(Product::Spot, "http://127.0.0.1:9300");
        c.validate().expect("valid");
        let e = c.endpoints();
        assert_eq!(e.rest, "http://127.0.0.1:9300");
        assert_eq!(e.stream, "ws://127.0.0.1:9300");
        assert_eq!(e.ws_api, "ws://127.0.0.1:9300/ws-api/v3");
    }
}
