//! The venue contracts, for venues whose market a test can set: [`execution_venue_suite`]
//! (trading: fills once per client order id, rejections with reason codes, accept and cancel,
//! amend and cancel-replace, each idempotent)
//! and [`venue_account_suite`] (what the account shows after trading).

use crate::{ExecutionVenue, VenueAccount};
use async_trait::async_trait;
use chimera_kernel::event::{ExecutionReport, RejectReason, ReportKind};
use chimera_kernel::ids::{ClientOrderId, IntentId, PortfolioId, Symbol};
use chimera_kernel::order::{
    AmendRequest, CancelReplaceRequest, CancelRequest, Contingency, OrderIntent, OrderKind,
    OrderListRequest, ReplaceMode, Side, TimeInForce,
};
use chimera_kernel::testing::{px, qty};
use chimera_kernel::time::Timestamp;
use chimera_kernel::Decimal;
use std::future::Future as _;
use std::time::Duration;

/// What a venue suite needs besides the venue: a way to set the market.
#[async_trait]
pub trait VenueHarness: Send + Sync {
    /// The venue under test. It lists `BTCUSDT` (USDT-margined perpetual, tick 0.01, lot 0.001,
    /// min notional 5) and credits 100 000 USDT to any portfolio whose id ends in `-rich`.
    fn venue(&self) -> &dyn ExecutionVenue;
    /// The same venue's account queries.
    fn account(&self) -> &dyn VenueAccount;
    /// Sets the best bid and ask of `BTCUSDT` at time `ts`.
    async fn set_quote(&self, bid: Decimal, ask: Decimal, ts: Timestamp);
}

fn intent(portfolio: &PortfolioId, n: u64, side: Side, q: Decimal, kind: OrderKind) -> OrderIntent {
    let intent_id = IntentId::for_portfolio(portfolio, n);
    OrderIntent {
        client_order_id: ClientOrderId::for_intent(&intent_id),
        intent_id,
        portfolio_id: portfolio.clone(),
        symbol: Symbol::new("BTCUSDT"),
        side,
        qty: qty(q),
        kind,
        time_in_force: TimeInForce::Gtc,
        reduce_only: false,
        close_position: false,
        created_at: Timestamp(0),
        tag: "".into(),
    }
}

/// A buy limit at 39 000 (below the suites' market): it rests.
fn resting_bid(portfolio: &PortfolioId, n: u64) -> OrderIntent {
    intent(
        portfolio,
        n,
        Side::Buy,
        Decimal::new(1, 1),
        OrderKind::Limit {
            price: px(Decimal::from(39_000)),
            post_only: true,
        },
    )
}

/// A cancel of `order`, sent at `ts`.
fn cancel_of(order: &OrderIntent, ts: i64) -> CancelRequest {
    CancelRequest {
        portfolio_id: order.portfolio_id.clone(),
        client_order_id: order.client_order_id.clone(),
        symbol: order.symbol.clone(),
        created_at: Timestamp(ts),
    }
}

async fn reports_until_quiet(venue: &dyn ExecutionVenue) -> Vec<ExecutionReport> {
    let mut out = Vec::new();
    while let Some(r) = venue
        .next_report(Duration::from_millis(200))
        .await
        .expect("next_report")
    {
        out.push(r);
    }
    out
}

