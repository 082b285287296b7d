//! The spot connector end to end against the fake: a market order's `FULL` fills, a resting
//! order accepted and canceled once, a native cancel-replace, and the user data arriving over
//! the WebSocket API subscription.

mod support;

use chimera_binance::Product;
use chimera_kernel::event::ExecutionReport;
use chimera_kernel::ids::PortfolioId;
use chimera_kernel::order::{
    CancelReplaceRequest, CancelRequest, OrderIntent, OrderKind, ReplaceMode, Side,
};
use chimera_kernel::testing::{px, qty};
use chimera_kernel::time::Timestamp;
use chimera_kernel::Decimal;
use chimera_ports::{ExecutionVenue, VenueAccount};
use std::time::Duration;

fn intent(n: u64, side: Side, kind: OrderKind) -> OrderIntent {
    support::intent("spot", n, side, kind)
}

/// The `n` reports a step causes, and any more within 400 ms.
async fn reports(venue: &dyn ExecutionVenue, n: usize) -> Vec<ExecutionReport> {
    support::reports_n(venue, n, Duration::from_millis(400)).await
}

use support::kinds;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spot_orders_fill_rest_cancel_and_replace_once_each() {
    let s = support::setup(Product::Spot, &[("spot", Some(Decimal::from(100_000)))]).await;
    s.fake
        .set_quote("BTCUSDT", Decimal::from(40_000), Decimal::from(40_001))
        .expect("quote");

    let buy = intent(1, Side::Buy, OrderKind::Market);
    s.venue.submit(&buy).await.expect("submit");
    let got = reports(&s.venue, 2).await;
    assert_eq!(
        kinds(&got),
        ["accepted", "filled"],
        "accepted, then one fill, whichever of the FULL answer and the event came first: {got:?}"
    );
    let fill = got[1].fill().expect("fill");
    assert_eq!(fill.price.get(), Decimal::from(40_001));

    let bid = intent(
        2,
        Side::Buy,
        OrderKind::Limit {
            price: px(Decimal::from(39_000)),
            post_only: true,
        },
    );
    s.venue.submit(&bid).await.expect("submit");
    assert_eq!(kinds(&reports(&s.venue, 1).await), ["accepted"]);

    let mut replacement = intent(
        3,
        Side::Buy,
        OrderKind::Limit {
            price: px(Decimal::from(39_100)),
            post_only: true,
        },
    );
    replacement.qty = qty(Decimal::new(2, 1));
    let replace = CancelReplaceRequest {
        cancel: CancelRequest {
            portfolio_id: bid.portfolio_id.clone(),
            client_order_id: bid.client_order_id.clone(),
            symbol: bid.symbol.clone(),
            created_at: Timestamp(0),
        },
        replacement: replacement.clone(),
        mode: ReplaceMode::StopOnFailure,
    };
    s.venue.cancel_replace(&replace).await.expect("replace");
    s.venue.cancel_replace(&replace).await.expect("again");
    let got = reports(&s.venue, 2).await;
    assert_eq!(kinds(&got), ["canceled", "accepted"], "{got:?}");

    let open = s
        .venue
        .open_orders(&PortfolioId::new("spot"))
        .await
        .expect("open");
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].intent.client_order_id, replacement.client_order_id);

    let cancel = CancelRequest {
        portfolio_id: replacement.portfolio_id.clone(),
        client_order_id: replacement.client_order_id.clone(),
        symbol: replacement.symbol.clone(),
        created_at: Timestamp(0),
    };
    s.venue.cancel(&cancel).await.expect("cancel");
    s.venue.cancel(&cancel).await.expect("cancel again");
    let got = reports(&s.venue, 2).await;
    assert_eq!(kinds(&got), ["canceled", "cancel_rejected"], "{got:?}");

    let balances = s
        .venue
        .balances(&PortfolioId::new("spot"))
        .await
        .expect("balances");
    assert!(
        balances
            .iter()
            .any(|m| m.asset.as_str() == "BTC" && m.amount > Decimal::ZERO),
        "the bought BTC is held: {balances:?}"
    );
    let positions = s
        .venue
        .positions(&PortfolioId::new("spot"))
        .await
        .expect("positions");
    assert!(
        positions
            .iter()
            .any(|p| p.symbol.as_str() == "BTCUSDT" && p.qty.get() > Decimal::ZERO),
        "a spot holding shows as a position in its USDT symbol: {positions:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resting_spot_order_filled_by_the_market_arrives_over_the_websocket_api() {
    let s = support::setup(Product::Spot, &[("spot", Some(Decimal::from(100_000)))]).await;
    s.fake
        .set_quote("BTCUSDT", Decimal::from(40_000), Decimal::from(40_001))
        .expect("quote");
    let bid = intent(
        4,
        Side::Buy,
        OrderKind::Limit {
            price: px(Decimal::from(39_900)),
            post_only: false,
        },
    );
    s.venue.submit(&bid).await.expect("submit");
    assert_eq!(kinds(&reports(&s.venue, 1).await), ["accepted"]);
    s.fake
        .set_quote("BTCUSDT", Decimal::from(39_800), Decimal::from(39_850))
        .expect("quote");
    let got = reports(&s.venue, 1).await;
    assert_eq!(kinds(&got), ["filled"], "{got:?}");
    assert_eq!(
        got[0].fill().map(|f| f.price.get()),
        Some(Decimal::from(39_900))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partly_failed_cancel_replace_reports_the_new_order_it_placed() {
    let s = support::setup(Product::Spot, &[("spot", Some(Decimal::from(100_000)))]).await;
    s.fake
        .set_quote("BTCUSDT", Decimal::from(40_000), Decimal::from(40_001))
        .expect("quote");
    let gone = intent(5, Side::Buy, OrderKind::Market);
    let replacement = intent(
        6,
        Side::Buy,
        OrderKind::Limit {
            price: px(Decimal::from(39_000)),
            post_only: true,
        },
    );
    // The order to cancel does not exist; ALLOW_FAILURE places the new one anyway, and Binance
    // answers -2021 "partially failed".
    let replace = CancelReplaceRequest {
        cancel: CancelRequest {
            portfolio_id: gone.portfolio_id.clone(),
            client_order_id: gone.client_order_id.clone(),
            symbol: gone.symbol.clone(),
            created_at: Timestamp(0),
        },
        replacement: replacement.clone(),
        mode: ReplaceMode::AllowFailure,
    };
    s.venue.cancel_replace(&replace).await.expect("replace");
    let got = reports(&s.venue, 1).await;
    assert_eq!(
        kinds(&got),
        ["accepted"],
        "the new order, not a rejection: {got:?}"
    );
    assert_eq!(got[0].client_order_id, replacement.client_order_id);
}
