//! Spot order lists end to end against the fake: an OTOCO whose working order fills places its
//! OCO pair, which then behaves as one (the take-profit fills, the stop expires); an OCO sent
//! natively; an OTO whose pending order is canceled before it was placed cancels the list.
//! Every report once, per client order id.

mod support;

use chimera_binance::Product;
use chimera_kernel::ids::{ClientOrderId, PortfolioId, Symbol};
use chimera_kernel::order::{
    CancelRequest, Contingency, OrderIntent, OrderKind, OrderListRequest, Side, TriggerSource,
};
use chimera_kernel::testing::px;
use chimera_kernel::time::Timestamp;
use chimera_kernel::Decimal;
use chimera_ports::ExecutionVenue;
use std::time::Duration;

const QUIET: Duration = Duration::from_millis(400);

fn limit(n: u64, side: Side, price: i64) -> OrderIntent {
    support::intent(
        "p",
        n,
        side,
        OrderKind::Limit {
            price: px(Decimal::from(price)),
            post_only: false,
        },
    )
}

fn stop(n: u64, side: Side, price: i64) -> OrderIntent {
    support::intent(
        "p",
        n,
        side,
        OrderKind::StopMarket {
            stop_price: px(Decimal::from(price)),
            trigger: TriggerSource::Last,
        },
    )
}

fn list(id: &str, contingency: Contingency, orders: Vec<OrderIntent>) -> OrderListRequest {
    OrderListRequest {
        list_id: ClientOrderId::new(id),
        portfolio_id: PortfolioId::new("p"),
        symbol: Symbol::new("BTCUSDT"),
        contingency,
        orders,
    }
}

/// How [`told`] writes `order`'s report of kind `what`.
fn says(order: &OrderIntent, what: &str) -> String {
    format!("{} {what}", order.client_order_id)
}

fn told(reports: &[chimera_kernel::event::ExecutionReport]) -> Vec<String> {
    reports
        .iter()
        .map(|r| format!("{} {}", r.client_order_id, r.kind.name()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otoco_oco_and_oto_run_as_binance_runs_them() {
    let s = support::setup(Product::Spot, &[("p", Some(Decimal::from(100_000)))]).await;
    s.fake
        .set_quote("BTCUSDT", Decimal::from(40_000), Decimal::from(40_001))
        .expect("quote");

    // OTOCO: the working buy takes the ask, then the pair is placed.
    let (working, tp, sl) = (
        limit(1, Side::Buy, 40_001),
        limit(2, Side::Sell, 41_000),
        stop(3, Side::Sell, 39_000),
    );
    let otoco = list(
        "otoco-1",
        Contingency::Otoco,
        vec![working.clone(), tp.clone(), sl.clone()],
    );
    s.venue.submit_list(&otoco).await.expect("otoco");
    s.venue
        .submit_list(&otoco)
        .await
        .expect("again: nothing sent");
    let got = support::reports_n(&s.venue, 4, QUIET).await;
    // Reports of different orders may interleave; each order's own come in order.
    let mut said = told(&got);
    said.sort();
    assert_eq!(
        said,
        [
            says(&working, "accepted"),
            says(&working, "filled"),
            says(&tp, "accepted"),
            says(&sl, "accepted")
        ],
        "{got:?}"
    );
    let of_working: Vec<_> = got
        .iter()
        .filter(|r| r.client_order_id == working.client_order_id)
        .cloned()
        .collect();
    assert_eq!(
        told(&of_working),
        [says(&working, "accepted"), says(&working, "filled")]
    );
    s.fake
        .set_quote("BTCUSDT", Decimal::from(41_100), Decimal::from(41_101))
        .expect("quote");
    let got = support::reports_n(&s.venue, 2, QUIET).await;
    assert_eq!(
        told(&got),
        [says(&tp, "filled"), says(&sl, "expired")],
        "{got:?}"
    );

    // A native OCO on what was bought back.
    let (buy, tp2, sl2) = (
        limit(4, Side::Buy, 41_101),
        limit(5, Side::Sell, 42_000),
        stop(6, Side::Sell, 40_000),
    );
    s.venue.submit(&buy).await.expect("buy");
    let got = support::reports_n(&s.venue, 2, QUIET).await;
    assert_eq!(
        told(&got),
        [says(&buy, "accepted"), says(&buy, "filled")],
        "{got:?}"
    );
    s.venue
        .submit_list(&list(
            "oco-1",
            Contingency::Oco,
            vec![tp2.clone(), sl2.clone()],
        ))
        .await
        .expect("oco");
    let got = support::reports_n(&s.venue, 2, QUIET).await;
    assert_eq!(
        told(&got),
        [says(&tp2, "accepted"), says(&sl2, "accepted")],
        "{got:?}"
    );

    // OTO: canceling its pending order before it was placed cancels the list.
    let (resting, pending) = (limit(7, Side::Buy, 39_500), limit(8, Side::Sell, 43_000));
    s.venue
        .submit_list(&list(
            "oto-1",
            Contingency::Oto,
            vec![resting.clone(), pending.clone()],
        ))
        .await
        .expect("oto");
    let got = support::reports_n(&s.venue, 1, QUIET).await;
    assert_eq!(told(&got), [says(&resting, "accepted")], "{got:?}");
    s.venue
        .cancel(&CancelRequest {
            portfolio_id: PortfolioId::new("p"),
            client_order_id: pending.client_order_id.clone(),
            symbol: Symbol::new("BTCUSDT"),
            created_at: Timestamp(0),
        })
        .await
        .expect("cancel");
    let got = support::reports_n(&s.venue, 2, QUIET).await;
    let mut said = told(&got);
    said.sort();
    let mut want = vec![says(&resting, "canceled"), says(&pending, "canceled")];
    want.sort();
    assert_eq!(said, want, "{got:?}");
    let made = s.fake.exchange().records.len();
    assert_eq!(made, 8, "every order sent once");
}
