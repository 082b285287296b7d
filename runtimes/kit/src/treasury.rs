//! Running a wallet transfer safely, and recording realised funding.
//!
//! A transfer is idempotent by its `transfer_id`:
//! 1. the policy is checked (direction allowed, amount within the asset's limit);
//! 2. the transfer is recorded `pending` (asking again with the same id finds it: a confirmed
//!    one is returned as it is, a failed one is tried again, different terms are refused);
//! 3. the direction's lock is taken, waiting up to 3 s for it (one transfer per account and
//!    direction at a time, so an answer that never came can be matched in the history
//!    unambiguously; the same transfer asked twice at once waits for the first run's outcome);
//! 4. `pending → sent` by compare-and-set (only one process sends), then the call;
//! 5. an answer confirms it, a refusal fails it; no answer (timeout, 5xx) is resolved from
//!    Binance's transfer history: the row of the same asset and amount not claimed by another
//!    transfer confirms it; none after the receive window (Binance can no longer execute the
//!    request) fails it. Nothing is ever sent twice for one id while its fate is unknown.

use chimera_binance::{BinanceError, BinanceTreasury};
use chimera_kernel::ids::Asset;
use chimera_kernel::time::Timestamp;
use chimera_kernel::value::Amount;
use chimera_ports::{
    FundingRecord, Inserted, PortError, TransferDirection, TransferRecord, TransferState,
    TreasuryRepository,
};
use rust_decimal::Decimal;
use std::time::Duration;

/// A transfer asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferRequest {
    /// Idempotency key.
    pub transfer_id: String,
    /// The account (its configured name); the first account when `None`.
    pub account: Option<String>,
    /// Which way.
    pub direction: TransferDirection,
    /// What.
    pub asset: String,
    /// How much.
    pub amount: Decimal,
}