/// Runs the trading rules with portfolios prefixed by `prefix`: only what reports show.
///
/// # Panics
/// When the venue breaks the contract.
pub async fn execution_venue_suite(h: &dyn VenueHarness, prefix: &str) {
    let venue = h.venue();
    let rich = PortfolioId::new(format!("{prefix}-rich"));
    let poor = PortfolioId::new(format!("{prefix}-poor"));
    h.set_quote(
        Decimal::from(40_000),
        Decimal::new(4_000_010, 2),
        Timestamp(1),
    )
    .await;

    // market order fills at the ask, exactly once even if submitted twice
    let buy = intent(&rich, 0, Side::Buy, Decimal::new(5, 1), OrderKind::Market);
    venue.submit(&buy).await.expect("submit");
    venue
        .submit(&buy)
        .await
        .expect("duplicate submit is accepted and ignored");
    let reports = reports_until_quiet(venue).await;
    let fills: Vec<_> = reports.iter().filter_map(ExecutionReport::fill).collect();
    assert_eq!(
        fills.len(),
        1,
        "one fill for one order, however often it is submitted: {reports:?}"
    );
    assert_eq!(
        fills[0].price.get(),
        Decimal::new(4_000_010, 2),
        "a market buy fills at the ask"
    );
    assert!(matches!(
        reports.last().map(|r| &r.kind),
        Some(ReportKind::Filled(_))
    ));

    // A zero wait answers on its first poll (a report already received, or none): the gateway
    // drains reports that way after every command, and a venue that armed a timer there
    // (tokio's count whole milliseconds, rounded up) held every order to the next tick.
    let mut zero = std::pin::pin!(venue.next_report(Duration::ZERO));
    let first = zero
        .as_mut()
        .poll(&mut std::task::Context::from_waker(std::task::Waker::noop()));
    assert!(
        matches!(first, std::task::Poll::Ready(Ok(_))),
        "next_report(ZERO) must answer at once, not wait: {first:?}"
    );

    // filters and balance reject with reason codes
    let rejects = [
        (
            intent(&rich, 1, Side::Buy, Decimal::new(1, 4), OrderKind::Market),
            RejectReason::LotSize,
        ),
        (
            intent(
                &rich,
                2,
                Side::Buy,
                Decimal::new(1, 1),
                OrderKind::Limit {
                    price: px(Decimal::new(39_999_999, 3)),
                    post_only: false,
                },
            ),
            RejectReason::TickSize,
        ),
        (
            intent(
                &rich,
                3,
                Side::Buy,
                Decimal::new(1, 3),
                OrderKind::Limit {
                    price: px(Decimal::from(100)),
                    post_only: false,
                },
            ),
            RejectReason::MinNotional,
        ),
        (
            intent(&poor, 0, Side::Buy, Decimal::ONE, OrderKind::Market),
            RejectReason::InsufficientBalance,
        ),
    ];
    for (order, reason) in rejects {
        venue.submit(&order).await.expect("submit");
        let got = reports_until_quiet(venue).await;
        assert!(
            matches!(got.as_slice(), [ExecutionReport { kind: ReportKind::Rejected { reason: r, .. }, .. }] if *r == reason),
            "expected a single {reason:?} rejection, got {got:?}"
        );
    }

    // a resting limit order is accepted, can be canceled once; a limit fills at its price
    let bid = resting_bid(&rich, 4);
    venue.submit(&bid).await.expect("submit");
    let accepted = reports_until_quiet(venue).await;
    assert!(
        matches!(
            accepted.as_slice(),
            [ExecutionReport {
                kind: ReportKind::Accepted,
                ..
            }]
        ),
        "{accepted:?}"
    );
    let cancel = cancel_of(&bid, 2);
    venue.cancel(&cancel).await.expect("cancel");
    let canceled = reports_until_quiet(venue).await;
    assert!(
        matches!(
            canceled.as_slice(),
            [ExecutionReport {
                kind: ReportKind::Canceled,
                ..
            }]
        ),
        "{canceled:?}"
    );
    venue.cancel(&cancel).await.expect("cancel again");
    let again = reports_until_quiet(venue).await;
    assert!(
        matches!(
            again.as_slice(),
            [ExecutionReport {
                kind: ReportKind::CancelRejected {
                    reason: RejectReason::UnknownOrder
                },
                ..
            }]
        ),
        "canceling a finished order is refused with UnknownOrder: {again:?}"
    );

    let sell = intent(
        &rich,
        5,
        Side::Sell,
        Decimal::new(5, 1),
        OrderKind::Limit {
            price: px(Decimal::from(40_500)),
            post_only: false,
        },
    );
    venue.submit(&sell).await.expect("submit");
    reports_until_quiet(venue).await;
    h.set_quote(Decimal::from(40_600), Decimal::from(40_601), Timestamp(3))
        .await;
    let filled = reports_until_quiet(venue).await;
    let fill = filled
        .iter()
        .find_map(ExecutionReport::fill)
        .expect("limit fills when the market moves through it");
    assert_eq!(
        fill.price.get(),
        Decimal::from(40_500),
        "a resting limit fills at its price"
    );
    changes_to_working_orders(venue, &rich).await;
}

