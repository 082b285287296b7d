//! The order state machine: every (state, report) pair, table-driven.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

use chimera_kernel::event::{ExecutionReport, RejectReason, ReportKind};
use chimera_kernel::ids::{ClientOrderId, IntentId, PortfolioId, Symbol};
use chimera_kernel::order::{
    Order, OrderError, OrderIntent, OrderKind, OrderStatus, OrderUpdate, Side, TimeInForce,
};
use chimera_kernel::testing::{fill_report, qty};
use chimera_kernel::time::Timestamp;
use chimera_kernel::Decimal;

fn order(q: i64) -> Order {
    let intent_id = IntentId::new("p1-0");
    Order::new(OrderIntent {
        client_order_id: ClientOrderId::for_intent(&intent_id),
        intent_id,
        portfolio_id: PortfolioId::new("p1"),
        symbol: Symbol::new("BTCUSDT"),
        side: Side::Buy,
        qty: qty(Decimal::from(q)),
        kind: OrderKind::Market,
        time_in_force: TimeInForce::Gtc,
        reduce_only: false,
        close_position: false,
        created_at: Timestamp(0),
        tag: "".into(),
    })
}

fn report(o: &Order, kind: ReportKind) -> ExecutionReport {
    ExecutionReport {
        portfolio_id: PortfolioId::new("p1"),
        client_order_id: o.intent.client_order_id.clone(),
        venue_order_id: None,
        symbol: Symbol::new("BTCUSDT"),
        ts: Timestamp(1),
        kind,
    }
}

fn partial(o: &Order, trade: &str, q: i64) -> ExecutionReport {
    fill_report(
        &o.intent.client_order_id,
        trade,
        Decimal::from(100),
        Decimal::from(q),
        Decimal::ZERO,
        false,
    )
}

fn full(o: &Order, trade: &str, q: i64) -> ExecutionReport {
    fill_report(
        &o.intent.client_order_id,
        trade,
        Decimal::from(100),
        Decimal::from(q),
        Decimal::ZERO,
        true,
    )
}

/// Drives a fresh 2-lot order into `status`.
fn in_state(status: OrderStatus) -> Order {
    let mut o = order(2);
    let steps: Vec<ReportKind> = match status {
        OrderStatus::PendingNew => vec![],
        OrderStatus::Accepted => vec![ReportKind::Accepted],
        OrderStatus::PartiallyFilled => vec![ReportKind::Accepted, partial(&o, "a", 1).kind],
        OrderStatus::Filled => vec![full(&o, "a", 2).kind],
        OrderStatus::Canceled => vec![ReportKind::Accepted, ReportKind::Canceled],
        OrderStatus::Rejected => vec![ReportKind::Rejected {
            reason: RejectReason::LotSize,
            message: String::new(),
        }],
        OrderStatus::Expired => vec![ReportKind::Expired],
    };
    for kind in steps {
        let r = report(&o, kind);
        o.apply(&r).unwrap();
    }
    assert_eq!(o.status, status);
    o
}

#[test]
fn transition_table() {
    use OrderStatus::*;
    // (from, report, expected status after, or None when illegal)
    let reject = || ReportKind::Rejected {
        reason: RejectReason::InsufficientBalance,
        message: "x".into(),
    };
    let cases: Vec<(OrderStatus, &str, Option<OrderStatus>)> = vec![
        (PendingNew, "accepted", Some(Accepted)),
        (PendingNew, "rejected", Some(Rejected)),
        (PendingNew, "partial", Some(PartiallyFilled)),
        (PendingNew, "filled", Some(Filled)),
        (PendingNew, "canceled", Some(Canceled)),
        (PendingNew, "expired", Some(Expired)),
        (Accepted, "accepted", Some(Accepted)),
        (Accepted, "rejected", None),
        (Accepted, "partial", Some(PartiallyFilled)),
        (Accepted, "filled", Some(Filled)),
        (Accepted, "canceled", Some(Canceled)),
        (PartiallyFilled, "rejected", None),
        (PartiallyFilled, "partial_rest", Some(Filled)),
        (PartiallyFilled, "canceled", Some(Canceled)),
        (PartiallyFilled, "expired", Some(Expired)),
        (Filled, "partial", None),
        (Filled, "canceled", None),
        (Filled, "accepted", None),
        (Canceled, "partial", None),
        (Canceled, "accepted", None),
        (Canceled, "canceled", Some(Canceled)),
        (Rejected, "accepted", None),
        (Rejected, "filled", None),
        (Expired, "partial", None),
    ];
    for (from, what, expected) in cases {
        let mut o = in_state(from);
        let before = o.clone();
        let r = match what {
            "accepted" => report(&o, ReportKind::Accepted),
            "rejected" => report(&o, reject()),
            "partial" => partial(&o, "new", 1),
            "partial_rest" => full(&o, "new", 1),
            "filled" => full(&o, "new", 2),
            "canceled" => report(&o, ReportKind::Canceled),
            "expired" => report(&o, ReportKind::Expired),
            _ => unreachable!(),
        };
        let result = o.apply(&r);
        if let Some(status) = expected {
            assert!(result.is_ok(), "{from:?} + {what}: {result:?}");
            assert_eq!(o.status, status, "{from:?} + {what}");
        } else {
            assert!(
                matches!(result, Err(OrderError::IllegalTransition { .. })),
                "{from:?} + {what}: {result:?}"
            );
            assert_eq!(
                o, before,
                "an illegal report must leave the order unchanged"
            );
        }
    }
}

