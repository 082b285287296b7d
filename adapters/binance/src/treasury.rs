//! [`BinanceTreasury`]: the account-level calls around trading: wallet transfers between spot
//! and USDⓈ-M (universal transfer on the spot host, `/sapi/v1/asset/transfer`), their
//! history, and realised funding (`/fapi/v1/income` with the settled rates of
//! `/fapi/v1/fundingRate`).
//!
//! A universal transfer carries no client id: an answer that never came is resolved from the
//! transfer history (see `chimera_runtime::treasury`), which is why transfers of one
//! direction run one at a time.

use crate::codec::rest::Income;
use crate::codec::treasury::{FundingRateRow, TransferAnswer, TransferHistory, TransferRow};
use crate::config::{BinanceConfig, Product};
use crate::error::BinanceError;
use crate::paths::{self, Paths};
use crate::rest::{Auth, Cost, Credentials, Method, RestClient};
use crate::sign::Params;
use crate::transfer_policy::TransferPolicy;
use chimera_kernel::ids::{Asset, Symbol};
use chimera_kernel::time::Timestamp;
use chimera_kernel::value::Amount;
use chimera_ports::{FundingRecord, TransferDirection};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::time::Duration;

/// Universal transfer and its history.
const TRANSFER_PATH: &str = "/sapi/v1/asset/transfer";
/// Settled funding rates.
const FUNDING_RATE_PATH: &str = "/fapi/v1/fundingRate";

/// Binance's name of a direction.
pub fn transfer_type(direction: TransferDirection) -> &'static str {
    match direction {
        TransferDirection::SpotToUsdm => "MAIN_UMFUTURE",
        TransferDirection::UsdmToSpot => "UMFUTURE_MAIN",
    }
}

/// Transfers and funding for the configured accounts.
pub struct BinanceTreasury {
    sapi: RestClient,
    product_rest: RestClient,
    product: Product,
    accounts: Vec<(String, Credentials)>,
    policy: TransferPolicy,
    recv_window_ms: u64,
}

impl std::fmt::Debug for BinanceTreasury {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BinanceTreasury")
            .field("accounts", &self.account_names())
            .finish_non_exhaustive()
    }
}

impl BinanceTreasury {
    /// Reads the keys and measures the server time on both hosts.
    ///
    /// # Errors
    /// A bad config or key, or Binance unreachable.
    pub async fn connect(config: &BinanceConfig) -> Result<Self, BinanceError> {
        let keys = crate::rest::account_credentials(config)?;
        let endpoints = config.endpoints();
        let timeout = Duration::from_millis(config.request_timeout_ms);
        let sapi = RestClient::new(
            &endpoints.sapi,
            paths::SPOT.time,
            config.recv_window_ms,
            timeout,
        )?;
        let paths = Paths::of(config.product);
        let product_rest =
            RestClient::new(&endpoints.rest, paths.time, config.recv_window_ms, timeout)?;
        sapi.sync_time().await?;
        product_rest.sync_time().await?;
        let accounts = keys
            .into_iter()
            .enumerate()
            .map(|(i, (_, creds))| (config.account_name(i), creds))
            .collect();
        Ok(Self {
            sapi,
            product_rest,
            product: config.product,
            accounts,
            policy: config.transfers.clone(),
            recv_window_ms: config.recv_window_ms,
        })
    }

    /// The accounts' names.
    pub fn account_names(&self) -> Vec<String> {
        self.accounts.iter().map(|(n, _)| n.clone()).collect()
    }

    /// What transfers are allowed.
    pub fn policy(&self) -> &TransferPolicy {
        &self.policy
    }

    /// How long after its timestamp Binance may still execute a signed request.
    pub fn recv_window(&self) -> Duration {
        Duration::from_millis(self.recv_window_ms)
    }

    /// A ban (429/418) met by the treasury's requests, if one is in force: `(until, status)`.
    pub fn banned(&self) -> Option<(i64, u16)> {
        self.sapi.banned().or_else(|| self.product_rest.banned())
    }

    /// Binance's clock as estimated (epoch ms).
    pub fn server_now(&self) -> i64 {
        self.sapi.server_now()
    }

    fn creds(&self, account: &str) -> Result<&Credentials, BinanceError> {
        self.accounts
            .iter()
            .find(|(n, _)| n == account)
            .map(|(_, c)| c)
            .ok_or_else(|| BinanceError::Unsupported(format!("no account named `{account}`")))
    }

