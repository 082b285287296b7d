//! The gateway's own decisions, as pure functions: whether an order command is sent, skipped as
//! a duplicate or answered from the records (idempotency by intent id), which reports replay a
//! recorded order, and the message id of a report. No I/O: the caller reads the records and the
//! venue's knowledge, and carries out the decision.

use super::venue::Knowledge;
use chimera_kernel::event::{ExecutionReport, RejectReason, ReportKind};
use chimera_kernel::order::{Order, OrderStatus};

/// What to do with a submit command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SubmitDecision {
    /// Send it; `record_first`: no record of the order exists yet, write one before sending.
    Send { record_first: bool },
    /// Handled before: publish the recorded order's state again (`None`: its reports are still
    /// to come, nothing to replay).
    Duplicate { republish: Option<Box<Order>> },
}

/// Decides a submit from what the venue knows of the client order id and the order's record.
pub(crate) fn decide_submit(knowledge: Knowledge, stored: Option<Order>) -> SubmitDecision {
    let handled_before = match knowledge {
        Knowledge::Received => true,
        // The venue cannot tell: the records decide. An order past pending was sent.
        Knowledge::Unknown => stored
            .as_ref()
            .is_some_and(|o| o.status != OrderStatus::PendingNew),
        // A record without the venue having it: the gateway died after executing it and before
        // its checkpoint. Executing it again on the restored venue reproduces the same reports;
        // the records (keyed by client order id and trade id) absorb them.
        Knowledge::NeverReceived => false,
    };
    if handled_before {
        SubmitDecision::Duplicate {
            // A pending one has its reports still to come.
            republish: stored
                .filter(|o| o.status != OrderStatus::PendingNew)
                .map(Box::new),
        }
    } else {
        SubmitDecision::Send {
            record_first: stored.is_none(),
        }
    }
}

/// The reports that tell a recorded order's state again: acceptance (or rejection), each
/// fill, its end.
pub(crate) fn republished_reports(order: &Order) -> Vec<ExecutionReport> {
    let mut kinds = if order.status == OrderStatus::Rejected {
        // The venue's reason is not recorded with the order; the node still learns the end.
        vec![ReportKind::Rejected {
            reason: RejectReason::VenueError,
            message: "rejected earlier (reason not recorded); published again after a restart"
                .into(),
        }]
    } else {
        vec![ReportKind::Accepted]
    };
    if order.amended > 0 && order.status != OrderStatus::Rejected {
        // The order as amended: the fills below then add up to its (amended) quantity.
        kinds.push(ReportKind::Amended {
            price: order.intent.kind.limit_price(),
            qty: order.intent.qty,
            amendment: order.amended,
        });
    }
    let n = order.fills.len();
    for (i, fill) in order.fills.iter().enumerate() {
        kinds.push(if i + 1 == n && order.status == OrderStatus::Filled {
            ReportKind::Filled(fill.clone())
        } else {
            ReportKind::PartiallyFilled(fill.clone())
        });
    }
    match order.status {
        OrderStatus::Canceled => kinds.push(ReportKind::Canceled),
        OrderStatus::Expired => kinds.push(ReportKind::Expired),
        _ => {}
    }
    kinds
        .into_iter()
        .map(|kind| ExecutionReport {
            portfolio_id: order.intent.portfolio_id.clone(),
            client_order_id: order.intent.client_order_id.clone(),
            venue_order_id: order.venue_order_id.clone(),
            symbol: order.intent.symbol.clone(),
            ts: order.updated_at,
            kind,
        })
        .collect()
}

