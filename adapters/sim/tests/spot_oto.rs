//! One-triggers-the-other lists on spot (Binance OTO and OTOCO): only the working order is on
//! the book; the pending order or OCO pair is placed when it has filled in full; a pending
//! order's cancel cancels the list; a badly shaped list is refused whole.

mod common;
use common::{book, drain, order, trade, SYMBOL};

use chimera_kernel::event::{ExecutionReport, RejectReason, ReportKind};
use chimera_kernel::ids::{Asset, ClientOrderId, PortfolioId, Symbol};
use chimera_kernel::order::{
    CancelRequest, Contingency, OrderKind, OrderListRequest, Side, TriggerSource,
};
use chimera_kernel::testing::{btc_spot, px};
use chimera_kernel::time::Timestamp;
use chimera_kernel::value::Amount;
use chimera_kernel::Decimal;
use chimera_sim::{SimConfig, SimExchange};
use rust_decimal_macros::dec;

fn venue() -> (SimExchange, PortfolioId) {
    let mut x = SimExchange::new(SimConfig::default());
    x.add_instrument(btc_spot());
    let p = PortfolioId::new("p");
    x.deposit(&p, Asset::new("USDT"), Amount::new(Decimal::from(100_000)));
    book(&mut x);
    (x, p)
}

fn limit(
    p: &PortfolioId,
    n: u64,
    side: Side,
    price: Decimal,
) -> chimera_kernel::order::OrderIntent {
    order(
        p,
        n,
        side,
        dec!(1),
        OrderKind::Limit {
            price: px(price),
            post_only: false,
        },
    )
}

fn told(reports: &[ExecutionReport]) -> Vec<String> {
    reports
        .iter()
        .map(|r| format!("{} {}", r.client_order_id, r.kind.name()))
        .collect()
}

fn list(
    p: &PortfolioId,
    contingency: Contingency,
    orders: Vec<chimera_kernel::order::OrderIntent>,
) -> OrderListRequest {
    OrderListRequest {
        list_id: ClientOrderId::new("list-1"),
        portfolio_id: p.clone(),
        symbol: Symbol::new(SYMBOL),
        contingency,
        orders,
    }
}

#[test]
fn an_otoco_places_its_oco_when_the_working_order_fills() {
    let (mut x, p) = venue();
    let working = limit(&p, 1, Side::Buy, dec!(101)); // marketable: takes the ask at 101
    let tp = limit(&p, 2, Side::Sell, dec!(110));
    let stop = order(
        &p,
        3,
        Side::Sell,
        dec!(1),
        OrderKind::StopMarket {
            stop_price: px(dec!(90)),
            trigger: TriggerSource::Last,
        },
    );
    let otoco = list(
        &p,
        Contingency::Otoco,
        vec![working.clone(), tp.clone(), stop.clone()],
    );
    x.submit_list(&otoco, Timestamp(2));
    x.submit_list(&otoco, Timestamp(3));
    let (w, tp_id, stop_id) = (
        working.client_order_id,
        tp.client_order_id,
        stop.client_order_id,
    );
    assert_eq!(
        told(&drain(&mut x)),
        [
            format!("{w} accepted"),
            format!("{w} filled"),
            format!("{tp_id} accepted"),
            format!("{stop_id} accepted")
        ],
        "the pair is placed once the working order filled; a repeated list does nothing"
    );
    x.on_market(&trade(dec!(111), dec!(5), Side::Buy));
    assert_eq!(
        told(&drain(&mut x)),
        [format!("{tp_id} filled"), format!("{stop_id} expired")],
        "then it is an OCO"
    );
}

#[test]
fn canceling_a_pending_order_cancels_the_list_before_anything_is_placed() {
    let (mut x, p) = venue();
    let working = limit(&p, 1, Side::Buy, dec!(95));
    let pending = limit(&p, 2, Side::Sell, dec!(110));
    x.submit_list(
        &list(&p, Contingency::Oto, vec![working.clone(), pending.clone()]),
        Timestamp(2),
    );
    assert_eq!(
        told(&drain(&mut x)),
        [format!("{} accepted", working.client_order_id)]
    );
    x.cancel(
        &CancelRequest {
            portfolio_id: p.clone(),
            client_order_id: pending.client_order_id.clone(),
            symbol: Symbol::new(SYMBOL),
            created_at: Timestamp(3),
        },
        Timestamp(3),
    );
    assert_eq!(
        told(&drain(&mut x)),
        [
            format!("{} canceled", working.client_order_id),
            format!("{} canceled", pending.client_order_id)
        ]
    );
    x.on_market(&trade(dec!(94), dec!(5), Side::Sell));
    assert!(drain(&mut x).is_empty(), "nothing left to fill");
}

#[test]
fn a_list_of_the_wrong_shape_is_refused_whole() {
    let (mut x, p) = venue();
    let market = order(&p, 1, Side::Buy, dec!(1), OrderKind::Market);
    let pending = limit(&p, 2, Side::Sell, dec!(110));
    x.submit_list(
        &list(&p, Contingency::Oto, vec![market, pending]),
        Timestamp(2),
    );
    let reports = drain(&mut x);
    assert_eq!(reports.len(), 2);
    assert!(reports.iter().all(|r| matches!(
        r.kind,
        ReportKind::Rejected {
            reason: RejectReason::InvalidOrder,
            ..
        }
    )));
}