/// Why a transfer did not run.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    /// The policy or the request forbids it.
    #[error("transfer refused: {0}")]
    Refused(String),
    /// The id exists with other terms.
    #[error("transfer {0} exists with other terms")]
    Conflict(String),
    /// Another transfer of the direction holds its lock.
    #[error("another {0} transfer is in progress; try again later")]
    Busy(String),
    /// The database failed.
    #[error("treasury records")]
    Store(#[source] PortError),
    /// Binance failed in a way that leaves nothing unknown (the record says what happened).
    #[error("Binance")]
    Venue(#[source] BinanceError),
}

fn now() -> Timestamp {
    crate::runtime::wall_clock()
}

fn store(e: PortError) -> TransferError {
    TransferError::Store(e)
}

/// Runs `request` to a known outcome where possible (see the module docs). Returns the
/// record: `confirmed`, `failed` (with why), or `sent` when its fate could not be learned yet
/// (running it again resolves it).
///
/// # Errors
/// [`TransferError`]; the records stay consistent whatever fails.
pub async fn run_transfer(
    repo: &dyn TreasuryRepository,
    venue: &BinanceTreasury,
    request: &TransferRequest,
    holder: &str,
) -> Result<TransferRecord, TransferError> {
    let account = match &request.account {
        Some(a) if venue.account_names().contains(a) => a.clone(),
        Some(a) => return Err(TransferError::Refused(format!("no account named `{a}`"))),
        None => venue
            .account_names()
            .into_iter()
            .next()
            .ok_or_else(|| TransferError::Refused("no account configured".into()))?,
    };
    venue
        .policy()
        .check(request.direction, &request.asset, request.amount)
        .map_err(TransferError::Refused)?;
    let at = now();
    let wanted = TransferRecord {
        transfer_id: request.transfer_id.clone(),
        account: account.clone(),
        direction: request.direction,
        asset: Asset::new(&request.asset),
        amount: Amount::new(request.amount),
        state: TransferState::Pending,
        venue_tran_id: None,
        detail: "requested".into(),
        created_at: at,
        updated_at: at,
    };
    if repo.create_transfer(&wanted).await.map_err(store)? == Inserted::Duplicate {
        let existing = load(repo, &request.transfer_id).await?;
        let same = existing.account == wanted.account
            && existing.direction == wanted.direction
            && existing.asset == wanted.asset
            && existing.amount.get() == wanted.amount.get();
        if !same {
            return Err(TransferError::Conflict(request.transfer_id.clone()));
        }
        match existing.state {
            TransferState::Confirmed => return Ok(existing),
            TransferState::Failed => {
                repo.transition(
                    &existing.transfer_id,
                    TransferState::Failed,
                    TransferState::Pending,
                    None,
                    "tried again",
                    now(),
                )
                .await
                .map_err(store)?;
            }
            TransferState::Pending | TransferState::Sent => {}
        }
    }
    let lock = format!("binance:{account}:{}", request.direction.as_str());
    // Unique per run: two runs in one process exclude each other too.
    let holder = format!(
        "{holder}#{}",
        RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let ttl = Duration::from_millis(venue.policy().lock_ttl_ms);
    let waited_until = std::time::Instant::now() + LOCK_WAIT.min(ttl);
    while !repo
        .take_lock(&lock, &holder, ttl, now())
        .await
        .map_err(store)?
    {
        if std::time::Instant::now() >= waited_until {
            return Err(TransferError::Busy(request.direction.as_str().to_owned()));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let outcome = send_or_resolve(repo, venue, &request.transfer_id).await;
    repo.release_lock(&lock, &holder).await.map_err(store)?;
    outcome
}

/// Runs started by this process, numbering lock holders.
static RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How long a run waits for the direction's lock before answering busy.
const LOCK_WAIT: Duration = Duration::from_secs(3);

async fn load(repo: &dyn TreasuryRepository, id: &str) -> Result<TransferRecord, TransferError> {
    repo.get_transfer(id)
        .await
        .map_err(store)?
        .ok_or_else(|| TransferError::Refused(format!("transfer {id} vanished")))
}

async fn send_or_resolve(
    repo: &dyn TreasuryRepository,
    venue: &BinanceTreasury,
    id: &str,
) -> Result<TransferRecord, TransferError> {
    let record = load(repo, id).await?;
    if record.state == TransferState::Pending {
        let sent_at = now();
        let detail = format!("sent at {}", sent_at.0);
        if !repo
            .transition(
                id,
                TransferState::Pending,
                TransferState::Sent,
                None,
                &detail,
                sent_at,
            )
            .await
            .map_err(store)?
        {
            // Someone else sent it (its lock expired under it): learn how it ended.
            return resolve(repo, venue, id).await;
        }
        let answer = venue
            .transfer(
                &record.account,
                record.direction,
                record.asset.as_str(),
                record.amount.get(),
            )
            .await;
        match answer {
            Ok(tran_id) => {
                repo.transition(
                    id,
                    TransferState::Sent,
                    TransferState::Confirmed,
                    Some(tran_id),
                    "answered",
                    now(),
                )
                .await
                .map_err(store)?;
                return load(repo, id).await;
            }
            Err(e) if !e.outcome_unknown() => {
                let why = format!("refused: {e}");
                repo.transition(
                    id,
                    TransferState::Sent,
                    TransferState::Failed,
                    None,
                    &why,
                    now(),
                )
                .await
                .map_err(store)?;
                return Err(TransferError::Venue(e));
            }
            Err(e) => {
                tracing::warn!(transfer = id, error = %e, "transfer: no answer; resolving from the history");
            }
        }
    }
    resolve(repo, venue, id).await
}

/// Settles a `sent` transfer from Binance's history.
async fn resolve(
    repo: &dyn TreasuryRepository,
    venue: &BinanceTreasury,
    id: &str,
) -> Result<TransferRecord, TransferError> {
    let record = load(repo, id).await?;
    if record.state != TransferState::Sent {
        return Ok(record);
    }
    let sent_at = record.updated_at.0;
    let give_up =
        sent_at + i64::try_from(venue.recv_window().as_millis()).unwrap_or(60_000) + 2_000;
    loop {
        let rows = match venue
            .history(&record.account, record.direction, sent_at - 60_000)
            .await
        {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(transfer = id, error = %e, "transfer: history unavailable");
                Vec::new()
            }
        };
        for row in rows
            .iter()
            .filter(|r| r.asset == record.asset.as_str() && r.amount == record.amount.get())
        {
            let claimed = repo
                .transfer_by_venue_id(row.tran_id)
                .await
                .map_err(store)?;
            if claimed.is_some_and(|c| c.transfer_id != id) {
                continue;
            }
            let (to, detail) = match row.status.as_str() {
                "CONFIRMED" => (TransferState::Confirmed, "found in the transfer history"),
                "FAILED" => (TransferState::Failed, "failed, says the transfer history"),
                _ => continue, // PENDING: look again
            };
            repo.transition(
                id,
                TransferState::Sent,
                to,
                Some(row.tran_id),
                detail,
                now(),
            )
            .await
            .map_err(store)?;
            return load(repo, id).await;
        }
        if now().0 > give_up && venue.server_now() > give_up {
            repo.transition(
                id,
                TransferState::Sent,
                TransferState::Failed,
                None,
                "not executed: absent from the transfer history after the receive window",
                now(),
            )
            .await
            .map_err(store)?;
            return load(repo, id).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Records `account`'s realised funding since the last recorded entry (or the last 7 days);
/// how many entries were new.
///
/// # Errors
/// Binance or the database failed (nothing is lost: the next run asks again).
pub async fn record_funding(
    repo: &dyn TreasuryRepository,
    venue: &BinanceTreasury,
    account: &str,
) -> anyhow::Result<u64> {
    let week_ago = now().0 - 7 * 86_400_000;
    let known = repo.funding_records(account, Timestamp(week_ago)).await?;
    let since = known.last().map_or(week_ago, |r| r.funding_time.0 + 1);
    let mut new = 0;
    for record in venue.funding(account, since).await? {
        let record: FundingRecord = record;
        if repo.record_funding(&record).await? == Inserted::New {
            new += 1;
        }
    }
    Ok(new)
}
