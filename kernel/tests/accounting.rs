//! Property tests of the accounting invariants, for perpetuals and spot.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on unexpected errors"
)]

use chimera_kernel::event::{Fill, Liquidity};
use chimera_kernel::ids::{Asset, PortfolioId, Symbol, TradeId};
use chimera_kernel::instrument::Instrument;
use chimera_kernel::order::Side;
use chimera_kernel::portfolio::Portfolio;
use chimera_kernel::testing::{btc_perp, btc_spot, px, qty};
use chimera_kernel::value::{Amount, Money};
use chimera_kernel::Decimal;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Step {
    Fill {
        buy: bool,
        lots: i64,
        cents: i64,
        fee_bp: i64,
    },
    Funding {
        rate_bp: i64,
        cents: i64,
    },
    Mark {
        cents: i64,
    },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (any::<bool>(), 1..5_000_i64, 100_000..10_000_000_i64, -2..10_i64)
            .prop_map(|(buy, lots, cents, fee_bp)| Step::Fill { buy, lots, cents, fee_bp }),
        1 => (-20..20_i64, 100_000..10_000_000_i64).prop_map(|(rate_bp, cents)| Step::Funding { rate_bp, cents }),
        2 => (100_000..10_000_000_i64).prop_map(|cents| Step::Mark { cents }),
    ]
}

fn usdt() -> Asset {
    Asset::new("USDT")
}

fn portfolio(instrument: Instrument) -> Portfolio {
    let spot = instrument.kind == chimera_kernel::instrument::MarketKind::Spot;
    let mut p = Portfolio::new(PortfolioId::new("p"), usdt());
    p.add_instrument(instrument);
    p.deposit(usdt(), Amount::new(Decimal::from(1_000_000)));
    if spot {
        p.deposit(Asset::new("BTC"), Amount::new(Decimal::from(10)));
    }
    p
}

fn fill(n: usize, lots: i64, cents: i64, fee_bp: i64) -> Fill {
    let price = px(Decimal::new(cents, 2));
    let quantity = qty(Decimal::new(lots, 3));
    let fee = (price * quantity).get() * Decimal::new(fee_bp, 4);
    Fill {
        trade_id: TradeId::new(format!("t{n}")),
        price,
        qty: quantity,
        fee: Money::new(fee, usdt()),
        liquidity: Liquidity::Taker,
    }
}

/// Runs the steps; returns the signed sum of fill quantities.
fn run(p: &mut Portfolio, steps: &[Step]) -> Decimal {
    let symbol = Symbol::new("BTCUSDT");
    let mut signed_sum = Decimal::ZERO;
    for (n, s) in steps.iter().enumerate() {
        match *s {
            Step::Fill {
                buy,
                lots,
                cents,
                fee_bp,
            } => {
                let side = if buy { Side::Buy } else { Side::Sell };
                let f = fill(n, lots, cents, fee_bp);
                signed_sum += f.qty.get() * side.sign();
                p.apply_fill(&symbol, side, &f).unwrap();
            }
            Step::Funding { rate_bp, cents } => {
                p.apply_funding(
                    &symbol,
                    Decimal::new(rate_bp, 4),
                    px(Decimal::new(cents, 2)),
                )
                .unwrap();
            }
            Step::Mark { cents } => p.mark(&symbol, px(Decimal::new(cents, 2))),
        }
    }
    signed_sum
}

fn a(d: Decimal) -> Amount {
    Amount::new(d)
}

fn flatten(p: &mut Portfolio, at_cents: i64) {
    let symbol = Symbol::new("BTCUSDT");
    let open = p.position(&symbol).unwrap().qty;
    if !open.is_zero() {
        let side = if open.is_positive() {
            Side::Sell
        } else {
            Side::Buy
        };
        let f = Fill {
            qty: open.abs(),
            ..fill(999_999, 1, at_cents, 5)
        };
        p.apply_fill(&symbol, side, &f).unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn perp_position_is_sum_of_signed_fills_and_equity_conserves(steps in prop::collection::vec(step(), 1..60)) {
        let mut p = portfolio(btc_perp());
        let start_cash = p.balance(&usdt());
        let signed = run(&mut p, &steps);
        let pos = p.position(&Symbol::new("BTCUSDT")).unwrap().clone();
        prop_assert_eq!(pos.qty.get(), signed);
        // equity = cash + unrealised PnL
        prop_assert_eq!(p.equity(), p.cash_value() + pos.unrealized_pnl());
        // conservation: quote balance = start + realised − fees + funding
        prop_assert_eq!(p.balance(&usdt()), start_cash + p.realized_pnl - p.fees + p.funding);
    }

    #[test]
    fn perp_flat_position_reconciles_cash(steps in prop::collection::vec(step(), 1..60), close in 100_000..10_000_000_i64) {
        let mut p = portfolio(btc_perp());
        let start_cash = p.balance(&usdt());
        run(&mut p, &steps);
        flatten(&mut p, close);
        let pos = p.position(&Symbol::new("BTCUSDT")).unwrap();
        prop_assert!(pos.is_flat());
        prop_assert_eq!(pos.unrealized_pnl(), Amount::ZERO);
        prop_assert_eq!(p.balance(&usdt()) - start_cash, pos.realized_pnl - pos.fees + pos.funding);
        prop_assert_eq!(p.equity(), p.cash_value());
    }

    #[test]
    fn spot_equity_is_start_value_plus_pnl(steps in prop::collection::vec(step(), 1..60), mark in 100_000..10_000_000_i64) {
        let mut p = portfolio(btc_spot());
        let symbol = Symbol::new("BTCUSDT");
        let signed = run(&mut p, &steps);
        let mark = px(Decimal::new(mark, 2));
        p.mark(&symbol, mark);
        let pos = p.position(&symbol).unwrap().clone();
        prop_assert_eq!(pos.qty.get(), signed);
        prop_assert_eq!(p.balance(&Asset::new("BTC")).get(), Decimal::from(10) + signed);
        // funding never applies to spot
        prop_assert_eq!(p.funding, Amount::ZERO);
        let start_value = Decimal::from(1_000_000) + Decimal::from(10) * mark.get();
        prop_assert_eq!(p.equity(), Amount::new(start_value) + pos.realized_pnl + pos.unrealized_pnl() - pos.fees);
    }
}

#[test]
fn perp_long_round_trip_by_hand() {
    let mut p = portfolio(btc_perp());
    let symbol = Symbol::new("BTCUSDT");
    let buy = fill(1, 1000, 4_000_000, 5); // 1 BTC at 40 000, fee 20
    p.apply_fill(&symbol, Side::Buy, &buy).unwrap();
    p.mark(&symbol, px(Decimal::from(41_000)));
    assert_eq!(p.unrealized_pnl(), a(Decimal::from(1000)));
    assert_eq!(p.equity(), a(Decimal::from(1_000_000 - 20 + 1000)));
    assert_eq!(p.margin_used(), a(Decimal::from(41_000)));
    let funding = p
        .apply_funding(&symbol, Decimal::new(1, 4), px(Decimal::from(41_000)))
        .unwrap();
    assert_eq!(funding, a(Decimal::new(-41, 1))); // long pays 0.01% of 41 000
    let sell = fill(2, 1000, 4_200_000, 5); // fee 21
    assert_eq!(
        p.apply_fill(&symbol, Side::Sell, &sell).unwrap(),
        a(Decimal::from(2000))
    );
    assert_eq!(
        p.balance(&usdt()).get(),
        Decimal::from(1_000_000 + 2000 - 20 - 21) - Decimal::new(41, 1)
    );
}
