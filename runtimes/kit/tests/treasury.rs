//! Wallet transfers and funding records against the fake Binance: idempotent by transfer id,
//! limits enforced, a lost answer or a 5xx resolved from the transfer history without a second
//! transfer, a request lost on the way failed after the receive window and then retried, one
//! transfer per direction at a time; realised funding recorded once per funding time.
#![allow(clippy::unwrap_used, reason = "tests")]

use chimera_binance::{AccountConfig, BinanceConfig, BinanceTreasury, Product};
use chimera_fake_binance::faults::Faults;
use chimera_fake_binance::state::NewOrder;
use chimera_fake_binance::{Fake, FakeConfig, FakeProduct};
use chimera_kernel::ids::Asset;
use chimera_kernel::order::{OrderKind, Side, TimeInForce};
use chimera_kernel::value::{Price, Quantity};
use chimera_memory::MemoryTreasury;
use chimera_ports::{TransferDirection, TransferState, TreasuryRepository};
use chimera_runtime::treasury::{record_funding, run_transfer, TransferError, TransferRequest};
use rust_decimal::Decimal;
use std::sync::Arc;
use std::time::Duration;

const KEY: &str = "treasurykey000000000000000000000000000000000";
const SECRET: &str = "treasurysecret0000000000000000000000000000000";

fn d(text: &str) -> Decimal {
    text.parse().unwrap()
}

