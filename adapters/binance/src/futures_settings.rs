//! USDⓈ-M account settings: position mode, and each symbol's leverage and margin type —
//! queried for reconciliation and start-up checks, and set from the config at connect.
//!
//! Chimera nets positions per symbol (one-way mode): orders carry no `positionSide`, which a
//! hedge-mode account refuses (`-4061`). So at connect an account in hedge mode is switched to
//! one-way, and one that cannot be (open positions or orders: `-4068`, `-4067`) stops the
//! connect with that reason. Configured leverage and margin types are applied the same way:
//! a setting Binance refuses stops the connect rather than trading on other terms.

use crate::connector::BinanceVenue;
use crate::error::BinanceError;
use crate::rest::{Auth, Cost, Method};
use crate::sign::Params;
pub use crate::symbol_settings::{MarginType, SymbolSetting};
use crate::venue::{Account, Inner};
use chimera_kernel::ids::PortfolioId;
use serde::Deserialize;
use std::collections::BTreeMap;

/// One symbol's settings as Binance has them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymbolConfig {
    /// Symbol.
    pub symbol: String,
    /// Leverage.
    pub leverage: u32,
    /// Margin type.
    pub margin_type: MarginType,
}

/// An account's settings as Binance has them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FuturesSettings {
    /// Hedge mode (`true`) or one-way.
    pub hedge_mode: bool,
    /// Per symbol.
    pub symbols: Vec<SymbolConfig>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DualSide {
    dual_side_position: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SymbolConfigBody {
    symbol: String,
    margin_type: String,
    leverage: u32,
}

const DUAL: &str = "/fapi/v1/positionSide/dual";
const LEVERAGE: &str = "/fapi/v1/leverage";
const MARGIN_TYPE: &str = "/fapi/v1/marginType";
const SYMBOL_CONFIG: &str = "/fapi/v1/symbolConfig";

impl Inner {
    pub(crate) async fn futures_settings(
        &self,
        account: &Account,
    ) -> Result<FuturesSettings, BinanceError> {
        let auth = Auth::Signed(&account.creds);
        let dual: DualSide = self
            .rest
            .call(Method::Get, DUAL, Params::new(), auth, Cost::weight(30))
            .await?;
        let bodies: Vec<SymbolConfigBody> = self
            .rest
            .call(
                Method::Get,
                SYMBOL_CONFIG,
                Params::new(),
                auth,
                Cost::weight(5),
            )
            .await?;
        let symbols = bodies
            .into_iter()
            .map(|b| {
                let margin_type = MarginType::parse(&b.margin_type).ok_or_else(|| {
                    BinanceError::Unsupported(format!(
                        "symbolConfig {}: margin type `{}`",
                        b.symbol, b.margin_type
                    ))
                })?;
                Ok(SymbolConfig {
                    symbol: b.symbol,
                    leverage: b.leverage,
                    margin_type,
                })
            })
            .collect::<Result<_, BinanceError>>()?;
        Ok(FuturesSettings {
            hedge_mode: dual.dual_side_position,
            symbols,
        })
    }

    async fn post(
        &self,
        account: &Account,
        path: &str,
        params: Params,
    ) -> Result<(), BinanceError> {
        self.rest
            .call::<serde_json::Value>(
                Method::Post,
                path,
                params,
                Auth::Signed(&account.creds),
                Cost::weight(1),
            )
            .await
            .map(drop)
    }

    /// Makes account `index` one-way with the configured symbol settings (see module docs).
    pub(crate) async fn apply_settings(
        &self,
        index: usize,
        wanted: &BTreeMap<String, SymbolSetting>,
    ) -> Result<(), BinanceError> {
        let account = &self.accounts[index];
        let current = self.futures_settings(account).await?;
        let context = |what: String| {
            move |e: BinanceError| {
                BinanceError::Unsupported(format!("accounts[{index}]: {what}: {e}"))
            }
        };
        if current.hedge_mode {
            self.post(account, DUAL, Params::new().with("dualSidePosition", "false"))
                .await
                .map_err(context(
                    "the account is in hedge mode and cannot be made one-way (Chimera nets positions per symbol)".into(),
                ))?;
        }
        for (symbol, want) in wanted {
            let have = current.symbols.iter().find(|c| &c.symbol == symbol);
            if let Some(margin) = want.margin_type {
                if have.is_none_or(|h| h.margin_type != margin) {
                    let params = Params::new()
                        .with("symbol", symbol)
                        .with("marginType", margin.as_binance());
                    self.post(account, MARGIN_TYPE, params)
                        .await
                        .map_err(context(format!(
                            "{symbol} margin type {}",
                            margin.as_binance()
                        )))?;
                }
            }
            if let Some(leverage) = want.leverage {
                if have.is_none_or(|h| h.leverage != leverage) {
                    let params = Params::new()
                        .with("symbol", symbol)
                        .with("leverage", leverage);
                    self.post(account, LEVERAGE, params)
                        .await
                        .map_err(context(format!("{symbol} leverage {leverage}")))?;
                }
            }
        }
        Ok(())
    }
}

impl BinanceVenue {
    /// The account `portfolio` trades through.
    ///
    /// # Errors
    /// No configured account trades for it.
    fn trading_account(
        &self,
        portfolio: &PortfolioId,
    ) -> Result<std::sync::Arc<Account>, BinanceError> {
        self.account(portfolio)
            .ok_or_else(|| BinanceError::Unsupported(format!("no account trades for {portfolio}")))
    }

    /// The USDⓈ-M settings of the account `portfolio` trades through.
    ///
    /// # Errors
    /// An unknown portfolio, or Binance failed.
    pub async fn futures_settings(
        &self,
        portfolio: &PortfolioId,
    ) -> Result<FuturesSettings, BinanceError> {
        let account = self.trading_account(portfolio)?;
        self.inner.futures_settings(&account).await
    }

    /// Sets `symbol`'s leverage on the account `portfolio` trades through.
    ///
    /// # Errors
    /// An unknown portfolio, or Binance refused (e.g. `-4028` for a leverage out of range).
    pub async fn set_leverage(
        &self,
        portfolio: &PortfolioId,
        symbol: &str,
        leverage: u32,
    ) -> Result<(), BinanceError> {
        let account = self.trading_account(portfolio)?;
        let params = Params::new()
            .with("symbol", symbol)
            .with("leverage", leverage);
        self.inner.post(&account, LEVERAGE, params).await
    }

    /// Sets `symbol`'s margin type on the account `portfolio` trades through.
    ///
    /// # Errors
    /// An unknown portfolio, or Binance refused (`-4046` nothing to change, `-4047`/`-4048`
    /// open orders or a position).
    pub async fn set_margin_type(
        &self,
        portfolio: &PortfolioId,
        symbol: &str,
        margin_type: MarginType,
    ) -> Result<(), BinanceError> {
        let account = self.trading_account(portfolio)?;
        let params = Params::new()
            .with("symbol", symbol)
            .with("marginType", margin_type.as_binance());
        self.inner.post(&account, MARGIN_TYPE, params).await
    }
}
