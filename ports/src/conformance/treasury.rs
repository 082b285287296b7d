//! [`TreasuryRepository`]: funding idempotent by `(account, symbol, time)`, transfers by id,
//! state moves by compare-and-set with their history, locks exclusive until they expire.

use crate::{
    FundingRecord, Inserted, TransferDirection, TransferRecord, TransferState, TreasuryRepository,
};
use chimera_kernel::ids::{Asset, Symbol};
use chimera_kernel::time::Timestamp;
use chimera_kernel::value::Amount;
use chimera_kernel::Decimal;
use std::time::Duration;

/// Runs the suite; `prefix` keeps its accounts, ids and locks apart from other runs.
///
/// # Panics
/// When the repository breaks the contract.
pub async fn treasury_repository_suite(repo: &dyn TreasuryRepository, prefix: &str) {
    funding_is_idempotent(repo, prefix).await;
    transfers_move_by_compare_and_set(repo, prefix).await;
    locks_are_exclusive_until_they_expire(repo, prefix).await;
}

async fn funding_is_idempotent(repo: &dyn TreasuryRepository, prefix: &str) {
    let account = format!("{prefix}-acct");
    let record = |t: i64, amount: i64| FundingRecord {
        account: account.clone(),
        symbol: Symbol::new("BTCUSDT"),
        funding_time: Timestamp(t),
        rate: Some(Decimal::new(1, 4)),
        amount: Amount::new(Decimal::new(amount, 4)),
        asset: Asset::new("USDT"),
        venue_id: t,
    };
    let first = record(28_800_000, -12_345);
    assert_eq!(
        repo.record_funding(&first).await.expect("record"),
        Inserted::New
    );
    assert_eq!(
        repo.record_funding(&first).await.expect("record again"),
        Inserted::Duplicate,
        "the same (account, symbol, time) is stored once"
    );
    let second = FundingRecord {
        rate: None,
        ..record(57_600_000, 6_789)
    };
    repo.record_funding(&second).await.expect("record");
    let all = repo
        .funding_records(&account, Timestamp(0))
        .await
        .expect("read");
    assert_eq!(all, vec![first, second.clone()], "lossless, oldest first");
    let recent = repo
        .funding_records(&account, Timestamp(57_600_000))
        .await
        .expect("read");
    assert_eq!(recent, vec![second], "since is inclusive");
    assert!(repo
        .funding_records(&format!("{prefix}-other"), Timestamp(0))
        .await
        .expect("read")
        .is_empty());
}

async fn transfers_move_by_compare_and_set(repo: &dyn TreasuryRepository, prefix: &str) {
    let id = format!("{prefix}-t1");
    let transfer = TransferRecord {
        transfer_id: id.clone(),
        account: "main".into(),
        direction: TransferDirection::SpotToUsdm,
        asset: Asset::new("USDT"),
        amount: Amount::new(Decimal::new(25_005, 1)),
        state: TransferState::Pending,
        venue_tran_id: None,
        detail: "asked by ops «cli»".into(),
        created_at: Timestamp(1_000),
        updated_at: Timestamp(1_000),
    };
    assert_eq!(
        repo.create_transfer(&transfer).await.expect("create"),
        Inserted::New
    );
    let again = TransferRecord {
        amount: Amount::new(Decimal::ONE),
        ..transfer.clone()
    };
    assert_eq!(
        repo.create_transfer(&again).await.expect("create again"),
        Inserted::Duplicate
    );
    assert_eq!(
        repo.get_transfer(&id).await.expect("get"),
        Some(transfer.clone())
    );
    assert!(
        !repo
            .transition(
                &id,
                TransferState::Sent,
                TransferState::Confirmed,
                None,
                "x",
                Timestamp(2_000)
            )
            .await
            .expect("transition"),
        "not in the expected state: nothing changes"
    );
    assert!(repo
        .transition(
            &id,
            TransferState::Pending,
            TransferState::Sent,
            None,
            "sent",
            Timestamp(2_000)
        )
        .await
        .expect("transition"));
    assert!(
        !repo
            .transition(
                &id,
                TransferState::Pending,
                TransferState::Sent,
                None,
                "twice",
                Timestamp(2_001)
            )
            .await
            .expect("transition"),
        "only one sender wins"
    );
    assert!(repo
        .transition(
            &id,
            TransferState::Sent,
            TransferState::Confirmed,
            Some(987_654_321_012),
            "answered",
            Timestamp(3_000)
        )
        .await
        .expect("transition"));
    let done = repo.get_transfer(&id).await.expect("get").expect("exists");
    assert_eq!(done.state, TransferState::Confirmed);
    assert_eq!(done.venue_tran_id, Some(987_654_321_012));
    assert_eq!(done.updated_at, Timestamp(3_000));
    assert_eq!(done.detail, "answered");
    assert_eq!(
        repo.transfer_by_venue_id(987_654_321_012)
            .await
            .expect("by venue id"),
        Some(done)
    );
    assert_eq!(
        repo.transfer_by_venue_id(1).await.expect("by venue id"),
        None
    );
    let states: Vec<_> = repo
        .transfer_transitions(&id)
        .await
        .expect("history")
        .into_iter()
        .map(|t| (t.state, t.at.0))
        .collect();
    assert_eq!(
        states,
        vec![
            (TransferState::Pending, 1_000),
            (TransferState::Sent, 2_000),
            (TransferState::Confirmed, 3_000)
        ]
    );
    assert_eq!(
        repo.get_transfer(&format!("{prefix}-none"))
            .await
            .expect("get"),
        None
    );
}

async fn locks_are_exclusive_until_they_expire(repo: &dyn TreasuryRepository, prefix: &str) {
    let name = format!("{prefix}-lock:spot_to_usdm");
    let ttl = Duration::from_secs(30);
    assert!(repo
        .take_lock(&name, "a", ttl, Timestamp(0))
        .await
        .expect("lock"));
    assert!(
        !repo
            .take_lock(&name, "b", ttl, Timestamp(10_000))
            .await
            .expect("lock"),
        "held by a"
    );
    assert!(
        repo.take_lock(&name, "a", ttl, Timestamp(10_000))
            .await
            .expect("lock"),
        "the holder extends it"
    );
    assert!(
        !repo
            .take_lock(&name, "b", ttl, Timestamp(39_000))
            .await
            .expect("lock"),
        "extended to 40 s"
    );
    assert!(
        repo.take_lock(&name, "b", ttl, Timestamp(40_000))
            .await
            .expect("lock"),
        "expired: b takes it"
    );
    assert!(
        !repo.release_lock(&name, "a").await.expect("release"),
        "not a's any more"
    );
    assert!(repo.release_lock(&name, "b").await.expect("release"));
    assert!(repo
        .take_lock(&name, "c", ttl, Timestamp(40_001))
        .await
        .expect("lock"));
    assert!(repo.release_lock(&name, "c").await.expect("release"));
}