async fn setup(name: &str) -> (Arc<Fake>, BinanceTreasury) {
    let mut fake_config =
        FakeConfig::new(FakeProduct::Usdm).with_hmac_account(KEY, SECRET, &[("USDT", d("100"))]);
    fake_config.accounts[0].other_wallet = vec![("USDT".into(), d("1000"))];
    let (fake, base, server) = Fake::start(fake_config).await.unwrap();
    std::mem::forget(server);
    let dir = std::env::temp_dir().join(format!("chimera-treasury-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (key_file, secret_file) = (dir.join("key"), dir.join("secret"));
    std::fs::write(&key_file, KEY).unwrap();
    std::fs::write(&secret_file, SECRET).unwrap();
    let mut config = BinanceConfig::custom(Product::Usdm, &base);
    config.recv_window_ms = 1_000;
    config.request_timeout_ms = 400;
    config.accounts.push(AccountConfig {
        name: Some("main".into()),
        portfolios: vec!["p".into()],
        api_key_env: None,
        api_key_file: Some(key_file.display().to_string()),
        secret_env: None,
        secret_file: Some(secret_file.display().to_string()),
        key_type: chimera_binance::KeyType::Hmac,
    });
    config.transfers = toml::from_str(
        "directions = [\"spot_to_usdm\", \"usdm_to_spot\"]\nmax_amount = { USDT = \"500\" }",
    )
    .unwrap();
    let treasury = BinanceTreasury::connect(&config).await.unwrap();
    (fake, treasury)
}

fn request(id: &str, direction: TransferDirection, amount: &str) -> TransferRequest {
    TransferRequest {
        transfer_id: id.into(),
        account: None,
        direction,
        asset: "USDT".into(),
        amount: d(amount),
    }
}

fn futures_usdt(fake: &Fake) -> Decimal {
    fake.exchange()
        .books(0)
        .and_then(|b| b.balances.get(&Asset::new("USDT")).map(|a| a.get()))
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_runs_once_per_id_within_the_policy() {
    let (fake, treasury) = setup("ONCE").await;
    let repo = MemoryTreasury::new();
    let spot_to_usdm = TransferDirection::SpotToUsdm;
    let done = run_transfer(
        &repo,
        &treasury,
        &request("t1", spot_to_usdm, "200"),
        "test",
    )
    .await
    .unwrap();
    assert_eq!(done.state, TransferState::Confirmed);
    assert_eq!(done.account, "main");
    assert_eq!(futures_usdt(&fake), d("300"));
    let again = run_transfer(
        &repo,
        &treasury,
        &request("t1", spot_to_usdm, "200"),
        "test",
    )
    .await
    .unwrap();
    assert_eq!(again, done, "the same id is the same transfer");
    assert_eq!(fake.exchange().transfers.len(), 1, "sent once");
    assert!(matches!(
        run_transfer(
            &repo,
            &treasury,
            &request("t1", spot_to_usdm, "201"),
            "test"
        )
        .await,
        Err(TransferError::Conflict(_))
    ));
    for (id, amount, asset) in [
        ("t2", "500.01", "USDT"),
        ("t3", "1", "BTC"),
        ("t4", "-1", "USDT"),
    ] {
        let mut r = request(id, spot_to_usdm, amount);
        r.asset = asset.into();
        assert!(
            matches!(
                run_transfer(&repo, &treasury, &r, "test").await,
                Err(TransferError::Refused(_))
            ),
            "{id}"
        );
    }
    // More than the futures wallet holds: Binance refuses (-5013), the transfer fails.
    let refused = run_transfer(
        &repo,
        &treasury,
        &request("t5", TransferDirection::UsdmToSpot, "450"),
        "test",
    )
    .await;
    assert!(
        matches!(refused, Err(TransferError::Venue(_))),
        "{refused:?}"
    );
    assert_eq!(
        repo.get_transfer("t5").await.unwrap().unwrap().state,
        TransferState::Failed
    );
    let states: Vec<_> = repo
        .transfer_transitions("t1")
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.state)
        .collect();
    assert_eq!(
        states,
        [
            TransferState::Pending,
            TransferState::Sent,
            TransferState::Confirmed
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_outcome_is_resolved_from_the_history_never_resent() {
    let (fake, treasury) = setup("UNKNOWN").await;
    let repo = MemoryTreasury::new();
    fake.set_faults(Faults {
        lose_transfer_answers: 1,
        lose_delay_ms: 1_500,
        ..Faults::default()
    });
    let lost = run_transfer(
        &repo,
        &treasury,
        &request("u1", TransferDirection::SpotToUsdm, "50"),
        "test",
    )
    .await
    .unwrap();
    assert_eq!(lost.state, TransferState::Confirmed, "{}", lost.detail);
    assert_eq!(lost.detail, "found in the transfer history");
    fake.set_faults(Faults {
        unknown_transfer_answers: 1,
        ..Faults::default()
    });
    let unknown = run_transfer(
        &repo,
        &treasury,
        &request("u2", TransferDirection::SpotToUsdm, "50"),
        "test",
    )
    .await
    .unwrap();
    assert_eq!(unknown.state, TransferState::Confirmed);
    assert_ne!(
        unknown.venue_tran_id, lost.venue_tran_id,
        "each matched to its own history row"
    );
    assert_eq!(fake.exchange().transfers.len(), 2, "never sent twice");
    assert_eq!(futures_usdt(&fake), d("200"));

    // Lost on the way: not in the history after the receive window → failed; then retried.
    fake.set_faults(Faults {
        swallow_transfers: 1,
        lose_delay_ms: 600,
        ..Faults::default()
    });
    let swallowed = run_transfer(
        &repo,
        &treasury,
        &request("u3", TransferDirection::UsdmToSpot, "20"),
        "test",
    )
    .await
    .unwrap();
    assert_eq!(
        swallowed.state,
        TransferState::Failed,
        "{}",
        swallowed.detail
    );
    assert!(
        swallowed.detail.starts_with("not executed"),
        "{}",
        swallowed.detail
    );
    let retried = run_transfer(
        &repo,
        &treasury,
        &request("u3", TransferDirection::UsdmToSpot, "20"),
        "test",
    )
    .await
    .unwrap();
    assert_eq!(retried.state, TransferState::Confirmed);
    assert_eq!(futures_usdt(&fake), d("180"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_transfer_per_direction_at_a_time() {
    let (_fake, treasury) = setup("LOCK").await;
    let repo = MemoryTreasury::new();
    let now = chimera_runtime::runtime::wall_clock();
    assert!(repo
        .take_lock(
            "binance:main:spot_to_usdm",
            "another-process",
            Duration::from_mins(1),
            now
        )
        .await
        .unwrap());
    assert!(matches!(
        run_transfer(
            &repo,
            &treasury,
            &request("l1", TransferDirection::SpotToUsdm, "1"),
            "me"
        )
        .await,
        Err(TransferError::Busy(_))
    ));
    let other_way = run_transfer(
        &repo,
        &treasury,
        &request("l2", TransferDirection::UsdmToSpot, "1"),
        "me",
    )
    .await
    .unwrap();
    assert_eq!(
        other_way.state,
        TransferState::Confirmed,
        "the other direction is free"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn realised_funding_is_recorded_once_with_its_rate() {
    let (fake, treasury) = setup("FUNDING").await;
    fake.set_quote("BTCUSDT", d("50000"), d("50000.1")).unwrap();
    fake.exchange()
        .place(
            0,
            &NewOrder {
                symbol: "BTCUSDT",
                side: Side::Buy,
                qty: Quantity::new(d("0.001")).unwrap(),
                kind: OrderKind::Market,
                tif: TimeInForce::Gtc,
                reduce_only: false,
                close_position: false,
                cid: None,
                type_name: "MARKET",
                algo: false,
            },
        )
        .unwrap();
    let now = chimera_runtime::runtime::wall_clock().0;
    let mark = Price::new(d("50000")).unwrap();
    fake.exchange()
        .settle_funding("BTCUSDT", d("0.0001"), mark, now - 1_000);
    let repo = MemoryTreasury::new();
    assert_eq!(record_funding(&repo, &treasury, "main").await.unwrap(), 1);
    assert_eq!(
        record_funding(&repo, &treasury, "main").await.unwrap(),
        0,
        "once"
    );
    let records = repo
        .funding_records("main", chimera_kernel::time::Timestamp(0))
        .await
        .unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].rate, Some(d("0.0001")));
    assert_eq!(
        records[0].amount.get(),
        d("-0.005"),
        "a long pays 0.001 × 50000 × 0.0001"
    );
    assert_eq!(records[0].funding_time.0, now - 1_000);
}