fn kinds(reports: &[ExecutionReport]) -> Vec<&'static str> {
    reports.iter().map(|r| r.kind.name()).collect()
}

/// Amend (a LIMIT order's price and quantity: what every venue supports) and cancel-replace,
/// each once however often it is sent.
async fn changes_to_working_orders(venue: &dyn ExecutionVenue, rich: &PortfolioId) {
    let bid = resting_bid(rich, 10);
    venue.submit(&bid).await.expect("submit");
    reports_until_quiet(venue).await;
    let amend = AmendRequest {
        portfolio_id: rich.clone(),
        client_order_id: bid.client_order_id.clone(),
        symbol: bid.symbol.clone(),
        price: Some(px(Decimal::from(39_100))),
        qty: qty(Decimal::new(2, 1)),
        amendment: 1,
        created_at: Timestamp(4),
    };
    venue.amend(&amend).await.expect("amend");
    venue.amend(&amend).await.expect("amend again");
    let amended = reports_until_quiet(venue).await;
    assert_eq!(
        amended.iter().map(|r| &r.kind).collect::<Vec<_>>(),
        [&ReportKind::Amended {
            price: amend.price,
            qty: amend.qty,
            amendment: 1
        }],
        "one confirmation of the new price and quantity, however often it is sent"
    );
    let ghost = AmendRequest {
        client_order_id: ClientOrderId::new(format!("{}-ghost", rich.as_str())),
        ..amend.clone()
    };
    venue.amend(&ghost).await.expect("amend");
    let refused = reports_until_quiet(venue).await;
    assert!(
        matches!(
            refused.as_slice(),
            [ExecutionReport {
                kind: ReportKind::AmendRejected {
                    reason: RejectReason::UnknownOrder,
                    ..
                },
                ..
            }]
        ),
        "amending an unknown order is refused with UnknownOrder: {refused:?}"
    );

    let mut replacement = resting_bid(rich, 11);
    replacement.kind = OrderKind::Limit {
        price: px(Decimal::from(39_200)),
        post_only: true,
    };
    let replace = CancelReplaceRequest {
        cancel: cancel_of(&bid, 5),
        replacement: replacement.clone(),
        mode: ReplaceMode::StopOnFailure,
    };
    venue
        .cancel_replace(&replace)
        .await
        .expect("cancel-replace");
    venue.cancel_replace(&replace).await.expect("again");
    let replaced = reports_until_quiet(venue).await;
    assert_eq!(
        kinds(&replaced),
        ["canceled", "accepted"],
        "the old order canceled, the new one placed, once: {replaced:?}"
    );
    assert_eq!(replaced[1].client_order_id, replacement.client_order_id);

    // The order to cancel is gone: the replacement is not placed.
    let late = CancelReplaceRequest {
        replacement: resting_bid(rich, 12),
        ..replace
    };
    venue.cancel_replace(&late).await.expect("cancel-replace");
    let failed = reports_until_quiet(venue).await;
    assert!(
        failed.iter().any(|r| matches!(
            &r.kind,
            ReportKind::Rejected {
                reason: RejectReason::CancelReplaceFailed,
                ..
            }
        ) && r.client_order_id == late.replacement.client_order_id),
        "a failed cancel stops the replacement: {failed:?}"
    );
    venue
        .cancel(&cancel_of(&replacement, 6))
        .await
        .expect("cancel");
    reports_until_quiet(venue).await;

    // The suite's instrument is a perpetual: no order lists there, every leg is refused.
    let mut stop = resting_bid(rich, 13);
    stop.side = Side::Sell;
    stop.kind = OrderKind::StopMarket {
        stop_price: px(Decimal::from(39_000)),
        trigger: chimera_kernel::order::TriggerSource::Last,
    };
    let mut take_profit = resting_bid(rich, 14);
    take_profit.side = Side::Sell;
    take_profit.kind = OrderKind::Limit {
        price: px(Decimal::from(41_000)),
        post_only: false,
    };
    let list = OrderListRequest {
        list_id: ClientOrderId::new(format!("{}-list", rich.as_str())),
        portfolio_id: rich.clone(),
        symbol: stop.symbol.clone(),
        contingency: Contingency::Oco,
        orders: vec![take_profit, stop],
    };
    venue.submit_list(&list).await.expect("submit list");
    let refused = reports_until_quiet(venue).await;
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert!(
        refused.iter().all(|r| matches!(
            r.kind,
            ReportKind::Rejected {
                reason: RejectReason::InvalidOrder,
                ..
            }
        )),
        "a list where the venue has none is refused leg by leg: {refused:?}"
    );
}

