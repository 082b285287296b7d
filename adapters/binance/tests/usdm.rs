//! USDⓈ-M specifics end to end against the fake: a close-position stop placed through the
//! algo-order endpoint closes the whole position when the mark (the mid: the fake has quotes
//! only) reaches it, and a reduce-only order that would open a position is refused with
//! Binance's code.

mod support;

use chimera_binance::Product;
use chimera_kernel::event::{RejectReason, ReportKind};
use chimera_kernel::ids::PortfolioId;
use chimera_kernel::order::{OrderKind, Side, TriggerSource};
use chimera_kernel::testing::{px, qty};
use chimera_kernel::Decimal;
use chimera_ports::{ExecutionVenue, VenueAccount};
use std::time::Duration;

const QUIET: Duration = Duration::from_millis(400);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_close_position_stop_closes_the_whole_position_through_the_algo_endpoint() {
    let s = support::setup(Product::Usdm, &[("perp", Some(Decimal::from(100_000)))]).await;
    let portfolio = PortfolioId::new("perp");
    s.fake
        .set_quote("BTCUSDT", Decimal::from(40_000), Decimal::from(40_001))
        .expect("quote");
    let mut buy = support::intent("perp", 1, Side::Buy, OrderKind::Market);
    buy.qty = qty(Decimal::new(3, 1));
    s.venue.submit(&buy).await.expect("submit");
    assert_eq!(
        support::kinds(&support::reports_n(&s.venue, 2, QUIET).await),
        ["accepted", "filled"]
    );

    let mut stop = support::intent(
        "perp",
        2,
        Side::Sell,
        OrderKind::StopMarket {
            stop_price: px(Decimal::from(39_500)),
            trigger: TriggerSource::Mark,
        },
    );
    stop.close_position = true;
    s.venue.submit(&stop).await.expect("submit");
    let armed = support::reports_n(&s.venue, 1, QUIET).await;
    assert_eq!(support::kinds(&armed), ["accepted"], "{armed:?}");
    assert!(
        s.fake
            .exchange()
            .records
            .values()
            .any(|r| r.algo && r.cid == stop.client_order_id.as_str()),
        "placed at the algo endpoint"
    );

    s.fake
        .set_quote("BTCUSDT", Decimal::from(39_400), Decimal::from(39_401))
        .expect("quote");
    // At least its fill; whatever else it says comes within the quiet wait.
    let fired = support::reports_n(&s.venue, 1, QUIET).await;
    let closed: Decimal = fired
        .iter()
        .filter(|r| r.client_order_id == stop.client_order_id)
        .filter_map(|r| r.fill())
        .map(|f| f.qty.get())
        .sum();
    assert_eq!(
        closed,
        Decimal::new(3, 1),
        "the whole position, not a placeholder size: {fired:?}"
    );
    let positions = s.venue.positions(&portfolio).await.expect("positions");
    assert!(
        positions.iter().all(|p| p.qty.get().is_zero()),
        "flat: {positions:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reduce_only_order_that_would_open_a_position_is_refused() {
    let s = support::setup(Product::Usdm, &[("perp", Some(Decimal::from(100_000)))]).await;
    s.fake
        .set_quote("BTCUSDT", Decimal::from(40_000), Decimal::from(40_001))
        .expect("quote");
    let mut sell = support::intent("perp", 1, Side::Sell, OrderKind::Market);
    sell.reduce_only = true;
    s.venue.submit(&sell).await.expect("submit");
    let got = support::reports_n(&s.venue, 1, QUIET).await;
    assert!(
        matches!(
            got.as_slice(),
            [r] if matches!(&r.kind, ReportKind::Rejected { reason: RejectReason::ReduceOnlyWouldIncrease, message } if message.starts_with("-2022"))
        ),
        "{got:?}"
    );
}

/// Start-up settings: an account in hedge mode is made one-way, the configured leverage and
/// margin type are applied, and the queries report them; what Binance refuses is an error
/// naming the setting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_makes_the_account_one_way_with_the_configured_leverage_and_margin() {
    use chimera_binance::futures_settings::{MarginType, SymbolSetting};
    let s = support::setup_full(
        Product::Usdm,
        &[("perp", Some(Decimal::from(100_000)))],
        |mut f| {
            f.accounts[0].hedge_mode = true;
            f
        },
        |mut c| {
            c.symbol_settings.insert(
                "BTCUSDT".into(),
                SymbolSetting {
                    leverage: Some(5),
                    margin_type: Some(MarginType::Isolated),
                },
            );
            c
        },
    )
    .await;
    let portfolio = PortfolioId::new("perp");
    let settings = s
        .venue
        .futures_settings(&portfolio)
        .await
        .expect("settings");
    assert!(!settings.hedge_mode, "made one-way");
    let btc = settings
        .symbols
        .iter()
        .find(|c| c.symbol == "BTCUSDT")
        .expect("BTCUSDT");
    assert_eq!((btc.leverage, btc.margin_type), (5, MarginType::Isolated));
    let eth = settings
        .symbols
        .iter()
        .find(|c| c.symbol == "ETHUSDT")
        .expect("ETHUSDT");
    assert_eq!(
        (eth.leverage, eth.margin_type),
        (20, MarginType::Crossed),
        "untouched"
    );

    s.venue
        .set_leverage(&portfolio, "ETHUSDT", 3)
        .await
        .expect("leverage");
    let err = s
        .venue
        .set_leverage(&portfolio, "ETHUSDT", 200)
        .await
        .expect_err("out of range");
    assert_eq!(err.code(), Some(-4028));
    let err = s
        .venue
        .set_margin_type(&portfolio, "BTCUSDT", MarginType::Isolated)
        .await
        .expect_err("no change");
    assert_eq!(err.code(), Some(-4046));
    // With a position, the margin type cannot change.
    s.fake
        .set_quote("BTCUSDT", Decimal::from(40_000), Decimal::from(40_001))
        .expect("quote");
    s.venue
        .submit(&support::intent("perp", 9, Side::Buy, OrderKind::Market))
        .await
        .expect("submit");
    support::reports_n(&s.venue, 2, QUIET).await;
    let err = s
        .venue
        .set_margin_type(&portfolio, "BTCUSDT", MarginType::Crossed)
        .await
        .expect_err("position");
    assert_eq!(err.code(), Some(-4048));
    let positions = s.venue.positions(&portfolio).await.expect("positions");
    assert_eq!(positions.len(), 1);
}
