//! The simulated venue against the shared venue contracts (trading and account).

use async_trait::async_trait;
use chimera_kernel::event::{MarketEvent, Quote};
use chimera_kernel::ids::{Asset, PortfolioId, Symbol};
use chimera_kernel::testing::{btc_perp, px, qty};
use chimera_kernel::time::Timestamp;
use chimera_kernel::Decimal;
use chimera_ports::conformance::{execution_venue_suite, venue_account_suite, VenueHarness};
use chimera_ports::{ExecutionVenue, VenueAccount};
use chimera_sim::{SimConfig, SimVenue};

struct Harness(SimVenue);

#[async_trait]
impl VenueHarness for Harness {
    fn venue(&self) -> &dyn ExecutionVenue {
        &self.0
    }

    fn account(&self) -> &dyn VenueAccount {
        &self.0
    }

    async fn set_quote(&self, bid: Decimal, ask: Decimal, ts: Timestamp) {
        self.0.on_market(&MarketEvent::Quote(Quote {
            symbol: Symbol::new("BTCUSDT"),
            ts,
            bid: px(bid),
            bid_qty: qty(Decimal::TEN),
            ask: px(ask),
            ask_qty: qty(Decimal::TEN),
            update_id: None,
        }));
    }
}

/// A venue listing BTCUSDT, crediting 100 000 USDT to `<prefix>-rich`.
fn harness(prefix: &str) -> Harness {
    let venue = SimVenue::new(SimConfig::default());
    venue.with_exchange(|x| {
        x.add_instrument(btc_perp());
        x.deposit(
            &PortfolioId::new(format!("{prefix}-rich")),
            Asset::new("USDT"),
            chimera_kernel::value::Amount::new(Decimal::from(100_000)),
        );
    });
    Harness(venue)
}

#[tokio::test]
async fn sim_venue_trades_by_the_contract() {
    execution_venue_suite(&harness("sim"), "sim").await;
}

#[tokio::test]
async fn sim_venue_account_answers_by_the_contract() {
    venue_account_suite(&harness("acct"), "acct").await;
}