/// The message id of a report: the same report always gets the same id, so consumers and the
/// bus de-duplicate a republished one. Written into one string sized up front: one is made for
/// every report published.
pub(crate) fn report_id(report: &ExecutionReport) -> String {
    use std::fmt::Write as _;
    let coid = report.client_order_id.as_str();
    let mut id = String::with_capacity(coid.len() + 64);
    id.push_str(coid);
    id.push(':');
    let _ = match &report.kind {
        ReportKind::Accepted => write!(id, "accepted"),
        ReportKind::Rejected { .. } => write!(id, "rejected"),
        ReportKind::PartiallyFilled(f) | ReportKind::Filled(f) => write!(id, "fill:{}", f.trade_id),
        ReportKind::Canceled => write!(id, "canceled"),
        ReportKind::Expired => write!(id, "expired"),
        ReportKind::CancelRejected { .. } => write!(id, "cancel_rejected"),
        ReportKind::Liquidated { .. } => write!(id, "liquidated"),
        ReportKind::Amended { amendment, .. } => write!(id, "amended:{amendment}"),
        ReportKind::AmendRejected { amendment, .. } => write!(id, "amend_rejected:{amendment}"),
    };
    let _ = write!(id, ":{}", report.ts.0);
    id
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use chimera_kernel::ids::{ClientOrderId, IntentId, PortfolioId, Symbol};
    use chimera_kernel::order::{OrderIntent, OrderKind, Side, TimeInForce};
    use chimera_kernel::testing::{fill_report, qty};
    use chimera_kernel::time::Timestamp;
    use chimera_kernel::Decimal;

    fn order(status: OrderStatus) -> Order {
        let intent_id = IntentId::for_portfolio(&PortfolioId::new("p1"), 1);
        let mut order = Order::new(OrderIntent {
            client_order_id: ClientOrderId::for_intent(&intent_id),
            intent_id,
            portfolio_id: PortfolioId::new("p1"),
            symbol: Symbol::new("BTCUSDT"),
            side: Side::Buy,
            qty: qty(Decimal::ONE),
            kind: OrderKind::Market,
            time_in_force: TimeInForce::Ioc,
            reduce_only: false,
            close_position: false,
            created_at: Timestamp(5),
            tag: "t".into(),
        });
        order.status = status;
        order
    }

    #[test]
    fn a_new_order_is_recorded_then_sent() {
        assert_eq!(
            decide_submit(Knowledge::NeverReceived, None),
            SubmitDecision::Send { record_first: true }
        );
        assert_eq!(
            decide_submit(Knowledge::Unknown, None),
            SubmitDecision::Send { record_first: true }
        );
    }

    #[test]
    fn what_the_venue_received_is_never_sent_twice() {
        let filled = order(OrderStatus::Filled);
        assert_eq!(
            decide_submit(Knowledge::Received, Some(filled.clone())),
            SubmitDecision::Duplicate {
                republish: Some(Box::new(filled.clone()))
            }
        );
        assert_eq!(
            decide_submit(Knowledge::Received, Some(order(OrderStatus::PendingNew))),
            SubmitDecision::Duplicate { republish: None },
            "a pending order's reports are still to come"
        );
        assert_eq!(
            decide_submit(Knowledge::Unknown, Some(filled.clone())),
            SubmitDecision::Duplicate {
                republish: Some(Box::new(filled))
            },
            "when the venue cannot tell, a record past pending means it was sent"
        );
    }

    #[test]
    fn a_record_the_restored_venue_never_received_is_sent_again() {
        assert_eq!(
            decide_submit(Knowledge::NeverReceived, Some(order(OrderStatus::Accepted))),
            SubmitDecision::Send {
                record_first: false
            }
        );
        assert_eq!(
            decide_submit(Knowledge::Unknown, Some(order(OrderStatus::PendingNew))),
            SubmitDecision::Send {
                record_first: false
            }
        );
    }

    #[test]
    fn a_recorded_order_is_told_again_from_acceptance_to_its_end() {
        let mut filled = order(OrderStatus::PendingNew);
        let coid = filled.intent.client_order_id.clone();
        let fill = fill_report(
            &coid,
            "t1",
            Decimal::from(100),
            Decimal::ONE,
            Decimal::ONE,
            true,
        );
        let accepted = ExecutionReport {
            kind: ReportKind::Accepted,
            ..fill.clone()
        };
        filled.apply(&accepted).unwrap();
        filled.apply(&fill).unwrap();
        let reports = republished_reports(&filled);
        let kinds: Vec<&str> = reports
            .iter()
            .map(|r| match r.kind {
                ReportKind::Accepted => "accepted",
                ReportKind::Filled(_) => "filled",
                _ => "other",
            })
            .collect();
        assert_eq!(kinds, ["accepted", "filled"]);
        let ids: std::collections::BTreeSet<String> = reports.iter().map(report_id).collect();
        assert_eq!(ids.len(), 2, "distinct ids: {ids:?}");
        assert!(
            report_id(&reports[1]).contains(":fill:t1:"),
            "a fill's id names its trade: {ids:?}"
        );
        // The ids are idempotency keys already stored and published: their form is fixed.
        let coid = reports[0].client_order_id.as_str();
        let ts = reports[0].ts.0;
        assert_eq!(report_id(&reports[0]), format!("{coid}:accepted:{ts}"));
        let amended = ExecutionReport {
            kind: ReportKind::AmendRejected {
                reason: chimera_kernel::event::RejectReason::TickSize,
                message: "off the tick".into(),
                amendment: 3,
            },
            ..reports[0].clone()
        };
        assert_eq!(report_id(&amended), format!("{coid}:amend_rejected:3:{ts}"));
    }
}