    /// Moves `amount` of `asset` in `direction`; Binance's transaction id. Policy is the
    /// caller's to check ([`TransferPolicy::check`]).
    ///
    /// # Errors
    /// See [`BinanceError`]; when [`BinanceError::outcome_unknown`], the transfer may have
    /// happened: look in [`Self::history`] before anything else.
    pub async fn transfer(
        &self,
        account: &str,
        direction: TransferDirection,
        asset: &str,
        amount: Decimal,
    ) -> Result<i64, BinanceError> {
        let params = Params::new()
            .with("type", transfer_type(direction))
            .with("asset", asset)
            .with("amount", amount.normalize());
        let answer: TransferAnswer = self
            .sapi
            .call(
                Method::Post,
                TRANSFER_PATH,
                params,
                Auth::Signed(self.creds(account)?),
                Cost::weight(1),
            )
            .await?;
        Ok(answer.tran_id)
    }

    /// `account`'s transfers in `direction` since `since_ms`, oldest first.
    ///
    /// # Errors
    /// See [`BinanceError`].
    pub async fn history(
        &self,
        account: &str,
        direction: TransferDirection,
        since_ms: i64,
    ) -> Result<Vec<TransferRow>, BinanceError> {
        let params = Params::new()
            .with("type", transfer_type(direction))
            .with("startTime", since_ms)
            .with("size", 100);
        let page: TransferHistory = self
            .sapi
            .call(
                Method::Get,
                TRANSFER_PATH,
                params,
                Auth::Signed(self.creds(account)?),
                Cost::weight(1),
            )
            .await?;
        let mut rows = page.rows;
        rows.sort_by_key(|r| (r.timestamp, r.tran_id));
        Ok(rows)
    }

    /// `account`'s realised funding since `since_ms` (USDⓈ-M; nothing on spot), with the rate
    /// that settled when Binance publishes it, oldest first.
    ///
    /// # Errors
    /// See [`BinanceError`].
    pub async fn funding(
        &self,
        account: &str,
        since_ms: i64,
    ) -> Result<Vec<FundingRecord>, BinanceError> {
        if self.product != Product::Usdm {
            return Ok(Vec::new());
        }
        let params = Params::new()
            .with("incomeType", "FUNDING_FEE")
            .with("startTime", since_ms)
            .with("limit", 1000);
        let income: Vec<Income> = self
            .product_rest
            .call(
                Method::Get,
                paths::USDM_INCOME,
                params,
                Auth::Signed(self.creds(account)?),
                Cost::weight(30),
            )
            .await?;
        let mut rates: BTreeMap<String, Vec<FundingRateRow>> = BTreeMap::new();
        for symbol in income
            .iter()
            .map(|i| i.symbol.clone())
            .collect::<std::collections::BTreeSet<_>>()
        {
            let params = Params::new()
                .with("symbol", &symbol)
                .with("startTime", since_ms - 60_000)
                .with("limit", 1000);
            let rows: Vec<FundingRateRow> = self
                .product_rest
                .call(
                    Method::Get,
                    FUNDING_RATE_PATH,
                    params,
                    Auth::None,
                    Cost::weight(1),
                )
                .await?;
            rates.insert(symbol, rows);
        }
        let mut out: Vec<FundingRecord> = income
            .into_iter()
            .filter(|i| i.income_type == "FUNDING_FEE")
            .map(|i| {
                // The rate settled at the funding time nearest the entry (within a minute).
                let rate = rates.get(&i.symbol).and_then(|rows| {
                    rows.iter()
                        .filter(|r| (r.funding_time - i.time).abs() <= 60_000)
                        .min_by_key(|r| (r.funding_time - i.time).abs())
                        .map(|r| r.funding_rate)
                });
                FundingRecord {
                    account: account.to_owned(),
                    symbol: Symbol::new(&i.symbol),
                    funding_time: Timestamp(i.time),
                    rate,
                    amount: Amount::new(i.income),
                    asset: Asset::new(&i.asset),
                    venue_id: i.tran_id.unwrap_or(i.time),
                }
            })
            .collect();
        out.sort_by_key(|r| (r.funding_time, r.symbol.as_str().to_owned()));
        Ok(out)
    }
}
