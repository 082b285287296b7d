//! The Binance connector passes the venue conformance suites against the fake Binance
//! (USDⓈ-M, the suites' perpetual BTCUSDT), over real HTTP and WebSocket on loopback.

mod support;

use async_trait::async_trait;
use chimera_binance::Product;
use chimera_kernel::time::Timestamp;
use chimera_kernel::Decimal;
use chimera_ports::conformance::{execution_venue_suite, venue_account_suite, VenueHarness};
use chimera_ports::{ExecutionVenue, VenueAccount};

struct Harness(support::Setup);

#[async_trait]
impl VenueHarness for Harness {
    fn venue(&self) -> &dyn ExecutionVenue {
        &self.0.venue
    }

    fn account(&self) -> &dyn VenueAccount {
        &self.0.venue
    }

    async fn set_quote(&self, bid: Decimal, ask: Decimal, _ts: Timestamp) {
        self.0.fake.set_quote("BTCUSDT", bid, ask).expect("quote");
    }
}

async fn harness(prefix: &str) -> Harness {
    let rich = format!("{prefix}-rich");
    let poor = format!("{prefix}-poor");
    Harness(
        support::setup(
            Product::Usdm,
            &[(&rich, Some(Decimal::from(100_000))), (&poor, None)],
        )
        .await,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usdm_connector_passes_the_execution_suite() {
    let h = harness("bn").await;
    execution_venue_suite(&h, "bn").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usdm_connector_passes_the_account_suite() {
    let h = harness("bna").await;
    venue_account_suite(&h, "bna").await;
}