/// Runs the account rules with portfolios prefixed by `prefix`: positions after fills, open
/// orders while they rest, balances in the quote asset.
///
/// # Panics
/// When the venue breaks the contract.
pub async fn venue_account_suite(h: &dyn VenueHarness, prefix: &str) {
    let (venue, account) = (h.venue(), h.account());
    let rich = PortfolioId::new(format!("{prefix}-rich"));
    assert!(
        account.open_orders(&rich).await.expect("open").is_empty()
            && account
                .positions(&rich)
                .await
                .expect("positions")
                .iter()
                .all(chimera_kernel::portfolio::Position::is_flat),
        "a new account has nothing"
    );
    h.set_quote(Decimal::from(40_000), Decimal::from(40_001), Timestamp(1))
        .await;
    venue
        .submit(&intent(
            &rich,
            0,
            Side::Buy,
            Decimal::new(5, 1),
            OrderKind::Market,
        ))
        .await
        .expect("submit");
    reports_until_quiet(venue).await;
    let positions = account.positions(&rich).await.expect("positions");
    let btc = positions
        .iter()
        .find(|p| p.symbol.as_str() == "BTCUSDT")
        .expect("position after fill");
    assert_eq!(
        btc.qty.get(),
        Decimal::new(5, 1),
        "the fill shows as a position"
    );
    let usdt = account
        .balances(&rich)
        .await
        .expect("balances")
        .into_iter()
        .find(|m| m.asset.as_str() == "USDT")
        .expect("balances list the quote asset");
    assert!(
        usdt.amount > Decimal::ZERO && usdt.amount < Decimal::from(100_000),
        "the fee is paid from the quote balance: {usdt:?}"
    );

    let bid = resting_bid(&rich, 1);
    venue.submit(&bid).await.expect("submit");
    reports_until_quiet(venue).await;
    let open = account.open_orders(&rich).await.expect("open");
    assert_eq!(
        open.iter()
            .map(|o| o.intent.client_order_id.clone())
            .collect::<Vec<_>>(),
        vec![bid.client_order_id.clone()],
        "the resting order is open"
    );
    venue.cancel(&cancel_of(&bid, 2)).await.expect("cancel");
    reports_until_quiet(venue).await;
    assert!(
        account.open_orders(&rich).await.expect("open").is_empty(),
        "a canceled order is no longer open"
    );
    venue
        .submit(&intent(
            &rich,
            2,
            Side::Sell,
            Decimal::new(5, 1),
            OrderKind::Market,
        ))
        .await
        .expect("submit");
    reports_until_quiet(venue).await;
    assert!(
        account
            .positions(&rich)
            .await
            .expect("positions")
            .iter()
            .all(chimera_kernel::portfolio::Position::is_flat),
        "round trip is flat"
    );
}
