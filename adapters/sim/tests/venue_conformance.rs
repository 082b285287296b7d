//! The simulated venue against the shared venue contract.

use async_trait::async_trait;
use chimera_kernel::event::{MarketEvent, Quote};
use chimera_kernel::ids::{Asset, PortfolioId, Symbol};
use chimera_kernel::testing::{btc_perp, px, qty};
use chimera_kernel::time::Timestamp;
use chimera_kernel::Decimal;
use chimera_ports::conformance::{venue_suite, VenueHarness};
use chimera_ports::ExecutionVenue;
use chimera_sim::{SimConfig, SimVenue};

struct Harness(SimVenue);

#[async_trait]
impl VenueHarness for Harness {
    fn venue(&self) -> &dyn ExecutionVenue {
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

#[tokio::test]
async fn sim_venue_conforms() {
    let venue = SimVenue::new(SimConfig::default());
    venue.with_exchange(|x| {
        x.add_instrument(btc_perp());
        x.deposit(
            &PortfolioId::new("sim-rich"),
            Asset::new("USDT"),
            chimera_kernel::value::Amount::new(Decimal::from(100_000)),
        );
    });
    venue_suite(&Harness(venue), "sim").await;
}