#[test]
fn duplicate_fill_is_idempotent_even_after_completion() {
    let mut o = order(2);
    let first = partial(&o, "t1", 1);
    assert!(matches!(o.apply(&first), Ok(OrderUpdate::Filled(_))));
    assert_eq!(o.apply(&first), Ok(OrderUpdate::Duplicate));
    let last = full(&o, "t2", 1);
    o.apply(&last).unwrap();
    assert_eq!(o.apply(&last), Ok(OrderUpdate::Duplicate));
    assert_eq!(o.filled_qty.get(), Decimal::from(2));
    assert_eq!(o.avg_fill_price(), Some(Decimal::from(100)));
}

#[test]
fn overfill_and_inconsistent_reports_are_errors() {
    let mut o = order(2);
    assert!(matches!(
        o.apply(&full(&o, "t1", 3)),
        Err(OrderError::Overfill { .. })
    ));
    assert!(matches!(
        o.apply(&full(&o, "t1", 1)),
        Err(OrderError::InconsistentFill { .. })
    ));
    assert!(matches!(
        o.apply(&partial(&o, "t1", 2)),
        Err(OrderError::InconsistentFill { .. })
    ));
    assert_eq!(o.status, OrderStatus::PendingNew);
    let mut other = order(2);
    other.intent.client_order_id = ClientOrderId::new("other");
    assert!(matches!(
        other.apply(&partial(&o, "t", 1)),
        Err(OrderError::WrongOrder { .. })
    ));
}

#[test]
fn average_price_over_partial_fills() {
    let mut o = order(3);
    let cid = o.intent.client_order_id.clone();
    o.apply(&fill_report(
        &cid,
        "a",
        Decimal::from(100),
        Decimal::ONE,
        Decimal::ZERO,
        false,
    ))
    .unwrap();
    o.apply(&fill_report(
        &cid,
        "b",
        Decimal::from(103),
        Decimal::TWO,
        Decimal::ZERO,
        true,
    ))
    .unwrap();
    assert_eq!(o.avg_fill_price(), Some(Decimal::from(102)));
    assert_eq!(o.cum_quote, Decimal::from(306));
}

fn at(mut r: ExecutionReport, ts: i64) -> ExecutionReport {
    r.ts = Timestamp(ts);
    r
}

#[test]
fn updated_at_never_goes_back_when_a_fill_is_stamped_before_its_acceptance() {
    // A bar-driven market order: accepted at the venue's clock (a later event), filled at the
    // open of the bar it waited for (stamped earlier).
    let mut o = order(1);
    o.apply(&at(report(&o, ReportKind::Accepted), 500)).unwrap();
    let accepted = o.clone();
    o.apply(&at(full(&o, "a", 1), 60)).unwrap();
    assert_eq!(o.status, OrderStatus::Filled);
    assert_eq!(o.updated_at, Timestamp(500));
    assert!(
        o.supersedes(&accepted),
        "the fill must replace the recorded acceptance"
    );
    assert!(!accepted.supersedes(&o));
}

#[test]
fn progress_decides_before_timestamps_when_versions_are_compared() {
    let pending = order(2);
    let mut accepted = pending.clone();
    accepted
        .apply(&at(report(&accepted, ReportKind::Accepted), 900))
        .unwrap();
    let mut partly = pending.clone();
    partly.apply(&at(partial(&partly, "a", 1), 100)).unwrap();
    let mut done = pending.clone();
    done.apply(&at(full(&done, "a", 2), 50)).unwrap();
    // A later-stamped acceptance (a re-execution after a restart) cannot hide a fill.
    assert!(partly.supersedes(&accepted));
    assert!(!accepted.supersedes(&partly));
    assert!(done.supersedes(&partly));
    assert!(!partly.supersedes(&done));
    assert!(accepted.supersedes(&pending));
    // Equally far along: the newer one wins, the same one is idempotent.
    let mut later = pending.clone();
    later
        .apply(&at(report(&later, ReportKind::Accepted), 901))
        .unwrap();
    assert!(later.supersedes(&accepted));
    assert!(!accepted.supersedes(&later));
    assert!(accepted.supersedes(&accepted));
    // Never a non-terminal state over a terminal one.
    let canceled = in_state(OrderStatus::Canceled);
    assert!(!in_state(OrderStatus::Accepted).supersedes(&canceled));
}
