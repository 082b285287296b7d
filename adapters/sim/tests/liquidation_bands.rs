//! The venue skips the exact maintenance-margin check while an account's marks stay inside
//! bands it proved safe: these tests pin that the bands never hide a liquidation.

mod common;
use common::*;

use chimera_kernel::event::{ExecutionReport, ReportKind};
use chimera_kernel::ids::{Asset, PortfolioId};
use chimera_kernel::order::{OrderKind, Side};
use chimera_kernel::testing::btc_perp;
use chimera_kernel::time::Timestamp;
use chimera_kernel::value::Amount;
use chimera_kernel::Decimal;
use chimera_sim::{SimConfig, SimExchange};
use rust_decimal_macros::dec;

fn liquidated(reports: &[ExecutionReport]) -> Option<Decimal> {
    reports.iter().find_map(|r| match &r.kind {
        ReportKind::Liquidated { fill, .. } => Some(fill.qty.get()),
        _ => None,
    })
}

/// 20 USDT at 20× leverage, the standard book (asks 101 then 102).
fn thin_account() -> (SimExchange, PortfolioId) {
    let mut x = SimExchange::new(SimConfig::default());
    let mut instrument = btc_perp();
    instrument.leverage = Decimal::from(20);
    x.add_instrument(instrument);
    let p = PortfolioId::new("thin");
    x.deposit(&p, Asset::new("USDT"), Amount::new(Decimal::from(20)));
    book(&mut x);
    (x, p)
}

#[test]
fn a_fill_after_a_safe_check_drops_the_band_so_the_bigger_position_is_liquidated() {
    let (mut x, p) = thin_account();
    x.submit(
        order(&p, 1, Side::Buy, dec!(1), OrderKind::Market),
        Timestamp(2),
    );
    assert_eq!(fills(&drain(&mut x)), vec![(dec!(101), dec!(1))]);
    x.on_market(&trade(dec!(100), dec!(0.1), Side::Sell));
    assert_eq!(
        liquidated(&drain(&mut x)),
        None,
        "one BTC from 101 with 20 USDT is safe down to about 81"
    );
    x.submit(
        order(&p, 2, Side::Buy, dec!(1), OrderKind::Market),
        Timestamp(3),
    );
    assert_eq!(fills(&drain(&mut x)), vec![(dec!(102), dec!(1))]);
    x.on_market(&trade(dec!(90), dec!(0.1), Side::Sell));
    assert_eq!(
        liquidated(&drain(&mut x)),
        Some(dec!(2)),
        "two BTC from 101.5 with 20 USDT are under water at 90, inside the one-BTC band"
    );
}

#[test]
fn marks_walking_out_of_the_band_step_by_step_are_checked_again() {
    let (mut x, p) = thin_account();
    x.submit(
        order(&p, 1, Side::Buy, dec!(1), OrderKind::Market),
        Timestamp(2),
    );
    drain(&mut x);
    let mut price = dec!(100);
    let mut liquidated_at = None;
    while price > dec!(70) && liquidated_at.is_none() {
        x.on_market(&trade(price, dec!(0.1), Side::Sell));
        if liquidated(&drain(&mut x)).is_some() {
            liquidated_at = Some(price);
        }
        price -= dec!(0.5);
    }
    let at = liquidated_at.expect("liquidated on the way down");
    let account = x.account_of(&p).expect("account");
    assert!(
        at < dec!(81.5) && at > dec!(80.5),
        "liquidated at the first half-dollar step under maintenance, not later: {at} ({:?})",
        account.balances
    );
}

#[test]
fn with_two_accounts_on_the_symbol_the_thinner_one_is_liquidated_on_time() {
    let (mut x, thin) = thin_account();
    let rich = PortfolioId::new("rich");
    x.deposit(&rich, Asset::new("USDT"), Amount::new(Decimal::from(1_000)));
    x.submit(
        order(&thin, 1, Side::Buy, dec!(1), OrderKind::Market),
        Timestamp(2),
    );
    x.submit(
        order(&rich, 2, Side::Buy, dec!(1), OrderKind::Market),
        Timestamp(2),
    );
    assert_eq!(
        fills(&drain(&mut x)),
        vec![(dec!(101), dec!(1)), (dec!(102), dec!(1))],
        "both long one BTC, the thin account from 101 as in the test above"
    );
    let mut price = dec!(100);
    let mut liquidated_at = Vec::new();
    while price > dec!(70) {
        x.on_market(&trade(price, dec!(0.1), Side::Sell));
        for report in drain(&mut x) {
            if matches!(report.kind, ReportKind::Liquidated { .. }) {
                liquidated_at.push((report.portfolio_id.as_str().to_owned(), price));
            }
        }
        price -= dec!(0.5);
    }
    assert_eq!(liquidated_at.len(), 1, "{liquidated_at:?}");
    let (who, at) = &liquidated_at[0];
    assert_eq!(who, "thin");
    assert!(
        *at < dec!(81.5) && *at > dec!(80.5),
        "at the same step as alone: {at}"
    );
}
