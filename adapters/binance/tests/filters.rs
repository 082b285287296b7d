//! exchangeInfo filters end to end: the connector's instruments carry every filter the fake
//! lists (price range, lot and maximum, market lot maximum, percent-price band), and the
//! refusals come back with the kernel's reasons: a limit price outside the band, a market
//! order over the market maximum.

mod support;

use chimera_binance::Product;
use chimera_kernel::event::{RejectReason, ReportKind};
use chimera_kernel::order::{OrderKind, Side};
use chimera_kernel::testing::{px, qty};
use chimera_kernel::Decimal;
use chimera_ports::ExecutionVenue;
use std::time::Duration;

fn rejection(reports: &[chimera_kernel::event::ExecutionReport]) -> Option<RejectReason> {
    reports.iter().find_map(|r| match &r.kind {
        ReportKind::Rejected { reason, .. } => Some(*reason),
        _ => None,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_filter_is_read_and_enforced() {
    for product in [Product::Spot, Product::Usdm] {
        let s = support::setup(product, &[("p", Some(Decimal::from(10_000_000)))]).await;
        let mut ours = s.venue.instruments();
        ours.sort_by(|a, b| a.symbol.cmp(&b.symbol));
        let mut theirs = s.fake.config.instruments.clone();
        theirs.sort_by(|a, b| a.symbol.cmp(&b.symbol));
        assert_eq!(
            ours, theirs,
            "{product:?}: the instruments, every filter included"
        );
        assert!(ours[0].limits.percent_up.is_some() && ours[0].limits.max_qty.is_some());

        s.fake
            .set_quote("BTCUSDT", Decimal::from(40_000), Decimal::from(40_001))
            .expect("quote");
        // Far above the band (spot 5×, futures +5%).
        let far = match product {
            Product::Spot => Decimal::from(250_000),
            Product::Usdm => Decimal::from(43_000),
        };
        let buy = support::intent(
            "p",
            1,
            Side::Buy,
            OrderKind::Limit {
                price: px(far),
                post_only: false,
            },
        );
        s.venue.submit(&buy).await.expect("submit");
        let got = support::reports_n(&s.venue, 1, Duration::from_millis(400)).await;
        assert_eq!(
            rejection(&got),
            Some(RejectReason::PriceOutOfBand),
            "{product:?}: {got:?}"
        );

        let mut big = support::intent("p", 2, Side::Buy, OrderKind::Market);
        big.qty = qty(Decimal::from(121));
        s.venue.submit(&big).await.expect("submit");
        let got = support::reports_n(&s.venue, 1, Duration::from_millis(400)).await;
        assert_eq!(
            rejection(&got),
            Some(RejectReason::LotSize),
            "{product:?}: {got:?}"
        );
    }
}
