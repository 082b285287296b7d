//! Wallet transfers and funding: `POST /sapi/v1/asset/transfer`, `GET /sapi/v1/asset/transfer`
//! (universal transfer history) and `GET /fapi/v1/fundingRate` (settled rates).

use super::{decimal, opt_decimal};
use rust_decimal::Decimal;
use serde::Deserialize;

/// The answer to a universal transfer.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransferAnswer {
    /// Binance's transaction id.
    pub tran_id: i64,
}

/// A page of universal-transfer history.
#[derive(Debug, Clone, Deserialize)]
pub struct TransferHistory {
    /// Rows in the range (all pages).
    #[serde(default)]
    pub total: i64,
    /// This page's rows (absent when there are none).
    #[serde(default)]
    pub rows: Vec<TransferRow>,
}

/// One transfer in the history.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransferRow {
    /// Asset.
    pub asset: String,
    /// Amount.
    #[serde(deserialize_with = "decimal")]
    pub amount: Decimal,
    /// `MAIN_UMFUTURE`, `UMFUTURE_MAIN`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// `CONFIRMED`, `PENDING`, `FAILED`.
    pub status: String,
    /// Binance's transaction id.
    pub tran_id: i64,
    /// When, epoch ms.
    pub timestamp: i64,
}

/// A settled funding rate.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FundingRateRow {
    /// Symbol.
    pub symbol: String,
    /// Funding time, epoch ms.
    pub funding_time: i64,
    /// The rate.
    #[serde(deserialize_with = "decimal")]
    pub funding_rate: Decimal,
    /// Mark price at settlement (empty on old entries).
    #[serde(default, deserialize_with = "opt_decimal")]
    pub mark_price: Option<Decimal>,
}
