//! [`TreasuryRepository`]: realised funding and wallet transfers, with the locks that keep
//! transfers of one direction one at a time.
//!
//! Idempotence: a funding record is keyed by `(account, symbol, funding_time)`, a transfer by
//! its `transfer_id`; writing either again changes nothing. A transfer's state moves by
//! compare-and-set ([`TreasuryRepository::transition`]), each move kept as a row of its
//! history, so two processes can never both think they sent it.

use crate::{Inserted, PortResult};
use async_trait::async_trait;
use chimera_kernel::ids::{Asset, Symbol};
use chimera_kernel::time::Timestamp;
use chimera_kernel::value::Amount;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Realised funding of one perpetual position at one funding time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FundingRecord {
    /// The exchange account (its configured name).
    pub account: String,
    /// Instrument.
    pub symbol: Symbol,
    /// Funding time.
    pub funding_time: Timestamp,
    /// The rate that settled, when the exchange published it.
    pub rate: Option<chimera_kernel::Decimal>,
    /// Received (+) or paid (−).
    pub amount: Amount,
    /// The asset paid in (USDT).
    pub asset: Asset,
    /// The exchange's id of the entry.
    pub venue_id: i64,
}

/// Which way money moves between wallets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferDirection {
    /// Spot wallet → USDⓈ-M futures wallet.
    SpotToUsdm,
    /// USDⓈ-M futures wallet → spot wallet.
    UsdmToSpot,
}

impl TransferDirection {
    /// Every direction.
    pub const ALL: [Self; 2] = [Self::SpotToUsdm, Self::UsdmToSpot];

    /// The canonical (serde) name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SpotToUsdm => "spot_to_usdm",
            Self::UsdmToSpot => "usdm_to_spot",
        }
    }

    /// Reads a canonical name.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str() == text)
    }
}

/// Where a transfer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferState {
    /// Recorded, not sent yet.
    Pending,
    /// Sent; the exchange's answer is awaited or was lost (resolved from its history).
    Sent,
    /// The exchange executed it.
    Confirmed,
    /// Refused, or provably never executed.
    Failed,
}

impl TransferState {
    /// The canonical (serde) name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Confirmed => "confirmed",
            Self::Failed => "failed",
        }
    }

    /// Reads a canonical name.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Pending, Self::Sent, Self::Confirmed, Self::Failed]
            .into_iter()
            .find(|s| s.as_str() == text)
    }

    /// Whether it can still change (a failed transfer may be tried again: → pending).
    pub fn is_final(self) -> bool {
        self == Self::Confirmed
    }
}

/// A transfer between wallets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferRecord {
    /// Idempotency key, chosen by whoever asks for the transfer.
    pub transfer_id: String,
    /// The exchange account (its configured name).
    pub account: String,
    /// Which way.
    pub direction: TransferDirection,
    /// What.
    pub asset: Asset,
    /// How much (> 0).
    pub amount: Amount,
    /// Where it stands.
    pub state: TransferState,
    /// The exchange's transaction id, once known.
    pub venue_tran_id: Option<i64>,
    /// Why it failed, or how it was resolved.
    pub detail: String,
    /// Created.
    pub created_at: Timestamp,
    /// Last state change.
    pub updated_at: Timestamp,
}

/// One state change of a transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferTransition {
    /// The transfer.
    pub transfer_id: String,
    /// The state entered.
    pub state: TransferState,
    /// When.
    pub at: Timestamp,
    /// Why.
    pub detail: String,
}

/// Funding records, transfers and treasury locks.
#[async_trait]
pub trait TreasuryRepository: Send + Sync {
    /// Stores a funding record; [`Inserted::Duplicate`] when one with the same
    /// `(account, symbol, funding_time)` exists.
    ///
    /// # Errors
    /// [`crate::PortError::Transient`] when the store is unreachable.
    async fn record_funding(&self, record: &FundingRecord) -> PortResult<Inserted>;

    /// `account`'s funding records at or after `since`, oldest first.
    ///
    /// # Errors
    /// As [`Self::record_funding`].
    async fn funding_records(
        &self,
        account: &str,
        since: Timestamp,
    ) -> PortResult<Vec<FundingRecord>>;

    /// Stores a new transfer (and its first transition); [`Inserted::Duplicate`] when the
    /// `transfer_id` exists (nothing changes).
    ///
    /// # Errors
    /// As [`Self::record_funding`].
    async fn create_transfer(&self, transfer: &TransferRecord) -> PortResult<Inserted>;

    /// The transfer `transfer_id`.
    ///
    /// # Errors
    /// As [`Self::record_funding`]; [`crate::PortError::Codec`] for a row that does not read.
    async fn get_transfer(&self, transfer_id: &str) -> PortResult<Option<TransferRecord>>;

    /// The transfer the exchange knows as `venue_tran_id`, if one is recorded.
    ///
    /// # Errors
    /// As [`Self::get_transfer`].
    async fn transfer_by_venue_id(&self, venue_tran_id: i64) -> PortResult<Option<TransferRecord>>;

    /// Moves `transfer_id` from `from` to `to` (setting the venue id when given), recording
    /// the transition; `false` (and nothing written) when it is not in `from`.
    ///
    /// # Errors
    /// As [`Self::record_funding`].
    async fn transition(
        &self,
        transfer_id: &str,
        from: TransferState,
        to: TransferState,
        venue_tran_id: Option<i64>,
        detail: &str,
        at: Timestamp,
    ) -> PortResult<bool>;

    /// Every transition of `transfer_id`, oldest first.
    ///
    /// # Errors
    /// As [`Self::get_transfer`].
    async fn transfer_transitions(&self, transfer_id: &str) -> PortResult<Vec<TransferTransition>>;

    /// Takes lock `name` for `holder` until `now + ttl` when it is free or expired (or already
    /// `holder`'s: extended); `false` when another holder has it.
    ///
    /// # Errors
    /// As [`Self::record_funding`].
    async fn take_lock(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
        now: Timestamp,
    ) -> PortResult<bool>;

    /// Releases lock `name` if `holder` has it; `true` when it did.
    ///
    /// # Errors
    /// As [`Self::record_funding`].
    async fn release_lock(&self, name: &str, holder: &str) -> PortResult<bool>;
}
