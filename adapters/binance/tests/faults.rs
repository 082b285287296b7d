//! Binance's bad days, end to end against the fake: an answer lost after the order was
//! placed, a `503 -1007` of unknown outcome, a user-data stream cut during a fill, and rate
//! limits. Each must leave exactly one order per client order id and every fill reported
//! exactly once — and never provoke a 418.

mod support;

use chimera_binance::Product;
use chimera_fake_binance::faults::Faults;
use chimera_kernel::event::{ExecutionReport, ReportKind};
use chimera_kernel::ids::{ClientOrderId, PortfolioId};
use chimera_kernel::order::{OrderKind, Side};
use chimera_kernel::testing::px;
use chimera_kernel::Decimal;
use chimera_ports::{ExecutionVenue, VenueAccount};
use std::time::Duration;

fn orders_named(s: &support::Setup, id: &ClientOrderId) -> usize {
    s.fake
        .exchange()
        .records
        .values()
        .filter(|r| r.cid == id.as_str())
        .count()
}

fn fills(reports: &[ExecutionReport]) -> usize {
    reports.iter().filter_map(ExecutionReport::fill).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_of_unknown_outcome_is_looked_up_not_sent_again() {
    let s = support::setup(Product::Usdm, &[("p", Some(Decimal::from(100_000)))]).await;
    s.fake
        .set_quote("BTCUSDT", Decimal::from(40_000), Decimal::from(40_001))
        .expect("quote");
    s.fake.set_faults(Faults {
        unknown_5xx: 1,
        ..Faults::default()
    });
    let buy = support::intent("p", 1, Side::Buy, OrderKind::Market);
    s.venue
        .submit(&buy)
        .await
        .expect("an unknown outcome is not an error");
    // The gateway may retry: still one order.
    s.venue.submit(&buy).await.expect("retry");
    let got = support::reports(&s.venue, Duration::from_millis(1_500)).await;
    assert_eq!(
        orders_named(&s, &buy.client_order_id),
        1,
        "one order at Binance"
    );
    assert_eq!(fills(&got), 1, "its fill reported once: {got:?}");
    assert!(
        !got.iter()
            .any(|r| matches!(r.kind, ReportKind::Rejected { .. })),
        "not rejected: {got:?}"
    );
    assert_eq!(s.venue.unresolved(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_is_resolved_by_client_order_id() {
    let s = support::setup_with(
        Product::Usdm,
        &[("p", Some(Decimal::from(100_000)))],
        |mut c| {
            c.request_timeout_ms = 300;
            c
        },
    )
    .await;
    s.fake
        .set_quote("BTCUSDT", Decimal::from(40_000), Decimal::from(40_001))
        .expect("quote");
    s.fake.set_faults(Faults {
        lose_responses: 1,
        lose_delay_ms: 1_500,
        ..Faults::default()
    });
    let bid = support::intent(
        "p",
        2,
        Side::Buy,
        OrderKind::Limit {
            price: px(Decimal::from(39_000)),
            post_only: false,
        },
    );
    s.venue
        .submit(&bid)
        .await
        .expect("a timeout after sending is not an error");
    let got = support::reports(&s.venue, Duration::from_secs(1)).await;
    assert_eq!(orders_named(&s, &bid.client_order_id), 1);
    assert_eq!(
        got.iter()
            .filter(|r| r.kind == ReportKind::Accepted)
            .count(),
        1,
        "accepted once: {got:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fill_during_a_user_stream_outage_is_reported_once_after_reconnecting() {
    let s = support::setup(Product::Usdm, &[("p", Some(Decimal::from(100_000)))]).await;
    s.fake
        .set_quote("BTCUSDT", Decimal::from(40_000), Decimal::from(40_001))
        .expect("quote");
    let sell = support::intent(
        "p",
        3,
        Side::Sell,
        OrderKind::Limit {
            price: px(Decimal::from(40_500)),
            post_only: false,
        },
    );
    s.venue.submit(&sell).await.expect("submit");
    let accepted = support::reports(&s.venue, Duration::from_millis(300)).await;
    assert_eq!(accepted.len(), 1, "{accepted:?}");
    // Cut every user stream, and fill while the connector is away.
    s.fake.set_faults(Faults {
        close_user_streams: true,
        ..Faults::default()
    });
    s.fake
        .set_quote("BTCUSDT", Decimal::from(40_600), Decimal::from(40_601))
        .expect("quote");
    let got = support::reports(&s.venue, Duration::from_millis(1_500)).await;
    assert_eq!(
        fills(&got),
        1,
        "the fill made during the outage, once: {got:?}"
    );
    assert!(matches!(
        got.last().map(|r| &r.kind),
        Some(ReportKind::Filled(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fills_lost_while_the_stream_stays_up_are_found_by_the_open_orders_sweep() {
    let s = support::setup_with(
        Product::Spot,
        &[("p", Some(Decimal::from(100_000)))],
        |mut c| {
            c.sweep_ms = 1_000;
            c
        },
    )
    .await;
    s.fake
        .set_quote("BTCUSDT", Decimal::from(40_000), Decimal::from(40_001))
        .expect("quote");
    let buy = support::intent(
        "p",
        4,
        Side::Buy,
        OrderKind::Limit {
            price: px(Decimal::from(39_500)),
            post_only: false,
        },
    );
    s.venue.submit(&buy).await.expect("submit");
    let accepted = support::reports(&s.venue, Duration::from_millis(300)).await;
    assert_eq!(accepted.len(), 1, "{accepted:?}");
    // Frames are dropped, the connection stays up (pings continue): no reconnect, no recovery.
    s.fake.set_faults(Faults {
        drop_user_frames: 10,
        ..Faults::default()
    });
    s.fake
        .set_quote("BTCUSDT", Decimal::from(39_400), Decimal::from(39_401))
        .expect("quote");
    let got = support::reports(&s.venue, Duration::from_millis(2_500)).await;
    assert_eq!(
        fills(&got),
        1,
        "the lost fill, found by the sweep, once: {got:?}"
    );
    let later = support::reports(&s.venue, Duration::from_millis(1_500)).await;
    assert_eq!(
        fills(&later),
        0,
        "later sweeps report nothing again: {later:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_weight_window_makes_requests_wait_instead_of_exceeding_it() {
    let s = support::setup_full(
        Product::Usdm,
        &[("p", Some(Decimal::from(100_000)))],
        |mut f| {
            f.weight_per_minute = 200;
            f
        },
        |c| c,
    )
    .await;
    let portfolio = PortfolioId::new("p");
    let mut refused_locally = 0;
    for _ in 0..100 {
        match s.venue.balances(&portfolio).await {
            Ok(_) => {}
            Err(e) => {
                assert!(e.is_transient(), "{e}");
                refused_locally += 1;
            }
        }
    }
    assert!(refused_locally > 0, "the 200-weight window filled up");
    assert_eq!(
        s.fake.weights().refusals,
        (0, 0),
        "the connector never exceeded the window: no 429, no 418"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_429_nothing_is_sent_until_retry_after_and_no_418_follows() {
    let s = support::setup(Product::Usdm, &[("p", Some(Decimal::from(100_000)))]).await;
    // Another client on the same IP uses up the minute's weight (and gets the first 429).
    let http = reqwest::Client::new();
    let mut status = 200;
    while status == 200 {
        status = http
            .get(format!("{}/fapi/v1/exchangeInfo", s.base))
            .send()
            .await
            .expect("send")
            .status()
            .as_u16();
    }
    assert_eq!(status, 429);
    // The connector meets a 429 once, then sends nothing until Retry-After.
    let portfolio = PortfolioId::new("p");
    assert!(
        s.venue.balances(&portfolio).await.is_err(),
        "the window is full"
    );
    let seen = s.fake.weights().refusals;
    for _ in 0..5 {
        let again = s.venue.balances(&portfolio).await;
        assert!(
            again
                .as_ref()
                .is_err_and(chimera_ports::PortError::is_transient),
            "{again:?}"
        );
    }
    assert_eq!(
        s.fake.weights().refusals,
        seen,
        "nothing reached the fake after the 429"
    );
    assert_eq!(seen.1, 0, "no 418");
    assert!(
        s.venue.banned().is_some(),
        "the connector knows it is throttled"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undecodable_user_frame_is_kept_with_its_bytes_for_the_dead_letters() {
    let s = support::setup(Product::Usdm, &[("p", Some(Decimal::from(100_000)))]).await;
    s.fake
        .exchange()
        .send_to(0, r#"{"e":"ORDER_TRADE_UPDATE","o":42}"#);
    let mut kept = Vec::new();
    for _ in 0..50 {
        kept.extend(s.venue.take_undecodable());
        if !kept.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(kept[0].bytes, br#"{"e":"ORDER_TRADE_UPDATE","o":42}"#);
    assert!(s.venue.take_undecodable().is_empty(), "taken once");
}
